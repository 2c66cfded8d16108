// Package slogapp builds the structured logger each binary creates once, in main, and passes
// down as a *slog.Logger. Nothing in the project logs through a global logger.
package slogapp

import (
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/fdo-doip/doip-gateway/shared/requestid"
)

// Format names a log encoding.
type Format string

// The log encodings: text for people at a terminal, JSON for log collectors.
const (
	FormatAuto Format = "auto"
	FormatText Format = "text"
	FormatJSON Format = "json"
)

// ParseLevel turns "debug", "info", "warn" or "error" (any case) into a slog.Level.
func ParseLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.TrimSpace(s))); err != nil {
		return 0, fmt.Errorf("slogapp: log level %q: want debug, info, warn or error", s)
	}
	return l, nil
}

// ParseFormat checks a format name.
func ParseFormat(s string) (Format, error) {
	switch f := Format(strings.ToLower(strings.TrimSpace(s))); f {
	case FormatAuto, FormatText, FormatJSON:
		return f, nil
	case "":
		return FormatAuto, nil
	default:
		return "", fmt.Errorf("slogapp: log format %q: want auto, text or json", s)
	}
}

// New returns a logger writing to w at the given level. FormatAuto writes text when w is a
// terminal and JSON otherwise (containers, files, pipes). Every record carries the service
// name under "svc", so the lines of several processes sharing one terminal can be told apart,
// and every record logged with a context that carries a request id (shared/requestid) carries
// it under "request_id", so one request can be followed through the logs of all processes.
func New(w io.Writer, level slog.Level, format Format, service string) *slog.Logger {
	opts := &slog.HandlerOptions{Level: level}
	var h slog.Handler
	if format == FormatJSON || (format == FormatAuto && !isTerminal(w)) {
		h = slog.NewJSONHandler(w, opts)
	} else {
		h = slog.NewTextHandler(w, opts)
	}
	l := slog.New(requestid.NewHandler(h))
	if service != "" {
		l = l.With("svc", service)
	}
	return l
}

// Discard returns a logger that drops everything, for tests and tools that want silence.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
