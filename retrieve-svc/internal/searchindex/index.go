// Package searchindex is the embedded full-text index of retrieve-svc's search: one bleve
// document per object, holding its record (id, type, title, authors, keywords and every
// attribute of the record, under the attribute's dotted path) and the formulas of the
// equations that the equation_extraction workflow derived (components/derived/
// equation_extraction/equations.json), as gram terms (see [FormulaTokens]).
//
// It implements [search.Backend] with Lucene's classic query syntax (query.go) and
// [changes.Observer]: every commit queues its object, and a worker re-reads that object's
// record and equations and replaces its document. [Index.Rebuild] reads every object again
// from the record folder and storage. The index is a folder of its own (a setting; by
// default "search-index" in the data folder), kept across restarts.
//
// Not handled: records served by a façade are indexed when they change here or on a
// rebuild, not when the façade changes them; a rebuild finds objects in the record folder and,
// where storage can list, the objects with derived equations (at most storage.MaxList keys
// per top-level shard folder).
package searchindex

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/mapping"
	"github.com/blevesearch/bleve/v2/search/query"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/changes"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/fdo"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/objectid"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/search"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
)

// Index field names.
const (
	fieldID           = "id"
	fieldType         = "type"
	fieldTitle        = "title"
	fieldAuthor       = "author"
	fieldKeyword      = "keyword"
	fieldModified     = "modified"
	fieldFormula      = "formula"
	fieldFormulaShape = "formula_shape"
	fieldEquations    = "equations"
)

// EquationsComponent is the component id of the derived equations, below components/.
const EquationsComponent = "derived/equation_extraction/equations.json"

// Defaults of [Options].
const (
	DefaultMaxPageSize = 1000
	DefaultMaxWindow   = 10000
	DefaultTimeout     = 5 * time.Second
	// formulaWindow is how many best matches of a formula query are ranked again by how much
	// of the formula one equation holds.
	formulaWindow = 50
	// maxRerank is the deepest a formula query is ranked by its equations; pages beyond it
	// keep the index's order.
	maxRerank = 1000
	// maxEquationsBytes bounds the equations.json read for one object.
	maxEquationsBytes = 32 << 20
	// maxIndexedEquations bounds the equations indexed per object.
	maxIndexedEquations = 5000
)

// Options tune an [Index].
type Options struct {
	// MaxPageSize caps a page (DefaultMaxPageSize when 0).
	MaxPageSize int
	// MaxWindow caps how deep pages go: (pageNum+1)*pageSize (DefaultMaxWindow when 0).
	MaxWindow int
	// Timeout bounds one search (DefaultTimeout when 0).
	Timeout time.Duration
}

// Index is the embedded index. Its methods are safe for concurrent use.
type Index struct {
	idx     bleve.Index
	path    string
	records fdo.Source
	bucket  storage.ReadBucket
	branch  string
	list    func(ctx context.Context) ([]string, error) // the record folder's ids; nil: none
	opts    Options
	logger  *slog.Logger

	mu      sync.Mutex
	pending map[string]bool // object → deleted, waiting for the worker
	wake    chan struct{}
}

var (
	_ search.Backend   = (*Index)(nil)
	_ changes.Observer = (*Index)(nil)
)

