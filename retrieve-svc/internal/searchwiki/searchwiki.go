// Package searchwiki answers searches from a MediaWiki's full-text search
// (api.php?action=query&list=search), for deployments in front of a MaRDI portal, as MaRDI's
// DOIP server does: a profile type becomes the filter haswbfacet:P1460=<item> before the
// query ("software" runs three facet queries and merges them), and without a type the search
// is limited to the Item namespace (120). Each result names the QID of its page ("Item:Q…",
// "Property:P…", or a QID in the snippet), with the snippet's HTML removed.
//
// The wiki's own errors ({"error":{"code":…,"info":…}} with status 200) about the query are
// the caller's ([search.ErrBadQuery]); every other failure, a status other than 200 or a
// wiki that does not answer in time, is [search.ErrUnavailable]. Sorting is not supported:
// the wiki ranks.
package searchwiki

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/search"
)

// Namespaces of a Wikibase wiki.
const (
	namespaceItem     = 120
	namespaceProperty = 122
)

// ProfileProperty is the Wikibase property whose value names an item's MaRDI profile.
const ProfileProperty = "P1460"

// DefaultProfileItems maps profile names to the items that name them on the MaRDI portal,
// as far as they are known; others are configured ([Options.ProfileItems]) or given as QIDs.
var DefaultProfileItems = map[string]string{"person": "Q5976445"}

// softwareFacets are the three filters MaRDI's server merges for "software".
var softwareFacets = []string{"haswbfacet:P1460=Q5976450", "haswbfacet:P31=Q57080", "haswbfacet:P31=Q56605"}

// Defaults of [Options].
const (
	DefaultMaxPageSize = 50
	DefaultTimeout     = 10 * time.Second
	maxAnswerBytes     = 4 << 20
)

// Options configure a [Backend].
type Options struct {
	// ProfileItems maps more profile names to their items (added to DefaultProfileItems).
	ProfileItems map[string]string
	// MaxPageSize caps a page (DefaultMaxPageSize when 0; MediaWiki serves at most 500).
	MaxPageSize int
	// Timeout bounds one search (DefaultTimeout when 0).
	Timeout time.Duration
	// Client makes the requests (a client without its own timeout when nil).
	Client *http.Client
}

// Backend is a [search.Backend] on a MediaWiki's search API.
type Backend struct {
	api    string
	opts   Options
	items  map[string]string
	logger *slog.Logger
}

var _ search.Backend = (*Backend)(nil)

// New returns a backend asking the wiki whose api.php is at api.
func New(api string, opts Options, logger *slog.Logger) (*Backend, error) {
	u, err := url.Parse(api)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("searchwiki: the API URL must be an http or https URL")
	}
	if opts.MaxPageSize <= 0 {
		opts.MaxPageSize = DefaultMaxPageSize
	}
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultTimeout
	}
	if opts.Client == nil {
		opts.Client = &http.Client{}
	}
	items := map[string]string{}
	for k, v := range DefaultProfileItems {
		items[k] = v
	}
	for k, v := range opts.ProfileItems {
		items[k] = v
	}
	return &Backend{api: api, opts: opts, items: items, logger: logger}, nil
}

var qidRE = regexp.MustCompile(`\bQ[0-9]+\b`)

