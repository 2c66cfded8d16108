// Package requestid carries the id of one DOIP request through the system, so that the log
// lines of the gateway, invoke-svc and retrieve-svc about that request can be found together.
//
// The gateway gives every request an id ([FromClient]: the client's own requestId when it is
// usable, else [New]), puts it into the request's context ([NewContext]) and sends it to the
// services in the gRPC metadata key [MetadataKey]. The services' server interceptors
// (shared/grpcapp) put it into their contexts, their client interceptors (shared/backend) send
// it on, and [NewHandler], which every logger built by shared/slogapp uses, adds it as
// "request_id" to every record logged with such a context.
//
// This package knows nothing of gRPC or of the DOIP framings; it is a leaf.
package requestid

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
)

// MetadataKey is the gRPC metadata key that carries the id between processes.
const MetadataKey = "x-request-id"

// LogKey is the key of the id in log records.
const LogKey = "request_id"

// MaxLen is the longest id accepted from a client or a peer, in bytes.
const MaxLen = 64

type ctxKey struct{}

// NewContext returns a copy of ctx carrying id.
func NewContext(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, ctxKey{}, id)
}

// FromContext returns the id ctx carries, if any.
func FromContext(ctx context.Context) (string, bool) {
	id, ok := ctx.Value(ctxKey{}).(string)
	return id, ok && id != ""
}

// New returns a fresh id: 16 random lower-case hex digits.
func New() string {
	var b [8]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails (Go 1.24 and later)
	return hex.EncodeToString(b[:])
}

// Valid reports whether id may be used as given: 1 to [MaxLen] bytes of printable ASCII
// without spaces, safe in gRPC metadata and in log lines. (Ids are never metric labels:
// their values are unbounded.)
func Valid(id string) bool {
	if id == "" || len(id) > MaxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c <= ' ' || c > '~' {
			return false
		}
	}
	return true
}

// FromClient returns the id to use for a request whose client named it clientID (the standard
// framing's requestId, possibly empty): clientID itself when it is [Valid], else [New].
func FromClient(clientID string) string {
	if Valid(clientID) {
		return clientID
	}
	return New()
}

// NewHandler wraps h so that every record logged with a context carrying an id gets the
// attribute request_id, unless the record already has one. Groups opened with WithGroup on
// the returned handler enclose the attribute too, as they enclose every record attribute.
func NewHandler(h slog.Handler) slog.Handler {
	if _, ok := h.(*handler); ok {
		return h
	}
	return &handler{inner: h}
}

type handler struct {
	inner slog.Handler
}

func (h *handler) Enabled(ctx context.Context, level slog.Level) bool {
	return h.inner.Enabled(ctx, level)
}

func (h *handler) Handle(ctx context.Context, r slog.Record) error {
	if id, ok := FromContext(ctx); ok && !hasKey(r, LogKey) {
		r = r.Clone()
		r.AddAttrs(slog.String(LogKey, id))
	}
	return h.inner.Handle(ctx, r)
}

func (h *handler) WithAttrs(attrs []slog.Attr) slog.Handler {
	return &handler{inner: h.inner.WithAttrs(attrs)}
}

func (h *handler) WithGroup(name string) slog.Handler {
	return &handler{inner: h.inner.WithGroup(name)}
}

func hasKey(r slog.Record, key string) bool {
	found := false
	r.Attrs(func(a slog.Attr) bool {
		found = a.Key == key
		return !found
	})
	return found
}
