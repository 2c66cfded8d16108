package gateway

import (
	"bufio"
	"context"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// A Handler answers DOIP requests. ServeDOIP writes exactly one answer through w: a
// response or an error. It must not keep w after it returns.
type Handler interface {
	ServeDOIP(ctx context.Context, w ResponseWriter, req *doip.Request)
}

// HandlerFunc adapts a function to a [Handler].
type HandlerFunc func(ctx context.Context, w ResponseWriter, req *doip.Request)

// ServeDOIP calls f.
func (f HandlerFunc) ServeDOIP(ctx context.Context, w ResponseWriter, req *doip.Request) {
	f(ctx, w, req)
}

// A ResponseWriter sends the answer to one request in the framing it came in.
type ResponseWriter interface {
	// Respond writes a response. Component bodies are streamed; an error returned after the
	// first byte went out means the connection is unusable and will be closed.
	Respond(resp *doip.Response) error
	// Error writes an error answer. The connection stays open.
	Error(e *doip.Error) error
	// Progress reports workflow progress, where the framing can carry it; elsewhere it is a
	// no-op.
	Progress(stage, message string, fraction float64) error
}

// A ServerCodec reads requests from and writes answers to one connection in one framing.
// The server calls ReadRequest, then exactly one of WriteResponse or WriteError, then Flush,
// in turn; never concurrently.
type ServerCodec interface {
	// ReadRequest reads the next request. It returns io.EOF at a clean end between requests.
	// Any other error means the framing is broken: the server answers it with WriteError (a
	// [doip.Error] in the error chain gives kind and message) and closes the connection.
	ReadRequest() (*doip.Request, error)
	// WriteResponse writes a response to req.
	WriteResponse(req *doip.Request, resp *doip.Response) error
	// WriteError writes an error answer to req, which is nil after a framing error.
	WriteError(req *doip.Request, e *doip.Error) error
	// WriteProgress writes a progress event for req, if the framing has them.
	WriteProgress(req *doip.Request, stage, message string, fraction float64) error
	// KeepAlive reports whether the framing allows another request on this connection.
	KeepAlive() bool
}

// Limits are the sizes a codec must check before allocating.
type Limits struct {
	// MaxPayload bounds one request's payload or input, in bytes.
	MaxPayload uint32
	// MaxSegment bounds one JSON segment, metadata block or object id, in bytes.
	MaxSegment uint32
}

// CodecFactory makes the codec for a new connection. r is positioned at the first byte
// after any TLS handshake; the factory may Peek it to choose a framing. w is flushed by the
// server after each answer.
type CodecFactory func(r *bufio.Reader, w *bufio.Writer, lim Limits) (ServerCodec, error)
