// Package equations is the equation_extraction workflow: it reads a paper's LaTeX source
// (a .tex file or a source archive) or its PDF through the retrieve service, finds the
// display equations, and stores them as the derived component equations.json.
//
// Runs are idempotent and cached: the result of one (source bytes, params) pair is stored
// as derived/equation_extraction/equations-{slot}.json. The key of a result hashes the
// source's SHA-256, the component id and the params that change the result: pages and
// backend for a PDF, backend only for LaTeX sources (pages have no effect there), never
// "force". The slot is the key modulo [Runner.DerivedSlots] (16 by default), so an object
// holds at most that many stored results besides equations.json, whatever params clients
// send; the stored document carries its key, and a result is taken from a slot only when
// its key matches (else it is recomputed and replaces the slot's). A repeated invoke
// returns the stored result with "cached": true unless params.force is set. Every run also
// (re)writes derived/equation_extraction/equations.json, the latest result, which clients
// retrieve as the component "equations.json". Both files of a run go into one commit through
// the retrieve service (CommitComponents), all or nothing, with metadata naming the params'
// SHA-256, the source component and its SHA-256, and the client; the result's "version" is
// that commit. A document over [Runner.MaxDerived] bytes is not written: the run fails with
// workflow.ErrBudget.
//
// Errors: a source the extractor cannot read wraps workflow.ErrBadSource ("bad source
// main-pdf: …"); one over an extraction budget (eqextract.ErrTooLarge, ErrTooComplex, or a
// child process's memory, CPU or wall budget) wraps workflow.ErrBudget; pages outside the
// PDF wrap workflow.ErrBadParams.
//
// Not handled here: the extraction itself (package eqextract), and the Ollama backend's HTTP
// client (package ollama).
package equations

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/eqextract"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/extractproc"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/objectstore"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
	"github.com/fdo-doip/doip-gateway/shared/doipid"
	eqdoc "github.com/fdo-doip/doip-gateway/shared/equations"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/mediatype"
)

// Name is the workflow's name.
const Name = eqdoc.Workflow

// SchemaVersion is the version of the equations.json format (shared/equations).
const SchemaVersion = eqdoc.SchemaVersion

// OutputFile is the component id of the latest result.
const OutputFile = eqdoc.Component

// DefaultMaxSource bounds the source a run reads.
const DefaultMaxSource = 64 << 20

// Store is what the runner needs of the retrieve service (see package objectstore).
type Store interface {
	Record(ctx context.Context, objectID string) (*retrievev1.GetRecordResponse, error)
	Read(ctx context.Context, objectID, componentID string, max int64) ([]byte, *retrievev1.ComponentHeader, error)
	Write(ctx context.Context, objectID, wf, path, mediaType string, data []byte) (*retrievev1.WriteComponentResponse, error)
	Commit(ctx context.Context, objectID, wf string, metadata map[string]string, files []objectstore.File) (*retrievev1.CommitComponentsResponse, error)
}

// Extractor finds equations. [Builtin] runs package eqextract in this process,
// [Isolated] in a child process with budgets of its own. Each method returns promptly once
// ctx is done.
type Extractor interface {
	FromLaTeX(ctx context.Context, src []byte) (eqextract.Result, error)
	FromArchive(ctx context.Context, data []byte, name string) (eqextract.Result, error)
	FromPDF(ctx context.Context, data []byte, pages []int) (eqextract.Result, error)
}

// Admitter admits a run by the memory it is expected to need in this process, waiting
// while others hold the budget; it fails with workflow.ErrBudget when the run could never
// fit. See package admission.
type Admitter interface {
	Acquire(ctx context.Context, n int64, what string) (release func(), err error)
}

// Refiner improves a PDF result with a model (the Ollama backend); it returns the
// builtin result and an explanation when it cannot.
type Refiner interface {
	Refine(ctx context.Context, pdf []byte, builtin eqextract.Result) (eqextract.Result, string, error)
}

// Runner runs equation_extraction. Set Store and Extractor; the rest is optional.
type Runner struct {
	Store     Store
	Extractor Extractor
	// Ollama, when not nil, serves params.backend "ollama".
	Ollama    Refiner
	MaxSource int64
	// MaxDerived caps the size of a derived document (DefaultMaxDerived when 0).
	MaxDerived int64
	// DerivedSlots is how many stored results an object may hold (DefaultDerivedSlots
	// when 0).
	DerivedSlots int
	// Admit, when not nil, admits each run by its expected memory before the source is read.
	Admit  Admitter
	Logger *slog.Logger
}

