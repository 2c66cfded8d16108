package ollama

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/hashicorp/go-retryablehttp"
)

// Defaults and limits of the client.
const (
	// DefaultTimeout bounds one HTTP attempt (connect, send, the model's answer) when
	// Options.Timeout is zero.
	DefaultTimeout = 60 * time.Second
	// DefaultMaxRetries is the number of retries when Options.MaxRetries is zero.
	DefaultMaxRetries = 2
	// MaxResponseBytes caps the body of an answer.
	MaxResponseBytes = 8 << 20

	maxErrorBody  = 64 << 10 // of an error answer, read for its message
	maxErrorRunes = 300      // of the message kept in a StatusError
	retryWaitMin  = 250 * time.Millisecond
	retryWaitMax  = 2 * time.Second
	secretMask    = "********"
	userAgent     = "doip-gateway-invoke-svc"
	chatPath      = "api/chat"
)

// Options configure a [Client].
type Options struct {
	// Host is the base URL of the Ollama server, e.g. http://127.0.0.1:11434 (a path, as
	// for a server behind a reverse proxy, is kept: https://example.org/ollama). A final
	// "/api" is the API's own prefix and may be given or not: the hosted API is documented
	// as https://ollama.com/api, a local server as http://127.0.0.1:11434.
	Host string
	// Model is the model asked when a ChatRequest names none.
	Model string
	// APIKey, when set, is sent as "Authorization: Bearer <APIKey>".
	APIKey string
	// Timeout bounds one HTTP attempt; zero means DefaultTimeout.
	Timeout time.Duration
	// MaxRetries is the number of retries after the first attempt; zero means
	// DefaultMaxRetries, a negative value none.
	MaxRetries int
}

// Client talks to one Ollama server. It is safe for concurrent use.
type Client struct {
	endpoint string // {Host}/api/chat
	shown    string // endpoint for logs and errors (no user info)
	model    string
	apiKey   string
	timeout  time.Duration
	http     *retryablehttp.Client
	log      *slog.Logger
}

// Message is one chat message. Thinking is filled in answers of thinking models. Images
// are base64-encoded images that a vision model sees with the message.
type Message struct {
	Role     string   `json:"role"`
	Content  string   `json:"content"`
	Thinking string   `json:"thinking,omitempty"`
	Images   []string `json:"images,omitempty"`
}

// ChatRequest is one non-streaming chat request.
type ChatRequest struct {
	// Model overrides the client's model when not empty.
	Model    string
	Messages []Message
	// Format constrains the answer: a JSON schema object, or the string "json"; empty
	// for free text.
	Format json.RawMessage
	// Options are the model options (Ollama's "options"); nil sends {"temperature":0}.
	Options map[string]any
}

// chatRequestWire is the body of POST /api/chat.
type chatRequestWire struct {
	Model    string          `json:"model"`
	Messages []Message       `json:"messages"`
	Stream   bool            `json:"stream"`
	Format   json.RawMessage `json:"format,omitempty"`
	Options  map[string]any  `json:"options,omitempty"`
	// Think is always sent false: a thinking model (one with Ollama's "thinking"
	// capability) thinks when think is absent, which costs minutes per page and is not
	// wanted for a schema-constrained transcription; a model without the capability
	// accepts false (only think:true is refused, 400 "does not support thinking").
	Think bool `json:"think"`
}

// ChatResponse is the non-streaming answer of /api/chat. The durations are nanoseconds on
// the wire.
type ChatResponse struct {
	Model              string        `json:"model"`
	CreatedAt          time.Time     `json:"created_at"`
	Message            Message       `json:"message"`
	Done               bool          `json:"done"`
	DoneReason         string        `json:"done_reason,omitempty"`
	TotalDuration      time.Duration `json:"total_duration,omitempty"`
	LoadDuration       time.Duration `json:"load_duration,omitempty"`
	PromptEvalCount    int           `json:"prompt_eval_count,omitempty"`
	PromptEvalDuration time.Duration `json:"prompt_eval_duration,omitempty"`
	EvalCount          int           `json:"eval_count,omitempty"`
	EvalDuration       time.Duration `json:"eval_duration,omitempty"`
}

// StatusError is an answer with a status other than 2xx.
type StatusError struct {
	StatusCode int
	// Status is the status line's text, e.g. "404 Not Found".
	Status string
	// Message is Ollama's {"error":"…"} message, or the start of a body that is not
	// such an object; empty when the body was empty.
	Message string
}

func (e *StatusError) Error() string {
	if e.Message == "" {
		return "ollama: HTTP " + e.Status
	}
	return "ollama: HTTP " + e.Status + ": " + e.Message
}

