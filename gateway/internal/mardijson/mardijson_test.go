package mardijson

import (
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// TestResponsePartsVersion: a record answer names its version first in the metadata JSON,
// replacing one the record has; without a version the record is sent as it is.
func TestResponsePartsVersion(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ record, version, want string }{
		{`{"kernel":{"a":1}}`, "c0ffee", `{"version":"c0ffee","kernel":{"a":1}}`},
		{`{}`, "c0ffee", `{"version":"c0ffee"}`},
		{` { "version":"old","b":2} `, "c0ffee", `{"version":"c0ffee","b":2}`},
		{`{"kernel":{"a":1}}`, "", `{"kernel":{"a":1}}`},
		{`[1]`, "c0ffee", `[1]`},
	} {
		meta, _, _, err := ResponseParts(&doip.Response{Record: &doip.Record{JSON: json.RawMessage(tc.record), Version: tc.version}})
		if err != nil || string(meta) != tc.want || !json.Valid(meta) {
			t.Errorf("%s at %q: %s, %v; want %s", tc.record, tc.version, meta, err, tc.want)
		}
	}
}

// FuzzWithVersion: whatever record a source sends, naming the version never panics, and a
// record that is a JSON object stays one, with the version as "version".
func FuzzWithVersion(f *testing.F) {
	for _, s := range []string{`{}`, `{"a":1}`, ` {"version":1, "b":[2]} `, `[1]`, `"x"`, `{`, ``, `{"a":"\u00e9"}`} {
		f.Add([]byte(s), "c0ffee")
	}
	f.Fuzz(func(t *testing.T, record []byte, version string) {
		out, err := withVersion(record, version)
		if err != nil {
			return
		}
		var obj map[string]json.RawMessage
		if json.Unmarshal(record, &obj) != nil || obj == nil {
			return // not an object: returned as it came
		}
		var got map[string]any
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("withVersion(%q) = %q: not JSON: %v", record, out, err)
		}
		if got["version"] != version && utf8.ValidString(version) { // JSON replaces invalid UTF-8
			t.Errorf("withVersion(%q) = %q: version %v, want %q", record, out, got["version"], version)
		}
	})
}

// A budget a workflow run exceeded has its own kind in the error envelope.
func TestErrorJSONLimitExceeded(t *testing.T) {
	js, err := ErrorJSON(doip.Errorf(doip.KindLimitExceeded, "page budget of 500 pages exceeded"))
	if err != nil || string(js) != `{"error":"LimitExceeded","message":"page budget of 500 pages exceeded"}` {
		t.Errorf("ErrorJSON = %s, %v", js, err)
	}
}
