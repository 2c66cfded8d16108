package e2e_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/segment"
)

// facadeStandIn answers as MaRDI's FDO façade (the FastAPI app mardi_fdo_server) does, for
// the sample objects, and with its error bodies:
//
//   - GET /fdo/{id}: the id is upper-cased and must match ^Q[0-9]+(_FULLTEXT)?$, else 400
//     {"detail":"invalid FDO identifier"}. A QID its knowledge graph does not know is NOT a
//     404: the façade answers 200 with its minimal record, typed mardi:UnknownType
//     (to_fdo_minimal of an entity MediaWiki reports as missing). "Q…_FULLTEXT" reaches
//     MediaWiki as an invalid id and comes back 404 {"detail":"QID Q…_FULLTEXT not found"}.
//   - GET /fdo/types/{TypeId}: the type record, or 404 {"detail":"Type 'X' not found in MaRDI
//     type registry"}.
//   - GET /health: {"status":"ok"}. Any other path: 404 {"detail":"Not Found"}; another
//     method: 405 {"detail":"Method Not Allowed"}.
//   - Upstream failures: 502 {"detail":"Upstream error for Q…: 500"}, 504 {"detail":"Upstream
//     timeout fetching Q…"}; an unexpected exception is Starlette's plain-text 500.
//
// Bodies are FastAPI's JSON: compact, UTF-8, Content-Type application/json.
type facadeStandIn struct {
	*httptest.Server
	records map[string][]byte // QID → record
	types   map[string][]byte // TypeId → type record
	mode    atomic.Value      // "" (normal), "502", "504", "500" or "slow"
	hits    atomic.Int64
}

var facadeQID = regexp.MustCompile(`(?i)^Q[0-9]+(?:_FULLTEXT)?$`)

// facadeContext is the JSON-LD context of the façade's minimal records (JSONLD_CONTEXT).
const facadeContext = `["https://w3id.org/fdo/context/v1",{"schema":"https://schema.org/","prov":"http://www.w3.org/ns/prov#",` +
	`"fdo":"https://w3id.org/fdo/vocabulary/","kernel":"fdo:kernel","access":"fdo:access","accessURL":"fdo:accessURL","mediaType":"fdo:mediaType"}]`

// newFacadeStandIn serves the sample records and type records (compacted, as FastAPI sends
// them) plus extra records by QID.
func newFacadeStandIn(t *testing.T, extra map[string]string) *facadeStandIn {
	t.Helper()
	f := &facadeStandIn{records: map[string][]byte{}, types: map[string][]byte{}}
	f.mode.Store("")
	dir := filepath.Join("..", "..", "retrieve-svc", "internal", "sampledata", "objects", "records")
	load := func(pattern string, into map[string][]byte) {
		names, err := filepath.Glob(filepath.Join(dir, pattern))
		if err != nil || len(names) == 0 {
			t.Fatalf("sample records %s: %v", pattern, err)
		}
		for _, name := range names {
			b, err := os.ReadFile(name)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := json.Compact(&buf, b); err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			into[strings.TrimSuffix(filepath.Base(name), ".json")] = buf.Bytes()
		}
	}
	load("Q*.json", f.records)
	load(filepath.Join("types", "*.json"), f.types)
	for qid, rec := range extra {
		f.records[qid] = []byte(rec)
	}
	f.Server = httptest.NewServer(http.HandlerFunc(f.serve))
	t.Cleanup(f.Close)
	return f
}

// URL of the records, as FDO_API takes it.
func (f *facadeStandIn) api() string { return f.URL + "/fdo/" }

