// Package search implements doip.search.v1.SearchService (proto/doip/search/v1): one query
// model ([Request], [Page]) that two backends answer, the embedded full-text index of package
// searchindex and a MediaWiki's search API (package searchwiki), and the gRPC server that
// streams a page of hits, filling in each hit's record from the record cache when the
// caller wants full objects.
//
// Bad input is the caller's to fix and is answered INVALID_ARGUMENT with a message that says
// what was wrong: a query that does not parse ([ErrBadQuery]), a page size over the cap or a
// page beyond the deepest one served ([ErrPageTooLarge]), a query that would scan the whole
// index ([ErrTooBroad]). A query that runs past the backend's time limit is
// DEADLINE_EXCEEDED ([ErrTimeout]); a backend that cannot be reached UNAVAILABLE.
package search

import (
	"context"
	"errors"
	"fmt"
)

// Errors of a [Backend], wrapped with detail; test with errors.Is.
var (
	ErrBadQuery     = errors.New("search: bad query")
	ErrTooBroad     = errors.New("search: query too broad")
	ErrPageTooLarge = errors.New("search: page too large")
	ErrTimeout      = errors.New("search: time limit exceeded")
	ErrUnavailable  = errors.New("search: backend unavailable")
)

// Request is one query and the page wanted.
type Request struct {
	// Query is Lucene-style (the index) or free text (MediaWiki).
	Query string
	// PageNum is zero-based; PageSize <= 0 means the backend's cap.
	PageNum, PageSize int
	Sort              []SortField
	// ProfileType is a MaRDI profile name ("publication", "person", …) or a QID; empty: any.
	ProfileType string
}

// Size returns the page length a backend whose largest page is maxPage applies to r: its
// PageSize, or maxPage when that is 0 or less. A PageSize over maxPage is ErrPageTooLarge.
func (r Request) Size(maxPage int) (int, error) {
	if r.PageSize <= 0 {
		return maxPage, nil
	}
	if r.PageSize > maxPage {
		return 0, fmt.Errorf("%w: pageSize %d is more than %d", ErrPageTooLarge, r.PageSize, maxPage)
	}
	return r.PageSize, nil
}

// SortField is one sort key.
type SortField struct {
	Field string
	Desc  bool
}

// Page is one page of the matches.
type Page struct {
	// Total is the number of matches, not the length of Hits.
	Total int64
	// PageSize is the page length that was applied.
	PageSize int
	Hits     []Hit
}

// Hit is one matching object.
type Hit struct {
	ObjectID  string
	Type      string
	Title     string
	Snippet   string
	Timestamp string
	Score     float64
	// Equation is the equation a formula query matched; nil otherwise.
	Equation *EquationMatch
}

// EquationMatch names the equation of an object that a formula query found.
type EquationMatch struct {
	Number  string
	Page    int
	LaTeX   string
	Overlap float64
}

// A Backend answers searches. A page holds at most the backend's page cap of hits, so a
// page is held in memory whole and large result sets are read page by page.
type Backend interface {
	Search(ctx context.Context, req Request) (Page, error)
}

// ProfileTypes maps MaRDI's profile names to the schema.org types of records in this
// system (the short form of a record's digitalObjectType).
var ProfileTypes = map[string][]string{
	"publication":         {"ScholarlyArticle"},
	"dataset":             {"Dataset"},
	"workflow":            {"Workflow"},
	"person":              {"Person"},
	"software":            {"SoftwareApplication", "SoftwareSourceCode"},
	"formula":             {"Formula"},
	"algorithm":           {"Algorithm"},
	"model":               {"Model"},
	"theorem":             {"Theorem"},
	"quantity":            {"Quantity"},
	"service":             {"Service"},
	"task":                {"Task"},
	"community":           {"Community"},
	"research_problem":    {"ResearchProblem"},
	"jupyter_notebook":    {"JupyterNotebook"},
	"academic_discipline": {"AcademicDiscipline"},
}