// Open opens the index at path, creating it if it does not exist. Records are read from
// records (uncached: the index wants what was just written), equations from bucket below
// branch; list, if not nil, names the objects a rebuild reads besides those storage lists.
func Open(path string, records fdo.Source, bucket storage.ReadBucket, branch string, list func(context.Context) ([]string, error), opts Options, logger *slog.Logger) (*Index, error) {
	if opts.MaxPageSize <= 0 {
		opts.MaxPageSize = DefaultMaxPageSize
	}
	if opts.MaxWindow <= 0 {
		opts.MaxWindow = DefaultMaxWindow
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	// Another process holding the index (a service while "reindex" runs) is an error after a
	// second, not a wait without end.
	idx, err := bleve.OpenUsing(path, map[string]any{"bolt_timeout": "1s"})
	if errors.Is(err, bleve.ErrorIndexPathDoesNotExist) {
		idx, err = bleve.NewUsing(path, newMapping(), bleve.Config.DefaultIndexType, bleve.Config.DefaultKVStore, map[string]any{"bolt_timeout": "1s"})
	}
	if err != nil {
		return nil, fmt.Errorf("search index %s: %w", path, err)
	}
	return &Index{idx: idx, path: path, records: records, bucket: bucket, branch: branch, list: list, opts: opts,
		logger: logger, pending: map[string]bool{}, wake: make(chan struct{}, 1)}, nil
}

// Close closes the index.
func (x *Index) Close() error { return x.idx.Close() }

// Count returns the number of indexed objects.
func (x *Index) Count() (uint64, error) { return x.idx.DocCount() }

// newMapping is the index's schema: fixed fields for the documented names, and every other
// attribute of the record indexed dynamically under its dotted path (text, numbers, dates).
func newMapping() mapping.IndexMapping {
	im := bleve.NewIndexMapping()
	dm := bleve.NewDocumentMapping()

	keyword := bleve.NewKeywordFieldMapping()
	keyword.Store = true
	dm.AddFieldMappingsAt(fieldID, keyword)
	dm.AddFieldMappingsAt(fieldType, keyword)

	text := bleve.NewTextFieldMapping()
	text.Store = true
	dm.AddFieldMappingsAt(fieldTitle, text)
	dm.AddFieldMappingsAt(fieldAuthor, bleve.NewTextFieldMapping())
	dm.AddFieldMappingsAt(fieldKeyword, bleve.NewTextFieldMapping())

	modified := bleve.NewDateTimeFieldMapping()
	modified.Store = true
	dm.AddFieldMappingsAt(fieldModified, modified)

	for _, f := range []string{fieldFormula, fieldFormulaShape} {
		gram := bleve.NewKeywordFieldMapping()
		gram.IncludeInAll = false
		gram.DocValues = false
		gram.IncludeTermVectors = false
		dm.AddFieldMappingsAt(f, gram)
	}
	eqs := bleve.NewTextFieldMapping()
	eqs.Index = false
	eqs.Store = true
	eqs.IncludeInAll = false
	eqs.DocValues = false
	dm.AddFieldMappingsAt(fieldEquations, eqs)

	// The record's JSON-LD context is not content.
	dm.AddSubDocumentMapping("@context", bleve.NewDocumentDisabledMapping())
	im.DefaultMapping = dm
	im.DefaultAnalyzer = "standard"
	return im
}

// storedEquation is what the index keeps of one equation, to name it in a hit.
type storedEquation struct {
	Number string `json:"n,omitempty"`
	Page   int    `json:"p,omitempty"`
	LaTeX  string `json:"l"`
}

// equationsFile is the part of equations.json the index reads.
type equationsFile struct {
	Equations []struct {
		Page   int    `json:"page"`
		Number string `json:"number"`
		LaTeX  string `json:"latex"`
		Text   string `json:"text"`
	} `json:"equations"`
}

// document builds an object's document from its record and its equations.json (nil: none).
func document(qid string, raw []byte, eqJSON []byte) (map[string]any, error) {
	doc := map[string]any{}
	if raw != nil {
		if err := json.Unmarshal(raw, &doc); err != nil {
			return nil, fmt.Errorf("record of %s: %w", qid, err)
		}
	}
	rec, _ := fdo.ParseRecord(raw)
	doc[fieldID] = qid
	if t := rec.ObjectType; t != "" {
		doc[fieldType] = []string{t, t[strings.LastIndexByte(t, '/')+1:]}
	}
	profile, _ := doc["profile"].(map[string]any)
	// The title: the profile's name (the façade's records), else the record's own name or
	// title (the records of objects made through the gateway).
	for _, name := range []any{profile["name"], doc["name"], doc["title"]} {
		if name, ok := name.(string); ok {
			doc[fieldTitle] = name
			break
		}
	}
	if t, ok := profile["@type"].(string); ok && doc[fieldType] == nil {
		doc[fieldType] = []string{t}
	}
	var authors []string
	for _, a := range oneOrMany(profile["author"]) {
		switch a := a.(type) {
		case string:
			authors = append(authors, a)
		case map[string]any:
			if n, ok := a["name"].(string); ok {
				authors = append(authors, n)
			}
		}
	}
	if authors != nil {
		doc[fieldAuthor] = authors
	}
	var keywords []string
	for _, k := range oneOrMany(profile["keywords"]) {
		if s, ok := k.(string); ok {
			keywords = append(keywords, strings.Split(s, ",")...)
		}
	}
	if keywords != nil {
		doc[fieldKeyword] = keywords
	}
	if kernel, ok := doc["kernel"].(map[string]any); ok {
		if m, ok := kernel["modified"].(string); ok {
			doc[fieldModified] = m
		}
	}
	if eqJSON != nil {
		var f equationsFile
		if err := json.Unmarshal(eqJSON, &f); err != nil {
			return nil, fmt.Errorf("equations of %s: %w", qid, err)
		}
		exact, shape := map[string]struct{}{}, map[string]struct{}{}
		var stored []storedEquation
		for i, e := range f.Equations {
			if i >= maxIndexedEquations {
				break
			}
			src := e.LaTeX
			if src == "" {
				src = e.Text
			}
			toks := FormulaTokens(src)
			if len(toks) == 0 {
				continue
			}
			exactGrams(toks, exact)
			shapeGrams(toks, shape)
			stored = append(stored, storedEquation{Number: e.Number, Page: e.Page, LaTeX: src})
		}
		doc[fieldFormula] = keys(exact)
		doc[fieldFormulaShape] = keys(shape)
		js, _ := json.Marshal(stored)
		doc[fieldEquations] = string(js)
	}
	return doc, nil
}

func keys(m map[string]struct{}) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

func oneOrMany(v any) []any {
	switch v := v.(type) {
	case nil:
		return nil
	case []any:
		return v
	default:
		return []any{v}
	}
}

// IndexObject reads one object's record and equations and replaces its document. An object
// whose record is gone is removed.
func (x *Index) IndexObject(ctx context.Context, qid string) error {
	doc, err := x.load(ctx, qid)
	if err != nil {
		return err
	}
	if doc == nil {
		return x.idx.Delete(qid)
	}
	return x.idx.Index(qid, doc)
}

// load returns the document of one object, or nil when it has neither a record nor equations.
func (x *Index) load(ctx context.Context, qid string) (map[string]any, error) {
	raw, err := x.records.Record(ctx, qid)
	switch {
	case errors.Is(err, fdo.ErrNotFound):
		raw = nil
	case err != nil:
		return nil, fmt.Errorf("record of %s: %w", qid, err)
	}
	eq, err := x.equations(ctx, qid)
	if err != nil {
		return nil, err
	}
	if raw == nil && eq == nil {
		return nil, nil
	}
	return document(qid, raw, eq)
}

// equations reads an object's equations.json; nil when there is none.
func (x *Index) equations(ctx context.Context, qid string) ([]byte, error) {
	rc, info, err := x.bucket.Get(ctx, objectid.ComponentKey(x.branch, qid, EquationsComponent))
	if errors.Is(err, storage.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("equations of %s: %w", qid, err)
	}
	defer rc.Close()
	if info.Size > maxEquationsBytes {
		return nil, fmt.Errorf("equations of %s: %d bytes, more than %d", qid, info.Size, maxEquationsBytes)
	}
	return io.ReadAll(io.LimitReader(rc, maxEquationsBytes))
}

// Delete removes an object's document.
func (x *Index) Delete(qid string) error { return x.idx.Delete(qid) }

// Changed implements [changes.Observer]: it queues the object for the worker ([Index.Run])
// and returns at once.
func (x *Index) Changed(_ context.Context, c changes.Change) {
	x.mu.Lock()
	x.pending[c.ObjectID] = c.Deleted
	x.mu.Unlock()
	select {
	case x.wake <- struct{}{}:
	default:
	}
}

// Run indexes queued objects until ctx is done.
func (x *Index) Run(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-x.wake:
		}
		x.mu.Lock()
		work := x.pending
		x.pending = map[string]bool{}
		x.mu.Unlock()
		for qid, deleted := range work {
			var err error
			if deleted {
				err = x.Delete(qid)
			} else {
				err = x.IndexObject(ctx, qid)
			}
			if err != nil {
				x.logger.WarnContext(ctx, "object not indexed; a reindex repairs it", slog.String("object", qid), slog.Any("err", err))
				continue
			}
			x.logger.DebugContext(ctx, "object indexed", slog.String("object", qid), slog.Bool("deleted", deleted))
		}
	}
}

