package envelope

import (
	"bufio"
	"bytes"
	"encoding/json"
	"testing"
	"unicode/utf8"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// TestReadRequestVersion: "version" in the metadata block names the version to read.
func TestReadRequestVersion(t *testing.T) {
	t.Parallel()
	var in bytes.Buffer
	w := bufio.NewWriter(&in)
	fr := NewFramer(w, nil)
	js := []byte(`{"operation":"retrieve","element":"equations.json","version":"8ff2361c"}`)
	if err := fr.WriteHeader(Header{Version: Version, Type: TypeRequest, Op: doip.OpRetrieve, PayloadLen: uint32(JSONBlockLen(len(js)))}, "Q1"); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteJSONBlock(BlockMetadata, js); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	c := NewServerCodec(&in, bufio.NewWriter(&bytes.Buffer{}), 1<<20, 256)
	req, err := c.ReadRequest()
	if err != nil || req.Version != "8ff2361c" || req.Element != "equations.json" {
		t.Fatalf("ReadRequest = %+v, %v", req, err)
	}
}

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
