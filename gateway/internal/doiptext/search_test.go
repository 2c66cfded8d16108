package doiptext

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// searchVector reads a vector of testdata/vectors-search: the search ones, kept apart from
// those that every golden test of testdata/vectors walks.
func searchVector(tb testing.TB, name string) []byte {
	tb.Helper()
	return readVector(tb, filepath.Join("..", "vectors-search", name))
}

// The search requests of doipy and of a CNRI-style client decode to the model.
func TestSearchRequestVectors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		vector string
		want   doip.Request
	}{
		{"doipy-request-search", doip.Request{Op: doip.OpSearch, OperationID: OpIDSearch, ObjectID: "test/service", Framing: doip.FramingText,
			Search: &doip.SearchRequest{Query: "type:Document", PageSize: -1}}},
		{"doipy-request-search-token", doip.Request{Op: doip.OpSearch, OperationID: OpIDSearch, ObjectID: "test/service", Framing: doip.FramingText,
			Token: "eyJhbGciOiJub25lIn0.e30.", Search: &doip.SearchRequest{Query: "+type:Document +/name:Hello", PageSize: -1}}},
		{"cnri-style-request-search-ids", doip.Request{Op: doip.OpSearch, OperationID: OpIDSearch, ObjectID: "test/service", Framing: doip.FramingText,
			RequestID: "3f2c9a7e-1b4d-4c8e-9f10-2a6b7c8d9e0f",
			Search: &doip.SearchRequest{Query: "type:Document", PageSize: 10, IDsOnly: true,
				SortFields: []doip.SortField{{Field: "/name"}, {Field: "/date", Desc: true}}}}},
	} {
		forFeeds(t, searchVector(t, tc.vector), func(t *testing.T, br *bufio.Reader) {
			c := NewServerCodec(br, nil, Options{})
			got, err := c.ReadRequest()
			if err != nil {
				t.Fatalf("%s: %v", tc.vector, err)
			}
			if !reflect.DeepEqual(got, &tc.want) {
				t.Fatalf("%s:\n%+v\nwant\n%+v", tc.vector, got, &tc.want)
			}
		})
	}
}

// Answers are written byte for byte as the contract's vectors: full objects and ids.
func TestSearchResponseVectors(t *testing.T) {
	t.Parallel()
	size := int64(12)
	full := &doip.Response{Op: doip.OpSearch, Search: &doip.SearchResult{Size: 1, Hits: doip.HitsOf(&doip.SearchHit{ID: "test/abc",
		Record: &doip.Record{ObjectID: "test/abc", Type: "Document", JSON: json.RawMessage(`{"id":"test/abc","name":"Hello World"}`),
			Components: []doip.ComponentInfo{{ID: "file", MediaType: "text/plain", Filename: "helloworld.txt", Size: size}}}})}}
	got := answer(t, Options{}, &doip.Request{Op: doip.OpSearch}, full, nil)
	if want := searchVector(t, "std-response-search"); !bytes.Equal(got, want) {
		t.Fatalf("full:\n%s\nwant\n%s", got, want)
	}
	ids := &doip.Response{Op: doip.OpSearch, Search: &doip.SearchResult{Size: 1, Request: doip.SearchRequest{IDsOnly: true},
		Hits: doip.HitsOf(&doip.SearchHit{ID: "test/abc"})}}
	got = answer(t, Options{}, &doip.Request{Op: doip.OpSearch, RequestID: "3f2c9a7e-1b4d-4c8e-9f10-2a6b7c8d9e0f"}, ids, nil)
	if want := searchVector(t, "cnri-style-response-search-ids"); !bytes.Equal(got, want) {
		t.Fatalf("ids:\n%s\nwant\n%s", got, want)
	}
}

