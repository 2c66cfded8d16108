package searchindex

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/changes"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/fdo"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/objectid"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/search"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storagemem"
)

// records is an fdo.Source over a map.
type records struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (r *records) Record(_ context.Context, qid string) ([]byte, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	b, ok := r.m[qid]
	if !ok {
		return nil, fmt.Errorf("%s: %w", qid, fdo.ErrNotFound)
	}
	return b, nil
}

func (r *records) set(qid string, b []byte) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if b == nil {
		delete(r.m, qid)
		return
	}
	r.m[qid] = b
}

func (r *records) list(context.Context) ([]string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for k := range r.m {
		out = append(out, k)
	}
	return out, nil
}

type fixture struct {
	idx    *Index
	recs   *records
	bucket *storagemem.Bucket
}

func newFixture(t testing.TB, opts Options) *fixture {
	t.Helper()
	f := &fixture{recs: &records{m: map[string][]byte{}}, bucket: storagemem.New()}
	idx, err := Open(filepath.Join(t.TempDir(), "index"), f.recs, f.bucket, "main", f.recs.list, opts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { idx.Close() })
	f.idx = idx
	return f
}

// record makes a record in the façade's shape.
func record(qid, typ, title string, authors []string, keywords []string, extra map[string]any) []byte {
	var as []map[string]any
	for _, a := range authors {
		as = append(as, map[string]any{"@type": "Person", "name": a})
	}
	profile := map[string]any{"@type": typ, "name": title, "author": as, "keywords": keywords, "datePublished": "2024-03-14"}
	for k, v := range extra {
		profile[k] = v
	}
	b, _ := json.Marshal(map[string]any{
		"@context": []any{"https://w3id.org/fdo/context/v1"},
		"@id":      "https://fdo.example.org/fdo/" + qid,
		"kernel": map[string]any{
			"digitalObjectType": "https://fdo.example.org/fdo/types/" + typ,
			"modified":          "2024-03-15T09:00:00Z",
			"fdo:hasComponent":  []any{map[string]any{"componentId": "main-pdf", "mediaType": "application/pdf"}},
		},
		"profile": profile,
	})
	return b
}

type eq struct {
	Number string `json:"number,omitempty"`
	Page   int    `json:"page,omitempty"`
	LaTeX  string `json:"latex"`
}

func (f *fixture) putEquations(t testing.TB, qid string, eqs []eq) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"schemaVersion": 1, "equations": eqs})
	if _, err := f.bucket.Put(context.Background(), objectid.ComponentKey("main", qid, EquationsComponent), bytes.NewReader(b), int64(len(b))); err != nil {
		t.Fatal(err)
	}
}

func ids(p search.Page) []string {
	var out []string
	for _, h := range p.Hits {
		out = append(out, h.ObjectID)
	}
	return out
}

func sample(t *testing.T) *fixture {
	f := newFixture(t, Options{MaxPageSize: 50})
	f.recs.set("Q123", record("Q123", "ScholarlyArticle", "A Short Note on Richardson Extrapolation of the Composite Trapezoidal Rule",
		[]string{"Ada M. Lindqvist"}, []string{"trapezoidal rule", "Romberg integration"}, map[string]any{"numberOfPages": 3}))
	f.recs.set("Q456", record("Q456", "Dataset", "Heat equation benchmark data", []string{"Bo Chen"}, []string{"heat equation"}, map[string]any{"numberOfPages": 12}))
	f.recs.set("Q789", record("Q789", "Person", "Ada Lovelace", nil, nil, nil))
	f.putEquations(t, "Q123", []eq{
		{Number: "1", Page: 1, LaTeX: `\int_a^b f(x)\,dx = \frac{h}{2}\left(f(a)+f(b)\right) + E`},
		{Number: "2", Page: 2, LaTeX: `T(h) = I + c_1 h^2 + c_2 h^4 + \dots`},
	})
	f.putEquations(t, "Q456", []eq{{Number: "1", Page: 1, LaTeX: `\partial_t u - \Delta u = f`}})
	if n, err := f.idx.Rebuild(t.Context()); err != nil || n != 3 {
		t.Fatalf("Rebuild = %d, %v", n, err)
	}
	return f
}

