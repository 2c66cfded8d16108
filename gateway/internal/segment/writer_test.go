package segment

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestWriter(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		write func(*Writer) error
		want  string
	}{
		{"empty message", func(sw *Writer) error { return sw.End() },
			"\x00\x00\x00\x00"},
		{"one segment", func(sw *Writer) error {
			return errors.Join(sw.WriteSegment([]byte(`{"status":"success"}`)), sw.End())
		}, "\x00\x00\x00\x14{\"status\":\"success\"}\x00\x00\x00\x00"},
		{"streamed segment", func(sw *Writer) error {
			if err := sw.WriteSegment([]byte("meta")); err != nil {
				return err
			}
			if err := sw.WriteSegmentHeader(10); err != nil {
				return err
			}
			if _, err := io.Copy(sw, iotest.OneByteReader(strings.NewReader("0123456789"))); err != nil {
				return err
			}
			return sw.End()
		}, "\x00\x00\x00\x04meta\x00\x00\x00\x0a0123456789\x00\x00\x00\x00"},
		{"two messages", func(sw *Writer) error {
			return errors.Join(sw.WriteSegment([]byte("a")), sw.End(), sw.WriteSegment([]byte("bc")), sw.End())
		}, "\x00\x00\x00\x01a\x00\x00\x00\x00\x00\x00\x00\x02bc\x00\x00\x00\x00"},
	} {
		var buf bytes.Buffer
		if err := tc.write(NewWriter(&buf)); err != nil {
			t.Errorf("%s: %v", tc.name, err)
			continue
		}
		if buf.String() != tc.want {
			t.Errorf("%s: wrote %q, want %q", tc.name, buf.String(), tc.want)
		}
	}
}

// TestWriterMisuse checks that misuse caught before anything is written leaves the stream
// as it was, and that a write past the end of a segment stops the Writer.
func TestWriterMisuse(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	sw := NewWriter(&buf)
	if err := sw.WriteSegment(nil); err == nil || !strings.Contains(err.Error(), "length 0 would end the message") {
		t.Errorf("empty segment: %v", err)
	}
	if err := sw.WriteSegmentHeader(0); err == nil {
		t.Error("WriteSegmentHeader(0): no error")
	}
	if _, err := sw.Write([]byte("x")); err == nil || !strings.Contains(err.Error(), "outside a segment") {
		t.Errorf("Write outside a segment: %v", err)
	}
	if err := sw.WriteSegmentHeader(3); err != nil {
		t.Fatal(err)
	}
	if _, err := sw.Write([]byte("a")); err != nil {
		t.Fatal(err)
	}
	if err := sw.WriteSegmentHeader(1); err == nil || !strings.Contains(err.Error(), "2 bytes of the current one unwritten") {
		t.Errorf("header with 2 bytes owed: %v", err)
	}
	if err := sw.End(); err == nil || !strings.Contains(err.Error(), "2 bytes of the current segment unwritten") {
		t.Errorf("End with 2 bytes owed: %v", err)
	}
	if n, err := sw.Write([]byte("bcdef")); n != 2 || err == nil || !strings.Contains(err.Error(), "runs 3 bytes past the end") {
		t.Errorf("overrun = %d, %v", n, err)
	}
	if err := sw.End(); err == nil {
		t.Error("End after an overrun: no error; the Writer should be stopped")
	}
	if want := "\x00\x00\x00\x03abc"; buf.String() != want {
		t.Errorf("wrote %q, want %q", buf.String(), want)
	}
}

type failingWriter struct{ n int } // accepts n bytes, then fails

var errWriteFailed = errors.New("write failed")

func (f *failingWriter) Write(p []byte) (int, error) {
	if len(p) > f.n {
		n := f.n
		f.n = 0
		return n, errWriteFailed
	}
	f.n -= len(p)
	return len(p), nil
}

func TestWriterIOErrorIsSticky(t *testing.T) {
	t.Parallel()
	for _, n := range []int{0, 2, 4, 6} {
		sw := NewWriter(&failingWriter{n: n})
		err := sw.WriteSegment([]byte("abcdef"))
		if !errors.Is(err, errWriteFailed) {
			t.Errorf("fail after %d: WriteSegment = %v", n, err)
		}
		if again := sw.End(); again != err {
			t.Errorf("fail after %d: End after a failed write = %v, want %v", n, again, err)
		}
	}
}

// TestWriterReaderRoundTrip writes messages with both write paths and reads them back with
// both read paths.
func TestWriterReaderRoundTrip(t *testing.T) {
	t.Parallel()
	msgs := [][]string{{"a"}, {`{"x":1}`, "", "\x00\x00\x00\x00", strings.Repeat("z", 3000)}, {}}
	var buf bytes.Buffer
	sw := NewWriter(&buf)
	for i, m := range msgs {
		for _, s := range m {
			if s == "" {
				continue
			}
			if i%2 == 0 {
				if err := sw.WriteSegment([]byte(s)); err != nil {
					t.Fatal(err)
				}
			} else {
				if err := sw.WriteSegmentHeader(uint32(len(s))); err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(sw, iotest.HalfReader(strings.NewReader(s))); err != nil {
					t.Fatal(err)
				}
			}
		}
		if err := sw.End(); err != nil {
			t.Fatal(err)
		}
	}
	for _, w := range wrappers {
		sr := NewReader(w.wrap(bytes.NewReader(buf.Bytes())))
		for i, m := range msgs {
			for _, s := range m {
				if s == "" {
					continue
				}
				var got []byte
				var err error
				if i%2 == 0 {
					got, err = sr.ReadSegment()
				} else {
					var n uint32
					if n, err = sr.NextSegment(); err == nil {
						got, err = io.ReadAll(sr.Content())
						if uint32(len(got)) != n {
							t.Fatalf("%s: NextSegment said %d bytes, Content gave %d", w.name, n, len(got))
						}
					}
				}
				if err != nil || string(got) != s {
					t.Fatalf("%s: message %d: got %q, %v; want %q", w.name, i, got, err, s)
				}
			}
			if _, err := sr.ReadSegment(); err != ErrEndOfMessage {
				t.Fatalf("%s: message %d: end = %v", w.name, i, err)
			}
		}
		if _, err := sr.ReadSegment(); err != io.EOF {
			t.Fatalf("%s: after the messages: %v", w.name, err)
		}
	}
}
