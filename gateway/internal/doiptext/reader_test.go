package doiptext

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
)

const (
	elementText = "Hello World\n"
	createElem  = "e6dbd8bc-fa3e-49bc-93c9-9d63e587374b"
)

// goldenDecode is what every vector decodes to: its messages, each a list of segments.
var goldenDecode = map[string][][]string{
	"doipy-request-hello":             {{`json {"targetId": "test/service", "operationId": "0.DOIP/Op.Hello"}`}},
	"doipy-request-list-ops":          {{`json {"targetId": "test/service", "operationId": "0.DOIP/Op.ListOperations"}`}},
	"doipy-request-retrieve-metadata": {{`json {"targetId": "test/abc", "operationId": "0.DOIP/Op.Retrieve"}`}},
	"doipy-request-retrieve-element":  {{`json {"targetId": "test/abc", "operationId": "0.DOIP/Op.Retrieve", "attributes": {"element": "file"}}`}},
	"doipy-request-retrieve-missing":  {{`json {"targetId": "test/missing", "operationId": "0.DOIP/Op.Retrieve"}`}},
	"doipy-request-create-with-bytes": {{
		`json {"targetId": "test/service", "operationId": "0.DOIP/Op.Create", "authentication": {"username": "admin", "password": "secret"}}`,
		`json {"type": "Document", "attributes": {"content": {"id": "", "name": "Hello World"}}, "elements": [{"id": "` + createElem + `", "type": "text/plain", "attributes": {"filename": "hello.txt"}}]}`,
		`json {"id": "` + createElem + `"}`,
		"bytes " + elementText,
	}},
	"std-response-create":          {{`json {"status":"0.DOIP/Status.001","output":{"id":"test/new1","type":"Document","attributes":{"content":{"id":"test/new1"}},"elements":[]}}`}},
	"std-response-error-not-found": {{`json {"status":"0.DOIP/Status.104","attributes":{"message":"No such object test/missing"}}`}},
	"std-response-hello":           {{`json {"status":"0.DOIP/Status.001","output":{"id":"test/service","type":"0.TYPE/DOIPServiceInfo","attributes":{"ipAddress":"127.0.0.1","port":18443,"protocol":"TCP","protocolVersion":"2.0"}}}`}},
	"std-response-list-ops":        {{`json {"status":"0.DOIP/Status.001","output":["0.DOIP/Op.Hello","0.DOIP/Op.ListOperations","0.DOIP/Op.Retrieve"]}`}},
	"std-response-retrieve-element": {{
		`json {"status":"0.DOIP/Status.001","attributes":{"filename":"helloworld.txt","mediaType":"text/plain"}}`,
		"bytes " + elementText,
	}},
	"std-response-retrieve-metadata":                   {{`json {"status":"0.DOIP/Status.001","output":` + metadataDO + `}`}},
	"cnri-style-request-hello":                         {{`json {"requestId":"` + helloID + `","targetId":"test/service","operationId":"0.DOIP/Op.Hello"}`}},
	"cnri-style-request-retrieve-include-element-data": {{`json {"requestId":"` + retrieveID + `","targetId":"test/abc","operationId":"0.DOIP/Op.Retrieve","attributes":{"includeElementData":"true"}}`}},
	"cnri-style-response-error-bad-request":            {{`json {"requestId":"` + helloID + `","status":"0.DOIP/Status.101","attributes":{"message":"Request initial segment must be a JSON object"}}`}},
	"cnri-style-response-hello":                        {{`json {"requestId":"` + helloID + `","status":"0.DOIP/Status.001","output":{"id":"test/service","type":"0.TYPE/DOIPServiceInfo","attributes":{"ipAddress":"127.0.0.1","port":9000,"protocol":"TCP","protocolVersion":"2.0"}}}`}},
	"cnri-style-response-retrieve-include-element-data": {{
		`json {"requestId":"` + retrieveID + `","status":"0.DOIP/Status.001"}`,
		"json " + metadataDO,
		`json {"id":"file"}`,
		"bytes " + elementText,
	}},
	"cnri-style-two-requests-one-connection": {
		{`json {"requestId":"` + helloID + `","targetId":"test/service","operationId":"0.DOIP/Op.Hello"}`},
		{`json {"requestId":"` + retrieveID + `","targetId":"test/abc","operationId":"0.DOIP/Op.Retrieve","attributes":{"element":"file"}}`},
	},
	"cnri-style-two-responses-one-connection": {
		{`json {"requestId":"` + helloID + `","status":"0.DOIP/Status.001","output":{"id":"test/service","type":"0.TYPE/DOIPServiceInfo","attributes":{"ipAddress":"127.0.0.1","port":9000,"protocol":"TCP","protocolVersion":"2.0"}}}`},
		{
			`json {"requestId":"` + retrieveID + `","status":"0.DOIP/Status.001","attributes":{"filename":"helloworld.txt","mediaType":"text/plain"}}`,
			"bytes " + elementText,
		},
	},
	"lenient-response-element-multichunk-crlf": {{
		"json {\r\n  \"status\": \"0.DOIP/Status.001\",\r\n  \"attributes\": {\"filename\": \"a/b/x.bin\"}\r\n}",
		"bytes " + elementText,
	}},
}

