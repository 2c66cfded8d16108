package doip

import "iter"

// SearchRequest is what a search asks for, in every framing: the standard framing's
// attributes (query, pageNum, pageSize, sortFields, type) and the binary envelope's metadata
// (query, limit, type).
type SearchRequest struct {
	// Query is the query text: Lucene-style on the embedded index (Cordra's syntax, with
	// formula:"…" for formulas), free text on MediaWiki. It may be empty when ProfileType
	// is set.
	Query string
	// PageNum is the zero-based page; PageSize its length, -1 (or 0) for the service's
	// default.
	PageNum, PageSize int
	// SortFields orders the results; none means best match first.
	SortFields []SortField
	// IDsOnly asks for ids rather than whole digital objects (standard "type":"id").
	IDsOnly bool
	// ProfileType restricts the matches to one MaRDI profile type ("publication", "person",
	// …, or a QID), as the binary envelope's "type" does.
	ProfileType string
	// Limit is the binary envelope's "limit" after clamping (1…50), echoed in its answer.
	Limit int
	// Invalid is a problem the codec found in the parameters of a well-framed request; the
	// handler answers it as an operation error, and the connection stays open.
	Invalid *Error
}

// SortField is one key of a search's order: a field ("/profile/name", "title") and its
// direction.
type SortField struct {
	Field string
	Desc  bool
}

// SearchResult answers a search. Hits yields the page's hits one at a time, as they come from
// the backend, so a codec writes each before the next is read; it yields a non-nil error,
// and stops, when the backend fails midway. It can be ranged over once.
type SearchResult struct {
	// Size is the total number of matches, not the page length.
	Size int64
	// Request is the search this answers (the binary answer echoes query, type and limit).
	Request SearchRequest
	Hits    iter.Seq2[*SearchHit, error]
}

// SearchHit is one matching object.
type SearchHit struct {
	ID string
	// Record is the object's record, for full results; nil with IDsOnly.
	Record *Record
	// Title, Snippet and Timestamp describe the hit for listings (binary answers).
	Title, Snippet, Timestamp string
	// Equation is the equation a formula query found; nil otherwise.
	Equation *EquationHit
	Score    float64
}

// EquationHit names the equation of a paper that a formula query found.
type EquationHit struct {
	Number  string
	Page    int
	LaTeX   string
	Overlap float64
}

// HitsOf yields hs, for a result whose hits are at hand.
func HitsOf(hs ...*SearchHit) iter.Seq2[*SearchHit, error] {
	return func(yield func(*SearchHit, error) bool) {
		for _, h := range hs {
			if !yield(h, nil) {
				return
			}
		}
	}
}