// Rebuild reads every object it can find and indexes it, in batches, and removes documents
// of objects that are gone. It returns the number of objects indexed.
func (x *Index) Rebuild(ctx context.Context) (int, error) {
	ids := map[string]bool{}
	if x.list != nil {
		l, err := x.list(ctx)
		if err != nil {
			return 0, err
		}
		for _, id := range l {
			ids[id] = true
		}
	}
	if lister, ok := x.bucket.(storage.Lister); ok {
		// Objects with derived equations, and objects made through the gateway (their record).
		suffixes := []string{"/components/" + EquationsComponent, "/" + objectid.RecordFile}
		for i := 0; i < 100; i++ {
			objs, err := lister.List(ctx, fmt.Sprintf("%s/%02d/", x.branch, i))
			if err != nil {
				return 0, fmt.Errorf("listing storage: %w", err)
			}
			for _, o := range objs {
				for _, suffix := range suffixes {
					if rest, ok := strings.CutSuffix(o.Key, suffix); ok {
						ids[rest[strings.LastIndexByte(rest, '/')+1:]] = true
					}
				}
			}
		}
	}
	// Documents of objects that are no longer found.
	stale, err := x.allIDs(ctx)
	if err != nil {
		return 0, err
	}
	n := 0
	batch := x.idx.NewBatch()
	for _, id := range stale {
		if !ids[id] {
			batch.Delete(id)
		}
	}
	sorted := keysBool(ids)
	for _, qid := range sorted {
		doc, err := x.load(ctx, qid)
		if err != nil {
			x.logger.WarnContext(ctx, "object skipped by reindex", slog.String("object", qid), slog.Any("err", err))
			continue
		}
		if doc == nil {
			batch.Delete(qid)
			continue
		}
		if err := batch.Index(qid, doc); err != nil {
			return n, err
		}
		n++
		if batch.Size() >= 500 {
			if err := x.idx.Batch(batch); err != nil {
				return n, err
			}
			batch.Reset()
		}
	}
	if err := x.idx.Batch(batch); err != nil {
		return n, err
	}
	return n, nil
}

