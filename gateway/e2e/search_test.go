package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/segment"
)

// mardiSearch is the metadata of MaRDI's binary search answer.
type mardiSearch struct {
	Operation string `json:"operation"`
	Status    string `json:"status"`
	TotalHits int    `json:"total_hits"`
	Results   []struct {
		QID      string `json:"qid"`
		Title    string `json:"title"`
		Snippet  string `json:"snippet"`
		Equation string `json:"equation"`
		Page     int    `json:"page"`
	} `json:"results"`
}

// binarySearch sends SEARCH (0x09) as MaRDI's client does.
func binarySearch(t *testing.T, c *client.Conn, query string) (mardiSearch, error) {
	t.Helper()
	resp, err := c.Do(t.Context(), client.Request{Op: doip.OpSearch, Metadata: map[string]any{"query": query, "limit": 5}}, nil)
	if err != nil {
		return mardiSearch{}, err
	}
	var m mardiSearch
	if err := json.Unmarshal(resp.Metadata, &m); err != nil {
		t.Fatalf("search answer %s: %v", resp.Metadata, err)
	}
	if resp.Header.Op != doip.OpSearch || m.Operation != "search" || m.Status != "ok" {
		t.Fatalf("search answer: op %d, %s", resp.Header.Op, resp.Metadata)
	}
	return m, nil
}

// stdResults is the segment after the status of a standard search answer.
type stdResults struct {
	Size    int               `json:"size"`
	Results []json.RawMessage `json:"results"`
}

func standardSearch(t *testing.T, sc *client.StdConn, attrs map[string]any) (stdResults, error) {
	t.Helper()
	resp, err := sc.Do(t.Context(), client.StdRequest{TargetID: "service", OperationID: "0.DOIP/Op.Search", Attributes: attrs}, nil)
	if err != nil {
		return stdResults{}, err
	}
	var r stdResults
	if len(resp.Segments) != 1 || json.Unmarshal(resp.Segments[0], &r) != nil {
		t.Fatalf("standard search answer: %+v", resp)
	}
	return r, nil
}

// lengthPrefixedSearch sends a search on port 3568's length-prefixed framing.
func lengthPrefixedSearch(t *testing.T, s *system, query string) mardiSearch {
	t.Helper()
	lp := dialRaw(t, s.segmentsAddr())
	_ = lp.SetDeadline(time.Now().Add(20 * time.Second))
	first, _ := json.Marshal(map[string]any{"targetId": "", "operationId": "search", "attributes": map[string]any{"query": query, "limit": 5}})
	w := segment.NewWriter(lp)
	if err := w.WriteSegment(first); err != nil {
		t.Fatal(err)
	}
	if err := w.End(); err != nil {
		t.Fatal(err)
	}
	seg, err := segment.NewReader(lp).ReadSegment()
	var resp struct {
		Status   string        `json:"status"`
		Metadata []mardiSearch `json:"metadata"`
	}
	if err != nil || json.Unmarshal(seg, &resp) != nil || resp.Status != "success" || len(resp.Metadata) != 1 {
		t.Fatalf("length-prefixed search: %s, %v", seg, err)
	}
	return resp.Metadata[0]
}

// awaitHits searches on the binary port until the query finds something: the index follows
// writes (and is first built) in the background.
func awaitHits(t *testing.T, c *client.Conn, query string) mardiSearch {
	t.Helper()
	return awaitSearch(t, c, query, "nothing found by", func(m mardiSearch) bool { return len(m.Results) > 0 })
}

// awaitNoHits searches on the binary port until the query finds nothing.
func awaitNoHits(t *testing.T, c *client.Conn, query string) {
	t.Helper()
	awaitSearch(t, c, query, "still found by", func(m mardiSearch) bool { return len(m.Results) == 0 })
}

