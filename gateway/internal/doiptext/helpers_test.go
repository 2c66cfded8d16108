package doiptext

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"
)

// vector is one golden file of testdata/vectors.
type vector struct {
	name string // file name without .bin
	data []byte
}

// loadVectors reads every testdata/vectors/*.bin, a copy of the doipy-*, std-*,
// cnri-style-* and lenient-* vectors of the DOIP v2.0 contract.
func loadVectors(tb testing.TB) []vector {
	tb.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "vectors", "*.bin"))
	if err != nil {
		tb.Fatal(err)
	}
	if len(paths) == 0 {
		tb.Fatal("no vectors in testdata/vectors")
	}
	var vs []vector
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			tb.Fatal(err)
		}
		vs = append(vs, vector{name: strings.TrimSuffix(filepath.Base(p), ".bin"), data: data})
	}
	return vs
}

func readVector(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "vectors", name+".bin"))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

// feed is one way of handing bytes to a reader: every reader test runs through all of them.
type feed struct {
	name string
	wrap func(io.Reader) io.Reader
	size int // bufio size: 16 makes long lines cross the buffer's end
}

var feeds = []feed{
	{"plain", func(r io.Reader) io.Reader { return r }, 4096},
	{"onebyte", iotest.OneByteReader, 4096},
	{"half", iotest.HalfReader, 4096},
	{"smallbuf", iotest.HalfReader, 16},
}

// forFeeds runs f once per feed as a subtest, with a bufio.Reader over data.
func forFeeds(t *testing.T, data []byte, f func(t *testing.T, br *bufio.Reader)) {
	t.Helper()
	for _, fd := range feeds {
		t.Run(fd.name, func(t *testing.T) {
			f(t, bufio.NewReaderSize(fd.wrap(bytes.NewReader(data)), fd.size))
		})
	}
}

// dump reads messages until an error and renders each segment as "json TEXT" or
// "bytes DATA". It returns the error that stopped it (io.EOF at a clean end).
func dump(rd *Reader) ([][]string, error) {
	var msgs [][]string
	var cur []string
	for {
		seg, err := rd.NextSegment()
		if err != nil {
			if cur != nil {
				msgs = append(msgs, cur)
			}
			return msgs, err
		}
		switch seg.Kind {
		case SegmentJSON:
			cur = append(cur, "json "+string(seg.JSON))
		case SegmentBytes:
			data, err := io.ReadAll(seg.Bytes)
			if err != nil {
				if cur != nil {
					msgs = append(msgs, cur)
				}
				return msgs, err
			}
			cur = append(cur, "bytes "+string(data))
		case SegmentEnd:
			if cur == nil {
				cur = []string{}
			}
			msgs = append(msgs, cur)
			cur = nil
		}
	}
}

// documented reports whether err is one the Reader promises: io.EOF,
// io.ErrUnexpectedEOF, ErrTooLarge or a *ProtocolError.
func documented(err error) bool {
	var pe *ProtocolError
	return err == io.EOF || err == io.ErrUnexpectedEOF || errors.Is(err, ErrTooLarge) || errors.As(err, &pe)
}

// errClass names an error for table tests: "eof", "unexpected-eof", "too-large",
// "protocol:<field>", or the error text.
func errClass(err error) string {
	var pe *ProtocolError
	switch {
	case err == nil:
		return ""
	case err == io.EOF:
		return "eof"
	case err == io.ErrUnexpectedEOF:
		return "unexpected-eof"
	case errors.Is(err, ErrTooLarge):
		return "too-large"
	case errors.As(err, &pe):
		return "protocol:" + pe.Field
	}
	return err.Error()
}
