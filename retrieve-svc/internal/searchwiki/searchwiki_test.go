package searchwiki

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/search"
)

// wiki is a stand-in for api.php that answers action=query&list=search as MediaWiki does:
// its errors come with status 200, a MediaWiki-API-Error header and an "error" object;
// unknown parameters give a warning.
type wiki struct {
	mu       sync.Mutex
	searches []string // srsearch of each request
	ns       []string
	pages    []page
	status   int           // non-zero: answer with this status
	delay    time.Duration // answer after this long
}

type page struct {
	ns             int
	title, snippet string
}

var knownParams = []string{"action", "list", "srsearch", "srlimit", "sroffset", "srnamespace", "srinfo", "srprop", "format", "srwhat"}

func mwError(w http.ResponseWriter, code, info string) {
	w.Header().Set("MediaWiki-API-Error", code)
	json.NewEncoder(w).Encode(map[string]any{"error": map[string]any{"code": code, "info": info,
		"*": "See https://wiki.example.org/w/api.php for API usage."}, "servedby": "mw-standin"})
}

func (wk *wiki) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if wk.delay > 0 {
		time.Sleep(wk.delay)
	}
	if wk.status != 0 {
		http.Error(w, "upstream broke", wk.status)
		return
	}
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	q := r.URL.Query()
	out := map[string]any{"batchcomplete": ""}
	var unknown []string
	for k := range q {
		if !slices.Contains(knownParams, k) {
			unknown = append(unknown, k)
		}
	}
	if len(unknown) > 0 {
		out["warnings"] = map[string]any{"main": map[string]any{"*": "Unrecognized parameters: " + strings.Join(unknown, ", ") + "."}}
	}
	if q.Get("action") != "query" || q.Get("list") != "search" || q.Get("format") != "json" {
		mwError(w, "badvalue", "Unrecognized value for parameter \"action\".")
		return
	}
	s := q.Get("srsearch")
	if s == "" {
		mwError(w, "nosrsearch", "The \"srsearch\" parameter must be set.")
		return
	}
	if strings.Contains(s, "insource:/[/") {
		mwError(w, "srsearch-error", "An error has occurred while searching: Regular expression syntax error at [: missing ].")
		return
	}
	if strings.Contains(s, "database") {
		mwError(w, "internal_api_error_DBQueryError", "[abc123] Database query error.")
		return
	}
	limit, err := strconv.Atoi(q.Get("srlimit"))
	if err != nil || limit < 1 {
		mwError(w, "badvalue", fmt.Sprintf("Invalid value \"%s\" for integer parameter \"srlimit\".", q.Get("srlimit")))
		return
	}
	offset, _ := strconv.Atoi(q.Get("sroffset"))
	wk.mu.Lock()
	wk.searches = append(wk.searches, s)
	wk.ns = append(wk.ns, q.Get("srnamespace"))
	wk.mu.Unlock()
	var results []map[string]any
	for _, p := range wk.pages {
		if strings.Contains(strings.ToLower(p.snippet), strings.ToLower(lastWord(s))) {
			results = append(results, map[string]any{"ns": p.ns, "title": p.title, "pageid": 1, "size": 100, "wordcount": 10,
				"snippet": p.snippet, "timestamp": "2026-01-02T03:04:05Z"})
		}
	}
	total := len(results)
	results = results[min(offset, len(results)):min(offset+limit, len(results))]
	query := map[string]any{"search": results}
	if strings.Contains(q.Get("srinfo"), "totalhits") {
		query["searchinfo"] = map[string]any{"totalhits": total}
	}
	if offset+limit < total {
		out["continue"] = map[string]any{"sroffset": offset + limit, "continue": "-||"}
	}
	out["query"] = query
	json.NewEncoder(w).Encode(out)
}

func lastWord(s string) string {
	f := strings.Fields(s)
	return f[len(f)-1]
}

