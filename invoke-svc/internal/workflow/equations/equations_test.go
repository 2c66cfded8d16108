package equations

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/eqextract"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/extractproc"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/objectstore"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"google.golang.org/protobuf/proto"
)

// fakeStore keeps components and derived writes in memory.
type fakeStore struct {
	commits []map[string]string // the metadata of each commit
	mu      sync.Mutex
	records map[string][]*retrievev1.Component
	data    map[string][]byte // "Q1/id" → bytes; derived as "Q1/derived/wf/file"
	writes  int
}

func newStore() *fakeStore {
	return &fakeStore{
		records: map[string][]*retrievev1.Component{
			"Q1": {{ComponentId: "main-pdf", MediaType: "application/pdf"}, {ComponentId: "source.tex", MediaType: "application/x-tex"}},
			"Q2": {{ComponentId: "paper.pdf", MediaType: "application/pdf"}},
			"Q3": {{ComponentId: "data.csv", MediaType: "text/csv"}},
		},
		data: map[string][]byte{"Q1/main-pdf": []byte("%PDF"), "Q1/source.tex": []byte(`\begin{equation}a\end{equation}`), "Q2/paper.pdf": []byte("%PDF-2"), "Q3/data.csv": []byte("a,b")},
	}
}

func (s *fakeStore) Record(_ context.Context, id string) (*retrievev1.GetRecordResponse, error) {
	comps, ok := s.records[id]
	if !ok {
		return nil, fmt.Errorf("%w: no object %s", workflow.ErrNotFound, id)
	}
	return &retrievev1.GetRecordResponse{ObjectId: id, Components: comps}, nil
}

func (s *fakeStore) Read(_ context.Context, id, comp string, max int64) ([]byte, *retrievev1.ComponentHeader, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.data[id+"/"+comp]
	if !ok {
		return nil, nil, fmt.Errorf("%w: object %s has no component %q", workflow.ErrNotFound, id, comp)
	}
	if int64(len(b)) > max {
		return nil, nil, fmt.Errorf("%w: too big", workflow.ErrBadParams)
	}
	return b, &retrievev1.ComponentHeader{ComponentId: comp, Size: int64(len(b))}, nil
}

func (s *fakeStore) Write(_ context.Context, id, wf, p, mt string, data []byte) (*retrievev1.WriteComponentResponse, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.writes++
	s.data[id+"/derived/"+wf+"/"+p] = append([]byte(nil), data...)
	sum := sha256.Sum256(data)
	return &retrievev1.WriteComponentResponse{ComponentId: p, StorageKey: "k/" + id + "/" + wf + "/" + p, Size: int64(len(data)), Sha256: hex.EncodeToString(sum[:])}, nil
}

// Commit stores each file as Write does (counted as a write each) and keeps the metadata.
func (s *fakeStore) Commit(ctx context.Context, id, wf string, meta map[string]string, files []objectstore.File) (*retrievev1.CommitComponentsResponse, error) {
	resp := &retrievev1.CommitComponentsResponse{}
	for _, f := range files {
		w, err := s.Write(ctx, id, wf, f.Path, f.MediaType, f.Data)
		if err != nil {
			return nil, err
		}
		resp.Components = append(resp.Components, w)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.commits = append(s.commits, meta)
	resp.Version = fmt.Sprintf("commit-%d", len(s.commits))
	return resp, nil
}

// fakeExtractor counts calls and returns fixed equations.
type fakeExtractor struct {
	mu    sync.Mutex
	calls []string
	err   error
}

func (f *fakeExtractor) record(what string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, what)
}

func (f *fakeExtractor) FromLaTeX(context.Context, []byte) (eqextract.Result, error) {
	f.record("latex")
	return eqextract.Result{Equations: []eqextract.Equation{{Number: "1", LaTeX: "a", Label: "eq:a"}}}, f.err
}

func (f *fakeExtractor) FromArchive(context.Context, []byte, string) (eqextract.Result, error) {
	f.record("archive")
	return eqextract.Result{}, f.err
}

func (f *fakeExtractor) FromPDF(_ context.Context, _ []byte, pages []int) (eqextract.Result, error) {
	f.record(fmt.Sprint("pdf", pages))
	return eqextract.Result{Pages: 3, UncertainPages: []int{3}, Equations: []eqextract.Equation{{Page: 1, Number: "1", Text: "a = b"}}}, f.err
}

// emitter records what a run reports.
type emitter struct {
	stages  []string
	derived []workflow.DerivedComponent
}

func (e *emitter) Progress(stage, _ string, _ float64) error {
	e.stages = append(e.stages, stage)
	return nil
}
func (e *emitter) Derived(d workflow.DerivedComponent) error {
	e.derived = append(e.derived, d)
	return nil
}

