package fdo

import (
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"
)

// FuzzParseRecord feeds the record parser what a façade might send: it must never panic,
// and a record it accepts lists components with ids and media types.
func FuzzParseRecord(f *testing.F) {
	seeds, _ := filepath.Glob(filepath.Join("..", "sampledata", "objects", "records", "*.json"))
	for _, p := range seeds {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"kernel":{"fdo:hasComponent":{"componentId":"a","mimeType":"text/plain"}}}`))
	f.Add([]byte(`{"kernel":{"fdo:hasComponent":[{"@id":"#x"},null,7]}}`))
	f.Add([]byte(`[]`))
	f.Fuzz(func(t *testing.T, raw []byte) {
		rec, err := ParseRecord(raw)
		if err != nil {
			return
		}
		for _, c := range rec.Components {
			if c.ID == "" || c.MediaType == "" {
				t.Fatalf("accepted a component without id or media type: %+v", c)
			}
			if !utf8.ValidString(c.ID) {
				t.Fatalf("component id is not UTF-8: %q", c.ID)
			}
		}
	})
}
