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

// A ClientWatcher is a [ResponseWriter] that can watch its connection while a request
// waits: when the client leaves, the request's context is cancelled with a cause saying so,
// and the backend call made under it ends too. Watching costs a goroutine and system calls
// per request, so a connection watches only when the handler asks.
type ClientWatcher interface {
	WatchClient()
}

// WatchClient asks w to cancel the request's context if the client leaves before the answer
// is written, where w can (see [ClientWatcher]); elsewhere it does nothing. A handler calls
// it from ServeDOIP's goroutine before it waits on a backend; requests answered from memory
// need not. Calling it again does nothing more.
func WatchClient(w ResponseWriter) {
	if cw, ok := w.(ClientWatcher); ok {
		cw.WatchClient()
	}
}