func (f *facadeStandIn) serve(w http.ResponseWriter, r *http.Request) {
	f.hits.Add(1)
	detail := func(code int, msg string) {
		b, _ := json.Marshal(map[string]string{"detail": msg})
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(code)
		_, _ = w.Write(b)
	}
	ok := func(body []byte) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}
	p := r.URL.Path
	rest, isFDO := strings.CutPrefix(p, "/fdo/")
	typeID, isType := strings.CutPrefix(rest, "types/")
	switch {
	case p == "/health" || (isFDO && rest != "" && !strings.Contains(rest, "/")) || (isType && typeID != "" && !strings.Contains(typeID, "/")):
		if r.Method != http.MethodGet {
			detail(http.StatusMethodNotAllowed, "Method Not Allowed")
			return
		}
	default:
		detail(http.StatusNotFound, "Not Found")
		return
	}
	switch {
	case p == "/health":
		ok([]byte(`{"status":"ok"}`))
	case isType:
		rec, found := f.types[typeID]
		if !found {
			detail(http.StatusNotFound, fmt.Sprintf("Type '%s' not found in MaRDI type registry", typeID))
			return
		}
		ok(rec)
	default:
		qid := strings.ToUpper(rest)
		if !facadeQID.MatchString(qid) {
			detail(http.StatusBadRequest, "invalid FDO identifier")
			return
		}
		switch f.mode.Load() {
		case "500":
			w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("Internal Server Error"))
			return
		case "502":
			detail(http.StatusBadGateway, fmt.Sprintf("Upstream error for %s: 500", qid))
			return
		case "504":
			detail(http.StatusGatewayTimeout, fmt.Sprintf("Upstream timeout fetching %s", qid))
			return
		case "slow":
			select {
			case <-r.Context().Done():
			case <-time.After(10 * time.Second):
			}
			return
		}
		if strings.HasSuffix(qid, "_FULLTEXT") {
			detail(http.StatusNotFound, fmt.Sprintf("QID %s not found", qid))
			return
		}
		if rec, found := f.records[qid]; found {
			ok(rec)
			return
		}
		ok(fmt.Appendf(nil, `{"@context":%s,"@id":"https://portal.mardi4nfdi.de/entity/%s","@type":"mardi:UnknownType",`+
			`"kernel":{"@type":"mardi:UnknownType","name":"%s","description":""},`+
			`"access":{"accessURL":"https://portal.mardi4nfdi.de/entity/%s","mediaType":"application/vnd.mardi.entity+json"},`+
			`"prov:generatedAtTime":"","prov:wasAttributedTo":"MaRDI Knowledge Graph"}`, facadeContext, qid, qid, qid))
	}
}

