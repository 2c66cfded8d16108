package workflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/fdo-doip/doip-gateway/shared/jsonkind"
)

// emptyParams is what empty params mean.
var emptyParams = json.RawMessage(`{}`)

// ObjectParams checks that raw is one JSON object and returns it; empty (or all-space) raw
// means {}. Anything else (invalid UTF-8 or JSON, an array, a string, null, trailing data) is an error
// wrapping [ErrBadParams].
func ObjectParams(raw []byte) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return emptyParams, nil
	}
	if !utf8.Valid(trimmed) {
		return nil, fmt.Errorf("%w: params are not valid UTF-8", ErrBadParams)
	}
	if !json.Valid(trimmed) {
		return nil, fmt.Errorf("%w: params are not valid JSON", ErrBadParams)
	}
	if trimmed[0] != '{' {
		return nil, fmt.Errorf("%w: params must be a JSON object, got %s", ErrBadParams, jsonkind.Described(trimmed))
	}
	return json.RawMessage(trimmed), nil
}
