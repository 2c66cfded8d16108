package envelope

import (
	"encoding/json"
	"errors"
)

// WorkflowBlock is a workflow block (type 0x03): one JSON object, UTF-8. In an invoke
// request it may carry the workflow name and params; in an invoke response it holds the
// workflow's result.
type WorkflowBlock struct {
	// JSON is the block body, one JSON object, exactly as it is on the wire.
	JSON json.RawMessage
}

// Type returns [BlockWorkflow].
func (*WorkflowBlock) Type() BlockType { return BlockWorkflow }

// Append appends the block header and b.JSON to dst. It fails if b.JSON is not one JSON
// object, so that it never writes what [WorkflowBlock.Decode] would reject.
func (b *WorkflowBlock) Append(dst []byte) ([]byte, error) {
	if b == nil {
		return dst, errors.New("envelope: nil *WorkflowBlock")
	}
	return appendJSONBlock(dst, BlockWorkflow, b.JSON)
}

// Decode checks that body is one JSON object and keeps it, without copying, in b.JSON.
func (b *WorkflowBlock) Decode(body []byte) error {
	if err := checkJSONObject(BlockWorkflow, body); err != nil {
		return err
	}
	b.JSON = body
	return nil
}
