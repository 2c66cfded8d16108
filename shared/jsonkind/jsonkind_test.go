package jsonkind

import "testing"

func TestOfAndDescribed(t *testing.T) {
	t.Parallel()
	for _, c := range []struct{ raw, kind, described string }{
		{` {"a":1}`, "object", "an object"},
		{"\n[1]", "array", "an array"},
		{`"x"`, "string", "a string"},
		{"true", "boolean", "a boolean"},
		{"false", "boolean", "a boolean"},
		{"null", "null", "null"},
		{"-1.5", "number", "a number"},
		{" \t\r\n", "nothing", "nothing"},
		{"", "nothing", "nothing"},
	} {
		if got := Of([]byte(c.raw)); got != c.kind {
			t.Errorf("Of(%q) = %q, want %q", c.raw, got, c.kind)
		}
		if got := Described([]byte(c.raw)); got != c.described {
			t.Errorf("Described(%q) = %q, want %q", c.raw, got, c.described)
		}
	}
}