const (
	helloID    = "6f1c2e4a-3b5d-4e7f-9a1b-2c3d4e5f6a7b"
	retrieveID = "0d9e8f7a-6b5c-4d3e-8f2a-1b0c9d8e7f6a"
	metadataDO = `{"id":"test/abc","type":"Document","attributes":{"content":{"id":"test/abc","name":"Hello World"}},"elements":[{"id":"file","type":"text/plain","length":12,"attributes":{"filename":"helloworld.txt"}}]}`
)

func TestGoldenDecode(t *testing.T) {
	seen := map[string]bool{}
	for _, v := range loadVectors(t) {
		if v.name == "doipy-tls-clienthello" {
			continue // TestTLSClientHelloRejected
		}
		want, ok := goldenDecode[v.name]
		if !ok {
			t.Errorf("vector %s has no expected decoding", v.name)
			continue
		}
		seen[v.name] = true
		t.Run(v.name, func(t *testing.T) {
			forFeeds(t, v.data, func(t *testing.T, br *bufio.Reader) {
				got, err := dump(NewReader(br))
				if err != io.EOF {
					t.Fatalf("stopped with %v, want io.EOF after the last message", err)
				}
				if !reflect.DeepEqual(got, want) {
					t.Fatalf("decoded\n%q\nwant\n%q", got, want)
				}
			})
		})
	}
	for name := range goldenDecode {
		if !seen[name] {
			t.Errorf("expected decoding of %s, but there is no such vector", name)
		}
	}
}

// The lenient vector (CRLF, indented JSON, two chunks) carries the same element bytes as
// the canonical one.
func TestLenientSameElementAsCanonical(t *testing.T) {
	element := func(name string) []byte {
		segs, err := NewReader(bufio.NewReader(bytes.NewReader(readVector(t, name)))).ReadMessage()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(segs) != 2 || segs[1].Kind != SegmentBytes {
			t.Fatalf("%s: segments %v, want JSON and bytes", name, segs)
		}
		return segs[1].Data
	}
	lenient, canonical := element("lenient-response-element-multichunk-crlf"), element("std-response-retrieve-element")
	if !bytes.Equal(lenient, canonical) {
		t.Fatalf("lenient element %q, canonical %q", lenient, canonical)
	}
}

// What doipy sends to a plaintext port must fail as a framing error, not hang or panic.
func TestTLSClientHelloRejected(t *testing.T) {
	forFeeds(t, readVector(t, "doipy-tls-clienthello"), func(t *testing.T, br *bufio.Reader) {
		_, err := dump(NewReader(br))
		if err == io.EOF || !documented(err) {
			t.Fatalf("got %v, want a framing error", err)
		}
	})
}

