package fdo

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/hashicorp/go-cleanhttp"
	"github.com/hashicorp/go-retryablehttp"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/objectid"
	"github.com/fdo-doip/doip-gateway/shared/doipid"
)

// ClientOptions tunes a [Client]. Zero fields take the defaults in brackets.
type ClientOptions struct {
	Timeout       time.Duration // one HTTP attempt, headers and body [10s]
	MaxRetries    int           // retries after the first attempt, on 5xx and connection errors [3]; < 0 means none
	RetryWaitMin  time.Duration // the first back-off [100ms]
	RetryWaitMax  time.Duration // the longest back-off [1s]
	MaxRecordSize int64         // the largest record body accepted [DefaultMaxRecordSize]
	// Transport replaces the pooled default transport (tests).
	Transport http.RoundTripper
}

// Client reads records from the FDO façade: GET {base}{QID}. It retries 5xx answers (except
// 501) and connection errors with a short back-off, never 4xx. User info in the base URL is
// sent as basic authentication and kept out of request URLs, errors and logs.
type Client struct {
	base    *url.URL // without user info; Path ends in "/"
	user    *url.Userinfo
	http    *retryablehttp.Client
	maxSize int64
}

var (
	_ Source     = (*Client)(nil)
	_ TypeSource = (*Client)(nil)
)

// NewClient returns a client for the façade at baseURL (http or https; a missing trailing "/"
// is added). The retry library logs to logger at debug level; pass slogapp.Discard() to
// silence it.
func NewClient(baseURL string, opts ClientOptions, logger *slog.Logger) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("fdo: facade url: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("fdo: facade url %q: want http(s)://host/...", u.Redacted())
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("fdo: facade url %q: must not have a query or fragment", u.Redacted())
	}
	user := u.User
	u.User = nil
	if !strings.HasSuffix(u.Path, "/") {
		u.Path += "/"
		if u.RawPath != "" {
			u.RawPath += "/"
		}
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	switch {
	case opts.MaxRetries == 0:
		opts.MaxRetries = 3
	case opts.MaxRetries < 0:
		opts.MaxRetries = 0
	}
	if opts.RetryWaitMin <= 0 {
		opts.RetryWaitMin = 100 * time.Millisecond
	}
	if opts.RetryWaitMax <= 0 {
		opts.RetryWaitMax = time.Second
	}
	if opts.MaxRecordSize <= 0 {
		opts.MaxRecordSize = DefaultMaxRecordSize
	}
	hc := cleanhttp.DefaultPooledClient()
	hc.Timeout = opts.Timeout
	if opts.Transport != nil {
		hc.Transport = opts.Transport
	}
	rc := &retryablehttp.Client{
		HTTPClient:   hc,
		Logger:       leveledLogger{logger.With(slog.String("component", "fdo-client"))},
		RetryWaitMin: opts.RetryWaitMin,
		RetryWaitMax: opts.RetryWaitMax,
		RetryMax:     opts.MaxRetries,
		CheckRetry:   retryPolicy,
		Backoff:      retryablehttp.DefaultBackoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return &Client{base: u, user: user, http: rc, maxSize: opts.MaxRecordSize}, nil
}

// retryPolicy retries connection errors and 5xx answers other than 501, and nothing else.
func retryPolicy(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	return resp.StatusCode >= 500 && resp.StatusCode != http.StatusNotImplemented, nil
}

// Record implements [Source]: GET {base}{qid}. 200 gives the body; 404 ErrNotFound; 400
// ErrBadRequest; other answers, connection failures and timeouts ErrUnavailable; a body over
// the cap ErrTooLarge. A done ctx gives ctx's error.
func (c *Client) Record(ctx context.Context, qid string) ([]byte, error) {
	if norm, err := doipid.Normalize(qid); err != nil || norm != qid {
		return nil, fmt.Errorf("%w: %s", ErrBadRequest, doipid.Quote(qid))
	}
	return c.get(ctx, "record "+qid, c.base.JoinPath(qid))
}

// TypeRecord implements [TypeSource]: GET {base}types/{typeID}, with the answers mapped as
// for [Client.Record] (the façade answers 404 for a type it does not know).
func (c *Client) TypeRecord(ctx context.Context, typeID string) ([]byte, error) {
	if got, ok, err := objectid.TypeID(objectid.TypePrefix + typeID); err != nil || !ok || got != typeID {
		return nil, fmt.Errorf("%w: type %s", ErrBadRequest, doipid.Quote(typeID))
	}
	return c.get(ctx, "type record "+typeID, c.base.JoinPath("types", typeID))
}

// get fetches one document from the façade; what names it in errors.
func (c *Client) get(ctx context.Context, what string, u *url.URL) ([]byte, error) {
	req, err := retryablehttp.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, fmt.Errorf("fdo: %s: %w", what, err)
	}
	req.Header.Set("Accept", "application/ld+json, application/json;q=0.9")
	if c.user != nil {
		pw, _ := c.user.Password()
		req.SetBasicAuth(c.user.Username(), pw)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("fdo: %s: %w", what, ctxErr)
		}
		return nil, fmt.Errorf("fdo: %s: %w: %w", what, ErrUnavailable, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusNotFound:
		return nil, fmt.Errorf("fdo: %s: %w (facade answered %s)", what, ErrNotFound, resp.Status)
	case resp.StatusCode == http.StatusBadRequest:
		return nil, fmt.Errorf("fdo: %s: %w (facade answered %s)", what, ErrBadRequest, resp.Status)
	default:
		return nil, fmt.Errorf("fdo: %s: %w (facade answered %s)", what, ErrUnavailable, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, c.maxSize+1))
	if err != nil {
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("fdo: %s: %w", what, ctxErr)
		}
		return nil, fmt.Errorf("fdo: %s: reading body: %w: %w", what, ErrUnavailable, err)
	}
	if int64(len(body)) > c.maxSize {
		return nil, fmt.Errorf("fdo: %s: %w: more than %d bytes", what, ErrTooLarge, c.maxSize)
	}
	return body, nil
}

// leveledLogger adapts a *slog.Logger to retryablehttp.LeveledLogger. Everything the library
// says goes out at debug level: failed attempts are reported by the caller, once.
type leveledLogger struct{ l *slog.Logger }

func (l leveledLogger) Error(msg string, kv ...any) { l.log(msg, kv) }
func (l leveledLogger) Warn(msg string, kv ...any)  { l.log(msg, kv) }
func (l leveledLogger) Info(msg string, kv ...any)  { l.log(msg, kv) }
func (l leveledLogger) Debug(msg string, kv ...any) { l.log(msg, kv) }

func (l leveledLogger) log(msg string, kv []any) {
	if !l.l.Enabled(context.Background(), slog.LevelDebug) {
		return
	}
	// The library uses "error" for errors; the project's key is "err".
	for i := 0; i+1 < len(kv); i += 2 {
		if k, ok := kv[i].(string); ok && k == "error" {
			kv[i] = "err"
		}
	}
	l.l.Debug(msg, kv...)
}