func TestSearchMetadata(t *testing.T) {
	t.Parallel()
	f := sample(t)
	for _, tc := range []struct {
		q    string
		want string
	}{
		{"Richardson", "Q123"},
		{"title:trapezoidal", "Q123"},
		{`title:"composite trapezoidal rule"`, "Q123"},
		{"type:ScholarlyArticle", "Q123"},
		{"type:Dataset", "Q456"},
		{"author:lindqvist", "Q123"},
		{`keyword:"romberg integration"`, "Q123"},
		{"/profile/name:heat", "Q456"},
		{"id:Q789", "Q789"},
		{"profile.numberOfPages:>5", "Q456"},
		{"profile.numberOfPages:[1 TO 5]", "Q123"},
		{"+ada -type:Person", "Q123"},
		{"ada AND NOT lovelace", "Q123"},
		{"(heat OR benchmark) AND type:Dataset", "Q456"},
		{"title:trapez*", "Q123"},
		{"richardsen~1", "Q123"},
		{`kernel.modified:[2024-01-01 TO 2024-12-31] AND type:Dataset`, "Q456"},
		{`kernel.modified:[2024-01-01 TO *] AND type:Dataset`, "Q456"},
		{`profile.numberOfPages:[5 TO *]`, "Q456"},
		{`profile.numberOfPages:{3 TO 12]`, "Q456"},
	} {
		p, err := f.idx.Search(t.Context(), search.Request{Query: tc.q})
		if err != nil {
			t.Errorf("%s: %v", tc.q, err)
			continue
		}
		if got := ids(p); len(got) != 1 || got[0] != tc.want || p.Total != 1 {
			t.Errorf("%s: %v (total %d), want [%s]", tc.q, got, p.Total, tc.want)
		}
	}
	p, err := f.idx.Search(t.Context(), search.Request{Query: "type:ScholarlyArticle"})
	if err != nil || p.Hits[0].Title == "" || p.Hits[0].Timestamp == "" || p.Hits[0].Type == "" {
		t.Fatalf("hit fields: %+v %v", p.Hits, err)
	}
}

func TestSearchPagingAndSort(t *testing.T) {
	t.Parallel()
	f := sample(t)
	p, err := f.idx.Search(t.Context(), search.Request{Query: "ada OR heat", PageSize: 1, Sort: []search.SortField{{Field: "/id", Desc: true}}})
	if err != nil || p.Total != 3 || len(p.Hits) != 1 || p.Hits[0].ObjectID != "Q789" {
		t.Fatalf("page 0: %v total %d %v", ids(p), p.Total, err)
	}
	p, err = f.idx.Search(t.Context(), search.Request{Query: "ada OR heat", PageNum: 2, PageSize: 1, Sort: []search.SortField{{Field: "id", Desc: true}}})
	if err != nil || len(p.Hits) != 1 || p.Hits[0].ObjectID != "Q123" {
		t.Fatalf("page 2: %v %v", ids(p), err)
	}
	p, err = f.idx.Search(t.Context(), search.Request{Query: "ada OR heat", PageNum: 5, PageSize: 1})
	if err != nil || len(p.Hits) != 0 || p.Total != 3 {
		t.Fatalf("page past the end: %v %v", ids(p), err)
	}
	if _, err := f.idx.Search(t.Context(), search.Request{Query: "ada", PageSize: 51}); !errors.Is(err, search.ErrPageTooLarge) {
		t.Fatalf("page size over the cap: %v", err)
	}
	if _, err := f.idx.Search(t.Context(), search.Request{Query: "ada", PageSize: 50, PageNum: 1000}); !errors.Is(err, search.ErrPageTooLarge) {
		t.Fatalf("page too deep: %v", err)
	}
	p, err = f.idx.Search(t.Context(), search.Request{ProfileType: "publication"})
	if err != nil || len(p.Hits) != 1 || p.Hits[0].ObjectID != "Q123" {
		t.Fatalf("profile type only: %v %v", ids(p), err)
	}
}

func TestSearchBadInput(t *testing.T) {
	t.Parallel()
	f := sample(t)
	for _, tc := range []struct {
		q    string
		want error
	}{
		{`title:"open`, search.ErrBadQuery},
		{`*`, search.ErrTooBroad},
		{`/.*/`, search.ErrTooBroad},
		{``, search.ErrBadQuery},
	} {
		if _, err := f.idx.Search(t.Context(), search.Request{Query: tc.q}); !errors.Is(err, tc.want) {
			t.Errorf("%q: %v, want %v", tc.q, err, tc.want)
		}
	}
}

func TestSearchTimeLimit(t *testing.T) {
	t.Parallel()
	f := sample(t)
	f.idx.opts.Timeout = time.Nanosecond
	_, err := f.idx.Search(t.Context(), search.Request{Query: "-type:Person"})
	if !errors.Is(err, search.ErrTimeout) {
		t.Fatalf("err = %v, want the time limit", err)
	}
}

