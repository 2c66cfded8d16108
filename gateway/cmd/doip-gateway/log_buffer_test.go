package main

import (
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// TestLogBufferWrittenAtShutdown holds the log for longer than the gateway runs: every
// record, from start-up to the last, reaches the log when run returns.
//
// Not parallel: run sets a process-wide gRPC setting (the DNS resolution interval), and the
// other test that calls run is.
func TestLogBufferWrittenAtShutdown(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	logs := &startupLog{out: io.Discard}
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"--host", "127.0.0.1", "--port", "0", "--tls-mode", "off", "--invoke-addr=",
			"--retrieve-addr", "127.0.0.1:1", "--admin-addr=", "--log-format", "json", "--config=",
			"--log-buffer", "1048576", "--log-flush-interval", "1h"},
			func(string) string { return "" }, logs)
	}()
	time.Sleep(300 * time.Millisecond)
	if got := logs.String(); got != "" {
		t.Fatalf("records written before the buffer filled or the interval passed: %s", got)
	}
	cancel()
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	got := logs.String()
	for _, want := range []string{`"msg":"listening"`, `"msg":"gateway started"`, `"msg":"stopped"`} {
		if !strings.Contains(got, want) {
			t.Errorf("the log lacks %s after shutdown:\n%s", want, got)
		}
	}
}
