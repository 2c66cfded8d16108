package segment

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
)

// wrappers are the ways every reader test feeds its input: whole, one byte per Read, half
// of each Read, and with the last bytes coming with io.EOF.
var wrappers = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"plain", func(r io.Reader) io.Reader { return r }},
	{"OneByteReader", iotest.OneByteReader},
	{"HalfReader", iotest.HalfReader},
	{"DataErrReader", iotest.DataErrReader},
}

// step is what one ReadSegment call should return: the segment's bytes, or an error that
// errors.Is matches (and, for errors, a substring of its message).
type step struct {
	seg string
	err error
	msg string
}

func TestReaderReadSegment(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		maxSeg, maxMsg uint32
		in             string
		want           []step
	}{
		{name: "empty stream", in: "",
			want: []step{{err: io.EOF}, {err: io.EOF}}},
		{name: "empty message", in: "\x00\x00\x00\x00",
			want: []step{{err: ErrEndOfMessage}, {err: io.EOF}}},
		{name: "one segment", in: "\x00\x00\x00\x03abc\x00\x00\x00\x00",
			want: []step{{seg: "abc"}, {err: ErrEndOfMessage}, {err: io.EOF}}},
		{name: "two segments", in: "\x00\x00\x00\x07{\"a\":1}\x00\x00\x00\x03\x00\x01\x02\x00\x00\x00\x00",
			want: []step{{seg: `{"a":1}`}, {seg: "\x00\x01\x02"}, {err: ErrEndOfMessage}, {err: io.EOF}}},
		{name: "two messages", in: "\x00\x00\x00\x01a\x00\x00\x00\x00\x00\x00\x00\x02bc\x00\x00\x00\x00",
			want: []step{{seg: "a"}, {err: ErrEndOfMessage}, {seg: "bc"}, {err: ErrEndOfMessage}, {err: io.EOF}}},
		{name: "truncated first length", in: "\x00\x00\x00",
			want: []step{{err: io.ErrUnexpectedEOF, msg: "segment: reading the length of segment 1: unexpected EOF"}}},
		{name: "truncated second length", in: "\x00\x00\x00\x01a\x00\x00",
			want: []step{{seg: "a"}, {err: io.ErrUnexpectedEOF, msg: "length of segment 2"}}},
		{name: "no end of message", in: "\x00\x00\x00\x01a",
			want: []step{{seg: "a"}, {err: io.ErrUnexpectedEOF, msg: "length of segment 2"}}},
		{name: "truncated body", in: "\x00\x00\x00\x05ab",
			want: []step{{err: io.ErrUnexpectedEOF, msg: "segment: reading segment 1: got 2 of 5 bytes: unexpected EOF"}}},
		{name: "length only", in: "\x00\x00\x00\x05",
			want: []step{{err: io.ErrUnexpectedEOF, msg: "got 0 of 5 bytes"}}},
		{name: "segment at MaxSegment", maxSeg: 4, in: "\x00\x00\x00\x04abcd\x00\x00\x00\x00",
			want: []step{{seg: "abcd"}, {err: ErrEndOfMessage}}},
		{name: "segment at MaxSegment+1", maxSeg: 4, in: "\x00\x00\x00\x05abcde\x00\x00\x00\x00",
			want: []step{{err: ErrTooLarge, msg: "segment: segment 5 bytes exceeds limit 4"}, {err: ErrTooLarge}}},
		{name: "message at MaxMessage", maxSeg: 4, maxMsg: 7, in: "\x00\x00\x00\x03abc\x00\x00\x00\x04defg\x00\x00\x00\x00",
			want: []step{{seg: "abc"}, {seg: "defg"}, {err: ErrEndOfMessage}}},
		{name: "message at MaxMessage+1", maxSeg: 4, maxMsg: 6, in: "\x00\x00\x00\x03abc\x00\x00\x00\x04defg\x00\x00\x00\x00",
			want: []step{{seg: "abc"}, {err: ErrTooLarge, msg: "segment: message 7 bytes exceeds limit 6"}}},
		{name: "MaxMessage counts per message", maxSeg: 4, maxMsg: 4, in: "\x00\x00\x00\x04abcd\x00\x00\x00\x00\x00\x00\x00\x04efgh\x00\x00\x00\x00",
			want: []step{{seg: "abcd"}, {err: ErrEndOfMessage}, {seg: "efgh"}, {err: ErrEndOfMessage}, {err: io.EOF}}},
		{name: "4 GiB claim", in: "\xff\xff\xff\xff",
			want: []step{{err: ErrTooLarge, msg: "segment: segment 4294967295 bytes exceeds limit 1048576"}}},
		{name: "default MaxSegment+1", in: "\x00\x10\x00\x01",
			want: []step{{err: ErrTooLarge, msg: "segment 1048577 bytes exceeds limit 1048576"}}},
	} {
		for _, w := range wrappers {
			t.Run(tc.name+"/"+w.name, func(t *testing.T) {
				t.Parallel()
				sr := NewReader(w.wrap(strings.NewReader(tc.in)))
				sr.MaxSegment, sr.MaxMessage = tc.maxSeg, tc.maxMsg
				for i, want := range tc.want {
					got, err := sr.ReadSegment()
					if want.err == nil {
						if err != nil || string(got) != want.seg {
							t.Fatalf("read %d = %q, %v; want %q", i, got, err, want.seg)
						}
						continue
					}
					if !errors.Is(err, want.err) || got != nil {
						t.Fatalf("read %d = %q, %v; want nil, %v", i, got, err, want.err)
					}
					if !strings.Contains(err.Error(), want.msg) {
						t.Fatalf("read %d: error %q does not say %q", i, err, want.msg)
					}
				}
			})
		}
	}
}