func TestSearchFormula(t *testing.T) {
	t.Parallel()
	f := sample(t)
	for _, q := range []string{
		`formula:"\int_a^b f(x)\,dx"`,
		`formula:"\int_{a}^{b} f( x ) dx"`,
		`formula:"\int_s^t g(y)\,dy"`, // renamed variables
		`formula:"\frac{h}{2}\Big(f(a)+f(b)\Big)"`,
		`type:ScholarlyArticle AND formula:"T(h) = I + c_1 h^2"`,
	} {
		p, err := f.idx.Search(t.Context(), search.Request{Query: q})
		if err != nil || len(p.Hits) == 0 || p.Hits[0].ObjectID != "Q123" {
			t.Errorf("%s: %v %v", q, ids(p), err)
			continue
		}
		if p.Hits[0].Equation == nil || p.Hits[0].Equation.Page == 0 || p.Hits[0].Equation.Number == "" {
			t.Errorf("%s: no equation named: %+v", q, p.Hits[0])
		}
	}
	p, _ := f.idx.Search(t.Context(), search.Request{Query: `formula:"c_1 h^2 + c_2 h^4"`})
	if len(p.Hits) == 0 || p.Hits[0].Equation.Number != "2" || p.Hits[0].Equation.Overlap < 0.9 || !strings.HasPrefix(p.Hits[0].Snippet, "(2) T(h)") {
		t.Fatalf("equation 2: %+v", p.Hits)
	}
	p, _ = f.idx.Search(t.Context(), search.Request{Query: `formula:"\partial_t u - \Delta u"`})
	if len(p.Hits) == 0 || p.Hits[0].ObjectID != "Q456" {
		t.Fatalf("heat: %v", ids(p))
	}
}

func TestObserverFollowsChanges(t *testing.T) {
	t.Parallel()
	f := sample(t)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() { f.idx.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()

	find := func(q string) []string {
		p, err := f.idx.Search(t.Context(), search.Request{Query: q})
		if err != nil {
			t.Fatal(err)
		}
		return ids(p)
	}
	eventually := func(q string, want int) {
		t.Helper()
		for range 500 {
			if len(find(q)) == want {
				return
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("%s: %v, want %d hits", q, find(q), want)
	}
	f.recs.set("Q1000", record("Q1000", "ScholarlyArticle", "Quasiperiodic tilings", nil, nil, nil))
	f.idx.Changed(t.Context(), changes.Change{ObjectID: "Q1000", Record: true})
	eventually("quasiperiodic", 1)

	f.putEquations(t, "Q1000", []eq{{Number: "7", Page: 3, LaTeX: `e^{i\pi} + 1 = 0`}})
	f.idx.Changed(t.Context(), changes.Change{ObjectID: "Q1000", Components: []string{objectid.ComponentKey("main", "Q1000", EquationsComponent)}})
	eventually(`formula:"e^{i\pi}+1=0"`, 1)

	f.recs.set("Q1000", nil)
	f.idx.Changed(t.Context(), changes.Change{ObjectID: "Q1000", Deleted: true})
	eventually("quasiperiodic", 0)
}

func TestRebuildDropsStale(t *testing.T) {
	t.Parallel()
	f := sample(t)
	f.recs.set("Q789", nil)
	if _, err := f.idx.Rebuild(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n, _ := f.idx.Count(); n != 2 {
		t.Fatalf("%d documents after the rebuild, want 2", n)
	}
}

// corpusDir is the equation-extraction corpus (make bench-extract).
const corpusDir = "../../../invoke-svc/testdata/corpus"

// TestFormulaSearchFindsEveryCorpusPaper is the measure of formula search: every numbered
// equation of the corpus, its own LaTeX as the query, finds its paper first.
func TestFormulaSearchFindsEveryCorpusPaper(t *testing.T) {
	t.Parallel()
	files, _ := filepath.Glob(filepath.Join(corpusDir, "*.truth.json"))
	if len(files) == 0 {
		t.Skip("no corpus at " + corpusDir)
	}
	f := newFixture(t, Options{})
	type truth struct {
		Paper     string `json:"paper"`
		Equations []eq   `json:"equations"`
	}
	var papers []truth
	for i, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		var tr truth
		if err := json.Unmarshal(b, &tr); err != nil {
			t.Fatal(err)
		}
		qid := fmt.Sprintf("Q%d", 9000+i)
		f.recs.set(qid, record(qid, "ScholarlyArticle", tr.Paper, nil, nil, nil))
		f.putEquations(t, qid, tr.Equations)
		papers = append(papers, tr)
	}
	if _, err := f.idx.Rebuild(t.Context()); err != nil {
		t.Fatal(err)
	}
	queries, first := 0, 0
	for i, tr := range papers {
		want := fmt.Sprintf("Q%d", 9000+i)
		for _, e := range tr.Equations {
			if e.Number == "" || len(FormulaTokens(e.LaTeX)) == 0 {
				continue
			}
			queries++
			q := `formula:"` + strings.ReplaceAll(e.LaTeX, `"`, `\"`) + `"`
			p, err := f.idx.Search(t.Context(), search.Request{Query: q, PageSize: 3})
			if err != nil {
				t.Errorf("%s (%s): %v", tr.Paper, e.Number, err)
				continue
			}
			if len(p.Hits) == 0 || p.Hits[0].ObjectID != want {
				t.Errorf("%s eq (%s) %q: first hits %v, want %s", tr.Paper, e.Number, e.LaTeX, ids(p), want)
				continue
			}
			first++
		}
	}
	t.Logf("formula search: %d of %d numbered equations find their paper first (%d papers)", first, queries, len(papers))
}
