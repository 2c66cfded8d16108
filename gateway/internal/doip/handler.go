package doip

import "context"

// A Handler answers DOIP requests. ServeDOIP writes exactly one answer through w: a
// response or an error. It must not keep w after it returns.
type Handler interface {
	ServeDOIP(ctx context.Context, w ResponseWriter, req *Request)
}

// HandlerFunc adapts a function to a [Handler].
type HandlerFunc func(ctx context.Context, w ResponseWriter, req *Request)

// ServeDOIP calls f.
func (f HandlerFunc) ServeDOIP(ctx context.Context, w ResponseWriter, req *Request) {
	f(ctx, w, req)
}

// A ResponseWriter sends the answer to one request in the framing it came in.
type ResponseWriter interface {
	// Respond writes a response. Component bodies are streamed; an error returned after the
	// first byte went out means the connection is unusable and will be closed.
	Respond(resp *Response) error
	// Error writes an error answer. The connection stays open.
	Error(e *Error) error
	// Progress reports workflow progress, where the framing can carry it; elsewhere it is a
	// no-op.
	Progress(stage, message string, fraction float64) error
}
