package envelope

import (
	"encoding/binary"
	"encoding/json"
	"math"
)

// BlockHeaderLen is the size of a block header: the block type (1 byte) and the body length
// (4 bytes).
const BlockHeaderLen = 5

// BlockType is the first byte of a block header.
type BlockType uint8

// The block types of spec §2.
const (
	BlockMetadata  BlockType = 0x01
	BlockComponent BlockType = 0x02
	BlockWorkflow  BlockType = 0x03
)

var blockTypeNames = map[BlockType]string{BlockMetadata: "metadata", BlockComponent: "component", BlockWorkflow: "workflow"}

// String returns "metadata", "component" or "workflow", or "block_0xNN" for any other value.
func (t BlockType) String() string { return enumName(blockTypeNames, t, "block_0x") }

// Known reports whether t is one of the three block types. Any other type is a protocol
// error on the wire.
func (t BlockType) Known() bool { _, ok := blockTypeNames[t]; return ok }

// isJSON reports whether blocks of type t hold one JSON object.
func (t BlockType) isJSON() bool { return t == BlockMetadata || t == BlockWorkflow }

// Block is one block of a message's payload: a [*MetadataBlock], a [*ComponentBlock] or a
// [*WorkflowBlock].
type Block interface {
	// Type returns the block type written in the block header.
	Type() BlockType
	// Append appends the whole block, its 5-byte block header included, to dst. On error it
	// returns dst unchanged.
	Append(dst []byte) ([]byte, error)
	// Decode decodes a block body (the bytes after the block header) into the receiver. The
	// receiver may keep sub-slices of body rather than copies.
	Decode(body []byte) error
}

// JSONBlockLen returns the wire size of a metadata or workflow block whose JSON is jsonLen
// bytes long, block header included: 5 + jsonLen. A negative jsonLen counts as 0.
func JSONBlockLen(jsonLen int) uint64 {
	return BlockHeaderLen + uint64(max(jsonLen, 0))
}

// ComponentBlockLen returns the wire size of a component block, block header included:
// 5 + 2+len(id) + 2+len(mediaType) + 4 + contentLen. A sender adds it to the other blocks'
// sizes to fill in [Header.PayloadLen] before it has read the content.
func ComponentBlockLen(id, mediaType string, contentLen uint64) uint64 {
	return BlockHeaderLen + componentFieldsLen(id, mediaType) + contentLen
}

// componentFieldsLen is the size of a component body without its content.
func componentFieldsLen(id, mediaType string) uint64 {
	return 2 + uint64(len(id)) + 2 + uint64(len(mediaType)) + 4
}

// appendBlockHeader appends a block header of type t and body length n.
func appendBlockHeader(dst []byte, t BlockType, n uint32) []byte {
	dst = append(dst, byte(t))
	return binary.BigEndian.AppendUint32(dst, n)
}

// newBlock returns an empty block of type t, or a *ProtocolError for an unknown type.
func newBlock(t BlockType) (Block, error) {
	switch t {
	case BlockMetadata:
		return new(MetadataBlock), nil
	case BlockComponent:
		return new(ComponentBlock), nil
	case BlockWorkflow:
		return new(WorkflowBlock), nil
	}
	return nil, protocolError("block type", "0x%s is not metadata (0x01), component (0x02) or workflow (0x03)", hex2(uint8(t)))
}

// parseBlocks decodes a whole payload into its blocks. The blocks keep sub-slices of payload.
func parseBlocks(payload []byte) ([]Block, error) {
	var blocks []Block
	for rest := payload; len(rest) > 0; {
		if len(rest) < BlockHeaderLen {
			return nil, protocolError("block header", "%d bytes left in payload, need %d", len(rest), BlockHeaderLen)
		}
		t := BlockType(rest[0])
		n := binary.BigEndian.Uint32(rest[1:BlockHeaderLen])
		rest = rest[BlockHeaderLen:]
		b, err := newBlock(t)
		if err != nil {
			return nil, err
		}
		if uint64(n) > uint64(len(rest)) {
			return nil, protocolError("block length", "%s block of %d bytes, %d left in payload", t, n, len(rest))
		}
		if err := b.Decode(rest[:n:n]); err != nil {
			return nil, err
		}
		blocks = append(blocks, b)
		rest = rest[n:]
	}
	return blocks, nil
}

// checkJSONObject reports a *ProtocolError unless js is one valid JSON object.
func checkJSONObject(t BlockType, js []byte) error {
	if !json.Valid(js) {
		return protocolError(t.String()+" block", "%d bytes that are not valid JSON", len(js))
	}
	i := 0
	for i < len(js) && (js[i] == ' ' || js[i] == '\t' || js[i] == '\n' || js[i] == '\r') {
		i++
	}
	if i < len(js) && js[i] == '{' {
		return nil
	}
	return protocolError(t.String()+" block", "JSON is not an object")
}

// appendJSONBlock appends a metadata or workflow block holding js.
func appendJSONBlock(dst []byte, t BlockType, js []byte) ([]byte, error) {
	if uint64(len(js)) > math.MaxUint32 {
		return dst, tooLarge(t.String()+" block", uint64(len(js)), math.MaxUint32)
	}
	if err := checkJSONObject(t, js); err != nil {
		return dst, err
	}
	dst = appendBlockHeader(dst, t, uint32(len(js)))
	return append(dst, js...), nil
}
