package envelope

import (
	"encoding"
	"encoding/binary"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// Version is the only envelope version: the value of the first byte of every message.
const Version = 0x02

// HeaderLen is the size of the fixed header: version, message type, operation, flags (one
// byte each), object id length (2 bytes) and payload length (4 bytes).
const HeaderLen = 10

// MsgType is the message type, the second byte of the header.
type MsgType uint8

// The message types of spec §1.
const (
	TypeRequest  MsgType = 0x01
	TypeResponse MsgType = 0x02
	TypeError    MsgType = 0x7F
)

var msgTypeNames = map[MsgType]string{TypeRequest: "request", TypeResponse: "response", TypeError: "error"}

// String returns "request", "response" or "error", or "type_0xNN" for any other value.
func (t MsgType) String() string { return enumName(msgTypeNames, t, "type_0x") }

// Known reports whether t is one of [TypeRequest], [TypeResponse] and [TypeError]. The
// decoder does not reject other values; the caller decides what to do with them.
func (t MsgType) Known() bool { _, ok := msgTypeNames[t]; return ok }

// Header is the fixed 10-byte header that opens every message. Its integers are big-endian.
type Header struct {
	// Version is the byte at offset 0; always [Version] (0x02).
	Version uint8
	// Type is the byte at offset 1: request, response or error.
	Type MsgType
	// Op is the byte at offset 2, the operation. A response echoes the request's. Unknown
	// values, 0 included, are carried, not rejected.
	Op doip.Op
	// Flags is the byte at offset 3. No flag is defined: a server echoes 0 and rejects nothing.
	Flags uint8
	// IDLen is the object id length at offset 4 (2 bytes).
	IDLen uint16
	// PayloadLen is the payload length at offset 6 (4 bytes): the sum of the lengths of all
	// blocks, block headers included.
	PayloadLen uint32
}

var (
	_ encoding.BinaryAppender    = Header{}
	_ encoding.BinaryUnmarshaler = (*Header)(nil)
)

// AppendBinary appends the 10 header bytes to dst, taking every field as it is. It fails,
// returning dst unchanged, only when h.Version is not [Version].
func (h Header) AppendBinary(dst []byte) ([]byte, error) {
	if h.Version != Version {
		return dst, protocolError("version", "0x%s, want 0x%s", hex2(h.Version), hex2(Version))
	}
	dst = append(dst, h.Version, byte(h.Type), byte(h.Op), h.Flags)
	dst = binary.BigEndian.AppendUint16(dst, h.IDLen)
	dst = binary.BigEndian.AppendUint32(dst, h.PayloadLen)
	return dst, nil
}

// UnmarshalBinary decodes exactly [HeaderLen] bytes into h. A version other than 0x02 is a
// [*ProtocolError]; h is filled in even then, so that the caller can log what arrived. The
// message type, operation and flags are not checked.
func (h *Header) UnmarshalBinary(b []byte) error {
	if len(b) != HeaderLen {
		return protocolError("header", "%d bytes, want %d", len(b), HeaderLen)
	}
	*h = Header{
		Version:    b[0],
		Type:       MsgType(b[1]),
		Op:         doip.Op(b[2]),
		Flags:      b[3],
		IDLen:      binary.BigEndian.Uint16(b[4:6]),
		PayloadLen: binary.BigEndian.Uint32(b[6:10]),
	}
	if h.Version != Version {
		return protocolError("version", "0x%s, want 0x%s", hex2(h.Version), hex2(Version))
	}
	return nil
}

// enumName is the name of t in names, else prefix and t as two hex digits.
func enumName[T ~uint8](names map[T]string, t T, prefix string) string {
	if n, ok := names[t]; ok {
		return n
	}
	return prefix + hex2(uint8(t))
}

// hex2 formats b as two lower-case hex digits.
func hex2(b uint8) string {
	const digits = "0123456789abcdef"
	return string([]byte{digits[b>>4], digits[b&0xf]})
}