// DefaultMaxDerived is the default cap of a derived document.
const DefaultMaxDerived = 16 << 20

// DefaultDerivedSlots is the default number of stored results per object.
const DefaultDerivedSlots = 16

var _ workflow.Runner = (*Runner)(nil)

// Name implements [workflow.Runner].
func (r *Runner) Name() string { return Name }

// Description implements [workflow.Runner].
func (r *Runner) Description() string {
	return "finds the display equations of a paper (LaTeX source, source archive or PDF) and stores them as equations.json"
}

// InputMediaTypes implements [workflow.Runner].
func (r *Runner) InputMediaTypes() []string {
	return mediatype.PaperSources()
}

// params are the workflow's params.
type params struct {
	Component string `json:"component,omitempty"`
	Pages     []int  `json:"pages,omitempty"`
	Backend   string `json:"backend,omitempty"`
	Force     bool   `json:"force,omitempty"`
}

func parseParams(raw json.RawMessage) (params, error) {
	var p params
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return p, fmt.Errorf("%w: %v (the params are component, pages, backend and force)", workflow.ErrBadParams, err)
	}
	switch p.Backend {
	case "":
		p.Backend = "builtin"
	case "builtin", "ollama":
	default:
		return p, fmt.Errorf("%w: backend %q: want builtin or ollama", workflow.ErrBadParams, p.Backend)
	}
	if len(p.Pages) > 1000 {
		return p, fmt.Errorf("%w: %d pages listed; at most 1000", workflow.ErrBadParams, len(p.Pages))
	}
	for _, n := range p.Pages {
		if n < 1 || n > 100000 {
			return p, fmt.Errorf("%w: page %d: pages count from 1", workflow.ErrBadParams, n)
		}
	}
	p.Pages = slices.Compact(slices.Sorted(slices.Values(p.Pages)))
	return p, nil
}

// sourceKind is how a component is read.
type sourceKind int

const (
	kindNone sourceKind = iota
	kindLaTeX
	kindArchive
	kindPDF
)

func kindOf(c *retrievev1.Component) sourceKind {
	switch mediatype.FamilyOf(c.GetComponentId(), c.GetMediaType()) {
	case mediatype.FamilyTeX:
		return kindLaTeX
	case mediatype.FamilyArchive:
		return kindArchive
	case mediatype.FamilyPDF:
		return kindPDF
	}
	return kindNone
}

// chooseSource picks the component to read: the one named in params, else the LaTeX source
// (a .tex file or a source archive) if the record lists one, else the first PDF.
func chooseSource(rec *retrievev1.GetRecordResponse, want string) (*retrievev1.Component, sourceKind, error) {
	qid := rec.GetObjectId()
	if want != "" {
		want = strings.TrimPrefix(want, doipid.LongComponentID(qid, "")) // the long form of this object's id
		for _, c := range rec.GetComponents() {
			if c.GetComponentId() == want {
				if k := kindOf(c); k != kindNone {
					return c, k, nil
				}
				return nil, kindNone, fmt.Errorf("%w: component %q of %s is %s; %s reads PDF, LaTeX or LaTeX source archives",
					workflow.ErrBadParams, want, qid, c.GetMediaType(), Name)
			}
		}
		return nil, kindNone, fmt.Errorf("%w: object %s has no component %q", workflow.ErrNotFound, qid, want)
	}
	var best *retrievev1.Component
	bestKind := kindNone
	for _, c := range rec.GetComponents() {
		k := kindOf(c)
		if k == kindLaTeX || k == kindArchive {
			return c, k, nil
		}
		if k == kindPDF && best == nil {
			best, bestKind = c, k
		}
	}
	if best == nil {
		return nil, kindNone, fmt.Errorf("%w: object %s lists no PDF or LaTeX component for %s to read", workflow.ErrNotFound, qid, Name)
	}
	return best, bestKind, nil
}

// cacheKey names one (source, params) pair by what changes the result: the pages matter
// for a PDF only, and force never does.
func cacheKey(sourceSHA, componentID string, kind sourceKind, p params) string {
	p.Force = false
	if kind != kindPDF {
		p.Pages = nil
	}
	js, _ := json.Marshal(p)
	sum := sha256.Sum256([]byte(sourceSHA + "\x00" + componentID + "\x00" + string(js)))
	return hex.EncodeToString(sum[:8])
}

// slotFile is the stored result file of a key: one of slots per object.
func slotFile(key string, slots int) string {
	n, _ := strconv.ParseUint(key, 16, 64)
	return fmt.Sprintf("equations-%02d.json", n%uint64(slots))
}