func TestReadAccepts(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want [][]string
	}{
		{"empty stream", "", nil},
		{"empty message", "#\n", [][]string{{}}},
		{"blank lines then EOF", "\n\r\n \t\n", nil},
		{"spaces without LF then EOF", "  ", nil},
		{"one JSON", "{}\n#\n#\n", [][]string{{"json {}"}}},
		{"JSON scalar", "12\n#\n#\n", [][]string{{"json 12"}}},
		{"CRLF", "{\"a\":1}\r\n#\r\n#\r\n", [][]string{{`json {"a":1}`}}},
		{"spaces and tabs before LF", "{}\n# \t\r\n@ \r\n3\t \nabc\n# \n#\t\n", [][]string{{"json {}", "bytes abc"}}},
		{"pretty JSON", "{\n  \"a\": [\n    1,\n    2\n  ]\n}\n#\n#\n", [][]string{{"json {\n  \"a\": [\n    1,\n    2\n  ]\n}"}}},
		{"JSON with blank line inside", "{\n\n\"a\":1}\n#\n#\n", [][]string{{"json {\n\n\"a\":1}"}}},
		{"JSON ended after a blank line", "{}\n\n#\n#\n", [][]string{{"json {}"}}},
		{"JSON string with # after escaped newline", "\"a\\n#b\"\n#\n#\n", [][]string{{`json "a\n#b"`}}},
		{"indented JSON", "  {\"a\":1}\n#\n#\n", [][]string{{`json {"a":1}`}}},
		{"blank lines between segments", "\n{}\n#\n\r\n\n@\n1\nx\n#\n \n#\n", [][]string{{"json {}", "bytes x"}}},
		{"blank lines before a message", "\n\n{}\n#\n#\n\n", [][]string{{"json {}"}}},
		{"empty bytes segment", "@\n#\n#\n", [][]string{{"bytes "}}},
		{"bytes without JSON", "@\n2\nab\n#\n#\n", [][]string{{"bytes ab"}}},
		{"chunk data with LF and #", "@\n4\n\n#\n\n\n#\n#\n", [][]string{{"bytes \n#\n\n"}}},
		{"chunk data ended by CRLF", "@\n2\nab\r\n1\nc\r\n#\r\n#\r\n", [][]string{{"bytes abc"}}},
		{"two messages", "{}\n#\n#\n[]\n#\n#\n", [][]string{{"json {}"}, {"json []"}}},
		{"messages of no segments", "#\n#\n", [][]string{{}, {}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			forFeeds(t, []byte(tc.in), func(t *testing.T, br *bufio.Reader) {
				got, err := dump(NewReader(br))
				if err != io.EOF {
					t.Fatalf("stopped with %v, want io.EOF", err)
				}
				if !reflect.DeepEqual(got, tc.want) {
					t.Fatalf("decoded\n%q\nwant\n%q", got, tc.want)
				}
			})
		})
	}
}