// Search implements [search.Backend].
func (b *Backend) Search(ctx context.Context, req search.Request) (search.Page, error) {
	size, err := req.Size(b.opts.MaxPageSize)
	if err != nil {
		return search.Page{}, err
	}
	if len(req.Sort) > 0 {
		return search.Page{}, fmt.Errorf("%w: the wiki's search ranks its results itself; leave out sortFields", search.ErrBadQuery)
	}
	query := strings.TrimSpace(req.Query)
	var filters []string
	switch t := req.ProfileType; {
	case t == "":
	case t == "software":
		filters = softwareFacets
	case qidRE.MatchString(t) && strings.HasPrefix(t, "Q"):
		filters = []string{"haswbfacet:" + ProfileProperty + "=" + t}
	default:
		item, ok := b.items[t]
		if !ok {
			return search.Page{}, fmt.Errorf("%w: profile type %q has no item on this wiki; give its QID", search.ErrBadQuery, t)
		}
		filters = []string{"haswbfacet:" + ProfileProperty + "=" + item}
	}
	if query == "" && filters == nil {
		return search.Page{}, fmt.Errorf("%w: the query is empty", search.ErrBadQuery)
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
	defer cancel()
	offset := req.PageNum * size
	if filters == nil {
		return b.query(ctx, query, size, offset, true)
	}
	// One query per filter, merged in order and de-duplicated, as MaRDI's server does.
	var page search.Page
	seen := map[string]bool{}
	for _, f := range filters {
		p, err := b.query(ctx, strings.TrimSpace(f+" "+query), size, offset, false)
		if err != nil {
			return search.Page{}, err
		}
		page.Total += p.Total
		for _, h := range p.Hits {
			if !seen[h.ObjectID] && len(page.Hits) < size {
				seen[h.ObjectID] = true
				page.Hits = append(page.Hits, h)
			}
		}
	}
	page.PageSize = size
	return page, nil
}

// answer is what list=search answers.
type answer struct {
	Error *struct {
		Code string `json:"code"`
		Info string `json:"info"`
	} `json:"error"`
	Query struct {
		SearchInfo struct {
			TotalHits int64 `json:"totalhits"`
		} `json:"searchinfo"`
		Search []struct {
			NS        int    `json:"ns"`
			Title     string `json:"title"`
			Snippet   string `json:"snippet"`
			Timestamp string `json:"timestamp"`
		} `json:"search"`
	} `json:"query"`
}

// query runs one list=search.
func (b *Backend) query(ctx context.Context, srsearch string, limit, offset int, itemsOnly bool) (search.Page, error) {
	v := url.Values{
		"action":   {"query"},
		"list":     {"search"},
		"srsearch": {srsearch},
		"srlimit":  {strconv.Itoa(limit)},
		"srinfo":   {"totalhits"},
		"srprop":   {"snippet|timestamp"},
		"format":   {"json"},
	}
	if offset > 0 {
		v.Set("sroffset", strconv.Itoa(offset))
	}
	if itemsOnly {
		v.Set("srnamespace", strconv.Itoa(namespaceItem))
	}
	u := b.api
	if strings.Contains(u, "?") {
		u += "&" + v.Encode()
	} else {
		u += "?" + v.Encode()
	}
	hreq, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return search.Page{}, fmt.Errorf("%w: %v", search.ErrUnavailable, err)
	}
	hreq.Header.Set("Accept", "application/json")
	resp, err := b.opts.Client.Do(hreq)
	if err != nil {
		if ctx.Err() != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return search.Page{}, fmt.Errorf("%w: the wiki did not answer in time", search.ErrTimeout)
		}
		return search.Page{}, fmt.Errorf("%w: %v", search.ErrUnavailable, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswerBytes+1))
	if err != nil {
		return search.Page{}, fmt.Errorf("%w: reading the wiki's answer: %v", search.ErrUnavailable, err)
	}
	if resp.StatusCode != http.StatusOK {
		return search.Page{}, fmt.Errorf("%w: the wiki answered %s", search.ErrUnavailable, resp.Status)
	}
	if len(body) > maxAnswerBytes {
		return search.Page{}, fmt.Errorf("%w: the wiki's answer is over %d bytes", search.ErrUnavailable, maxAnswerBytes)
	}
	return parseAnswer(body, limit)
}

// parseAnswer decodes a list=search answer: the wiki's error, or a page of hits named by QID.
func parseAnswer(body []byte, limit int) (search.Page, error) {
	var a answer
	if err := json.Unmarshal(body, &a); err != nil {
		return search.Page{}, fmt.Errorf("%w: the wiki's answer is not JSON: %v", search.ErrUnavailable, err)
	}
	if a.Error != nil {
		// Errors about the request are the caller's; the rest (internal_api_error_…,
		// readonly, ratelimited, …) the wiki's.
		switch code := a.Error.Code; {
		case strings.HasPrefix(code, "internal_api_error"), code == "readonly", code == "ratelimited", code == "maxlag":
			return search.Page{}, fmt.Errorf("%w: the wiki: %s", search.ErrUnavailable, a.Error.Info)
		default:
			return search.Page{}, fmt.Errorf("%w: the wiki: %s (%s)", search.ErrBadQuery, a.Error.Info, code)
		}
	}
	page := search.Page{Total: a.Query.SearchInfo.TotalHits, PageSize: limit}
	seen := map[string]bool{}
	for _, r := range a.Query.Search {
		snippet := stripTags(r.Snippet)
		qid := ""
		if r.NS == namespaceItem || r.NS == namespaceProperty {
			if _, id, ok := strings.Cut(r.Title, ":"); ok {
				qid = id
			}
		}
		if qid == "" {
			qid = qidRE.FindString(r.Title + " " + snippet)
		}
		if qid == "" || seen[qid] {
			continue
		}
		seen[qid] = true
		page.Hits = append(page.Hits, search.Hit{ObjectID: qid, Title: r.Title, Snippet: snippet, Timestamp: r.Timestamp})
	}
	return page, nil
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// stripTags removes HTML tags and entities from a snippet.
func stripTags(s string) string {
	return strings.TrimSpace(html.UnescapeString(tagRE.ReplaceAllString(s, "")))
}
