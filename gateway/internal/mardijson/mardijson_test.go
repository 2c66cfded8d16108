package mardijson

import (
	"bytes"
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

// withVersionDecoded is withVersion as it was, decoding every record: the reference that
// the pass-through must match byte for byte.
func withVersionDecoded(record json.RawMessage, version string) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(record)
	if len(trimmed) < 2 || trimmed[0] != '{' {
		return record, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		return record, nil
	}
	if _, ok := fields["version"]; ok {
		delete(fields, "version")
		if trimmed, err := json.Marshal(fields); err == nil {
			record = trimmed
		}
	}
	v, err := Marshal(version)
	if err != nil {
		return nil, err
	}
	rest := bytes.TrimSpace(record)[1:]
	out := append(append([]byte(`{"version":`), v...), ',')
	if bytes.HasPrefix(bytes.TrimSpace(rest), []byte("}")) {
		out = out[:len(out)-1]
	}
	return append(out, rest...), nil
}

var withVersionSeeds = []string{`{}`, `{"a":1}`, ` {"version":1, "b":[2]} `, `[1]`, `"x"`, `{`, ``, `{"a":"\u00e9"}`,
	`{"a":{"version":1}}`, `{"a":["version"]}`, `{"a":"version"}`, `{"\u0076ersion":2,"b":3}`, `{"ver\"sion":1}`,
	`{"a":"}\"{","version":[{}],"c":"\\"}`, `{"version":1,"version":2}`, `{"a":[{"b":"}"}],"version":null}`,
	`{"a":1,}`, `{"a":1}x`, `{"x":"\\\\","version":0}`, "{\"k\":\"\xff\"}"}

// TestWithVersionMatchesDecoding: records with and without a member "version" (nested,
// escaped, repeated, inside strings) come out exactly as decoding them gave.
func TestWithVersionMatchesDecoding(t *testing.T) {
	t.Parallel()
	for _, s := range withVersionSeeds {
		got, err := withVersion(json.RawMessage(s), "c0ffee")
		want, werr := withVersionDecoded(json.RawMessage(s), "c0ffee")
		if string(got) != string(want) || (err == nil) != (werr == nil) {
			t.Errorf("withVersion(%s) = %s, %v; want %s, %v", s, got, err, want, werr)
		}
	}
}

// FuzzWithVersionMatchesDecoding: for any record, the pass-through gives the bytes decoding
// gave.
func FuzzWithVersionMatchesDecoding(f *testing.F) {
	for _, s := range withVersionSeeds {
		f.Add([]byte(s), "c0ffee")
	}
	f.Fuzz(func(t *testing.T, record []byte, version string) {
		got, err := withVersion(record, version)
		want, werr := withVersionDecoded(record, version)
		if string(got) != string(want) || (err == nil) != (werr == nil) {
			t.Errorf("withVersion(%q) = %q, %v; want %q, %v", record, got, err, want, werr)
		}
	})
}

// BenchmarkResponsePartsRecordVersion: a record of a few KiB that names its version, as on
// versioned storage.
func BenchmarkResponsePartsRecordVersion(b *testing.B) {
	record := json.RawMessage(`{
  "@context": ["https://w3id.org/fdo/context/v1", {"schema": "https://schema.org/"}],
  "@id": "https://fdo.example.org/fdo/Q123",
  "@type": "DigitalObject",
  "kernel": {"@id": "https://fdo.example.org/fdo/Q123", "digitalObjectType": "https://fdo.example.org/fdo/types/ScholarlyArticle",
    "fdo:hasComponent": [{"@id": "#main-pdf", "componentId": "main-pdf", "mediaType": "application/pdf"},
      {"@id": "#source.tex", "componentId": "source.tex", "mediaType": "application/x-tex"}]},
  "profile": {"@type": "ScholarlyArticle", "name": "A Short Note on Richardson Extrapolation", "keywords": ["trapezoidal rule", "Romberg integration"]}
}`)
	resp := &doip.Response{Op: doip.OpRetrieve, Record: &doip.Record{ObjectID: "Q123", JSON: record,
		Version: "5f1c0b6e2a9d4e7f8a3b1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"}}
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, err := ResponseParts(resp); err != nil {
			b.Fatal(err)
		}
	}
}

// TestMarshalVersion: plain versions are quoted as Marshal quotes them; others go through it.
func TestMarshalVersion(t *testing.T) {
	t.Parallel()
	for _, v := range []string{"", "c0ffee", "main", "v1.2/rc_3-x", `a"b`, `a\b`, "é", "<&>", "a b", "\x00", "\xff"} {
		got, err := marshalVersion(v)
		want, werr := Marshal(v)
		if string(got) != string(want) || (err == nil) != (werr == nil) {
			t.Errorf("marshalVersion(%q) = %s, %v; want %s, %v", v, got, err, want, werr)
		}
	}
}