func run(t *testing.T, r *Runner, obj, params string) (result, *emitter, error) {
	t.Helper()
	em := &emitter{}
	raw, err := r.Run(t.Context(), workflow.Input{ObjectID: obj, Params: json.RawMessage(params)}, em)
	var res result
	if err == nil {
		if jerr := json.Unmarshal(raw, &res); jerr != nil {
			t.Fatal(jerr)
		}
	}
	return res, em, err
}

func TestLaTeXPreferredThenCached(t *testing.T) {
	t.Parallel()
	st, ex := newStore(), &fakeExtractor{}
	r := &Runner{Store: st, Extractor: ex}
	res, em, err := run(t, r, "Q1", `{}`)
	if err != nil {
		t.Fatal(err)
	}
	if res.SourceComponent != "source.tex" || res.EquationCount != 1 || res.Cached || len(em.derived) != 1 || em.derived[0].ComponentID != "equations.json" {
		t.Fatalf("first run = %+v, derived %+v", res, em.derived)
	}
	var doc output
	if err := json.Unmarshal(st.data["Q1/derived/equation_extraction/equations.json"], &doc); err != nil {
		t.Fatal(err)
	}
	if doc.SchemaVersion != 1 || doc.Method != "latex" || doc.SourceSHA256 == "" || doc.Equations[0].Label != "eq:a" {
		t.Errorf("equations.json = %+v", doc)
	}
	// Same params: the stored result, no extraction.
	res, _, err = run(t, r, "Q1", `{"backend":"builtin"}`)
	if err != nil || !res.Cached || len(ex.calls) != 1 {
		t.Errorf("second run: cached=%v calls=%v err=%v", res.Cached, ex.calls, err)
	}
	// force recomputes; other params get another key.
	if res, _, err = run(t, r, "Q1", `{"force":true}`); err != nil || res.Cached || len(ex.calls) != 2 {
		t.Errorf("forced run: cached=%v calls=%v err=%v", res.Cached, ex.calls, err)
	}
	if res, _, err = run(t, r, "Q1", `{"component":"main-pdf","pages":[2,1,2]}`); err != nil || res.Cached || res.SourceComponent != "main-pdf" {
		t.Errorf("PDF run = %+v, %v", res, err)
	}
	if ex.calls[2] != "pdf[1 2]" {
		t.Errorf("pages passed as %q, want sorted and without repeats", ex.calls[2])
	}
	runs := 0
	for k := range st.data {
		if strings.HasPrefix(k, "Q1/derived/equation_extraction/equations-") {
			runs++
		}
	}
	if runs != 2 {
		t.Errorf("%d per-params results stored, want 2 (LaTeX and PDF)", runs)
	}
}

func TestChoosesPDFWhenNoLaTeX(t *testing.T) {
	t.Parallel()
	ex := &fakeExtractor{}
	res, _, err := run(t, &Runner{Store: newStore(), Extractor: ex}, "Q2", `{"backend":"ollama"}`)
	if err != nil || res.SourceComponent != "paper.pdf" || res.Backend != "builtin" || len(res.UncertainPages) != 1 {
		t.Fatalf("Q2 = %+v, %v", res, err)
	}
}

// The component to read may be named in the long form "doip:bitstream/{QID}/{id}" too.
func TestChoosesLongComponentID(t *testing.T) {
	t.Parallel()
	res, _, err := run(t, &Runner{Store: newStore(), Extractor: &fakeExtractor{}}, "Q2", `{"component":"doip:bitstream/Q2/paper.pdf"}`)
	if err != nil || res.SourceComponent != "paper.pdf" {
		t.Fatalf("Q2 = %+v, %v", res, err)
	}
}

func TestErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		obj, params string
		want        error
		text        string
	}{
		{"Q9", `{}`, workflow.ErrNotFound, "Q9"},
		{"Q3", `{}`, workflow.ErrNotFound, "no PDF or LaTeX"},
		{"Q1", `{"component":"nope.pdf"}`, workflow.ErrNotFound, "nope.pdf"},
		{"Q3", `{"component":"data.csv"}`, workflow.ErrBadParams, "text/csv"},
		{"Q1", `{"pages":[0]}`, workflow.ErrBadParams, "page 0"},
		{"Q1", `{"backend":"gpt"}`, workflow.ErrBadParams, "gpt"},
		{"Q1", `{"colour":"red"}`, workflow.ErrBadParams, "colour"},
		{"Q1", `{"pages":"all"}`, workflow.ErrBadParams, "pages"},
	} {
		_, _, err := run(t, &Runner{Store: newStore(), Extractor: &fakeExtractor{}}, tc.obj, tc.params)
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.text) {
			t.Errorf("%s %s: err = %v, want %v naming %q", tc.obj, tc.params, err, tc.want, tc.text)
		}
	}
	st := newStore()
	_, _, err := run(t, &Runner{Store: st, Extractor: &fakeExtractor{err: errors.New("garbled xref")}}, "Q2", `{}`)
	if !errors.Is(err, workflow.ErrBadSource) || !strings.HasPrefix(err.Error(), "bad source paper.pdf: garbled xref") || st.writes != 0 {
		t.Errorf("unreadable source: err = %v, %d writes (want none)", err, st.writes)
	}
}