func newWiki(t *testing.T, wk *wiki, opts Options) *Backend {
	t.Helper()
	srv := httptest.NewServer(wk)
	t.Cleanup(srv.Close)
	b, err := New(srv.URL+"/w/api.php", opts, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func sampleWiki() *wiki {
	return &wiki{pages: []page{
		{120, "Item:Q4711", `<span class="searchmatch">Conrad</span> Zuse`},
		{120, "Item:Q4712", `Joseph <span class="searchmatch">Conrad</span> &amp; friends`},
		{0, "Main Page", `see Q4713 about <b>Conrad</b>`},
		{120, "Item:Q4711", `<span class="searchmatch">Conrad</span> Zuse (again)`},
	}}
}

func TestSearch(t *testing.T) {
	t.Parallel()
	wk := sampleWiki()
	b := newWiki(t, wk, Options{})
	p, err := b.Search(t.Context(), search.Request{Query: "Conrad", PageSize: 10})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, h := range p.Hits {
		ids = append(ids, h.ObjectID)
	}
	if !slices.Equal(ids, []string{"Q4711", "Q4712", "Q4713"}) || p.Total != 4 {
		t.Fatalf("hits %v total %d", ids, p.Total)
	}
	if h := p.Hits[1]; h.Snippet != "Joseph Conrad & friends" || h.Title != "Item:Q4712" || h.Timestamp != "2026-01-02T03:04:05Z" {
		t.Fatalf("hit %+v", h)
	}
	if wk.ns[0] != "120" || wk.searches[0] != "Conrad" {
		t.Fatalf("asked %q in namespace %q", wk.searches, wk.ns)
	}
	// Paging goes to the wiki as sroffset.
	p, err = b.Search(t.Context(), search.Request{Query: "Conrad", PageSize: 1, PageNum: 1})
	if err != nil || len(p.Hits) != 1 || p.Hits[0].ObjectID != "Q4712" {
		t.Fatalf("page 1: %+v %v", p, err)
	}
}

func TestSearchProfileTypes(t *testing.T) {
	t.Parallel()
	wk := sampleWiki()
	b := newWiki(t, wk, Options{ProfileItems: map[string]string{"publication": "Q5976449"}})
	for _, tc := range []struct {
		typ  string
		want []string
	}{
		{"person", []string{"haswbfacet:P1460=Q5976445 Conrad"}},
		{"publication", []string{"haswbfacet:P1460=Q5976449 Conrad"}},
		{"Q42", []string{"haswbfacet:P1460=Q42 Conrad"}},
		{"software", []string{"haswbfacet:P1460=Q5976450 Conrad", "haswbfacet:P31=Q57080 Conrad", "haswbfacet:P31=Q56605 Conrad"}},
	} {
		wk.mu.Lock()
		wk.searches, wk.ns = nil, nil
		wk.mu.Unlock()
		p, err := b.Search(t.Context(), search.Request{Query: "Conrad", ProfileType: tc.typ, PageSize: 5})
		if err != nil {
			t.Fatalf("%s: %v", tc.typ, err)
		}
		if !slices.Equal(wk.searches, tc.want) || wk.ns[0] != "" {
			t.Errorf("%s: asked %q in namespace %q", tc.typ, wk.searches, wk.ns)
		}
		if tc.typ == "software" && (len(p.Hits) != 3 || p.Hits[0].ObjectID != "Q4711") {
			t.Errorf("software merges and de-duplicates: %+v", p.Hits)
		}
	}
	if _, err := b.Search(t.Context(), search.Request{Query: "x", ProfileType: "theorem"}); !errors.Is(err, search.ErrBadQuery) {
		t.Errorf("unknown profile item: %v", err)
	}
}

func TestSearchErrors(t *testing.T) {
	t.Parallel()
	b := newWiki(t, sampleWiki(), Options{MaxPageSize: 20})
	for _, tc := range []struct {
		req  search.Request
		want error
		msg  string
	}{
		{search.Request{Query: "insource:/[/"}, search.ErrBadQuery, "Regular expression syntax error"},
		{search.Request{Query: "database"}, search.ErrUnavailable, "Database query error"},
		{search.Request{Query: "x", PageSize: 21}, search.ErrPageTooLarge, "more than 20"},
		{search.Request{Query: "x", Sort: []search.SortField{{Field: "/name"}}}, search.ErrBadQuery, "sortFields"},
		{search.Request{Query: "  "}, search.ErrBadQuery, "empty"},
	} {
		_, err := b.Search(t.Context(), tc.req)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%+v: %v, want %v %q", tc.req, err, tc.want, tc.msg)
		}
	}
	down := newWiki(t, &wiki{status: http.StatusBadGateway}, Options{})
	if _, err := down.Search(t.Context(), search.Request{Query: "x"}); !errors.Is(err, search.ErrUnavailable) || !strings.Contains(err.Error(), "502") {
		t.Errorf("a wiki answering 502: %v", err)
	}
	slow := newWiki(t, &wiki{delay: 300 * time.Millisecond}, Options{Timeout: 50 * time.Millisecond})
	start := time.Now()
	if _, err := slow.Search(t.Context(), search.Request{Query: "x"}); !errors.Is(err, search.ErrTimeout) || time.Since(start) > 250*time.Millisecond {
		t.Errorf("a slow wiki: %v after %v", err, time.Since(start))
	}
	if _, err := New("ftp://x", Options{}, nil); err == nil {
		t.Error("an ftp URL was accepted")
	}
}

// FuzzParseAnswer: any answer of a wiki gives a page or an error, never a panic, and every
// hit names an object.
func FuzzParseAnswer(f *testing.F) {
	f.Add([]byte(`{"batchcomplete":"","query":{"searchinfo":{"totalhits":2},"search":[{"ns":120,"title":"Item:Q4711","snippet":"<span class=\"searchmatch\">Conrad</span>","timestamp":"2026-01-02T03:04:05Z"},{"ns":0,"title":"Main","snippet":"Q9 &amp;"}]}}`))
	f.Add([]byte(`{"error":{"code":"srsearch-error","info":"bad regex"},"servedby":"x"}`))
	f.Add([]byte(`{"error":{"code":"internal_api_error_DBQueryError","info":"db"}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, body []byte) {
		p, err := parseAnswer(body, 10)
		if err != nil {
			return
		}
		for _, h := range p.Hits {
			if h.ObjectID == "" {
				t.Fatalf("a hit without an object: %+v", h)
			}
		}
	})
}
