package doiptext

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// Ordered values for the golden writer tests: keys in the order of the vectors.
type (
	tStatus struct {
		RequestID  string `json:"requestId,omitempty"`
		Status     string `json:"status"`
		Attributes any    `json:"attributes,omitempty"`
		Output     any    `json:"output,omitempty"`
	}
	tServiceInfo struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		Attributes struct {
			IPAddress       string `json:"ipAddress"`
			Port            int    `json:"port"`
			Protocol        string `json:"protocol"`
			ProtocolVersion string `json:"protocolVersion"`
		} `json:"attributes"`
	}
	tMessage struct {
		Message string `json:"message"`
	}
	tFile struct {
		Filename  string `json:"filename"`
		MediaType string `json:"mediaType"`
	}
	tID struct {
		ID string `json:"id"`
	}
)

func tHello(port int) tServiceInfo {
	var si tServiceInfo
	si.ID, si.Type = "test/service", "0.TYPE/DOIPServiceInfo"
	si.Attributes.IPAddress, si.Attributes.Port = "127.0.0.1", port
	si.Attributes.Protocol, si.Attributes.ProtocolVersion = "TCP", "2.0"
	return si
}

// writeElementAnswer writes the answer to an element retrieval.
func writeElementAnswer(w *Writer, requestID string) error {
	if err := w.WriteJSON(tStatus{RequestID: requestID, Status: StatusSuccess, Attributes: tFile{"helloworld.txt", "text/plain"}}); err != nil {
		return err
	}
	if _, err := w.WriteBytesFrom(strings.NewReader(elementText), int64(len(elementText))); err != nil {
		return err
	}
	return w.End()
}

// goldenWrite writes each response vector from its values.
var goldenWrite = map[string]func(w *Writer) error{
	"std-response-hello": func(w *Writer) error {
		return firstErr(w.WriteJSON(tStatus{Status: StatusSuccess, Output: tHello(18443)}), w.End())
	},
	"std-response-list-ops": func(w *Writer) error {
		return firstErr(w.WriteJSON(tStatus{Status: StatusSuccess, Output: []string{OpIDHello, OpIDListOperations, OpIDRetrieve}}), w.End())
	},
	"std-response-retrieve-metadata": func(w *Writer) error {
		return firstErr(w.WriteJSON(tStatus{Status: StatusSuccess, Output: json.RawMessage(metadataDO)}), w.End())
	},
	"std-response-retrieve-element": func(w *Writer) error { return writeElementAnswer(w, "") },
	"std-response-error-not-found": func(w *Writer) error {
		return firstErr(w.WriteJSON(tStatus{Status: StatusNotFound, Attributes: tMessage{"No such object test/missing"}}), w.End())
	},
	"std-response-create": func(w *Writer) error {
		return firstErr(w.WriteJSON(tStatus{Status: StatusSuccess, Output: json.RawMessage(`{"id":"test/new1","type":"Document","attributes":{"content":{"id":"test/new1"}},"elements":[]}`)}), w.End())
	},
	"cnri-style-response-hello": func(w *Writer) error {
		return firstErr(w.WriteJSON(tStatus{RequestID: helloID, Status: StatusSuccess, Output: tHello(9000)}), w.End())
	},
	"cnri-style-response-error-bad-request": func(w *Writer) error {
		return firstErr(w.WriteJSON(tStatus{RequestID: helloID, Status: StatusInvalid, Attributes: tMessage{"Request initial segment must be a JSON object"}}), w.End())
	},
	"cnri-style-response-retrieve-include-element-data": func(w *Writer) error {
		// The DO as pretty JSON: WriteJSON compacts it.
		var pretty bytes.Buffer
		if err := json.Indent(&pretty, []byte(metadataDO), "", "  "); err != nil {
			return err
		}
		return firstErr(
			w.WriteJSON(tStatus{RequestID: retrieveID, Status: StatusSuccess}),
			w.WriteJSON(pretty.Bytes()),
			w.WriteJSON(tID{"file"}),
			w.BeginBytes(), w.WriteChunk([]byte(elementText)), w.EndBytes(),
			w.End())
	},
	"cnri-style-two-responses-one-connection": func(w *Writer) error {
		return firstErr(
			w.WriteJSON(tStatus{RequestID: helloID, Status: StatusSuccess, Output: tHello(9000)}), w.End(),
			writeElementAnswer(w, retrieveID))
	},
}

func firstErr(errs ...error) error {
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}