// New returns a client of the server at o.Host. logger receives debug messages (the
// retry library's included); nil discards them.
func New(o Options, logger *slog.Logger) (*Client, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	host := strings.TrimSpace(o.Host)
	u, err := url.Parse(host)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
		return nil, errors.New("ollama: host: want a URL such as http://127.0.0.1:11434")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("ollama: host: want scheme://host:port[/path], without user, query or fragment")
	}
	model := strings.TrimSpace(o.Model)
	if model == "" {
		return nil, errors.New("ollama: no model configured")
	}
	for _, r := range o.APIKey {
		// A bearer token is visible ASCII; anything else could break the header.
		if r <= ' ' || r >= 0x7f {
			return nil, errors.New("ollama: the API key has characters an HTTP header cannot carry (spaces, control or non-ASCII characters)")
		}
	}
	timeout := o.Timeout
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	retries := o.MaxRetries
	switch {
	case retries == 0:
		retries = DefaultMaxRetries
	case retries < 0:
		retries = 0
	}

	// The API's paths start with /api: accept the base with or without it.
	u.Path = strings.TrimSuffix(strings.TrimSuffix(u.Path, "/"), "/api")
	u.RawPath = ""
	endpoint := u.JoinPath(chatPath)
	transport := http.DefaultTransport.(*http.Transport).Clone()
	c := &Client{
		endpoint: endpoint.String(),
		shown:    endpoint.Redacted(),
		model:    model,
		apiKey:   o.APIKey,
		timeout:  timeout,
		log:      logger,
	}
	c.http = &retryablehttp.Client{
		HTTPClient: &http.Client{
			Transport: transport,
			Timeout:   timeout,
			// An API answers; it does not redirect. Following a redirect would turn the
			// POST into a GET and could carry the key elsewhere.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		Logger:       retryLogger{logger},
		RetryWaitMin: retryWaitMin,
		RetryWaitMax: retryWaitMax,
		RetryMax:     retries,
		CheckRetry:   checkRetry,
		Backoff:      cappedBackoff,
		ErrorHandler: retryablehttp.PassthroughErrorHandler,
	}
	return c, nil
}

// Model returns the model the client asks by default.
func (c *Client) Model() string { return c.model }

// Timeout returns the bound of one HTTP attempt.
func (c *Client) Timeout() time.Duration { return c.timeout }

// Chat sends one non-streaming chat request and returns the answer. Errors never contain
// the API key.
func (c *Client) Chat(ctx context.Context, req ChatRequest) (ChatResponse, error) {
	resp, err := c.chat(ctx, req)
	return resp, c.redact(err)
}

func (c *Client) chat(ctx context.Context, req ChatRequest) (ChatResponse, error) {
	if len(req.Messages) == 0 {
		return ChatResponse{}, errors.New("ollama: chat request without messages")
	}
	if len(req.Format) > 0 && !json.Valid(req.Format) {
		return ChatResponse{}, errors.New("ollama: chat request format is not valid JSON")
	}
	model := req.Model
	if model == "" {
		model = c.model
	}
	opts := req.Options
	if opts == nil {
		opts = map[string]any{"temperature": 0}
	}
	body, err := json.Marshal(chatRequestWire{Model: model, Messages: req.Messages, Stream: false, Format: req.Format, Options: opts})
	if err != nil {
		return ChatResponse{}, fmt.Errorf("ollama: encoding the chat request: %w", err)
	}
	hreq, err := retryablehttp.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, body)
	if err != nil {
		return ChatResponse{}, fmt.Errorf("ollama: building the chat request: %w", err)
	}
	hreq.Header.Set("Content-Type", "application/json")
	hreq.Header.Set("Accept", "application/json")
	hreq.Header.Set("User-Agent", userAgent)
	if c.apiKey != "" {
		hreq.Header.Set("Authorization", "Bearer "+c.apiKey)
	}

	start := time.Now()
	resp, err := c.http.Do(hreq)
	if err != nil {
		if resp != nil {
			resp.Body.Close()
		}
		c.log.Debug("ollama chat failed", "url", c.shown, "model", model, "elapsed", time.Since(start), "error", c.redact(err))
		return ChatResponse{}, fmt.Errorf("ollama: chat with model %q: %w", model, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		serr := c.statusError(resp)
		c.log.Debug("ollama chat failed", "url", c.shown, "model", model, "elapsed", time.Since(start), "status", resp.StatusCode)
		return ChatResponse{}, serr
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, MaxResponseBytes+1))
	if err != nil {
		return ChatResponse{}, fmt.Errorf("ollama: reading the answer of model %q: %w", model, err)
	}
	if len(data) > MaxResponseBytes {
		return ChatResponse{}, fmt.Errorf("ollama: the answer of model %q is larger than %d MiB", model, MaxResponseBytes>>20)
	}
	var out ChatResponse
	if err := json.Unmarshal(data, &out); err != nil {
		return ChatResponse{}, fmt.Errorf("ollama: the answer of model %q is not a chat response: %v", model, err)
	}
	if !out.Done {
		return ChatResponse{}, fmt.Errorf("ollama: the answer of model %q is incomplete (done is false)", model)
	}
	c.log.Debug("ollama chat", "url", c.shown, "model", model, "elapsed", time.Since(start),
		"done_reason", out.DoneReason, "prompt_eval_count", out.PromptEvalCount, "eval_count", out.EvalCount)
	return out, nil
}

