package envelope

import (
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is returned, wrapped with the field, the declared size and the limit, when a
// length read from the wire exceeds a [Framer] cap, or when a value to be encoded does not fit
// its length field. Test for it with errors.Is.
var ErrTooLarge = errors.New("envelope: too large")

// ProtocolError reports bytes that break the envelope contract: a version other than 0x02,
// an unknown block type, a block running past the end of the payload, a component body
// shorter than its own length fields, or a metadata or workflow block that is not a JSON
// object. A server answers it with an error envelope (message type 0x7F) and closes the
// connection, because the stream can no longer be trusted to be aligned on a message.
type ProtocolError struct {
	// Field names the offending field, such as "version" or "block length".
	Field string
	// Reason says what is wrong with it, with the numbers involved.
	Reason string
}

// Error returns "envelope: bad <field>: <reason>".
func (e *ProtocolError) Error() string {
	return "envelope: bad " + e.Field + ": " + e.Reason
}

// protocolError builds a *ProtocolError with a formatted reason.
func protocolError(field, format string, args ...any) error {
	return &ProtocolError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// tooLarge wraps ErrTooLarge with what was too large and both numbers.
func tooLarge(what string, n, limit uint64) error {
	return fmt.Errorf("envelope: %s %d bytes exceeds limit %d: %w", what, n, limit, ErrTooLarge)
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF, for reads that start inside a message, where
// io.ReadFull reports a stream that ends before the first byte as a clean io.EOF.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