func keysBool(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// allIDs lists the ids of every document, page by page.
func (x *Index) allIDs(ctx context.Context) ([]string, error) {
	var out []string
	const page = 1000
	for from := 0; ; from += page {
		req := bleve.NewSearchRequestOptions(query.NewMatchAllQuery(), page, from, false)
		req.SortBy([]string{"_id"})
		res, err := x.idx.SearchInContext(ctx, req)
		if err != nil {
			return nil, err
		}
		for _, h := range res.Hits {
			out = append(out, h.ID)
		}
		if len(res.Hits) < page {
			return out, nil
		}
	}
}

// Search implements [search.Backend].
func (x *Index) Search(ctx context.Context, req search.Request) (search.Page, error) {
	size, err := req.Size(x.opts.MaxPageSize)
	if err != nil {
		return search.Page{}, err
	}
	from := req.PageNum * size
	if req.PageNum < 0 || from+size > x.opts.MaxWindow {
		return search.Page{}, fmt.Errorf("%w: pages end at match %d (pageNum %d × pageSize %d goes past it)", search.ErrPageTooLarge, x.opts.MaxWindow, req.PageNum, size)
	}
	var (
		q        query.Query
		formulas [][]string
	)
	if strings.TrimSpace(req.Query) != "" {
		p, err := parseQuery(req.Query)
		switch {
		case errors.Is(err, ErrTooBroad):
			return search.Page{}, fmt.Errorf("%w: %w", search.ErrTooBroad, err)
		case err != nil:
			return search.Page{}, fmt.Errorf("%w: %w", search.ErrBadQuery, err)
		}
		q, formulas = p.q, p.formulas
	}
	if req.ProfileType != "" {
		types, ok := search.ProfileTypes[req.ProfileType]
		if !ok {
			types = []string{req.ProfileType}
		}
		var tq []query.Query
		for _, t := range types {
			term := query.NewTermQuery(t)
			term.SetField(fieldType)
			tq = append(tq, term)
		}
		filter := query.NewDisjunctionQuery(tq)
		if q == nil {
			q = filter
		} else {
			q = query.NewConjunctionQuery([]query.Query{q, filter})
		}
	}
	if q == nil {
		return search.Page{}, fmt.Errorf("%w: the query is empty", search.ErrBadQuery)
	}
	ctx, cancel := context.WithTimeout(ctx, x.opts.Timeout)
	defer cancel()

	rerank := len(formulas) > 0 && len(req.Sort) == 0 && from+size <= maxRerank
	n, start := size, from
	if rerank {
		n, start = max(from+size, formulaWindow), 0
	}
	sr := bleve.NewSearchRequestOptions(q, n, start, false)
	sr.Fields = []string{fieldType, fieldTitle, fieldModified}
	if len(formulas) > 0 {
		sr.Fields = append(sr.Fields, fieldEquations)
	}
	if len(req.Sort) > 0 {
		var order []string
		for _, f := range req.Sort {
			field := fieldAlias(strings.ReplaceAll(strings.Trim(f.Field, "/"), "/", "."))
			if field == "" {
				continue
			}
			if f.Desc {
				field = "-" + field
			}
			order = append(order, field)
		}
		sr.SortBy(append(order, "-_score", "_id"))
	}
	res, err := x.idx.SearchInContext(ctx, sr)
	if err != nil {
		if ctx.Err() != nil {
			return search.Page{}, fmt.Errorf("%w: %w", search.ErrTimeout, err)
		}
		return search.Page{}, err
	}
	qgrams := make([]formulaGrams, len(formulas))
	for i, f := range formulas {
		qgrams[i].exact, qgrams[i].shape = queryGrams(f)
	}
	hits := make([]search.Hit, 0, len(res.Hits))
	for i, h := range res.Hits {
		if i%64 == 63 && ctx.Err() != nil {
			return search.Page{}, fmt.Errorf("%w: %w", search.ErrTimeout, ctx.Err())
		}
		hit := search.Hit{ObjectID: h.ID, Score: h.Score, Title: str(h.Fields[fieldTitle]), Timestamp: str(h.Fields[fieldModified])}
		if t := strs(h.Fields[fieldType]); len(t) > 0 {
			hit.Type = t[0]
		}
		if len(formulas) > 0 {
			hit.Equation = bestEquation(str(h.Fields[fieldEquations]), qgrams)
		}
		hits = append(hits, hit)
	}
	if rerank {
		slices.SortStableFunc(hits, func(a, b search.Hit) int {
			oa, ob := overlapOf(a), overlapOf(b)
			switch {
			case oa > ob:
				return -1
			case oa < ob:
				return 1
			case a.Score > b.Score:
				return -1
			case a.Score < b.Score:
				return 1
			}
			return strings.Compare(a.ObjectID, b.ObjectID)
		})
		hits = hits[min(from, len(hits)):min(from+size, len(hits))]
	}
	for i := range hits {
		hits[i].Snippet = snippet(hits[i])
	}
	return search.Page{Total: int64(res.Total), PageSize: size, Hits: hits}, nil
}

// maxSnippet bounds a hit's snippet, in bytes.
const maxSnippet = 200

// snippet is a short text of a hit: the equation a formula query found, else the title.
func snippet(h search.Hit) string {
	s := h.Title
	if e := h.Equation; e != nil {
		s = e.LaTeX
		if e.Number != "" {
			s = "(" + e.Number + ") " + s
		}
	}
	if len(s) > maxSnippet {
		cut := maxSnippet
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

func overlapOf(h search.Hit) float64 {
	if h.Equation == nil {
		return 0
	}
	return h.Equation.Overlap
}

// formulaGrams are the grams a formula query looks for.
type formulaGrams struct{ exact, shape []string }

// bestEquation returns the stored equation that holds most of the query's formulas.
func bestEquation(stored string, qs []formulaGrams) *search.EquationMatch {
	var eqs []storedEquation
	if json.Unmarshal([]byte(stored), &eqs) != nil {
		return nil
	}
	var best *search.EquationMatch
	for _, e := range eqs {
		toks := FormulaTokens(e.LaTeX)
		score := 0.0
		for _, q := range qs {
			score += overlap(q.exact, q.shape, toks)
		}
		score /= float64(max(len(qs), 1))
		if best == nil || score > best.Overlap {
			best = &search.EquationMatch{Number: e.Number, Page: e.Page, LaTeX: e.LaTeX, Overlap: score}
		}
	}
	return best
}

func str(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case []any:
		if len(v) > 0 {
			s, _ := v[0].(string)
			return s
		}
	}
	return ""
}

func strs(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, e := range v {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// Remove deletes an index folder, for a rebuild from nothing.
func Remove(path string) error { return os.RemoveAll(path) }