// statusError reads an error answer: Ollama sends {"error":"…"}.
func (c *Client) statusError(resp *http.Response) *StatusError {
	e := &StatusError{StatusCode: resp.StatusCode, Status: resp.Status}
	if e.Status == "" {
		e.Status = fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	}
	data, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
	var body struct {
		Error string `json:"error"`
	}
	msg := ""
	if json.Unmarshal(data, &body) == nil && body.Error != "" {
		msg = body.Error
	} else if utf8.Valid(data) {
		msg = string(data)
	}
	e.Message = c.scrub(shorten(msg, maxErrorRunes))
	return e
}

// shorten collapses white space and control characters and cuts s to max runes.
func shorten(s string, max int) string {
	s = strings.Join(strings.FieldsFunc(s, func(r rune) bool { return unicode.IsSpace(r) || unicode.IsControl(r) }), " ")
	return cutRunes(s, max, "…")
}

// cutRunes cuts s to max runes, ending it with mark where it was cut.
func cutRunes(s string, max int, mark string) string {
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	n := 0
	for i := range s {
		if n == max {
			return s[:i] + mark
		}
		n++
	}
	return s
}

// scrub masks the API key in s.
func (c *Client) scrub(s string) string {
	if c.apiKey == "" {
		return s
	}
	return strings.ReplaceAll(s, c.apiKey, secretMask)
}

// redact wraps err so that its text never shows the API key; errors.Is and errors.As
// still see the original.
func (c *Client) redact(err error) error {
	if err == nil || c.apiKey == "" {
		return err
	}
	if !strings.Contains(err.Error(), c.apiKey) {
		return err
	}
	return &textError{err: err, text: c.scrub(err.Error())}
}

// textError shows text and unwraps to err.
type textError struct {
	err  error
	text string
}

func (e *textError) Error() string { return e.text }
func (e *textError) Unwrap() error { return e.err }

// checkRetry retries connection errors, 429 and 5xx (but 501), and nothing once the
// context is done or an attempt ran into the client's timeout.
func checkRetry(ctx context.Context, resp *http.Response, err error) (bool, error) {
	if ctx.Err() != nil {
		return false, ctx.Err()
	}
	if err != nil {
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return false, nil
		}
		return retryablehttp.DefaultRetryPolicy(ctx, resp, err)
	}
	switch code := resp.StatusCode; {
	case code == http.StatusTooManyRequests:
		return true, nil
	case code >= 500 && code != http.StatusNotImplemented:
		return true, nil
	}
	return false, nil
}

// cappedBackoff is the library's exponential back-off (which honours Retry-After on 429
// and 503) capped at hi, so that a server cannot make the client wait long.
func cappedBackoff(lo, hi time.Duration, attempt int, resp *http.Response) time.Duration {
	return min(retryablehttp.DefaultBackoff(lo, hi, attempt, resp), hi)
}

// retryLogger routes go-retryablehttp's messages to slog at debug level: a retried
// attempt is not an error of the service. The library logs the method and the URL (with
// any password redacted), never headers.
type retryLogger struct{ l *slog.Logger }

func (r retryLogger) Error(msg string, kv ...any) { r.l.Debug("ollama http: "+msg, kv...) }
func (r retryLogger) Info(msg string, kv ...any)  { r.l.Debug("ollama http: "+msg, kv...) }
func (r retryLogger) Debug(msg string, kv ...any) { r.l.Debug("ollama http: "+msg, kv...) }
func (r retryLogger) Warn(msg string, kv ...any)  { r.l.Debug("ollama http: "+msg, kv...) }

var _ retryablehttp.LeveledLogger = retryLogger{}
