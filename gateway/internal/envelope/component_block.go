package envelope

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
)

// ComponentBlock is a component block (type 0x02): one component's id, media type and bytes.
// Its body is
//
//	id length (2) | id | media type length (2) | media type | content length (4) | content
//
// and the content length must account for exactly the rest of the body.
type ComponentBlock struct {
	// ID is the component id, in the full form ("doip:bitstream/Q123/main-pdf") or the short
	// form ("main-pdf"); at most 65535 bytes.
	ID string
	// MediaType is the component's media type, such as "application/pdf"; at most 65535 bytes.
	MediaType string
	// Content is the component's bytes; at most 4 GiB - 1 minus the other fields.
	Content []byte
}

// Type returns [BlockComponent].
func (*ComponentBlock) Type() BlockType { return BlockComponent }

// Append appends the block header and the component body to dst. It fails with
// [ErrTooLarge] when a field does not fit its length field.
func (b *ComponentBlock) Append(dst []byte) ([]byte, error) {
	if b == nil {
		return dst, errors.New("envelope: nil *ComponentBlock")
	}
	n, err := componentBodyLen(b.ID, b.MediaType, uint64(len(b.Content)))
	if err != nil {
		return dst, err
	}
	dst = slices.Grow(dst, BlockHeaderLen+int(n))
	dst = appendBlockHeader(dst, BlockComponent, n)
	dst = appendComponentFields(dst, b.ID, b.MediaType, uint32(len(b.Content)))
	return append(dst, b.Content...), nil
}

// Decode decodes a component body. It is a [*ProtocolError] for the body to be shorter than
// its length fields say, or longer. b.Content is a sub-slice of body, not a copy.
func (b *ComponentBlock) Decode(body []byte) error {
	rest := body
	if len(rest) < 2 {
		return protocolError("component id length", "%d-byte component body, need at least 8", len(body))
	}
	idLen := int(binary.BigEndian.Uint16(rest))
	rest = rest[2:]
	if len(rest) < idLen+2 {
		return protocolError("component id length", "id of %d bytes and media type length need %d bytes, %d left in block", idLen, idLen+2, len(rest))
	}
	id := rest[:idLen]
	mtLen := int(binary.BigEndian.Uint16(rest[idLen:]))
	rest = rest[idLen+2:]
	if len(rest) < mtLen+4 {
		return protocolError("component media type length", "media type of %d bytes and content length need %d bytes, %d left in block", mtLen, mtLen+4, len(rest))
	}
	mt := rest[:mtLen]
	contentLen := binary.BigEndian.Uint32(rest[mtLen:])
	rest = rest[mtLen+4:]
	if uint64(contentLen) != uint64(len(rest)) {
		return protocolError("component content length", "%d bytes declared, %d left in block", contentLen, len(rest))
	}
	b.ID = string(id)
	b.MediaType = string(mt)
	b.Content = rest
	return nil
}

// componentBodyLen checks that the fields of a component fit their length fields and
// returns the body length, block header excluded.
func componentBodyLen(id, mediaType string, contentLen uint64) (uint32, error) {
	if len(id) > math.MaxUint16 {
		return 0, tooLarge("component id", uint64(len(id)), math.MaxUint16)
	}
	if len(mediaType) > math.MaxUint16 {
		return 0, tooLarge("component media type", uint64(len(mediaType)), math.MaxUint16)
	}
	n := componentFieldsLen(id, mediaType) + contentLen
	if n > math.MaxUint32 {
		return 0, tooLarge("component block", n, math.MaxUint32)
	}
	return uint32(n), nil
}

// appendComponentFields appends a component body up to, not including, its content.
func appendComponentFields(dst []byte, id, mediaType string, contentLen uint32) []byte {
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(id)))
	dst = append(dst, id...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(mediaType)))
	dst = append(dst, mediaType...)
	return binary.BigEndian.AppendUint32(dst, contentLen)
}
