package doiptext

import (
	"errors"
	"fmt"
	"io"
)

// ErrTooLarge is returned, wrapped with what was too large, its size and the limit, when a
// JSON segment, a chunk or a whole message read from the wire exceeds a [Reader] cap. The
// size is checked before the bytes are buffered: a JSON segment is counted while it is
// scanned, a chunk by its size line. Test for it with errors.Is.
var ErrTooLarge = errors.New("doiptext: too large")

// ProtocolError reports bytes that break the text framing of DOIP v2.0 (spec §2): a size line
// that is not a decimal number from 1 to 999999999 without a leading zero, a chunk whose data
// is not followed by LF, a '#' or '@' line with something other than spaces, tabs or CR
// after its first byte, or a JSON segment that is not valid JSON. A server answers it with
// status 0.DOIP/Status.101 and closes the connection, because the stream can no longer be
// trusted to be aligned on a message.
type ProtocolError struct {
	// Field names the offending part of the message, such as "chunk size" or "JSON segment".
	Field string
	// Reason says what is wrong with it, with the bytes or numbers involved.
	Reason string
}

// Error returns "doiptext: bad <field>: <reason>".
func (e *ProtocolError) Error() string {
	return "doiptext: bad " + e.Field + ": " + e.Reason
}

// protocolError builds a *ProtocolError with a formatted reason.
func protocolError(field, format string, args ...any) error {
	return &ProtocolError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// tooLarge wraps ErrTooLarge with what was too large and both numbers.
func tooLarge(what string, n, limit int64) error {
	return fmt.Errorf("doiptext: %s of %d bytes exceeds limit %d: %w", what, n, limit, ErrTooLarge)
}

// noEOF turns io.EOF into io.ErrUnexpectedEOF, for reads inside a message.
func noEOF(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}