func TestSearchResponseShapes(t *testing.T) {
	t.Parallel()
	none := answer(t, Options{}, &doip.Request{Op: doip.OpSearch}, &doip.Response{Search: &doip.SearchResult{Hits: doip.HitsOf()}}, nil)
	if want := "{\"status\":\"0.DOIP/Status.001\"}\n#\n{\n  \"size\": 0,\n  \"results\": []\n}\n#\n#\n"; string(none) != want {
		t.Fatalf("no match: %q", none)
	}
	// A formula match names its equation; a hit whose record could not be read is still an object.
	got := answer(t, Options{}, &doip.Request{Op: doip.OpSearch}, &doip.Response{Search: &doip.SearchResult{Size: 2, Hits: doip.HitsOf(
		&doip.SearchHit{ID: "Q123", Record: &doip.Record{ObjectID: "Q123", Type: "T", JSON: json.RawMessage(`{}`)},
			Equation: &doip.EquationHit{Number: "3", Page: 2, LaTeX: `\int f`, Overlap: 1}},
		&doip.SearchHit{ID: "Q9"})}}, nil)
	segs := strings.Split(string(got), "\n#\n")
	var body struct {
		Size    int
		Results []struct {
			ID         string
			Type       string
			Attributes struct{ Match *searchMatch }
		}
	}
	if err := json.Unmarshal([]byte(segs[1]), &body); err != nil {
		t.Fatalf("%v in %s", err, got)
	}
	if body.Size != 2 || len(body.Results) != 2 || body.Results[0].Attributes.Match == nil ||
		body.Results[0].Attributes.Match.Equation != "3" || body.Results[0].Attributes.Match.Page != 2 || body.Results[1].Type != DefaultObjectType {
		t.Fatalf("answer %s", got)
	}
	// A backend failing midway breaks the message: the error reaches the server, which closes.
	failing := func(yield func(*doip.SearchHit, error) bool) {
		if yield(&doip.SearchHit{ID: "Q1"}, nil) {
			yield(nil, errors.New("backend gone"))
		}
	}
	c, _, _ := codec(strings.NewReader(""), Options{})
	if err := c.WriteResponse(&doip.Request{Op: doip.OpSearch}, &doip.Response{Search: &doip.SearchResult{Size: 5, Hits: failing}}); err == nil {
		t.Fatal("a failing backend gave no error")
	}
}

func TestSearchRequestErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`{"targetId":"s","operationId":"0.DOIP/Op.Search","attributes":{"query":3}}`, "query must be a string"},
		{`{"targetId":"s","operationId":"0.DOIP/Op.Search","attributes":{"query":"a","pageNum":-1}}`, "pageNum"},
		{`{"targetId":"s","operationId":"0.DOIP/Op.Search","attributes":{"query":"a","pageSize":"x"}}`, "pageSize"},
		{`{"targetId":"s","operationId":"0.DOIP/Op.Search","attributes":{"query":"a","pageSize":1.5}}`, "pageSize"},
		{`{"targetId":"s","operationId":"0.DOIP/Op.Search","attributes":{"query":"a","sortFields":["x"]}}`, "sortFields"},
		{`{"targetId":"s","operationId":"0.DOIP/Op.Search","attributes":{"query":"a"},"input":{}}`, "Unexpected input"},
	} {
		c, _, _ := codec(strings.NewReader(tc.in+"\n#\n#\n"), Options{})
		_, err := c.ReadRequest()
		var e *doip.Error
		if !errors.As(err, &e) || e.Kind != doip.KindBadRequest || !strings.Contains(e.Message, tc.want) {
			t.Errorf("%s: %v, want BadRequest %q", tc.in, err, tc.want)
		}
	}
	// Numeric strings are numbers, as Cordra reads them.
	c, _, _ := codec(strings.NewReader(`{"targetId":"s","operationId":"0.DOIP/Op.Search","attributes":{"query":"a","pageNum":"2","pageSize":"5"}}`+"\n#\n#\n"), Options{})
	req, err := c.ReadRequest()
	if err != nil || req.Search.PageNum != 2 || req.Search.PageSize != 5 {
		t.Fatalf("numeric strings: %+v %v", req, err)
	}
}

func TestParseSortFields(t *testing.T) {
	t.Parallel()
	got, err := ParseSortFields(" /name , /date desc,/x ASC,,")
	want := []doip.SortField{{Field: "/name"}, {Field: "/date", Desc: true}, {Field: "/x"}}
	if err != nil || !reflect.DeepEqual(got, want) {
		t.Fatalf("%v %v", got, err)
	}
	if _, err := ParseSortFields(strings.Repeat("a,", 20)); err == nil {
		t.Fatal("too many fields accepted")
	}
}

// FuzzSearchRequest: any attributes of a search give a request or a BadRequest, never a panic.
func FuzzSearchRequest(f *testing.F) {
	for _, name := range []string{"doipy-request-search", "doipy-request-search-token", "cnri-style-request-search-ids"} {
		f.Add(searchVector(f, name))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, _ := codec(bytes.NewReader(data), Options{Limits: doip.Limits{MaxSegment: 1 << 16, MaxPayload: 1 << 20}})
		req, err := c.ReadRequest()
		if err == nil && req.Op == doip.OpSearch && req.Search == nil {
			t.Fatal("a search without its parameters")
		}
	})
}
