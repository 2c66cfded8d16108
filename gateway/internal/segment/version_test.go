package segment

import (
	"strings"
	"testing"
)

// TestParseRequestVersion: "version" in the attributes or at the top names the version to
// read; the attributes win; a value other than a string is a protocol error naming the field.
func TestParseRequestVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want, err string }{
		{`{"targetId":"Q1","operationId":"retrieve","attributes":{"element":"a","version":"v1"}}`, "v1", ""},
		{`{"targetId":"Q1","operationId":"retrieve","version":"main"}`, "main", ""},
		{`{"targetId":"Q1","operationId":"retrieve","version":"main","attributes":{"version":"v2"}}`, "v2", ""},
		{`{"targetId":"Q1","operationId":"retrieve","attributes":{"version":1}}`, "", "attributes.version"},
	} {
		req, err := parseRequest([]byte(tc.in))
		switch {
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("%s: error %v, want one naming %s", tc.in, err, tc.err)
		case tc.err == "" && (err != nil || req.Version != tc.want):
			t.Errorf("%s: %+v, %v; want version %q", tc.in, req, err, tc.want)
		}
	}
}