// The writer reproduces every response vector byte for byte from its values.
func TestGoldenWrite(t *testing.T) {
	for _, v := range loadVectors(t) {
		if !strings.HasPrefix(v.name, "std-response-") && !strings.HasPrefix(v.name, "cnri-style-response-") && !strings.HasPrefix(v.name, "cnri-style-two-responses-") {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			write, ok := goldenWrite[v.name]
			if !ok {
				t.Fatalf("no writer for %s", v.name)
			}
			var buf bytes.Buffer
			if err := write(NewWriter(&buf)); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), v.data) {
				t.Fatalf("wrote\n%q\nwant\n%q", buf.Bytes(), v.data)
			}
		})
	}
}

// encodeCanonical writes messages of segments read from src in canonical form.
func encodeCanonical(tb testing.TB, src []byte) ([]byte, error) {
	tb.Helper()
	rd := NewReader(bufio.NewReader(bytes.NewReader(src)))
	var out bytes.Buffer
	w := NewWriter(&out)
	for {
		segs, err := rd.ReadMessage()
		if err == io.EOF {
			return out.Bytes(), nil
		}
		if err != nil {
			return out.Bytes(), err
		}
		for _, s := range segs {
			switch s.Kind {
			case SegmentJSON:
				err = w.WriteJSON(s.JSON)
			case SegmentBytes:
				_, err = w.WriteBytesFrom(bytes.NewReader(s.Data), int64(len(s.Data)))
			}
			if err != nil {
				tb.Fatalf("encoding a decoded segment: %v", err)
			}
		}
		if err := w.End(); err != nil {
			tb.Fatal(err)
		}
	}
}

// Decoding a canonical vector and writing it again gives the same bytes; the others
// (doipy's spaced JSON, the lenient one) become canonical and then stay so.
func TestGoldenReencode(t *testing.T) {
	for _, v := range loadVectors(t) {
		if v.name == "doipy-tls-clienthello" {
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			out, err := encodeCanonical(t, v.data)
			if err != nil {
				t.Fatal(err)
			}
			canonical := !strings.HasPrefix(v.name, "doipy-") && !strings.HasPrefix(v.name, "lenient-")
			if canonical && !bytes.Equal(out, v.data) {
				t.Fatalf("re-encoded\n%q\nwant\n%q", out, v.data)
			}
			again, err := encodeCanonical(t, out)
			if err != nil || !bytes.Equal(again, out) {
				t.Fatalf("canonical form not stable: %v\n%q\n%q", err, again, out)
			}
		})
	}
}

func TestWriterSegments(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *Writer) error
		want  string
	}{
		{"empty bytes segment", func(w *Writer) error { return firstErr(w.BeginBytes(), w.EndBytes(), w.End()) }, "@\n#\n#\n"},
		{"empty chunk writes nothing", func(w *Writer) error {
			return firstErr(w.BeginBytes(), w.WriteChunk(nil), w.WriteChunk([]byte{}), w.EndBytes())
		}, "@\n#\n"},
		{"two chunks", func(w *Writer) error {
			return firstErr(w.BeginBytes(), w.WriteChunk([]byte("Hello")), w.WriteChunk([]byte(" World\n")), w.EndBytes())
		}, "@\n5\nHello\n7\n World\n\n#\n"},
		{"raw JSON compacted", func(w *Writer) error { return w.WriteJSON(json.RawMessage("{\r\n  \"a\" : [ 1 ,\n 2 ]\n}")) }, "{\"a\":[1,2]}\n#\n"},
		{"newline in a string escaped", func(w *Writer) error { return w.WriteJSON(map[string]string{"m": "a\nb"}) }, "{\"m\":\"a\\nb\"}\n#\n"},
		{"HTML characters kept", func(w *Writer) error { return w.WriteJSON(map[string]string{"m": "<a&b>"}) }, "{\"m\":\"<a&b>\"}\n#\n"},
		{"HTML characters kept in raw JSON", func(w *Writer) error { return w.WriteJSON([]byte(`{"m":"<a&b>"}`)) }, "{\"m\":\"<a&b>\"}\n#\n"},
		{"JSON scalar", func(w *Writer) error { return w.WriteJSON(12) }, "12\n#\n"},
		{"message of one empty segment", func(w *Writer) error { return w.End() }, "#\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tc.write(NewWriter(&buf)); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tc.want {
				t.Fatalf("wrote %q, want %q", buf.String(), tc.want)
			}
		})
	}
}

