package segment

import (
	"errors"
	"fmt"
	"io"
)

// ErrEndOfMessage is returned by [Reader.ReadSegment] and [Reader.NextSegment] for the
// zero-length segment that ends a message. It is not a failure: the next call reads the
// first segment of the next message. It is distinct from [io.EOF], which means that the
// stream ended cleanly before a message began.
var ErrEndOfMessage = errors.New("segment: end of message")

// ErrTooLarge is returned, wrapped with both numbers, when a segment length read from the
// wire exceeds [Reader.MaxSegment], when the segments of one message add up to more than
// [Reader.MaxMessage], or when a segment to be written does not fit the 4-byte length. It
// is reported before anything is allocated for the segment. Test for it with errors.Is.
var ErrTooLarge = errors.New("segment: too large")

// ProtocolError reports bytes that break the segment contract, or a request that does not
// say what the gateway needs to route it: a first segment that is not a JSON object, a
// missing or unusable operationId, a field of the wrong JSON type, an empty request. A
// server answers it with an error segment and closes the connection.
type ProtocolError struct {
	// Field names the offending field, such as "first segment", "operationId" or
	// "attributes.params".
	Field string
	// Reason says what is wrong with it.
	Reason string
}

// Error returns "segment: bad <field>: <reason>".
func (e *ProtocolError) Error() string {
	return "segment: bad " + e.Field + ": " + e.Reason
}

// protocolError builds a *ProtocolError with a formatted reason.
func protocolError(field, format string, args ...any) error {
	return &ProtocolError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// tooLarge wraps ErrTooLarge with what was too large and both numbers.
func tooLarge(what string, n, limit uint64) error {
	return fmt.Errorf("segment: %s %d bytes exceeds limit %d: %w", what, n, limit, ErrTooLarge)
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF, for reads that start inside a message.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