// Malformed messages, each with the error class it must fail with.
func TestReadRejects(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want string // errClass
	}{
		{"size line with a letter", "@\nx\n", "protocol:chunk size"},
		{"size line with a sign", "@\n+5\nHello\n#\n#\n", "protocol:chunk size"},
		{"size line empty", "@\n\n", "protocol:chunk size"},
		{"size line with a space first", "@\n 5\nHello\n#\n#\n", "protocol:chunk size"},
		{"leading zero", "@\n05\nHello\n#\n#\n", "protocol:chunk size"},
		{"zero chunk", "@\n0\n\n#\n#\n", "protocol:chunk size"},
		{"ten-digit size", "@\n1234567890\n", "protocol:chunk size"},
		{"ten-digit size with leading 1s", "@\n1000000000\n", "protocol:chunk size"},
		{"size followed by garbage", "@\n5x\nHello\n#\n#\n", "protocol:chunk size"},
		{"size then space then digit", "@\n5 1\nHello\n#\n#\n", "protocol:chunk size"},
		{"negative size", "@\n-5\n", "protocol:chunk size"},
		{"missing LF after data", "@\n5\nHelloX\n#\n#\n", "protocol:chunk"},
		{"CR without LF after data", "@\n5\nHello\rX\n#\n#\n", "protocol:chunk"},
		{"data longer than its size", "@\n3\nHello\n#\n#\n", "protocol:chunk"},
		{"garbage after #", "#x\n", "protocol:end-of-message line"},
		{"garbage after @", "@x\n#\n#\n", "protocol:bytes segment line"},
		{"garbage after the JSON's #", "{}\n#x\n#\n", "protocol:JSON segment end line"},
		{"garbage after the bytes' #", "@\n#!\n#\n", "protocol:bytes segment end line"},
		{"invalid JSON", "{\"a\":}\n#\n#\n", "protocol:JSON segment"},
		{"two JSON values", "{} {}\n#\n#\n", "protocol:JSON segment"},
		{"JSON with a raw newline in a string", "\"a\nb\"\n#\n#\n", "protocol:JSON segment"},
		{"indented # is a JSON segment", "  #\n#\n#\n", "protocol:JSON segment"},
		{"indented @ is a JSON segment", " @\n#\n#\n", "protocol:JSON segment"},
		{"bare word", "hello\n#\n#\n", "protocol:JSON segment"},
		{"EOF inside JSON", "{\"a\":1", "unexpected-eof"},
		{"EOF after JSON line", "{\"a\":1}\n", "unexpected-eof"},
		{"EOF in JSON's # line", "{\"a\":1}\n#", "unexpected-eof"},
		{"EOF before the end of message", "{}\n#\n", "unexpected-eof"},
		{"EOF after blank lines in a message", "{}\n#\n\n\n", "unexpected-eof"},
		{"EOF after @", "@\n", "unexpected-eof"},
		{"EOF in size line", "@\n12", "unexpected-eof"},
		{"EOF inside chunk", "@\n5\nHel", "unexpected-eof"},
		{"EOF after chunk data", "@\n5\nHello", "unexpected-eof"},
		{"EOF after chunk CR", "@\n5\nHello\r", "unexpected-eof"},
		{"EOF in the end line", "#", "unexpected-eof"},
		{"EOF in the second message", "{}\n#\n#\n{", "unexpected-eof"},
		{"nine-digit size over the default cap", "@\n999999999\n", "too-large"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			forFeeds(t, []byte(tc.in), func(t *testing.T, br *bufio.Reader) {
				rd := NewReader(br)
				_, err := dump(rd)
				if got := errClass(err); got != tc.want {
					t.Fatalf("error %v (%s), want %s", err, got, tc.want)
				}
				if err.Error() == "" || !strings.HasPrefix(err.Error(), "doiptext: ") && tc.want != "unexpected-eof" {
					t.Errorf("error %q does not name the package", err)
				}
				// The error sticks: the stream is out of step.
				if _, again := rd.NextSegment(); again != err {
					t.Errorf("next call: %v, want the same error %v", again, err)
				}
			})
		})
	}
}