func TestWriterMisuse(t *testing.T) {
	tests := []struct {
		name  string
		write func(w *Writer) error
	}{
		{"invalid raw JSON", func(w *Writer) error { return w.WriteJSON(json.RawMessage(`{"a":`)) }},
		{"empty raw JSON", func(w *Writer) error { return w.WriteJSON(json.RawMessage(nil)) }},
		{"unencodable value", func(w *Writer) error { return w.WriteJSON(func() {}) }},
		{"chunk outside bytes", func(w *Writer) error { return w.WriteChunk([]byte("x")) }},
		{"EndBytes outside bytes", func(w *Writer) error { return w.EndBytes() }},
		{"JSON inside bytes", func(w *Writer) error { return firstErr(w.BeginBytes(), w.WriteJSON(1)) }},
		{"End inside bytes", func(w *Writer) error { return firstErr(w.BeginBytes(), w.End()) }},
		{"BeginBytes twice", func(w *Writer) error { return firstErr(w.BeginBytes(), w.BeginBytes()) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.write(NewWriter(io.Discard))
			if err == nil || !strings.HasPrefix(err.Error(), "doiptext: ") {
				t.Fatalf("got %v, want an error naming the package", err)
			}
		})
	}
}

// chunked renders data as the chunks WriteBytesFrom writes.
func chunked(data []byte) string {
	var b strings.Builder
	b.WriteString("@\n")
	for len(data) > 0 {
		c := data[:min(len(data), WriteChunkSize)]
		b.WriteString(strconv.Itoa(len(c)) + "\n" + string(c) + "\n")
		data = data[len(c):]
	}
	b.WriteString("#\n")
	return b.String()
}

// onlyReader hides a reader's WriteTo.
type onlyReader struct{ io.Reader }

func TestWriteBytesFrom(t *testing.T) {
	sources := map[string]func([]byte) io.Reader{
		"WriterTo": func(b []byte) io.Reader { return bytes.NewReader(b) },
		"Reader":   func(b []byte) io.Reader { return onlyReader{bytes.NewReader(b)} },
		"onebyte":  func(b []byte) io.Reader { return iotest.OneByteReader(bytes.NewReader(b)) },
		"half":     func(b []byte) io.Reader { return iotest.HalfReader(bytes.NewReader(b)) },
	}
	for _, n := range []int{0, 1, 12, WriteChunkSize - 1, WriteChunkSize, WriteChunkSize + 1, 3*WriteChunkSize - 1} {
		data := bytes.Repeat([]byte("0123456789abcdef\n"), n/17+1)[:n]
		for name, src := range sources {
			t.Run(name+"/"+strconv.Itoa(n), func(t *testing.T) {
				for _, size := range []int64{int64(n), -1} {
					var buf bytes.Buffer
					got, err := NewWriter(&buf).WriteBytesFrom(src(data), size)
					if err != nil || got != int64(n) {
						t.Fatalf("size %d: wrote %d, %v; want %d", size, got, err, n)
					}
					if buf.String() != chunked(data) {
						t.Fatalf("size %d: wrong bytes (%d of them, want %d)", size, buf.Len(), len(chunked(data)))
					}
				}
			})
		}
	}
}

func TestWriteBytesFromWrongSize(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		r    io.Reader
		size int64
		want string
	}{
		{"short, WriterTo", strings.NewReader("Hello"), 6, "ended after 5 of 6 bytes"},
		{"short, Reader", onlyReader{strings.NewReader("Hello")}, 6, "ended after 5 of 6 bytes"},
		{"long, WriterTo", strings.NewReader("Hello!"), 5, "more than the 5 bytes"},
		{"long, Reader", onlyReader{strings.NewReader("Hello!")}, 5, "more than the 5 bytes"},
		{"long by a chunk, Reader", onlyReader{bytes.NewReader(make([]byte, 2*WriteChunkSize))}, WriteChunkSize, "more than the 262144 bytes"},
		{"nil body with a size", nil, 1, "ended after 0 of 1 bytes"},
		{"body error", io.MultiReader(strings.NewReader("He"), iotest.ErrReader(boom)), 5, "boom"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewWriter(io.Discard).WriteBytesFrom(tc.r, tc.size)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
		})
	}
	var buf bytes.Buffer
	if _, err := NewWriter(&buf).WriteBytesFrom(nil, 0); err != nil || buf.String() != "@\n#\n" {
		t.Fatalf("nil body of size 0: %q, %v", buf.String(), err)
	}
}

// Writes of the underlying writer that fail come back from every method.
func TestWriterPassesWriteErrors(t *testing.T) {
	boom := errors.New("boom")
	for i, write := range []func(w *Writer) error{
		func(w *Writer) error { return w.WriteJSON(1) },
		func(w *Writer) error { return w.BeginBytes() },
		func(w *Writer) error { return w.End() },
		func(w *Writer) error { _, err := w.WriteBytesFrom(strings.NewReader("x"), 1); return err },
	} {
		if err := write(NewWriter(failWriter{boom})); !errors.Is(err, boom) {
			t.Errorf("%d: got %v, want %v", i, err, boom)
		}
	}
}

type failWriter struct{ err error }

func (f failWriter) Write([]byte) (int, error) { return 0, f.err }