// The media types the FDO façade really sends for source archives (Python's mimetypes:
// application/x-tar for .tar.gz and .tgz) are read as archives, and are listed as inputs.
func TestArchiveMediaTypesOfTheFacade(t *testing.T) {
	t.Parallel()
	for _, c := range []*retrievev1.Component{
		{ComponentId: "source.tar.gz", MediaType: "application/x-tar"},
		{ComponentId: "src", MediaType: "application/x-tar"},
		{ComponentId: "src", MediaType: "application/gzip"},
		{ComponentId: "src", MediaType: "application/x-gzip"},
		{ComponentId: "paper.tar", MediaType: "application/octet-stream"},
	} {
		if k := kindOf(c); k != kindArchive {
			t.Errorf("kindOf(%s, %s) = %v; want an archive", c.GetComponentId(), c.GetMediaType(), k)
		}
		if !slices.Contains((&Runner{}).InputMediaTypes(), c.GetMediaType()) && c.GetMediaType() != "application/octet-stream" {
			t.Errorf("%s is not an input media type", c.GetMediaType())
		}
	}
}

// TestOneCommitPerRun: each run's files go into one commit, whose metadata names the params,
// the source and the client, and whose version the result and the derived component carry.
func TestOneCommitPerRun(t *testing.T) {
	t.Parallel()
	st := newStore()
	r := &Runner{Store: st, Extractor: &fakeExtractor{}}
	em := &emitter{}
	raw, err := r.Run(t.Context(), workflow.Input{ObjectID: "Q1", Params: json.RawMessage(`{}`), Client: "token:ab12cd34"}, em)
	if err != nil {
		t.Fatal(err)
	}
	var res result
	if err := json.Unmarshal(raw, &res); err != nil {
		t.Fatal(err)
	}
	if len(st.commits) != 1 || st.writes != 2 || res.Version != "commit-1" || em.derived[0].Version != "commit-1" {
		t.Fatalf("%d commits of %d files, result version %q, derived %+v", len(st.commits), st.writes, res.Version, em.derived)
	}
	sum := sha256.Sum256([]byte(`{}`))
	want := map[string]string{"params_sha256": hex.EncodeToString(sum[:]), "source_component": "source.tex", "client": "token:ab12cd34", "cached": "false"}
	for k, v := range want {
		if st.commits[0][k] != v {
			t.Errorf("metadata %s = %q, want %q", k, st.commits[0][k], v)
		}
	}
	if len(st.commits[0]["source_sha256"]) != 64 {
		t.Errorf("metadata source_sha256 = %q", st.commits[0]["source_sha256"])
	}
	// The cached run commits the latest result alone.
	if _, _, err := run(t, r, "Q1", `{}`); err != nil || len(st.commits) != 2 || st.writes != 3 || st.commits[1]["cached"] != "true" {
		t.Errorf("cached run: %v, %d commits, %d writes", err, len(st.commits), st.writes)
	}
}

// storedResults counts the per-params results an object holds.
func (s *fakeStore) storedResults(obj string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for k := range s.data {
		if strings.HasPrefix(k, obj+"/derived/equation_extraction/equations-") {
			n++
		}
	}
	return n
}

