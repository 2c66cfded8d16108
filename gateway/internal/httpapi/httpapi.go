// Package httpapi serves DOIP over HTTP: Cordra's "DOIP API for HTTP Clients" at /doip
// (query form and path form), MaRDI's four routes under /doip/, a web page per object at
// /objects/{id}, a service page at /, and an OpenAPI description at /openapi.json. The
// contract is ../shared/spec/doip-http.md.
//
// Every request becomes the same [doip.Request] the standard DOIP framing builds (the
// Cordra face assembles the standard request object and decodes it with
// [doiptext.DecodeRequest]) and goes to the one [doip.Handler], so limits, permissions,
// request ids and metrics behave as on the DOIP ports. JSON answers are the standard
// framing's output ([doiptext.RenderOutput]); component bytes are streamed with
// Content-Length, a single Range (206, 416), an ETag from the version, If-None-Match (304)
// and HEAD.
//
// A create or an update may carry element bytes in a multipart body (multipart.go), read
// part by part as the handler pulls them; a retrieve with includeElementData answers with a
// multipart/mixed body, the object first, then each element, streamed.
//
// Not handled: multiple ranges in one request (the whole component is sent), and
// If-Modified-Since (components have no dates).
package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doiptext"
	"github.com/fdo-doip/doip-gateway/gateway/internal/gateway"
	"github.com/fdo-doip/doip-gateway/shared/requestid"
)

// DefaultReadTimeout bounds reading a request body when [Options.ReadTimeout] is zero.
const DefaultReadTimeout = 30 * time.Second

// DefaultWriteTimeout bounds each write to a client when [Options.WriteTimeout] is zero.
const DefaultWriteTimeout = 60 * time.Second

// RequestIDHeader carries a request's id both ways: a client may name its request with it
// (or with the requestId parameter), and every answer carries the id the request was served
// under.
const RequestIDHeader = "X-Request-Id"

// StatusHeader carries the DOIP status of an answer ("0.DOIP/Status.104").
const StatusHeader = "Doip-Status"

// Options configure the HTTP face.
type Options struct {
	// Handler answers the requests: the gateway's dispatcher.
	Handler doip.Handler
	// ServiceID is the service's id; "service" is accepted as its alias.
	ServiceID string
	// Limits cap a request: MaxSegment its request object and JSON input, MaxUpload the
	// body of a create or an update with element bytes.
	Limits doip.Limits
	// ReadTimeout bounds reading a request's body (DefaultReadTimeout when 0).
	ReadTimeout time.Duration
	// WriteTimeout bounds each write to the client (DefaultWriteTimeout when 0): a client
	// that takes no bytes for this long is cut off, however long the whole answer takes.
	WriteTimeout time.Duration
	// Metrics counts requests under the listener label Listener; nil counts nothing.
	Metrics  *gateway.Metrics
	Listener string
	// Logger receives a line per request; nil discards.
	Logger *slog.Logger
}

// API is the HTTP face of the gateway, an [http.Handler].
type API struct {
	opts Options
	mux  *http.ServeMux
	// routes lists the patterns registered on mux, for the OpenAPI test.
	routes []string
}

// New returns the HTTP face answering with opts.Handler.
func New(opts Options) *API {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Listener == "" {
		opts.Listener = "http"
	}
	if opts.Limits.MaxSegment == 0 {
		opts.Limits.MaxSegment = doiptext.DefaultMaxSegment
	}
	if opts.Limits.MaxPayload == 0 {
		opts.Limits.MaxPayload = doiptext.DefaultMaxMessage
	}
	if opts.Limits.MaxUpload == 0 {
		opts.Limits.MaxUpload = doiptext.DefaultMaxUpload
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	a := &API{opts: opts, mux: http.NewServeMux()}
	a.handle("/doip", a.cordraQuery)
	a.handle("/doip/{op...}", a.cordraPath)
	a.handle("GET /doip/retrieve/{id}/{component}", a.mardiRetrieve)
	a.handle("GET /doip/search", a.mardiSearch)
	a.handle("POST /doip/purge/{id}", a.mardiPurge)
	a.handle("POST /doip/create", a.mardiCreate)
	a.handle("GET /objects/{id}", a.objectPage)
	a.handle("GET /{$}", a.servicePage)
	a.handle("GET /search", a.searchPage)
	a.handle("GET /static/{path...}", a.static)
	a.handle("GET "+OpenAPIPath, a.openAPI)
	return a
}

func (a *API) handle(pattern string, h http.HandlerFunc) {
	a.routes = append(a.routes, pattern)
	a.mux.HandleFunc(pattern, h)
}

// Routes returns the patterns the API serves, as registered with [http.ServeMux].
func (a *API) Routes() []string { return append([]string(nil), a.routes...) }

// ServeHTTP serves one request. Each write to the client gets a fresh deadline.
func (a *API) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("X-Content-Type-Options", "nosniff")
	a.mux.ServeHTTP(&deadlineWriter{ResponseWriter: w, rc: http.NewResponseController(w), timeout: a.opts.WriteTimeout}, r)
}

