package segment

import (
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func searchRequest(first string) string {
	var n [4]byte
	binary.BigEndian.PutUint32(n[:], uint32(len(first)))
	return string(n[:]) + first + "\x00\x00\x00\x00"
}

// A search on port 3568's length-prefixed framing takes MaRDI's parameters from its
// attributes, and is answered with MaRDI's search metadata.
func TestSearch(t *testing.T) {
	t.Parallel()
	c, _, _ := newTestCodec(strings.NewReader(searchRequest(`{"targetId":"","operationId":9,"attributes":{"query":"trapezoidal","limit":3,"type":"publication"}}`)), 0, 0)
	req, err := c.ReadRequest()
	if err != nil {
		t.Fatal(err)
	}
	want := doip.SearchRequest{Query: "trapezoidal", Limit: 3, PageSize: 3, ProfileType: "publication", IDsOnly: true}
	if req.Op != doip.OpSearch || req.Search == nil || req.Search.Invalid != nil || req.Search.Query != want.Query ||
		req.Search.Limit != 3 || req.Search.ProfileType != "publication" {
		t.Fatalf("request %+v %+v", req, req.Search)
	}
	hits := func(yield func(*doip.SearchHit, error) bool) {
		yield(&doip.SearchHit{ID: "Q123", Title: "A Short Note", Snippet: "eq. (1)", Equation: &doip.EquationHit{Number: "1", Page: 2}}, nil)
	}
	out, err := writeResponse(t, req, &doip.Response{Op: doip.OpSearch, Search: &doip.SearchResult{Size: 1, Request: *req.Search, Hits: hits}})
	if err != nil {
		t.Fatal(err)
	}
	segs := decodeAnswer(t, out)
	var st struct {
		Status   string `json:"status"`
		Metadata []struct {
			Operation string `json:"operation"`
			TotalHits int    `json:"total_hits"`
			Results   []struct {
				QID, Equation string
				Page          int
			} `json:"results"`
		} `json:"metadata"`
	}
	if len(segs) != 1 || json.Unmarshal(segs[0], &st) != nil || len(st.Metadata) != 1 {
		t.Fatalf("answer %q", out)
	}
	m := st.Metadata[0]
	if m.Operation != "search" || m.TotalHits != 1 || m.Results[0].QID != "Q123" || m.Results[0].Equation != "1" || m.Results[0].Page != 2 {
		t.Fatalf("answer %s", segs[0])
	}

	c, _, _ = newTestCodec(strings.NewReader(searchRequest(`{"operationId":"search","attributes":{"limit":"x","query":"a"}}`)), 0, 0)
	if req, err := c.ReadRequest(); err != nil || req.Search.Invalid == nil {
		t.Fatalf("bad limit: %+v %v", req, err)
	}
}
