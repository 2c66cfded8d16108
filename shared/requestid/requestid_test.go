package requestid

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"
)

func TestFromClient(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"a", "req-42", "0.DOIP/x:y", strings.Repeat("x", MaxLen)} {
		if got := FromClient(id); got != id {
			t.Errorf("FromClient(%q) = %q, want it kept", id, got)
		}
	}
	for _, id := range []string{"", "has space", "tab\t", "new\nline", "ümlaut", "\x00", strings.Repeat("x", MaxLen+1)} {
		got := FromClient(id)
		if got == id || len(got) != 16 || strings.Trim(got, "0123456789abcdef") != "" {
			t.Errorf("FromClient(%q) = %q, want 16 fresh hex digits", id, got)
		}
	}
	if New() == New() {
		t.Error("New returned the same id twice")
	}
}

func TestContext(t *testing.T) {
	t.Parallel()
	if _, ok := FromContext(t.Context()); ok {
		t.Error("empty context carries an id")
	}
	if _, ok := FromContext(NewContext(t.Context(), "")); ok {
		t.Error("an empty id counts as an id")
	}
	if id, ok := FromContext(NewContext(t.Context(), "r1")); !ok || id != "r1" {
		t.Errorf("FromContext = %q, %v", id, ok)
	}
}

func decode(t *testing.T, b []byte) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for line := range bytes.Lines(b) {
		var rec map[string]any
		if err := json.Unmarshal(line, &rec); err != nil {
			t.Fatalf("%v: %q", err, line)
		}
		recs = append(recs, rec)
	}
	return recs
}

func TestHandler(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := slog.New(NewHandler(slog.NewJSONHandler(&buf, nil))).With("svc", "x")
	ctx := NewContext(context.Background(), "r-7")
	l.InfoContext(ctx, "with id")
	l.Info("without context")
	l.InfoContext(t.Context(), "context without id")
	l.InfoContext(ctx, "explicit", slog.String(LogKey, "mine"))
	l.WithGroup("g").InfoContext(ctx, "grouped", "k", 1)

	recs := decode(t, buf.Bytes())
	if len(recs) != 5 {
		t.Fatalf("%d records: %s", len(recs), buf.String())
	}
	if recs[0][LogKey] != "r-7" || recs[0]["svc"] != "x" {
		t.Errorf("record with id = %v", recs[0])
	}
	for _, r := range recs[1:3] {
		if _, ok := r[LogKey]; ok {
			t.Errorf("record without id has one: %v", r)
		}
	}
	if recs[3][LogKey] != "mine" || strings.Count(buf.String(), `"mine"`) != 1 || strings.Count(strings.Split(buf.String(), "\n")[3], LogKey) != 1 {
		t.Errorf("an explicit request_id must be kept and not repeated: %v", recs[3])
	}
	if g, _ := recs[4]["g"].(map[string]any); g[LogKey] != "r-7" {
		t.Errorf("grouped record = %v", recs[4])
	}
	if h := NewHandler(slog.DiscardHandler); NewHandler(h) != h {
		t.Error("wrapping twice adds a second layer")
	}
}
