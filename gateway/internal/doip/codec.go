package doip

// A ServerCodec reads requests from and writes answers to one connection in one framing.
// The server calls ReadRequest, then exactly one of WriteResponse or WriteError, then Flush,
// in turn; never concurrently.
type ServerCodec interface {
	// ReadRequest reads the next request. It returns io.EOF at a clean end between requests.
	// Any other error means the framing is broken: the server answers it with WriteError (the
	// [Error] in the chain, which a [FramingError] carries, gives kind and message) and closes
	// the connection.
	ReadRequest() (*Request, error)
	// WriteResponse writes a response to req.
	WriteResponse(req *Request, resp *Response) error
	// WriteError writes an error answer to req, which is nil after a framing error.
	WriteError(req *Request, e *Error) error
	// WriteProgress writes a progress event for req, if the framing has them.
	WriteProgress(req *Request, stage, message string, fraction float64) error
	// KeepAlive reports whether the framing allows another request on this connection.
	KeepAlive() bool
}

// Limits are the sizes a codec must check before allocating.
type Limits struct {
	// MaxPayload bounds one request's payload or input, in bytes.
	MaxPayload uint32
	// MaxSegment bounds one JSON segment, metadata block or object id, in bytes.
	MaxSegment uint32
	// MaxUpload bounds the bytes of one create or update, its elements included, where the
	// framing streams them (zero: the codec's default).
	MaxUpload uint64
}