// TestReaderEOFIsClean checks that io.EOF comes back as itself, not wrapped, so that callers
// comparing with == see it, and that ErrEndOfMessage is not io.EOF.
func TestReaderEOFIsClean(t *testing.T) {
	t.Parallel()
	sr := NewReader(strings.NewReader("\x00\x00\x00\x00"))
	if _, err := sr.ReadSegment(); err != ErrEndOfMessage || errors.Is(err, io.EOF) {
		t.Fatalf("end of message = %v", err)
	}
	if _, err := sr.ReadSegment(); err != io.EOF {
		t.Fatalf("end of stream = %v, want io.EOF itself", err)
	}
}

// strictReader serves data and fails the test if it is read past the end: a reader must
// reject a length over its cap before reading any of the segment.
type strictReader struct {
	t    *testing.T
	data []byte
}

func (s *strictReader) Read(p []byte) (int, error) {
	if len(s.data) == 0 {
		s.t.Error("read past the length prefix")
		return 0, io.ErrNoProgress
	}
	n := copy(p, s.data)
	s.data = s.data[n:]
	return n, nil
}

func TestReaderRejectsBeforeReading(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		maxSeg, maxMsg uint32
		in             string
		next           bool // use NextSegment, which does not apply MaxSegment
	}{
		{name: "4 GiB claim", in: "\xff\xff\xff\xff"},
		{name: "4 GiB claim, streamed", in: "\xff\xff\xff\xff", next: true},
		{name: "over MaxSegment", maxSeg: 8, in: "\x00\x00\x00\x09"},
		{name: "over MaxMessage", maxMsg: 8, in: "\x00\x00\x00\x09", next: true},
		{name: "over MaxMessage in the second segment", maxMsg: 8, in: "\x00\x00\x00\x04abcd\x00\x00\x00\x05"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			sr := NewReader(&strictReader{t: t, data: []byte(tc.in)})
			sr.MaxSegment, sr.MaxMessage = tc.maxSeg, tc.maxMsg
			var err error
			for err == nil {
				if tc.next {
					_, err = sr.NextSegment()
				} else {
					_, err = sr.ReadSegment()
				}
			}
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("err = %v, want ErrTooLarge", err)
			}
		})
	}
}

// TestReaderAllocation checks that a declared length costs nothing above the cap, and only a
// first chunk below it until the bytes arrive. It measures the heap, so it is not parallel.
func TestReaderAllocation(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   string
		max  uint64 // bytes allocated per read, at most
	}{
		{"4 GiB claim", "\xff\xff\xff\xff", 4 << 10},
		{"claim at the 1 MiB cap, 3 bytes sent", "\x00\x10\x00\x00abc", firstChunk + 8<<10},
	} {
		const runs = 20
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		for range runs {
			if _, err := NewReader(strings.NewReader(tc.in)).ReadSegment(); err == nil {
				t.Fatalf("%s: no error", tc.name)
			}
		}
		runtime.ReadMemStats(&after)
		per := (after.TotalAlloc - before.TotalAlloc) / runs
		t.Logf("%s: %d bytes allocated per read", tc.name, per)
		if per > tc.max {
			t.Errorf("%s: %d bytes allocated per read, want at most %d", tc.name, per, tc.max)
		}
	}
}

