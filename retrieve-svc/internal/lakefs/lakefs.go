// Package lakefs is a small client for the few endpoints of the lakeFS REST API
// (api/swagger.yml of lakeFS v1.84.0, below /api/v1) that retrieve-svc needs beside the S3
// gateway: resolving a ref to its commit, creating and deleting a branch, committing a
// branch with metadata, and merging one branch into another. Object bytes never pass through
// it; they go through the S3 gateway (package storages3).
//
// Requests use HTTP basic authentication with the access key pair. Errors name the operation
// and the ref, and wrap [ErrNotFound], [ErrUnauthorized], [ErrConflict] or [ErrUnavailable]
// by the answer's status; lakeFS's own message is kept (it never contains the secret). Not
// handled: pagination, tags, hooks, and every other endpoint.
package lakefs

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// The classes of failure, tested with errors.Is.
var (
	ErrNotFound     = errors.New("lakefs: not found")
	ErrUnauthorized = errors.New("lakefs: credentials rejected")
	ErrConflict     = errors.New("lakefs: conflict")
	ErrUnavailable  = errors.New("lakefs: unavailable")
	ErrBadRequest   = errors.New("lakefs: bad request")
)

// maxAnswer bounds the JSON answers read, in bytes.
const maxAnswer = 1 << 20

// Client calls the lakeFS API of one repository. It is safe for concurrent use.
type Client struct {
	base        string // scheme://host:port/api/v1
	repo        string
	key, secret string
	http        *http.Client
}

// New returns a client for repo at endpoint ("http://127.0.0.1:8000", with or without
// "/api/v1"), authenticating with the access key pair; hc nil means a client with a 30 s
// timeout.
func New(endpoint, repo, accessKey, secretKey string, hc *http.Client) (*Client, error) {
	u, err := url.Parse(strings.TrimSpace(endpoint))
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, errors.New("lakefs: endpoint: want an http:// or https:// URL") // never the value: it may hold a password
	}
	if hc == nil {
		hc = &http.Client{Timeout: 30 * time.Second}
	}
	base := u.Scheme + "://" + u.Host + "/api/v1"
	return &Client{base: base, repo: repo, key: accessKey, secret: secretKey, http: hc}, nil
}

// Commit is a lakeFS commit, as the API describes it.
type Commit struct {
	ID           string            `json:"id"`
	Parents      []string          `json:"parents"`
	Committer    string            `json:"committer"`
	Message      string            `json:"message"`
	CreationDate int64             `json:"creation_date"`
	Metadata     map[string]string `json:"metadata"`
}

// GetCommit returns the commit a ref (a commit id, a tag or a branch) names.
func (c *Client) GetCommit(ctx context.Context, ref string) (Commit, error) {
	var out Commit
	err := c.do(ctx, "get commit "+ref, http.MethodGet, "/repositories/"+esc(c.repo)+"/commits/"+esc(ref), nil, http.StatusOK, &out)
	return out, err
}

// LogCommits returns at most amount commits of ref that changed a key under prefix, newest
// first, after the commit id after ("" for the newest). Merge commits are followed along
// their first parent only.
func (c *Client) LogCommits(ctx context.Context, ref, prefix, after string, amount int) ([]Commit, error) {
	q := url.Values{}
	q.Set("amount", strconv.Itoa(amount))
	q.Set("limit", "true")
	q.Set("first_parent", "true")
	if prefix != "" {
		q.Set("prefixes", prefix)
	}
	if after != "" {
		q.Set("after", after)
	}
	var out struct {
		Results []Commit `json:"results"`
	}
	err := c.do(ctx, "log "+ref, http.MethodGet, "/repositories/"+esc(c.repo)+"/refs/"+esc(ref)+"/commits?"+q.Encode(), nil, http.StatusOK, &out)
	return out.Results, err
}

// CreateBranch creates branch from source (a ref). A hidden branch is left out of listings.
func (c *Client) CreateBranch(ctx context.Context, branch, source string, hidden bool) error {
	body := map[string]any{"name": branch, "source": source, "hidden": hidden}
	return c.do(ctx, "create branch "+branch, http.MethodPost, "/repositories/"+esc(c.repo)+"/branches", body, http.StatusCreated, nil)
}

// DeleteBranch deletes branch and whatever is staged on it.
func (c *Client) DeleteBranch(ctx context.Context, branch string) error {
	return c.do(ctx, "delete branch "+branch, http.MethodDelete, "/repositories/"+esc(c.repo)+"/branches/"+esc(branch), nil, http.StatusNoContent, nil)
}