// Caps hold at exactly the max and fail at max + 1, naming both numbers.
func TestReadCaps(t *testing.T) {
	jsonText := "{\n\"a\": \"0123456789\"\n}" // 21 bytes, two LFs inside
	jsonMsg := jsonText + "\n#\n#\n"
	chunkMsg := "@\n5\nHello\n3\nabc\n#\n#\n"
	tests := []struct {
		name string
		in   string
		set  func(rd *Reader)
		want string // errClass
		nums string // what the message must say, for a too-large error
	}{
		{"JSON at max", jsonMsg, func(rd *Reader) { rd.MaxSegment = len(jsonText) }, "", ""},
		{"JSON at max + 1", jsonMsg, func(rd *Reader) { rd.MaxSegment = len(jsonText) - 1 }, "too-large", "21 bytes exceeds limit 20"},
		{"JSON of one byte at max", "1\n#\n#\n", func(rd *Reader) { rd.MaxSegment = 1 }, "", ""},
		{"JSON of two bytes over 1", "12\n#\n#\n", func(rd *Reader) { rd.MaxSegment = 1 }, "too-large", "2 bytes exceeds limit 1"},
		{"chunk at max", chunkMsg, func(rd *Reader) { rd.MaxChunk = 5 }, "", ""},
		{"chunk at max + 1", chunkMsg, func(rd *Reader) { rd.MaxChunk = 4 }, "too-large", "chunk of 5 bytes exceeds limit 4"},
		{"message at max", chunkMsg, func(rd *Reader) { rd.MaxMessage = int64(len(chunkMsg)) }, "", ""},
		{"message at max + 1", chunkMsg, func(rd *Reader) { rd.MaxMessage = int64(len(chunkMsg)) - 1 }, "too-large", fmt.Sprintf("message of %d bytes exceeds limit %d", len(chunkMsg), len(chunkMsg)-1)},
		{"message cap counts a chunk before reading it", chunkMsg, func(rd *Reader) { rd.MaxMessage = 8 }, "too-large", "message of 9 bytes exceeds limit 8"},
		{"JSON message at max", jsonMsg, func(rd *Reader) { rd.MaxMessage = int64(len(jsonMsg)) }, "", ""},
		{"JSON message at max + 1", jsonMsg, func(rd *Reader) { rd.MaxMessage = int64(len(jsonMsg)) - 1 }, "too-large", "message of 26 bytes exceeds limit 25"},
		{"message cap counts blank lines", "\n\n\n{}\n#\n#\n", func(rd *Reader) { rd.MaxMessage = 8 }, "too-large", "exceeds limit 8"},
		{"each message counted alone", jsonMsg + jsonMsg, func(rd *Reader) { rd.MaxMessage = int64(len(jsonMsg)) }, "", ""},
		// A cap over 9 digits allows a 9-digit size; then the data is missing.
		{"chunk cap never above 9 digits", "@\n999999999\n", func(rd *Reader) { rd.MaxChunk = 1 << 40; rd.MaxMessage = 1 << 40 }, "unexpected-eof", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			forFeeds(t, []byte(tc.in), func(t *testing.T, br *bufio.Reader) {
				rd := NewReader(br)
				tc.set(rd)
				_, err := dump(rd)
				if got := errClass(err); got != tc.want && !(tc.want == "" && got == "eof") {
					t.Fatalf("error %v (%s), want %q", err, got, tc.want)
				}
				if tc.nums != "" && !strings.Contains(err.Error(), tc.nums) {
					t.Fatalf("error %q does not say %q", err, tc.nums)
				}
			})
		})
	}
}

// countingReader counts the bytes read from it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// An endless JSON line fails at the cap; no more than the cap (and a buffer or two) is read.
func TestReadJSONCapBeforeBuffering(t *testing.T) {
	for _, fd := range feeds {
		t.Run(fd.name, func(t *testing.T) {
			src := &countingReader{r: io.MultiReader(strings.NewReader("["), endless('1'))}
			rd := NewReader(bufio.NewReaderSize(fd.wrap(src), fd.size))
			rd.MaxSegment = 64 << 10
			_, err := rd.NextSegment()
			if !errors.Is(err, ErrTooLarge) {
				t.Fatalf("got %v, want ErrTooLarge", err)
			}
			if src.n > 64<<10+2*4096 {
				t.Fatalf("read %d bytes for a cap of %d", src.n, 64<<10)
			}
		})
	}
}

// endless repeats b forever.
type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

// A bytes segment left unread, or half read, is skipped by the next NextSegment.
func TestReadDiscardsUnreadBytes(t *testing.T) {
	in := "@\n5\nHello\n3\nabc\n#\n{\"after\":1}\n#\n#\n"
	for _, readN := range []int{0, 1, 5, 6, 8} {
		t.Run(fmt.Sprint(readN), func(t *testing.T) {
			forFeeds(t, []byte(in), func(t *testing.T, br *bufio.Reader) {
				rd := NewReader(br)
				seg, err := rd.NextSegment()
				if err != nil || seg.Kind != SegmentBytes {
					t.Fatalf("first segment %v, %v", seg.Kind, err)
				}
				got, err := io.ReadAll(io.LimitReader(seg.Bytes, int64(readN)))
				if err != nil || string(got) != "Helloabc"[:readN] {
					t.Fatalf("read %q, %v", got, err)
				}
				seg, err = rd.NextSegment()
				if err != nil || seg.Kind != SegmentJSON || string(seg.JSON) != `{"after":1}` {
					t.Fatalf("next segment %v %q, %v", seg.Kind, seg.JSON, err)
				}
				if seg, err = rd.NextSegment(); err != nil || seg.Kind != SegmentEnd {
					t.Fatalf("then %v, %v; want the end", seg.Kind, err)
				}
				if _, err = rd.NextSegment(); err != io.EOF {
					t.Fatalf("then %v, want io.EOF", err)
				}
			})
		})
	}
}

