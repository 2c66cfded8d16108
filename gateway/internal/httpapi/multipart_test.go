package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/httpapi"
	"github.com/fdo-doip/doip-gateway/gateway/internal/httpapi/httpapitest"
)

// writer is a DOIP handler that takes creates and updates as the dispatcher does: it
// refuses a write without the token before reading any byte, then pulls each element and
// keeps its digest and size; a retrieve with includeElementData answers with two elements.
type writer struct {
	mu       sync.Mutex
	object   doip.DigitalObject
	got      map[string]string // element id → "mediaType size sha256"
	order    []string
	lastType string
}

func (wr *writer) ServeDOIP(_ context.Context, w doip.ResponseWriter, req *doip.Request) {
	switch req.Op {
	case doip.OpCreate, doip.OpUpdate:
		if req.Token != token {
			_ = w.Error(doip.Errorf(doip.KindForbidden, "%s needs the write permission", req.Op))
			return
		}
		if req.Write == nil {
			_ = w.Error(doip.Errorf(doip.KindBadRequest, "no object"))
			return
		}
		got := map[string]string{}
		var order []string
		for req.Write.Elements != nil {
			up, err := req.Write.Elements.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				_ = w.Error(doip.AsError(err))
				return
			}
			h := sha256.New()
			n, err := io.Copy(h, up.Body)
			if err != nil {
				_ = w.Error(doip.AsError(err))
				return
			}
			got[up.ID] = fmt.Sprintf("%s %d %x", up.MediaType, n, h.Sum(nil)[:4])
			order = append(order, up.ID)
		}
		wr.mu.Lock()
		wr.object, wr.got, wr.order = req.Write.Object, got, order
		wr.mu.Unlock()
		rec := &doip.Record{ObjectID: "Qnew", Type: req.Write.Object.Type, Version: version}
		for _, id := range order {
			rec.Components = append(rec.Components, doip.ComponentInfo{ID: id, Size: 1})
		}
		_ = w.Respond(&doip.Response{Op: req.Op, ObjectID: "Qnew", Written: &doip.WriteResult{Record: rec, Version: version}})
	case doip.OpRetrieve:
		rec := &doip.Record{ObjectID: objectID, Type: "Dataset", Version: version, JSON: json.RawMessage(`{"name":"x"}`),
			Components: []doip.ComponentInfo{{ID: "a.csv", MediaType: "text/csv", Filename: "a.csv", Size: 3}, {ID: dataID, Size: dataSize}}}
		resp := &doip.Response{Op: req.Op, ObjectID: objectID, Record: rec}
		if req.IncludeElementData {
			resp.Elements = []doip.ComponentBody{
				{ID: "a.csv", MediaType: "text/csv", Filename: "a.csv", Size: 3, Body: strings.NewReader("x,y")},
				{ID: dataID, Size: dataSize, Body: &patternReader{n: dataSize}},
			}
		}
		_ = w.Respond(resp)
	default:
		_ = w.Error(doip.Errorf(doip.KindUnsupported, "not here"))
	}
}

func newWriteServer(t *testing.T, wr *writer, lim doip.Limits) (string, *http.Client) {
	t.Helper()
	srv := newTLSServer(t, httpapi.New(httpapi.Options{Handler: wr, ServiceID: serviceID, Limits: lim,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}))
	return srv.URL, srv.Client()
}

// part is one part of a multipart body built by a test.
type part = httpapitest.Part

func post(t *testing.T, c *http.Client, url, ct string, body io.Reader, hdr ...string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, b}
}

