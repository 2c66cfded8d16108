package doip

import (
	"errors"
	"fmt"
)

// ErrorKind classifies an error for the client. The binary envelope sends it as "error", the
// length-prefixed form in its message, the standard framing as a status code.
type ErrorKind string

// The error kinds.
const (
	KindBadRequest      ErrorKind = "BadRequest"      // malformed frame or request, bad params
	KindNotFound        ErrorKind = "NotFound"        // unknown object, component or workflow
	KindUnsupported     ErrorKind = "Unsupported"     // an operation this gateway does not do
	KindUnauthenticated ErrorKind = "Unauthenticated" // missing or wrong credentials
	KindTooLarge        ErrorKind = "TooLarge"        // a request size over a configured limit
	KindLimitExceeded   ErrorKind = "LimitExceeded"   // a run exceeded a budget (time, memory, pages, quota)
	KindUnavailable     ErrorKind = "Unavailable"     // a backend is down or timed out
	KindInternal        ErrorKind = "Internal"        // anything else; details are logged, not sent
)

// Error is an error a client sees: a kind and a message that names what was wrong.
type Error struct {
	Kind    ErrorKind
	Message string
}

func (e *Error) Error() string { return string(e.Kind) + ": " + e.Message }

// Errorf returns an *Error of the given kind.
func Errorf(kind ErrorKind, format string, args ...any) *Error {
	return &Error{Kind: kind, Message: fmt.Sprintf(format, args...)}
}

// AsError returns err as an *Error, or an Internal error with a generic message (never the
// text of an unexpected error, which may name internals).
func AsError(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return &Error{Kind: KindInternal, Message: "internal error"}
}

// FramingError is a request whose framing broke, as a codec's ReadRequest returns it: Answer
// is what the client is told, Err the codec's own error (a ProtocolError, a too-large
// sentinel, a cut-short stream). Both are in its chain, so the server finds the answer with
// errors.As and logs and counts the cause with errors.Is. Every codec reports its framing
// errors with this one type.
type FramingError struct {
	Answer *Error
	Err    error
}

// NewFramingError returns err as a framing error whose answer is of the given kind, with
// err's text as its message.
func NewFramingError(kind ErrorKind, err error) *FramingError {
	return &FramingError{Answer: &Error{Kind: kind, Message: err.Error()}, Err: err}
}

// AsFramingError is how a codec's ReadRequest reports err: as a [FramingError] of [KindTooLarge]
// when err wraps tooLarge, the codec's too-large sentinel; of [KindBadRequest] when a P, the
// codec's protocol error type, is in its chain; and unchanged otherwise (end of stream, I/O
// errors), for the server to classify.
func AsFramingError[P error](err, tooLarge error) error {
	if errors.Is(err, tooLarge) {
		return NewFramingError(KindTooLarge, err)
	}
	if _, ok := errors.AsType[P](err); ok {
		return NewFramingError(KindBadRequest, err)
	}
	return err
}

// Error returns the text of the codec's error.
func (e *FramingError) Error() string { return e.Err.Error() }

// Unwrap returns the answer and the codec's error.
func (e *FramingError) Unwrap() []error { return []error{e.Answer, e.Err} }
