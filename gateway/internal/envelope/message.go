package envelope

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"slices"
)

// Message is one whole envelope: header, object id and blocks, held in memory.
type Message struct {
	// Header is the fixed header. [Message.Append] fills in its Version (when 0), IDLen and
	// PayloadLen; the other fields are written as they are.
	Header Header
	// ObjectID is the target object, UTF-8, such as "Q123"; empty for hello and list
	// operations. At most 65535 bytes.
	ObjectID string
	// Blocks is the payload, in wire order.
	Blocks []Block
}

// Append encodes m and appends it to dst. It first sets m.Header.Version to [Version] if it
// is 0, and m.Header.IDLen and m.Header.PayloadLen from m.ObjectID and m.Blocks. An object
// id longer than 65535 bytes or a payload longer than 4 GiB - 1 fails with [ErrTooLarge]; a
// block that cannot be encoded fails with its error. On error dst is returned unchanged and
// m is not modified.
func (m *Message) Append(dst []byte) ([]byte, error) {
	h := m.Header
	if h.Version == 0 {
		h.Version = Version
	}
	if len(m.ObjectID) > math.MaxUint16 {
		return dst, tooLarge("object id", uint64(len(m.ObjectID)), math.MaxUint16)
	}
	h.IDLen = uint16(len(m.ObjectID))
	h.PayloadLen = 0 // patched below, once the blocks are encoded

	// Reserve the whole message when the sizes are known, so that it is one allocation.
	size := uint64(HeaderLen + len(m.ObjectID))
	for _, b := range m.Blocks {
		switch b := b.(type) {
		case *MetadataBlock:
			if b != nil {
				size += JSONBlockLen(len(b.JSON))
			}
		case *WorkflowBlock:
			if b != nil {
				size += JSONBlockLen(len(b.JSON))
			}
		case *ComponentBlock:
			if b != nil {
				size += ComponentBlockLen(b.ID, b.MediaType, uint64(len(b.Content)))
			}
		}
	}
	if size <= math.MaxInt32 {
		dst = slices.Grow(dst, int(size))
	}

	start := len(dst)
	out, err := h.AppendBinary(dst)
	if err != nil {
		return dst, err
	}
	out = append(out, m.ObjectID...)
	payloadStart := len(out)
	for i, b := range m.Blocks {
		if b == nil {
			return dst[:start], fmt.Errorf("envelope: block %d is nil", i)
		}
		if out, err = b.Append(out); err != nil {
			return dst[:start], err
		}
	}
	p := uint64(len(out) - payloadStart)
	if p > math.MaxUint32 {
		return dst[:start], tooLarge("payload", p, math.MaxUint32)
	}
	binary.BigEndian.PutUint32(out[start+6:start+HeaderLen], uint32(p))
	h.PayloadLen = uint32(p)
	m.Header = h
	return out, nil
}

// Metadata returns the JSON of the first metadata block, or nil when there is none.
func (m *Message) Metadata() json.RawMessage {
	for _, b := range m.Blocks {
		if b, ok := b.(*MetadataBlock); ok && b != nil {
			return b.JSON
		}
	}
	return nil
}