// awaitSearch searches until done holds of the answer, for at most 30 s.
func awaitSearch(t *testing.T, c *client.Conn, query, failure string, done func(mardiSearch) bool) mardiSearch {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		m, err := binarySearch(t, c, query)
		if err == nil && done(m) {
			return m
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s %s: %+v, %v", failure, query, m, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestSearchFindsQ123 finds the sample object Q123 by its title and, once equation_extraction
// ran on it, by one of its formulas, in all three framings over real sockets; a query that does
// not parse is a 101 on the standard framing and the connection stays usable.
func TestSearchFindsQ123(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	c := s.dial(t)

	// The index is built in the background on first start.
	const byTitle = `title:"composite trapezoidal rule"`
	m := awaitHits(t, c, byTitle)
	if m.Results[0].QID != "Q123" || m.TotalHits != 1 || !strings.Contains(m.Results[0].Title, "Richardson") {
		t.Fatalf("binary search by title: %+v", m)
	}
	if lp := lengthPrefixedSearch(t, s, byTitle); len(lp.Results) != 1 || lp.Results[0].QID != "Q123" {
		t.Fatalf("length-prefixed search by title: %+v", lp)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	sc, err := client.DialStandard(ctx, s.segmentsAddr(), insecureTLS)
	cancel()
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	sc.Timeout = 20 * time.Second
	r, err := standardSearch(t, sc, map[string]any{"query": byTitle})
	var do struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		Attributes struct {
			Content json.RawMessage `json:"content"`
		} `json:"attributes"`
		Elements []struct{ ID string } `json:"elements"`
	}
	if err != nil || r.Size != 1 || len(r.Results) != 1 || json.Unmarshal(r.Results[0], &do) != nil ||
		do.ID != "Q123" || !strings.HasSuffix(do.Type, "ScholarlyArticle") || len(do.Attributes.Content) == 0 || len(do.Elements) == 0 {
		t.Fatalf("standard search by title: %+v, %v", r, err)
	}
	r, err = standardSearch(t, sc, map[string]any{"query": "type:ScholarlyArticle OR type:Dataset", "type": "id", "pageSize": 1, "sortFields": "/id DESC"})
	if err != nil || r.Size != 2 || len(r.Results) != 1 || string(r.Results[0]) != `"Q456"` {
		t.Fatalf("standard search, ids, paged and sorted: %+v, %v", r, err)
	}

	// A formula of Q123, once equation_extraction has run on it.
	const formula = `formula:"\int_a^b f(x)\,dx"`
	if m, err := binarySearch(t, c, formula); err != nil || len(m.Results) != 0 {
		t.Fatalf("a formula found before extraction: %+v, %v", m, err)
	}
	if _, err := invoke(t, c, "Q123", "equation_extraction", nil); err != nil {
		t.Fatal(err)
	}
	m = awaitHits(t, c, formula)
	if m.Results[0].QID != "Q123" || m.Results[0].Equation != "1" || !strings.Contains(m.Results[0].Snippet, `\int_a^b`) {
		t.Fatalf("binary search by formula: %+v", m)
	}
	// Spacing, \left/\right and variable names do not matter.
	const renamed = `formula:"\int_{s}^{t} g ( y ) \; dy"`
	if lp := lengthPrefixedSearch(t, s, renamed); len(lp.Results) == 0 || lp.Results[0].QID != "Q123" {
		t.Fatalf("length-prefixed search by a renamed formula: %+v", lp)
	}
	r, err = standardSearch(t, sc, map[string]any{"query": formula})
	var hit struct {
		ID         string `json:"id"`
		Attributes struct {
			Match struct {
				Equation string `json:"equation"`
				Page     int    `json:"page"`
			} `json:"match"`
		} `json:"attributes"`
	}
	if err != nil || len(r.Results) == 0 || json.Unmarshal(r.Results[0], &hit) != nil || hit.ID != "Q123" || hit.Attributes.Match.Equation != "1" {
		t.Fatalf("standard search by formula: %+v, %v", r, err)
	}

	// Bad input: a clear error, and the connection goes on.
	for _, tc := range []struct {
		attrs map[string]any
		want  string
	}{
		{map[string]any{"query": `title:"open`}, "not closed"},
		{map[string]any{"query": `*`}, "scan the whole index"},
		{map[string]any{"query": "a", "pageSize": 100000}, "pageSize"},
		{map[string]any{}, "Missing query"},
	} {
		_, err := standardSearch(t, sc, tc.attrs)
		var e *doip.Error
		if !errors.As(err, &e) || string(e.Kind) != "0.DOIP/Status.101" || !strings.Contains(e.Message, tc.want) {
			t.Errorf("standard search %v: %v, want 0.DOIP/Status.101 %q", tc.attrs, err, tc.want)
		}
	}
	if _, err := c.Do(t.Context(), client.Request{Op: doip.OpSearch, Metadata: map[string]any{"query": "x", "limit": "many"}}, nil); err == nil ||
		!strings.Contains(err.Error(), "'limit' must be an integer") {
		t.Errorf("binary search with a bad limit: %v", err)
	}
	// The heaviest query the parser allows (256 wildcard clauses, each with two literal
	// characters) is answered within the time limit, and the service stays responsive.
	var heavy []string
	for i := range 256 {
		heavy = append(heavy, fmt.Sprintf("%c%c*", 'a'+i%26, 'a'+i/26%26))
	}
	start := time.Now()
	if _, err := standardSearch(t, sc, map[string]any{"query": strings.Join(heavy, " OR "), "type": "id"}); err != nil {
		var e *doip.Error
		if !errors.As(err, &e) {
			t.Fatalf("heavy query: %v", err)
		}
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("the heavy query took %v", took)
	}
	if _, err := sc.Do(t.Context(), client.StdRequest{TargetID: "service", OperationID: "0.DOIP/Op.Hello"}, nil); err != nil {
		t.Fatalf("hello after the errors: %v", err)
	}
	if m, err := binarySearch(t, c, byTitle); err != nil || len(m.Results) != 1 {
		t.Fatalf("binary search after the errors: %+v, %v", m, err)
	}
}
