package slogapp

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

// countingWriter records what reached it and how many writes did.
type countingWriter struct {
	mu     sync.Mutex
	b      bytes.Buffer
	writes int
}

func (c *countingWriter) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.writes++
	return c.b.Write(p)
}

func (c *countingWriter) snapshot() (string, int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.b.String(), c.writes
}

func TestBufferedWriterLosesNothingAtClose(t *testing.T) {
	t.Parallel()
	var out countingWriter
	bw := NewBufferedWriter(&out, 1<<10, time.Hour)
	l := New(bw, slog.LevelInfo, FormatJSON, "gateway")
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 200 {
				l.Info("request done", "g", g, "i", i)
			}
		})
	}
	wg.Wait()
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
	got, writes := out.snapshot()
	lines := strings.Split(strings.TrimSuffix(got, "\n"), "\n")
	if len(lines) != 1600 {
		t.Fatalf("%d lines reached the log, want 1600", len(lines))
	}
	seen := map[string]bool{}
	for _, line := range lines {
		if !strings.HasPrefix(line, "{") || !strings.HasSuffix(line, "}") {
			t.Fatalf("a record was split: %q", line)
		}
		seen[line] = true
	}
	if len(seen) != 1600 {
		t.Errorf("%d distinct records, want 1600", len(seen))
	}
	if writes >= 1600/4 {
		t.Errorf("%d writes for 1600 records: not batched", writes)
	}
	// After Close, records go straight through.
	l.Info("late")
	if got, _ := out.snapshot(); !strings.Contains(got, `"msg":"late"`) {
		t.Error("a record after Close was not written")
	}
	if err := bw.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

func TestBufferedWriterFlushesByTime(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		var out countingWriter
		bw := NewBufferedWriter(&out, 64<<10, 100*time.Millisecond)
		defer bw.Close()
		fmt.Fprintln(bw, "one")
		if got, _ := out.snapshot(); got != "" {
			t.Fatalf("written before the interval: %q", got)
		}
		time.Sleep(150 * time.Millisecond)
		synctest.Wait()
		if got, _ := out.snapshot(); got != "one\n" {
			t.Fatalf("after the interval the log holds %q, want one", got)
		}
	})
}

func TestBufferedWriterFlushesBySizeInOrder(t *testing.T) {
	t.Parallel()
	var out countingWriter
	bw := NewBufferedWriter(&out, 10, 0)
	for _, s := range []string{"aaaa\n", "bbbb\n", "cccc\n"} {
		if _, err := io.WriteString(bw, s); err != nil {
			t.Fatal(err)
		}
	}
	if got, _ := out.snapshot(); got != "aaaa\nbbbb\n" {
		t.Fatalf("after a third record that does not fit: %q, want the first two", got)
	}
	// A record larger than the buffer goes out at once, after what was buffered.
	big := strings.Repeat("x", 20) + "\n"
	_, _ = io.WriteString(bw, big)
	if got, _ := out.snapshot(); got != "aaaa\nbbbb\ncccc\n"+big {
		t.Fatalf("after a large record: %q", got)
	}
	if err := bw.Close(); err != nil {
		t.Fatal(err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

func TestBufferedWriterReportsWriteErrors(t *testing.T) {
	t.Parallel()
	bw := NewBufferedWriter(failingWriter{}, 64, 0)
	_, _ = io.WriteString(bw, "lost\n")
	if err := bw.Close(); err == nil {
		t.Error("Close reported no error from a failing writer")
	}
}

func BenchmarkAccessLog(b *testing.B) {
	for _, buffered := range []bool{false, true} {
		b.Run(fmt.Sprintf("buffered=%v", buffered), func(b *testing.B) {
			f, err := openDevNull()
			if err != nil {
				b.Fatal(err)
			}
			defer f.Close()
			var w io.Writer = f
			if buffered {
				bw := NewBufferedWriter(f, 64<<10, 100*time.Millisecond)
				defer bw.Close()
				w = bw
			}
			l := New(w, slog.LevelInfo, FormatJSON, "gateway")
			b.ReportAllocs()
			for b.Loop() {
				l.LogAttrs(b.Context(), slog.LevelInfo, "request done", slog.String("op", "hello"),
					slog.String("object", "service"), slog.String("status", "ok"), slog.Duration("took", time.Millisecond))
			}
		})
	}
}

// openDevNull opens the null device: every write is still a system call.
func openDevNull() (*os.File, error) { return os.OpenFile(os.DevNull, os.O_WRONLY, 0) }
