// Package jsonkind names the kind of a JSON value for error messages ("a JSON array, where
// a JSON object belongs"), the same in every framing and process.
package jsonkind

import "bytes"

// Of names the kind of a JSON value by its first byte after JSON white space: "object",
// "array", "string", "boolean", "null" or "number"; "nothing" when raw is empty or only
// white space. It does not check that raw is valid JSON.
func Of(raw []byte) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	default:
		return "number"
	}
}

// Described is [Of] with an article, as a sentence reads it: "an object", "an array",
// "a string", "a boolean", "a number"; "null" and "nothing" stand alone.
func Described(raw []byte) string {
	switch k := Of(raw); k {
	case "null", "nothing":
		return k
	case "object", "array":
		return "an " + k
	default:
		return "a " + k
	}
}
