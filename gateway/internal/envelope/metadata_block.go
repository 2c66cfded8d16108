package envelope

import (
	"encoding/json"
	"errors"
)

// MetadataBlock is a metadata block (type 0x01): one JSON object, UTF-8. A request's first
// metadata block names the operation ({"operation":"retrieve","element":…}); a response's
// holds the answer, an FDO record, or {"error":KIND,"message":TEXT}.
type MetadataBlock struct {
	// JSON is the block body, one JSON object, exactly as it is on the wire.
	JSON json.RawMessage
}

// Type returns [BlockMetadata].
func (*MetadataBlock) Type() BlockType { return BlockMetadata }

// Append appends the block header and b.JSON to dst. It fails if b.JSON is not one JSON
// object, so that it never writes what [MetadataBlock.Decode] would reject.
func (b *MetadataBlock) Append(dst []byte) ([]byte, error) {
	if b == nil {
		return dst, errors.New("envelope: nil *MetadataBlock")
	}
	return appendJSONBlock(dst, BlockMetadata, b.JSON)
}

// Decode checks that body is one JSON object and keeps it, without copying, in b.JSON.
func (b *MetadataBlock) Decode(body []byte) error {
	if err := checkJSONObject(BlockMetadata, body); err != nil {
		return err
	}
	b.JSON = body
	return nil
}