// The stand-in itself answers as the façade does.
func TestFacadeStandIn(t *testing.T) {
	t.Parallel()
	f := newFacadeStandIn(t, nil)
	for _, tc := range []struct {
		method, path string
		code         int
		body         string // a substring
	}{
		{"GET", "/fdo/Q123", 200, `"digitalObjectType":"https://fdo.example.org/fdo/types/ScholarlyArticle"`},
		{"GET", "/fdo/q123", 200, `"primaryIdentifier":"mardi:Q123"`},
		{"GET", "/fdo/Q999999999", 200, `"kernel":{"@type":"mardi:UnknownType","name":"Q999999999","description":""}`},
		{"GET", "/fdo/Q123_FULLTEXT", 404, `{"detail":"QID Q123_FULLTEXT not found"}`},
		{"GET", "/fdo/X1", 400, `{"detail":"invalid FDO identifier"}`},
		{"GET", "/fdo/types/Person", 200, `"applicableOperations":["0.DOIP/Op.Retrieve"`},
		{"GET", "/fdo/types/Unicorn", 404, `{"detail":"Type 'Unicorn' not found in MaRDI type registry"}`},
		{"GET", "/fdo/a/b", 404, `{"detail":"Not Found"}`},
		{"GET", "/health", 200, `{"status":"ok"}`},
		{"POST", "/fdo/Q123", 405, `{"detail":"Method Not Allowed"}`},
	} {
		req, _ := http.NewRequestWithContext(t.Context(), tc.method, f.URL+tc.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != tc.code || !strings.Contains(buf.String(), tc.body) || resp.Header.Get("Content-Type") != "application/json" {
			t.Errorf("%s %s = %d %s %q; want %d with %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), buf.String(), tc.code, tc.body)
		}
	}
}

// specVector reads a vector straight from the shared spec.
func specVector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "..", "shared", "spec", "vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// startFacadeSystem starts retrieve-svc reading records from the façade, one invoke-svc and
// the gateway (plaintext and self-signed TLS on both ports).
func startFacadeSystem(t *testing.T, f *facadeStandIn) *system {
	t.Helper()
	s := &system{dataDir: filepath.Join(t.TempDir(), "data")}
	s.retrieve = start(t, "retrieve-svc", 1, []string{"--listen", "127.0.0.1:0", "--data-dir", s.dataDir, "--fdo-api", f.api()})
	s.invoke = start(t, "invoke-svc", 1, []string{"--listen", "127.0.0.1:0", "--retrieve-addr", s.retrieve.addr("grpc")})
	s.workers = []*proc{s.invoke}
	s.gateway = start(t, "doip-gateway", 2, []string{"--host", "127.0.0.1", "--port", "0",
		"--retrieve-addr", s.retrieve.addr("grpc"), "--invoke-addr", s.invoke.addr("grpc"), "--tls-mode", "optional", "--call-timeout", "5s"})
	return s
}

// q789 is a record as the façade builds it for an article whose source archive is stored:
// the media type comes from Python's mimetypes, which names a .tar.gz application/x-tar.
const q789 = `{"@context":["https://w3id.org/fdo/context/v1",{"schema":"https://schema.org/","prov":"http://www.w3.org/ns/prov#",` +
	`"fdo":"https://w3id.org/fdo/vocabulary/"}],"@id":"https://fdo.example.org/fdo/Q789","@type":"DigitalObject",` +
	`"kernel":{"@id":"https://fdo.example.org/fdo/Q789","digitalObjectType":"https://fdo.example.org/fdo/types/ScholarlyArticle",` +
	`"seeAlso":"https://schema.org/ScholarlyArticle","primaryIdentifier":"mardi:Q789","kernelVersion":"v1","immutable":true,` +
	`"modified":"2026-01-01T00:00:00Z","fdo:hasComponent":[{"@id":"#source.tar.gz","componentId":"source.tar.gz","mediaType":"application/x-tar"}]},` +
	`"profile":{"@type":"ScholarlyArticle","name":"An arXiv paper"},"provenance":{"prov:generatedAtTime":"2026-01-01T00:00:00Z",` +
	`"prov:wasAttributedTo":"MaRDI Knowledge Graph"}}`

// The façade as it really answers, through every framing: an unknown QID (200 and the
// unknown-type record) is NotFound; type records are retrieved as types/{TypeId}, byte for
// byte as MaRDI's server answers on the binary envelope; ListOperations keeps what the type
// allows; a source archive labelled application/x-tar is an input of equation_extraction.
func TestFacadeAsItAnswers(t *testing.T) {
	skipShort(t)
	t.Parallel()
	reqVec, respVec := specVector(t, "mardi-head-request-retrieve-type.bin"), specVector(t, "mardi-head-response-retrieve-type.bin")
	f := newFacadeStandIn(t, map[string]string{"Q789": q789})
	// The vector's type record is the capture's own façade content (spec §8): serve it.
	f.types["ScholarlyArticle"] = respVec[10+len("types/ScholarlyArticle")+5:]
	s := startFacadeSystem(t, f)

	// Binary envelope: the type record, byte for byte.
	raw := dialRaw(t, s.envelopeAddr())
	_ = raw.SetDeadline(time.Now().Add(20 * time.Second))
	if _, err := raw.Write(reqVec); err != nil {
		t.Fatal(err)
	}
	got := make([]byte, len(respVec))
	if _, err := io.ReadFull(raw, got); err != nil || !bytes.Equal(got, respVec) {
		t.Errorf("retrieve types/ScholarlyArticle (%v):\n got %q\nwant %q", err, got, respVec)
	}

	c := s.dial(t)
	var de *doip.Error
	if _, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q999999999"}, nil); !errors.As(err, &de) || de.Kind != doip.KindNotFound {
		t.Errorf("unknown QID: %v; want NotFound", err)
	}
	if _, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "types/Unicorn"}, nil); !errors.As(err, &de) || de.Kind != doip.KindNotFound {
		t.Errorf("unknown type: %v; want NotFound", err)
	}
	if _, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "types/../Q123"}, nil); !errors.As(err, &de) || de.Kind != doip.KindBadRequest {
		t.Errorf("malformed type id: %v; want BadRequest", err)
	}
	if resp, err := c.Do(t.Context(), client.Request{Op: doip.OpListOps, ObjectID: "Q456"}, nil); err != nil {
		t.Errorf("list operations of Q456: %v", err)
	} else if m := resp.Metadata; !bytes.Contains(m, []byte(`"retrieve":2`)) || bytes.Contains(m, []byte(`"invoke"`)) || bytes.Contains(m, []byte(`"workflows"`)) {
		t.Errorf("list operations of a Dataset (its type allows no invoke) = %s", m)
	}
	if resp, err := c.Do(t.Context(), client.Request{Op: doip.OpPurge, ObjectID: "types/ScholarlyArticle"}, nil); err != nil {
		t.Errorf("purge types/ScholarlyArticle: %v", err)
	} else if !bytes.Contains(resp.Metadata, []byte(`"purged":true`)) {
		t.Errorf("purge types/ScholarlyArticle = %s; want purged", resp.Metadata)
	}

	// doipctl: an unknown QID exits 2 with NotFound; a type record prints.
	host, port, _ := net.SplitHostPort(s.envelopeAddr())
	if _, errOut, code := runCtl(t, "retrieve", "Q999999999", "--host", host, "--port", port); code != 2 || !strings.Contains(errOut, "NotFound") {
		t.Errorf("doipctl retrieve Q999999999: exit %d, stderr %q; want 2 and NotFound", code, errOut)
	}
	if out, errOut, code := runCtl(t, "retrieve", "types/Person", "--host", host, "--port", port); code != 0 || !strings.Contains(out, `"applicableOperations"`) {
		t.Errorf("doipctl retrieve types/Person: exit %d, %q %q", code, out, errOut)
	}

	// Standard DOIP over TLS.
	ask := func(req string) map[string]json.RawMessage {
		tc := tlsDial(t, s.segmentsAddr())
		if _, err := tc.Write([]byte(req + "\n#\n#\n")); err != nil {
			t.Fatal(err)
		}
		return firstSegment(t, readMessages(t, tc, 1)[0])
	}
	std := ask(`{"targetId":"types/Person","operationId":"0.DOIP/Op.Retrieve"}`)
	var do struct {
		ID         string `json:"id"`
		Attributes struct {
			Content json.RawMessage `json:"content"`
		} `json:"attributes"`
	}
	_ = json.Unmarshal(std["output"], &do)
	if str(std, "status") != "0.DOIP/Status.001" || do.ID != "types/Person" || !bytes.Equal(do.Attributes.Content, f.types["Person"]) {
		t.Errorf("standard retrieve types/Person = %s", std["output"])
	}
	missing := ask(`{"targetId":"Q999999999","operationId":"0.DOIP/Op.Retrieve"}`)
	if str(missing, "status") != "0.DOIP/Status.104" {
		t.Errorf("standard retrieve of an unknown QID: status %s; want 104", missing["status"])
	}
	var ops []string
	if out := ask(`{"targetId":"Q456","operationId":"0.DOIP/Op.ListOperations"}`); json.Unmarshal(out["output"], &ops) != nil ||
		strings.Join(ops, ",") != "0.DOIP/Op.Retrieve,0.DOIP/Op.ListOperations" {
		t.Errorf("standard list operations of Q456 = %s; want retrieve and list operations only", out["output"])
	}
	if out := ask(`{"targetId":"Q789","operationId":"0.DOIP/Op.ListOperations"}`); json.Unmarshal(out["output"], &ops) != nil ||
		!contains(ops, "equation_extraction") {
		t.Errorf("standard list operations of Q789 (an application/x-tar source) = %s; want equation_extraction", out["output"])
	}

	// Length-prefixed segments.
	lp := dialRaw(t, s.segmentsAddr())
	_ = lp.SetDeadline(time.Now().Add(20 * time.Second))
	w := segment.NewWriter(lp)
	if err := w.WriteSegment([]byte(`{"targetId":"types/Dataset","operationId":"retrieve"}`)); err != nil {
		t.Fatal(err)
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	first, err := segment.NewReader(lp).ReadSegment()
	var lpResp struct {
		Status   string            `json:"status"`
		Metadata []json.RawMessage `json:"metadata"`
	}
	if err != nil || json.Unmarshal(first, &lpResp) != nil || lpResp.Status != "success" || len(lpResp.Metadata) != 1 ||
		!bytes.Equal(lpResp.Metadata[0], f.types["Dataset"]) {
		t.Errorf("length-prefixed retrieve types/Dataset = %s, %v", first, err)
	}
}