// A malformed chunk found while discarding is the next call's error.
func TestReadDiscardFindsError(t *testing.T) {
	forFeeds(t, []byte("@\n5\nHelloX\n#\n#\n"), func(t *testing.T, br *bufio.Reader) {
		rd := NewReader(br)
		if _, err := rd.NextSegment(); err != nil {
			t.Fatal(err)
		}
		_, err := rd.NextSegment()
		if got := errClass(err); got != "protocol:chunk" {
			t.Fatalf("got %v, want a chunk error", err)
		}
	})
}

func TestBytesReaderSmallReads(t *testing.T) {
	forFeeds(t, []byte("@\n5\nHello\n7\n World\n\n#\n#\n"), func(t *testing.T, br *bufio.Reader) {
		rd := NewReader(br)
		seg, err := rd.NextSegment()
		if err != nil {
			t.Fatal(err)
		}
		if n, err := seg.Bytes.Read(nil); n != 0 || err != nil {
			t.Fatalf("Read(nil) = %d, %v", n, err)
		}
		if err := iotest.TestReader(seg.Bytes, []byte(elementText)); err != nil {
			t.Fatal(err)
		}
	})
}

// ReadMessage holds bytes segments in Data and in Bytes.
func TestReadMessage(t *testing.T) {
	forFeeds(t, readVector(t, "doipy-request-create-with-bytes"), func(t *testing.T, br *bufio.Reader) {
		rd := NewReader(br)
		segs, err := rd.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		kinds := make([]SegmentKind, len(segs))
		for i, s := range segs {
			kinds[i] = s.Kind
		}
		if want := []SegmentKind{SegmentJSON, SegmentJSON, SegmentJSON, SegmentBytes}; !reflect.DeepEqual(kinds, want) {
			t.Fatalf("kinds %v, want %v", kinds, want)
		}
		if string(segs[3].Data) != elementText {
			t.Fatalf("data %q", segs[3].Data)
		}
		if b, _ := io.ReadAll(segs[3].Bytes); string(b) != elementText {
			t.Fatalf("Bytes reads %q", b)
		}
		if _, err := rd.ReadMessage(); err != io.EOF {
			t.Fatalf("second ReadMessage: %v, want io.EOF", err)
		}
	})
	if _, err := NewReader(bufio.NewReader(strings.NewReader("{}\n#\n"))).ReadMessage(); err != io.ErrUnexpectedEOF {
		t.Fatalf("truncated message: %v, want io.ErrUnexpectedEOF", err)
	}
}

// I/O errors of the stream come through unchanged.
func TestReadPassesIOErrors(t *testing.T) {
	boom := errors.New("boom")
	for _, in := range []string{"", "{}\n", "@\n5\nHe", "@\n5\nHello"} {
		for _, fd := range feeds {
			rd := NewReader(bufio.NewReaderSize(fd.wrap(io.MultiReader(strings.NewReader(in), iotest.ErrReader(boom))), fd.size))
			if _, err := dump(rd); err != boom {
				t.Errorf("%q, %s: got %v, want %v", in, fd.name, err, boom)
			}
		}
	}
}

func TestSegmentKindString(t *testing.T) {
	for k, want := range map[SegmentKind]string{SegmentJSON: "json", SegmentBytes: "bytes", SegmentEnd: "end", 0: "SegmentKind(0)"} {
		if got := k.String(); got != want {
			t.Errorf("%d: %q, want %q", k, got, want)
		}
	}
}
