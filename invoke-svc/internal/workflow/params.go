package workflow

import (
	"bytes"
	"encoding/json"
	"fmt"
	"unicode/utf8"
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
		return nil, fmt.Errorf("%w: params must be a JSON object, got %s", ErrBadParams, jsonKind(trimmed[0]))
	}
	return json.RawMessage(trimmed), nil
}

// jsonKind names the kind of a valid JSON value by its first byte.
func jsonKind(first byte) string {
	switch first {
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	default:
		return "a number"
	}
}