// CommitBranch commits what is staged on branch, with message and metadata.
func (c *Client) CommitBranch(ctx context.Context, branch, message string, metadata map[string]string) (Commit, error) {
	var out Commit
	body := map[string]any{"message": message, "metadata": orEmpty(metadata)}
	err := c.do(ctx, "commit "+branch, http.MethodPost, "/repositories/"+esc(c.repo)+"/branches/"+esc(branch)+"/commits", body, http.StatusCreated, &out)
	return out, err
}

// MergeOptions shape a merge.
type MergeOptions struct {
	Message  string
	Metadata map[string]string
	// Strategy resolves conflicts: "source-wins", "dest-wins", or "" to fail on a conflict.
	Strategy string
	// Squash gives the new commit on the destination one parent only.
	Squash bool
}

// Merge merges source (a ref) into the branch dest and returns the new commit's id.
func (c *Client) Merge(ctx context.Context, source, dest string, opts MergeOptions) (string, error) {
	body := map[string]any{"message": opts.Message, "metadata": orEmpty(opts.Metadata), "squash_merge": opts.Squash}
	if opts.Strategy != "" {
		body["strategy"] = opts.Strategy
	}
	var out struct {
		Reference string `json:"reference"`
	}
	err := c.do(ctx, "merge "+source+" into "+dest, http.MethodPost,
		"/repositories/"+esc(c.repo)+"/refs/"+esc(source)+"/merge/"+esc(dest), body, http.StatusOK, &out)
	if err == nil && out.Reference == "" {
		err = fmt.Errorf("lakefs: merge %s into %s: the answer named no commit", source, dest)
	}
	return out.Reference, err
}

// Check asks for the repository, which proves the endpoint, the credentials and the
// repository at once.
func (c *Client) Check(ctx context.Context) error {
	return c.do(ctx, "get repository "+c.repo, http.MethodGet, "/repositories/"+esc(c.repo), nil, http.StatusOK, nil)
}

func esc(s string) string { return url.PathEscape(s) }

// orEmpty is m, or an empty map for nil: lakeFS refuses a null metadata.
func orEmpty(m map[string]string) map[string]string {
	if m == nil {
		return map[string]string{}
	}
	return m
}

// do makes one request and decodes a JSON answer into out (when not nil).
func (c *Client) do(ctx context.Context, what, method, path string, body any, want int, out any) error {
	var rd io.Reader
	if body != nil {
		js, err := json.Marshal(body)
		if err != nil {
			return fmt.Errorf("lakefs: %s: %w", what, err)
		}
		rd = bytes.NewReader(js)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, rd)
	if err != nil {
		return fmt.Errorf("lakefs: %s: %w", what, err)
	}
	req.SetBasicAuth(c.key, c.secret)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("lakefs: %s: %w", what, ctx.Err())
		}
		return fmt.Errorf("lakefs: %s: %w: %w", what, ErrUnavailable, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer+1))
	if err != nil {
		return fmt.Errorf("lakefs: %s: %w: reading the answer: %w", what, ErrUnavailable, err)
	}
	if len(data) > maxAnswer {
		return fmt.Errorf("lakefs: %s: the answer is larger than %d bytes", what, maxAnswer)
	}
	if resp.StatusCode != want {
		return statusError(what, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			return fmt.Errorf("lakefs: %s: malformed answer: %w", what, err)
		}
	}
	return nil
}

// statusError describes an unexpected answer by its status and lakeFS's message.
func statusError(what string, code int, data []byte) error {
	var e struct {
		Message string `json:"message"`
	}
	msg := ""
	if json.Unmarshal(data, &e) == nil {
		msg = e.Message
	}
	if len(msg) > 300 {
		msg = msg[:300] + "..."
	}
	var class error
	switch {
	case code == http.StatusNotFound:
		class = ErrNotFound
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		class = ErrUnauthorized
	case code == http.StatusConflict || code == http.StatusPreconditionFailed:
		class = ErrConflict
	case code == http.StatusBadRequest:
		class = ErrBadRequest
	case code == http.StatusTooManyRequests || code >= 500:
		class = ErrUnavailable
	default:
		return fmt.Errorf("lakefs: %s: HTTP %d: %s", what, code, msg)
	}
	return fmt.Errorf("lakefs: %s: %w (HTTP %d): %s", what, class, code, msg)
}