// A create and an update with two elements in a multipart body reach the handler as the
// standard framing's write: the object from the part input, each element part streamed in
// order with its media type.
func TestMultipartWrite(t *testing.T) {
	t.Parallel()
	wr := &writer{}
	u, c := newWriteServer(t, wr, doip.Limits{})
	bearer := []string{"Authorization", "Bearer " + token}
	body, ct := httpapitest.Multipart(
		part{Name: "input", Body: strings.NewReader(`{"type":"Dataset","attributes":{"content":{"name":"x"}},"elements":[{"id":"a.csv","type":"text/csv","attributes":{"filename":"a.csv"}}]}`)},
		part{Name: "a.csv", Filename: "a.csv", MediaType: "text/csv", Body: strings.NewReader("x,y")},
		part{Name: dataID, Filename: dataID, MediaType: "application/octet-stream", Body: &patternReader{n: 5 << 20}})
	r := post(t, c, u+"/doip?operationId=0.DOIP/Op.Create&targetId=service", ct, body, bearer...)
	if r.code != 200 || !bytes.Contains(r.body, []byte(`"id":"Qnew"`)) {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	wr.mu.Lock()
	if wr.object.Type != "Dataset" || len(wr.object.Elements) != 1 || strings.Join(wr.order, ",") != "a.csv,"+dataID ||
		!strings.HasPrefix(wr.got["a.csv"], "text/csv 3 ") || !strings.HasPrefix(wr.got[dataID], fmt.Sprintf("application/octet-stream %d ", 5<<20)) {
		t.Errorf("handler saw %+v %v %v", wr.object, wr.order, wr.got)
	}
	wr.mu.Unlock()

	// An update in the path form, with json as the name of the object's part.
	body, ct = httpapitest.Multipart(part{Name: "json", Body: strings.NewReader(`{}`)},
		part{Name: "a.csv", Filename: "other.csv", Body: strings.NewReader("1,2,3")})
	r = post(t, c, u+"/doip/0.DOIP/Op.Update?targetId=Q1", ct, body, bearer...)
	if r.code != 200 {
		t.Fatalf("update: %d %s", r.code, r.body)
	}
	wr.mu.Lock()
	if strings.Join(wr.order, ",") != "a.csv" || !strings.HasPrefix(wr.got["a.csv"], " 5 ") {
		t.Errorf("update: handler saw %v %v", wr.order, wr.got)
	}
	wr.mu.Unlock()
}

// Errors of a multipart write name what was wrong, with the HTTP status of their kind.
func TestMultipartWriteErrors(t *testing.T) {
	t.Parallel()
	wr := &writer{}
	u, c := newWriteServer(t, wr, doip.Limits{MaxUpload: 1 << 20, MaxSegment: 1 << 10})
	bearer := []string{"Authorization", "Bearer " + token}
	obj := func() part { return part{Name: "input", Body: strings.NewReader(`{"type":"Dataset"}`)} }
	create := u + "/doip?o=0.DOIP/Op.Create&t=service"
	tests := []struct {
		name  string
		url   string
		parts []part
		ct    string // replaces the body's Content-Type
		hdr   []string
		code  int
		want  string
	}{
		{"no identity", create, []part{obj(), {Name: "a", Body: strings.NewReader("x")}}, "", nil, 403, "write permission"},
		{"object not first", create, []part{{Name: "a", Body: strings.NewReader("x")}, obj()}, "", bearer, 400, `named input (or json)`},
		{"object twice", create, []part{obj(), {Name: "json", Body: strings.NewReader("{}")}}, "", bearer, 400, "given twice"},
		{"object not JSON", create, []part{{Name: "input", Body: strings.NewReader("{")}}, "", bearer, 400, "not valid JSON"},
		{"object not an object", create, []part{{Name: "input", Body: strings.NewReader("[1]")}}, "", bearer, 400, "must be a JSON object"},
		{"object too large", create, []part{{Name: "input", Body: strings.NewReader(`{"x":"` + strings.Repeat("a", 2<<10) + `"}`)}}, "", bearer, 413, "over 1024 bytes"},
		{"part without a name", create, []part{obj(), {Name: "", Body: strings.NewReader("x")}}, "", bearer, 400, "no name"},
		{"upload too large", create, []part{obj(), {Name: "big", Body: &patternReader{n: 2 << 20}}}, "", bearer, 413, "over 1048576 bytes"},
		{"no boundary", create, []part{obj()}, "multipart/form-data", bearer, 400, "no boundary"},
		{"wrong boundary", create, []part{obj()}, "multipart/form-data; boundary=nope", bearer, 400, "first part"},
		{"not a write", u + "/doip?o=equation_extraction&t=Q1", []part{obj()}, "", bearer, 415, "only 0.DOIP/Op.Create and 0.DOIP/Op.Update"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := httpapitest.Multipart(tt.parts...)
			if tt.ct != "" {
				ct = tt.ct
			}
			r := post(t, c, tt.url, ct, body, tt.hdr...)
			code := tt.code
			if r.code != code || !bytes.Contains(r.body, []byte(tt.want)) {
				t.Fatalf("%d %s, want %d with %q", r.code, r.body, code, tt.want)
			}
		})
	}
}