// output is the equations.json document (shared/equations).
type output = eqdoc.Document

// derived is one derived component in the result.
type derived struct {
	ComponentID string `json:"componentId"`
	MediaType   string `json:"mediaType"`
	Size        int64  `json:"size"`
	StorageKey  string `json:"storageKey"`
	SHA256      string `json:"sha256"`
}

// result is the workflow's result object.
type result struct {
	Workflow          string    `json:"workflow"`
	SourceObject      string    `json:"sourceObject"`
	SourceComponent   string    `json:"sourceComponent"`
	Backend           string    `json:"backend"`
	EquationCount     int       `json:"equationCount"`
	UncertainPages    []int     `json:"uncertainPages,omitempty"`
	Cached            bool      `json:"cached"`
	DerivedComponents []derived `json:"derivedComponents"`
	// Version is the commit that holds the derived components; absent when storage keeps
	// no versions.
	Version string `json:"version,omitempty"`
}

// Run implements [workflow.Runner].
func (r *Runner) Run(ctx context.Context, in workflow.Input, emit workflow.Emitter) (json.RawMessage, error) {
	p, err := parseParams(in.Params)
	if err != nil {
		return nil, err
	}
	if err := emit.Progress("read", "reading the record of "+in.ObjectID, 0.05); err != nil {
		return nil, err
	}
	rec, err := r.Store.Record(ctx, in.ObjectID)
	if err != nil {
		return nil, err
	}
	qid := rec.GetObjectId()
	comp, kind, err := chooseSource(rec, p.Component)
	if err != nil {
		return nil, err
	}
	if err := emit.Progress("read", fmt.Sprintf("reading %s of %s", comp.GetComponentId(), qid), 0.1); err != nil {
		return nil, err
	}
	max := r.MaxSource
	if max <= 0 {
		max = DefaultMaxSource
	}
	maxDerived := r.MaxDerived
	if maxDerived <= 0 {
		maxDerived = DefaultMaxDerived
	}
	if r.Admit != nil {
		// In this process a run holds the source, its result and the document, each at
		// most once more while it is encoded or sent.
		size := comp.GetSize()
		if size <= 0 || size > max {
			size = max
		}
		release, err := r.Admit.Acquire(ctx, 2*size+2*maxDerived, fmt.Sprintf("%s of %s (%d bytes)", comp.GetComponentId(), qid, comp.GetSize()))
		if err != nil {
			return nil, err
		}
		defer release()
	}
	src, hdr, err := r.Store.Read(ctx, qid, comp.GetComponentId(), max)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(src)
	srcSHA := hex.EncodeToString(sum[:])
	key := cacheKey(srcSHA, comp.GetComponentId(), kind, p)
	slots := r.DerivedSlots
	if slots <= 0 {
		slots = DefaultDerivedSlots
	}
	runFile := slotFile(key, slots)

	var (
		doc    []byte
		cached bool
		out    output
	)
	if !p.Force {
		stored, _, err := r.Store.Read(ctx, qid, path.Join("derived", Name, runFile), maxDerived)
		switch {
		case err == nil && json.Unmarshal(stored, &out) == nil && out.CacheKey == key:
			doc, cached = stored, true
		case err != nil && !errors.Is(err, workflow.ErrNotFound) && !errors.Is(err, workflow.ErrBudget):
			return nil, err
		}
	}
	if !cached {
		if err := emit.Progress("extract", fmt.Sprintf("finding equations in %s (%s)", comp.GetComponentId(), kindName(kind)), 0.3); err != nil {
			return nil, err
		}
		out, err = r.extract(ctx, kind, src, comp, hdr, p)
		if err != nil {
			return nil, err
		}
		out.SourceObject, out.SourceComponent, out.SourceSHA256, out.CacheKey = qid, comp.GetComponentId(), srcSHA, key
		if doc, err = json.MarshalIndent(out, "", "  "); err != nil {
			return nil, err
		}
		doc = append(doc, '\n')
		if int64(len(doc)) > maxDerived {
			return nil, fmt.Errorf("%w: derived-output budget of %d bytes: %s of %s would be %d bytes (%d equations)",
				workflow.ErrBudget, maxDerived, OutputFile, qid, len(doc), len(out.Equations))
		}
	}
	// One commit holds the run's files: the keyed result (unless it was already stored) and
	// the latest equations.json, or neither.
	files := []objectstore.File{{Path: OutputFile, MediaType: "application/json", Data: doc}}
	if !cached {
		files = append([]objectstore.File{{Path: runFile, MediaType: "application/json", Data: doc}}, files...)
	}
	if err := emit.Progress("write", fmt.Sprintf("committing %d files", len(files)), 0.9); err != nil {
		return nil, err
	}
	paramsSum := sha256.Sum256(in.Params)
	commit, err := r.Store.Commit(ctx, qid, Name, map[string]string{
		"params_sha256":    hex.EncodeToString(paramsSum[:]),
		"source_component": comp.GetComponentId(),
		"source_sha256":    srcSHA,
		"client":           in.Client,
		"cached":           fmt.Sprint(cached),
	}, files)
	if err != nil {
		return nil, err
	}
	latest := commit.GetComponents()[len(files)-1]
	d := derived{ComponentID: OutputFile, MediaType: "application/json", Size: latest.GetSize(), StorageKey: latest.GetStorageKey(), SHA256: latest.GetSha256()}
	if err := emit.Derived(workflow.DerivedComponent{ComponentID: d.ComponentID, MediaType: d.MediaType, StorageKey: d.StorageKey, SHA256: d.SHA256, Size: d.Size, Version: commit.GetVersion()}); err != nil {
		return nil, err
	}
	return json.Marshal(result{
		Workflow: Name, SourceObject: qid, SourceComponent: comp.GetComponentId(), Backend: out.Backend,
		EquationCount: len(out.Equations), UncertainPages: out.UncertainPages, Cached: cached,
		DerivedComponents: []derived{d}, Version: commit.GetVersion(),
	})
}

