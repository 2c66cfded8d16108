package mardijson

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"slices"
	"strings"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// Search in the MaRDI framings (the binary writes contract, §5): the request's metadata (or,
// on port 3568, its attributes) holds "query" (a string or null), "limit" (default 10,
// clamped to 1…50) and "type" (a profile name or a raw QID; ignored unless a string). The
// answer is one metadata object:
//
//	{"operation":"search","status":"ok","query":…,"type":…,"total_hits":N,"limit":L,
//	 "results":[{"qid":…,"title":…,"snippet":…,"timestamp":…},…]}
//
// where total_hits is the number of results returned, as MaRDI's server counts it.

// Search limits, as MaRDI's server applies them.
const (
	DefaultSearchLimit = 10
	MaxSearchLimit     = 50
)

// SearchTypes are the profile names MaRDI's server knows, in its order.
var SearchTypes = []string{"academic_discipline", "algorithm", "community", "dataset", "formula", "jupyter_notebook",
	"model", "person", "publication", "quantity", "research_problem", "service", "software", "task", "theorem", "workflow"}

var qidType = regexp.MustCompile(`^Q[0-9]+$`)

// ParseSearch reads a search's parameters from its metadata JSON. Problems with them (no
// query and no type, a limit that is not an integer, an unknown type) are in the result's
// Invalid, in MaRDI's words, to be answered as an operation error.
func ParseSearch(meta json.RawMessage) *doip.SearchRequest {
	var m struct {
		Query json.RawMessage `json:"query"`
		Limit json.RawMessage `json:"limit"`
		Type  json.RawMessage `json:"type"`
	}
	sr := &doip.SearchRequest{Limit: DefaultSearchLimit, IDsOnly: true}
	invalid := func(format string, args ...any) *doip.SearchRequest {
		sr.Invalid = doip.Errorf(doip.KindBadRequest, format, args...)
		return sr
	}
	if len(bytes.TrimSpace(meta)) > 0 && json.Unmarshal(meta, &m) != nil {
		return invalid("search metadata must be a JSON object")
	}
	if s, ok := jsonString(m.Query); ok {
		sr.Query = s
	}
	if t, ok := jsonString(m.Type); ok && strings.TrimSpace(t) != "" {
		sr.ProfileType = t
	}
	if strings.TrimSpace(sr.Query) == "" && sr.ProfileType == "" {
		return invalid("search requires at least one of 'query' or 'type'")
	}
	if len(m.Limit) > 0 && string(m.Limit) != "null" {
		var f float64
		if m.Limit[0] == '"' || json.Unmarshal(m.Limit, &f) != nil || f != math.Trunc(f) {
			return invalid("'limit' must be an integer")
		}
		sr.Limit = int(max(1, min(f, MaxSearchLimit)))
	}
	sr.PageSize = sr.Limit
	if sr.ProfileType != "" && !slices.Contains(SearchTypes, sr.ProfileType) && !qidType.MatchString(sr.ProfileType) {
		return invalid("Unknown type '%s'. Known types: ['%s']", sr.ProfileType, strings.Join(SearchTypes, "', '"))
	}
	return sr
}

func jsonString(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

type searchResult struct {
	QID       string `json:"qid"`
	Title     string `json:"title"`
	Snippet   string `json:"snippet"`
	Timestamp string `json:"timestamp"`
	// Equation and Page name the equation a formula query found (not in MaRDI's answers,
	// which have no formula search).
	Equation string `json:"equation,omitempty"`
	Page     int    `json:"page,omitempty"`
}

// SearchJSON renders a search's answer. It reads every hit (at most the limit, 50).
func SearchJSON(res *doip.SearchResult) ([]byte, error) {
	out := struct {
		Operation string         `json:"operation"`
		Status    string         `json:"status"`
		Query     string         `json:"query"`
		Type      *string        `json:"type"`
		TotalHits int            `json:"total_hits"`
		Limit     int            `json:"limit"`
		Results   []searchResult `json:"results"`
	}{Operation: "search", Status: "ok", Query: res.Request.Query, Limit: res.Request.Limit, Results: []searchResult{}}
	if res.Request.ProfileType != "" {
		t := res.Request.ProfileType
		out.Type = &t
	}
	if res.Hits != nil {
		for h, err := range res.Hits {
			if err != nil {
				return nil, err
			}
			if len(out.Results) >= max(res.Request.Limit, 1)*2 {
				return nil, fmt.Errorf("mardijson: more hits than the limit %d", res.Request.Limit)
			}
			r := searchResult{QID: h.ID, Title: h.Title, Snippet: h.Snippet, Timestamp: h.Timestamp}
			if e := h.Equation; e != nil {
				r.Equation, r.Page = e.Number, e.Page
			}
			out.Results = append(out.Results, r)
		}
	}
	out.TotalHits = len(out.Results)
	return Marshal(out)
}