// A retrieve with includeElementData answers multipart/mixed: the object, then each element
// with its id, media type and filename.
func TestIncludeElementData(t *testing.T) {
	t.Parallel()
	u, c := newWriteServer(t, &writer{}, doip.Limits{})
	resp, err := c.Get(u + "/doip?o=0.DOIP/Op.Retrieve&t=Q1&attributes.includeElementData=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/mixed;") {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var got []string
	for _, p := range httpapitest.ReadMultipart(t, resp.Header.Get("Content-Type"), resp.Body) {
		got = append(got, fmt.Sprintf("%s|%s|%s|%d", p.Name, p.Filename, p.MediaType, len(p.Body)))
		if p.Name == "json" && !bytes.Contains(p.Body, []byte(`"id":"Q1"`)) {
			t.Errorf("object part %s", p.Body)
		}
		if p.Name == dataID && !bytes.Equal(p.Body, dataBytes(0, dataSize)) {
			t.Error("data.bin's bytes differ")
		}
	}
	if len(got) != 3 || !strings.HasPrefix(got[0], "json||application/json|") || got[1] != "a.csv|a.csv|text/csv|3" ||
		got[2] != fmt.Sprintf("%s||application/octet-stream|%d", dataID, dataSize) {
		t.Errorf("parts %q", got)
	}
}

// An update whose whole body is one element's bytes (attributes.element names it): the
// element streamed with the body's media type and length; the object is left as it is.
func TestRawElementUpdate(t *testing.T) {
	t.Parallel()
	wr := &writer{}
	u, c := newWriteServer(t, wr, doip.Limits{MaxUpload: 1 << 20})
	bearer := []string{"Authorization", "Bearer " + token}
	r := post(t, c, u+"/doip?o=0.DOIP/Op.Update&t=Q1&attributes.element=a.csv", "text/csv", strings.NewReader("x,y\n1,2\n"), bearer...)
	if r.code != 200 {
		t.Fatalf("update: %d %s", r.code, r.body)
	}
	wr.mu.Lock()
	if strings.Join(wr.order, ",") != "a.csv" || !strings.HasPrefix(wr.got["a.csv"], "text/csv 8 ") || wr.object.Type != "" || wr.object.Attributes != nil {
		t.Errorf("handler saw %+v %v %v", wr.object, wr.order, wr.got)
	}
	wr.mu.Unlock()
	// JSON bytes are the element's too.
	r = post(t, c, u+"/doip/0.DOIP/Op.Update?t=Q1&attributes.element=e.json", "application/json", strings.NewReader(`{"a":1}`), bearer...)
	wr.mu.Lock()
	if r.code != 200 || !strings.HasPrefix(wr.got["e.json"], "application/json 7 ") {
		t.Errorf("JSON element: %d %s; handler saw %v", r.code, r.body, wr.got)
	}
	wr.mu.Unlock()
	for _, tt := range []struct {
		name, url string
		body      io.Reader
		hdr       []string
		code      int
		want      string
	}{
		{"too large", "attributes.element=big", bytes.NewReader(make([]byte, 2<<20)), bearer, 413, "over 1048576 bytes"},
		{"too large, length unknown", "attributes.element=big", &patternReader{n: 2 << 20}, bearer, 413, "over 1048576 bytes"},
		{"no element id", "attributes.element=", strings.NewReader("x"), bearer, 400, "must name the element"},
		{"no identity", "attributes.element=a.csv", strings.NewReader("x"), nil, 403, "write permission"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, c, u+"/doip?o=0.DOIP/Op.Update&t=Q1&"+tt.url, "application/octet-stream", tt.body, tt.hdr...)
			if r.code != tt.code || !bytes.Contains(r.body, []byte(tt.want)) {
				t.Fatalf("%d %s, want %d with %q", r.code, r.body, tt.code, tt.want)
			}
		})
	}
}
