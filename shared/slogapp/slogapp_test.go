package slogapp

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/shared/requestid"
)

func TestNewJSONCarriesService(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	New(&buf, slog.LevelInfo, FormatAuto, "gateway").Info("hello", "n", 1)
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatalf("a buffer is no terminal, so auto must write JSON: %v (%q)", err, buf.String())
	}
	if rec["svc"] != "gateway" || rec["msg"] != "hello" {
		t.Errorf("record = %v", rec)
	}
}

func TestNewTextAndLevel(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	l := New(&buf, slog.LevelWarn, FormatText, "x")
	l.Info("dropped")
	l.Warn("kept")
	if s := buf.String(); strings.Contains(s, "dropped") || !strings.Contains(s, "msg=kept") {
		t.Errorf("output = %q", s)
	}
}

func TestParse(t *testing.T) {
	t.Parallel()
	if l, err := ParseLevel("DEBUG"); err != nil || l != slog.LevelDebug {
		t.Errorf("ParseLevel(DEBUG) = %v, %v", l, err)
	}
	if _, err := ParseLevel("loud"); err == nil || !strings.Contains(err.Error(), "loud") {
		t.Errorf("ParseLevel(loud) error = %v, want one naming the value", err)
	}
	if f, err := ParseFormat(""); err != nil || f != FormatAuto {
		t.Errorf("ParseFormat(\"\") = %v, %v", f, err)
	}
	if _, err := ParseFormat("xml"); err == nil {
		t.Error("ParseFormat(xml) accepted")
	}
}

func TestNewAddsRequestID(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	New(&buf, slog.LevelInfo, FormatJSON, "retrieve-svc").InfoContext(requestid.NewContext(t.Context(), "abc123"), "record served")
	var rec map[string]any
	if err := json.Unmarshal(buf.Bytes(), &rec); err != nil {
		t.Fatal(err)
	}
	if rec["request_id"] != "abc123" || rec["svc"] != "retrieve-svc" {
		t.Errorf("record = %v", rec)
	}
}