func kindName(k sourceKind) string {
	switch k {
	case kindLaTeX:
		return "LaTeX source"
	case kindArchive:
		return "LaTeX source archive"
	default:
		return "PDF"
	}
}

// extract runs the extractor for the source's kind.
func (r *Runner) extract(ctx context.Context, kind sourceKind, src []byte, comp *retrievev1.Component, hdr *retrievev1.ComponentHeader, p params) (output, error) {
	out := output{SchemaVersion: SchemaVersion, Workflow: Name, SourceMediaType: comp.GetMediaType(), Backend: "builtin"}
	var (
		res eqextract.Result
		err error
	)
	switch kind {
	case kindLaTeX:
		out.Method = "latex"
		res, err = r.Extractor.FromLaTeX(ctx, src)
	case kindArchive:
		out.Method = "latex"
		res, err = r.Extractor.FromArchive(ctx, src, comp.GetComponentId())
	default:
		out.Method = "pdf-layout"
		res, err = r.Extractor.FromPDF(ctx, src, p.Pages)
	}
	if err != nil {
		return out, classifyExtractError(ctx, hdr.GetComponentId(), err)
	}
	if p.Backend == "ollama" {
		switch {
		case kind != kindPDF:
			out.Note = "the LaTeX source is exact; the ollama backend applies to PDF sources only"
		case r.Ollama == nil:
			out.Note = "ollama is not configured (OLLAMA_HOST); the builtin result is returned"
		default:
			refined, note, rerr := r.Ollama.Refine(ctx, src, res)
			if rerr == nil {
				res, out.Backend = refined, "ollama"
			}
			out.Note = note
		}
	}
	out.Pages, out.UncertainPages = res.Pages, res.UncertainPages
	out.Equations = res.Equations
	if out.Equations == nil {
		out.Equations = []eqextract.Equation{}
	}
	out.Count = len(out.Equations)
	return out, nil
}

// classifyExtractError says what an extraction error means for the client: the context's
// end, a budget, bad params (pages outside the PDF), a process failure (as it is), or a
// source that cannot be read.
func classifyExtractError(ctx context.Context, component string, err error) error {
	switch {
	case ctx.Err() != nil:
		return ctx.Err()
	case errors.Is(err, workflow.ErrBudget):
		return fmt.Errorf("%w while extracting from %s", err, component)
	case errors.Is(err, eqextract.ErrTooLarge), errors.Is(err, eqextract.ErrTooComplex):
		return fmt.Errorf("%w: %s: %s", workflow.ErrBudget, component, strings.TrimPrefix(err.Error(), "eqextract: "))
	case errors.Is(err, eqextract.ErrPageRange):
		return fmt.Errorf("%w: %s: %s", workflow.ErrBadParams, component, strings.TrimPrefix(err.Error(), "eqextract: "))
	case errors.Is(err, extractproc.ErrChild):
		return err
	}
	return fmt.Errorf("%w %s: %s", workflow.ErrBadSource, component, strings.TrimPrefix(err.Error(), "eqextract: "))
}