// Pages have no effect on a LaTeX source: 200 distinct values are one result, extracted once
// (they were 200 files before).
func TestKeyIgnoresParamsWithoutEffect(t *testing.T) {
	t.Parallel()
	st, ex := newStore(), &fakeExtractor{}
	r := &Runner{Store: st, Extractor: ex}
	for i := 1; i <= 200; i++ {
		if _, _, err := run(t, r, "Q1", fmt.Sprintf(`{"pages":[%d]}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.storedResults("Q1"); n != 1 || len(ex.calls) != 1 {
		t.Errorf("%d stored results and %d extractions, want 1 and 1", n, len(ex.calls))
	}
}

// Distinct pages of a PDF fill at most DerivedSlots files; a slot serves a result only for
// its own key.
func TestDerivedSlotsBoundStoredResults(t *testing.T) {
	t.Parallel()
	st, ex := newStore(), &fakeExtractor{}
	r := &Runner{Store: st, Extractor: ex, DerivedSlots: 4}
	for i := 1; i <= 40; i++ {
		if _, _, err := run(t, r, "Q2", fmt.Sprintf(`{"pages":[%d]}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	if n := st.storedResults("Q2"); n > 4 {
		t.Errorf("%d stored results, want at most 4", n)
	}
	// The last one is still stored; an evicted one is recomputed, not served from another key.
	calls := len(ex.calls)
	if res, _, err := run(t, r, "Q2", `{"pages":[40]}`); err != nil || !res.Cached {
		t.Errorf("pages [40] again: cached=%v, %v", res.Cached, err)
	}
	recomputed := 0
	for i := 1; i <= 40; i++ {
		res, _, err := run(t, r, "Q2", fmt.Sprintf(`{"pages":[%d]}`, i))
		if err != nil {
			t.Fatal(err)
		}
		if !res.Cached {
			recomputed++
		}
	}
	if recomputed < 36 || len(ex.calls) != calls+recomputed {
		t.Errorf("%d of 40 recomputed (%d extractions), want at least 36", recomputed, len(ex.calls)-calls)
	}
}

func TestDerivedOutputBudget(t *testing.T) {
	t.Parallel()
	st := newStore()
	_, _, err := run(t, &Runner{Store: st, Extractor: &fakeExtractor{}, MaxDerived: 100}, "Q1", `{}`)
	if !errors.Is(err, workflow.ErrBudget) || !strings.Contains(err.Error(), "derived-output budget of 100 bytes") || st.writes != 0 {
		t.Errorf("err = %v, %d writes; want the derived-output budget and nothing written", err, st.writes)
	}
}

func TestExtractErrorsClassified(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want error // nil: none of the workflow errors (the service answers INTERNAL)
		text string
	}{
		{fmt.Errorf("%w: no %%PDF- header", eqextract.ErrNotPDF), workflow.ErrBadSource, "bad source paper.pdf: not a readable PDF: no %PDF- header"},
		{fmt.Errorf("%w: equation budget of 20000 exceeded", eqextract.ErrTooLarge), workflow.ErrBudget, "budget exceeded: paper.pdf: input too large: equation budget of 20000"},
		{fmt.Errorf("%w: layout budget", eqextract.ErrTooComplex), workflow.ErrBudget, "layout budget"},
		{fmt.Errorf("%w: memory budget of 1024 MiB", workflow.ErrBudget), workflow.ErrBudget, "memory budget of 1024 MiB while extracting from paper.pdf"},
		{fmt.Errorf("%w: page 9, the PDF has pages 1..3", eqextract.ErrPageRange), workflow.ErrBadParams, "page 9"},
		{fmt.Errorf("%w: exit status 3", extractproc.ErrChild), nil, "exit status 3"},
	} {
		st := newStore()
		_, _, err := run(t, &Runner{Store: st, Extractor: &fakeExtractor{err: tc.err}}, "Q2", `{}`)
		for _, sentinel := range []error{workflow.ErrBadSource, workflow.ErrBudget, workflow.ErrBadParams} {
			if errors.Is(err, sentinel) != (sentinel == tc.want) {
				t.Errorf("%v: err = %v; errors.Is(%v) = %v", tc.err, err, sentinel, !(sentinel == tc.want))
			}
		}
		if err == nil || !strings.Contains(err.Error(), tc.text) || st.writes != 0 {
			t.Errorf("%v: err = %v, %d writes; want one naming %q and nothing written", tc.err, err, st.writes, tc.text)
		}
	}
}

// admitter records what it is asked for and refuses more than max.
type admitter struct {
	max   int64
	asked []int64
}

func (a *admitter) Acquire(_ context.Context, n int64, what string) (func(), error) {
	a.asked = append(a.asked, n)
	if n > a.max {
		return nil, fmt.Errorf("%w: memory budget of %d bytes: %s needs about %d", workflow.ErrBudget, a.max, what, n)
	}
	return func() {}, nil
}

func TestAdmissionBeforeReading(t *testing.T) {
	t.Parallel()
	st, ex := newStore(), &fakeExtractor{}
	st.records["Q2"][0].Size = proto.Int64(6)
	a := &admitter{max: 1000}
	_, _, err := run(t, &Runner{Store: st, Extractor: ex, Admit: a, MaxDerived: 1 << 10}, "Q2", `{}`)
	if !errors.Is(err, workflow.ErrBudget) || len(ex.calls) != 0 || len(a.asked) != 1 || a.asked[0] != 2*6+2*1024 {
		t.Errorf("err = %v, asked %v, calls %v", err, a.asked, ex.calls)
	}
	a.max = 1 << 30
	if _, _, err := run(t, &Runner{Store: st, Extractor: ex, Admit: a}, "Q2", `{}`); err != nil {
		t.Errorf("admitted run: %v", err)
	}
}