// TestReaderGrowsToLargeSegment reads a segment many times the first chunk, through short
// reads, to check the growing buffer.
func TestReaderGrowsToLargeSegment(t *testing.T) {
	t.Parallel()
	const n = 5*firstChunk + 123
	body := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
	in := append(binary.BigEndian.AppendUint32(nil, n), body...)
	in = append(in, 0, 0, 0, 0)
	for _, w := range wrappers {
		sr := NewReader(w.wrap(bytes.NewReader(in)))
		got, err := sr.ReadSegment()
		if err != nil || !bytes.Equal(got, body) {
			t.Fatalf("%s: got %d bytes, %v; want %d bytes", w.name, len(got), err, n)
		}
		if _, err := sr.ReadSegment(); err != ErrEndOfMessage {
			t.Fatalf("%s: after the segment: %v", w.name, err)
		}
	}
}

func TestReaderStreaming(t *testing.T) {
	t.Parallel()
	// A raw segment bigger than MaxSegment, read partly; the next call drops the rest.
	in := "\x00\x00\x00\x11{\"operationId\":1}\x00\x00\x00\x0a0123456789\x00\x00\x00\x03xyz\x00\x00\x00\x00\x00\x00\x00\x01q\x00\x00\x00\x00"
	for _, w := range wrappers {
		t.Run(w.name, func(t *testing.T) {
			t.Parallel()
			sr := NewReader(w.wrap(strings.NewReader(in)))
			sr.MaxSegment, sr.MaxMessage = 4, 64
			if n, err := sr.NextSegment(); n != 17 || err != nil {
				t.Fatalf("first NextSegment = %d, %v", n, err)
			}
			if got, err := io.ReadAll(sr.Content()); string(got) != `{"operationId":1}` || err != nil {
				t.Fatalf("content = %q, %v", got, err)
			}
			if n, err := sr.NextSegment(); n != 10 || err != nil {
				t.Fatalf("second NextSegment = %d, %v", n, err)
			}
			buf := make([]byte, 3)
			if _, err := io.ReadFull(sr.Content(), buf); string(buf) != "012" || err != nil {
				t.Fatalf("partial content = %q, %v", buf, err)
			}
			if got, err := sr.ReadSegment(); string(got) != "xyz" || err != nil {
				t.Fatalf("segment after a partly read one = %q, %v", got, err)
			}
			if n, err := sr.NextSegment(); n != 0 || err != ErrEndOfMessage {
				t.Fatalf("end = %d, %v", n, err)
			}
			if err := sr.SkipMessage(); err != nil {
				t.Fatalf("SkipMessage of a whole message: %v", err)
			}
			if err := sr.SkipMessage(); err != io.EOF {
				t.Fatalf("SkipMessage at the end of the stream = %v, want io.EOF", err)
			}
		})
	}
}

func TestReaderStreamingErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		want error
		msg  string
	}{
		{"content cut short", "\x00\x00\x00\x0aabc", io.ErrUnexpectedEOF, "segment: reading segment 1: 7 bytes missing: unexpected EOF"},
		{"no end", "\x00\x00\x00\x03abc", io.ErrUnexpectedEOF, "length of segment 2"},
		{"over MaxMessage", "\x00\x00\x00\x03abc\x00\x00\x00\x0e", ErrTooLarge, "segment: message 17 bytes exceeds limit 16"},
	} {
		for _, w := range wrappers {
			sr := NewReader(w.wrap(strings.NewReader(tc.in)))
			sr.MaxMessage = 16
			err := sr.SkipMessage()
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("%s/%s: SkipMessage = %v, want %v saying %q", tc.name, w.name, err, tc.want, tc.msg)
			}
			if _, again := sr.NextSegment(); again != err {
				t.Errorf("%s/%s: error not sticky: %v then %v", tc.name, w.name, err, again)
			}
		}
	}
}