// deadlineWriter sets a fresh write deadline before every write, so a slow but moving client
// gets a large download whole, and a stalled one is cut off.
type deadlineWriter struct {
	http.ResponseWriter
	rc      *http.ResponseController
	timeout time.Duration
	n       int64
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout))
	n, err := d.ResponseWriter.Write(p)
	d.n += int64(n)
	return n, err
}

// Flush sends what is buffered, for progress events.
func (d *deadlineWriter) Flush() {
	_ = d.rc.SetWriteDeadline(time.Now().Add(d.timeout))
	_ = d.rc.Flush()
}

// Unwrap lets http.ResponseController reach the connection's writer.
func (d *deadlineWriter) Unwrap() http.ResponseWriter { return d.ResponseWriter }

// face is the shape of the answers of a route: Cordra's or MaRDI's error bodies.
type face int

const (
	faceCordra face = iota
	faceMardi
)

// do runs req through the handler and writes the answer to w: the one path every DOIP
// request over HTTP takes. The request gets its id here, as on the DOIP ports.
func (a *API) do(w http.ResponseWriter, r *http.Request, req *doip.Request, f face) {
	req.Framing = doip.FramingHTTP
	rid := requestid.FromClient(req.RequestID)
	if req.RequestID == "" {
		rid = requestid.FromClient(r.Header.Get(RequestIDHeader))
	}
	w.Header().Set(RequestIDHeader, rid)
	ctx := requestid.NewContext(r.Context(), rid)
	start := time.Now()
	hw := newResponseWriter(w, r, req, f)
	a.serveDOIP(ctx, hw)
	status := hw.status
	if hw.err != nil {
		status = gateway.StatusAborted
	}
	took := time.Since(start)
	a.opts.Metrics.RequestDone(a.opts.Listener, req, status, took.Seconds())
	if dw, ok := w.(*deadlineWriter); ok {
		a.opts.Metrics.ResponseBytes(doip.FramingHTTP, dw.n)
	}
	level := slog.LevelInfo
	attrs := []slog.Attr{slog.String("op", req.Op.String()), slog.String("object", req.ObjectID),
		slog.String("framing", string(req.Framing)), slog.String("status", status), slog.Int("http_status", hw.code),
		slog.String(requestid.LogKey, rid), slog.Duration("took", took)}
	if hw.err != nil {
		level = slog.LevelWarn
		attrs = append(attrs, slog.Any("err", hw.err))
	}
	a.opts.Logger.LogAttrs(ctx, level, "request done", attrs...)
}

// serveDOIP calls the handler, again when the writer asks for a second pass (an
// unsatisfiable range whose component size must be learnt, then the range cut to that size;
// an If-Range that did not match).
func (a *API) serveDOIP(ctx context.Context, hw *responseWriter) {
	for pass := 0; pass < 3; pass++ {
		hw.reset()
		a.opts.Handler.ServeDOIP(ctx, hw, hw.req)
		if hw.again {
			continue
		}
		if !hw.wrote {
			_ = hw.Error(doip.Errorf(doip.KindInternal, "no answer"))
		}
		return
	}
	if hw.again { // cannot happen: no request takes more than three passes
		hw.writeError(doip.Errorf(doip.KindInternal, "no answer"))
	}
}

// fail answers a request that could not be made into a DOIP request.
func (a *API) fail(w http.ResponseWriter, r *http.Request, f face, err error) {
	e := doip.AsError(err)
	if !errors.As(err, new(*doip.Error)) {
		e = doip.Errorf(doip.KindBadRequest, "%v", err)
	}
	hw := newResponseWriter(w, r, &doip.Request{Framing: doip.FramingHTTP}, f)
	if he := (*httpError)(nil); errors.As(err, &he) {
		hw.code = he.code
	}
	hw.writeError(e)
	a.opts.Metrics.RequestDone(a.opts.Listener, hw.req, hw.status, 0)
	a.opts.Logger.LogAttrs(r.Context(), slog.LevelInfo, "bad http request", slog.String("method", r.Method),
		slog.String("path", r.URL.Path), slog.Int("http_status", hw.code), slog.String("err", e.Message))
}
