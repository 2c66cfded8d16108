package envelope

import (
	"bufio"
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func searchVector(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vectors-search", name+".bin"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// MaRDI's client's SEARCH (0x09) requests decode to the model.
func TestSearchRequestVectors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		vector string
		want   doip.SearchRequest
	}{
		{"mardi-head-request-search", doip.SearchRequest{Query: "Conrad", PageSize: 5, Limit: 5, ProfileType: "person", IDsOnly: true}},
		{"mardi-head-request-search-type-only", doip.SearchRequest{PageSize: 20, Limit: 20, ProfileType: "workflow", IDsOnly: true}},
		{"mardi-head-request-search-via-http-gateway", doip.SearchRequest{Query: "Conrad", PageSize: 5, Limit: 5, IDsOnly: true}},
	} {
		c, _, _ := newTestCodec(searchVector(t, tc.vector))
		req, err := c.ReadRequest()
		if err != nil {
			t.Fatalf("%s: %v", tc.vector, err)
		}
		if req.Op != doip.OpSearch || req.ObjectID != "" || req.Search == nil || !reflect.DeepEqual(*req.Search, tc.want) {
			t.Fatalf("%s: %+v %+v, want %+v", tc.vector, req, req.Search, tc.want)
		}
	}
}

// The answer is written byte for byte as MaRDI's server writes it.
func TestSearchResponseVector(t *testing.T) {
	t.Parallel()
	c, out, bw := newTestCodec(searchVector(t, "mardi-head-request-search"))
	req, err := c.ReadRequest()
	if err != nil {
		t.Fatal(err)
	}
	res := &doip.SearchResult{Size: 7, Request: *req.Search, Hits: doip.HitsOf(
		&doip.SearchHit{ID: "Q4711", Title: "Item:Q4711", Snippet: "Conrad Zuse", Timestamp: "2026-01-02T03:04:05Z"},
		&doip.SearchHit{ID: "Q4712", Title: "Item:Q4712", Snippet: "Joseph Conrad", Timestamp: "2026-02-03T04:05:06Z"})}
	if err := c.WriteResponse(req, &doip.Response{Op: doip.OpSearch, Search: res}); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	if want := searchVector(t, "mardi-head-response-search"); !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("wrote\n%q\nwant\n%q", out.Bytes(), want)
	}
}

// Bad parameters are an operation error of the request, not a framing error.
func TestSearchRequestInvalid(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ meta, want string }{
		{`{"operation":"search","query":null}`, "search requires at least one of 'query' or 'type'"},
		{`{"operation":"search","query":"x","limit":"5"}`, "'limit' must be an integer"},
		{`{"operation":"search","query":"x","limit":2.5}`, "'limit' must be an integer"},
		{`{"operation":"search","type":"planet"}`, "Unknown type 'planet'. Known types: ['academic_discipline', "},
	} {
		msg, err := searchMessage(tc.meta)
		if err != nil {
			t.Fatal(err)
		}
		c, _, _ := newTestCodec(msg)
		req, err := c.ReadRequest()
		if err != nil || req.Search == nil || req.Search.Invalid == nil || !bytes.HasPrefix([]byte(req.Search.Invalid.Message), []byte(tc.want)) {
			t.Errorf("%s: %+v, %v; want Invalid %q", tc.meta, req, err, tc.want)
		}
	}
	// The limit is clamped, not refused.
	msg, _ := searchMessage(`{"query":"x","limit":500}`)
	c, _, _ := newTestCodec(msg)
	if req, err := c.ReadRequest(); err != nil || req.Search.Limit != 50 {
		t.Fatalf("clamp: %+v %v", req, err)
	}
}

// FuzzSearchRequest: any metadata of a SEARCH gives a request, valid or Invalid, never a
// panic or a framing error.
func FuzzSearchRequest(f *testing.F) {
	for _, name := range []string{"mardi-head-request-search", "mardi-head-request-search-type-only", "mardi-head-request-search-via-http-gateway"} {
		f.Add(searchVector(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c := NewServerCodec(bufio.NewReader(bytes.NewReader(data)), bufio.NewWriter(&bytes.Buffer{}), Options{Limits: doip.Limits{MaxPayload: 1 << 16, MaxSegment: 1024}})
		req, err := c.ReadRequest()
		if err == nil && req.Op == doip.OpSearch && req.Search == nil {
			t.Fatal("a search without its parameters")
		}
		if err == nil && req.Search != nil && req.Search.Invalid == nil && (req.Search.Limit < 1 || req.Search.Limit > 50) {
			t.Fatalf("limit %d not clamped", req.Search.Limit)
		}
	})
}

func searchMessage(meta string) ([]byte, error) {
	m := &Message{Header: Header{Type: TypeRequest, Op: doip.OpSearch}, Blocks: []Block{&MetadataBlock{JSON: []byte(meta)}}}
	return m.Append(nil)
}
