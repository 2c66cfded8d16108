package envelope

import (
	"bytes"
	"errors"
	"io"
	"math"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// helloRequest is mardi-request-hello.bin: a request, op hello, no object id, payload 0x1a.
const helloRequest = "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x1a" +
	"\x01\x00\x00\x00\x15" + `{"operation":"hello"}`

// TestReadMessage runs byte-literal messages through ReadMessage and, unless the case is
// about a cap the streaming reader does not apply, through the streaming reader too, which
// must agree.
func TestReadMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name        string
		in          string
		maxPayload  uint32
		maxObjectID uint16
		wantErr     error  // a sentinel the error must wrap
		wantField   string // the Field of the *ProtocolError expected
		messageOnly bool   // a ReadMessage cap: the streaming reader accepts the input
		check       func(*testing.T, *Message)
	}{
		{name: "clean EOF", in: "", wantErr: io.EOF},
		{name: "truncated header", in: "\x02\x01\x01", wantErr: io.ErrUnexpectedEOF},
		{name: "truncated header 9 bytes", in: "\x02\x01\x01\x00\x00\x00\x00\x00\x00", wantErr: io.ErrUnexpectedEOF},
		{name: "truncated object id", in: "\x02\x01\x02\x00\x00\x04\x00\x00\x00\x00Q1", wantErr: io.ErrUnexpectedEOF},
		{name: "truncated payload", in: helloRequest[:20], wantErr: io.ErrUnexpectedEOF},
		{name: "truncated payload by one byte", in: helloRequest[:len(helloRequest)-1], wantErr: io.ErrUnexpectedEOF},
		{name: "bad version 0x01", in: "\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00", wantField: "version"},
		{name: "bad version 0x00", in: "\x00\x01\x01\x00\x00\x00\x00\x00\x00\x00", wantField: "version"},
		{name: "bad version 0x16 (a TLS ClientHello)", in: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03", wantField: "version"},
		{
			name: "empty payload",
			in:   "\x02\x01\x04\x00\x00\x00\x00\x00\x00\x00",
			check: func(t *testing.T, m *Message) {
				if m.Header.Op != doip.OpListOps || len(m.Blocks) != 0 || m.Metadata() != nil {
					t.Errorf("got %+v, want op list_operations and no blocks", m)
				}
			},
		},
		{
			name: "hello",
			in:   helloRequest,
			check: func(t *testing.T, m *Message) {
				if m.Header.Type != TypeRequest || m.Header.Op != doip.OpHello || string(m.Metadata()) != `{"operation":"hello"}` {
					t.Errorf("got %+v", m)
				}
			},
		},
		{
			name: "operation 0 and flags 0xff are carried, not rejected",
			in:   "\x02\x01\x00\xff\x00\x00\x00\x00\x00\x1a\x01\x00\x00\x00\x15" + `{"operation":"hello"}`,
			check: func(t *testing.T, m *Message) {
				if m.Header.Op != doip.OpUnknown || m.Header.Flags != 0xff {
					t.Errorf("header = %+v, want op 0 and flags 0xff", m.Header)
				}
			},
		},
		{
			name: "operation 0xee and message type 0x05 are carried, not rejected",
			in:   "\x02\x05\xee\x00\x00\x00\x00\x00\x00\x00",
			check: func(t *testing.T, m *Message) {
				if m.Header.Op != 0xee || m.Header.Type != 0x05 || m.Header.Type.Known() {
					t.Errorf("header = %+v, want op 0xee and type 0x05", m.Header)
				}
			},
		},
		{name: "payload at MaxPayload", in: helloRequest, maxPayload: 26},
		{name: "payload at MaxPayload+1", in: helloRequest, maxPayload: 25, wantErr: ErrTooLarge, messageOnly: true},
		{name: "payload 4 GiB - 1 over default cap", in: "\x02\x01\x01\x00\x00\x00\xff\xff\xff\xff", wantErr: ErrTooLarge, messageOnly: true},
		{
			name: "object id at MaxObjectID",
			in:   "\x02\x01\x02\x00\x04\x00\x00\x00\x00\x00" + strings.Repeat("Q", 1024),
			check: func(t *testing.T, m *Message) {
				if len(m.ObjectID) != 1024 {
					t.Errorf("object id of %d bytes, want 1024", len(m.ObjectID))
				}
			},
		},
		{name: "object id at MaxObjectID+1", in: "\x02\x01\x02\x00\x04\x01\x00\x00\x00\x00" + strings.Repeat("Q", 1025), wantErr: ErrTooLarge},
		{name: "object id at custom MaxObjectID+1", in: "\x02\x01\x02\x00\x00\x04\x00\x00\x00\x00Q123", maxObjectID: 3, wantErr: ErrTooLarge},
		{name: "object id 65535 over default cap, no data", in: "\x02\x01\x02\x00\xff\xff\x00\x00\x00\x00", wantErr: ErrTooLarge},
		{name: "partial block header", in: "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x03\x01\x00\x00", wantField: "block header"},
		{
			name:      "partial block header after a block",
			in:        "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x09\x01\x00\x00\x00\x02{}\x01\x00",
			wantField: "block header",
		},
		{name: "block length past payload", in: "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x06\x01\x00\x00\x00\x02{", wantField: "block length"},
		{name: "block length 4 GiB - 1", in: "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x07\x01\xff\xff\xff\xff{}", wantField: "block length"},
		{name: "unknown block type 0x04", in: "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x07\x04\x00\x00\x00\x02{}", wantField: "block type"},
		{name: "unknown block type 0x00", in: "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x05\x00\x00\x00\x00\x00", wantField: "block type"},
		{name: "metadata not JSON", in: "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x0a\x01\x00\x00\x00\x05{\"a\":", wantField: "metadata block"},
		{name: "metadata empty", in: "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x05\x01\x00\x00\x00\x00", wantField: "metadata block"},
		{name: "metadata an array", in: "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x08\x01\x00\x00\x00\x03[1]", wantField: "metadata block"},
		{name: "metadata a string", in: "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x08\x01\x00\x00\x00\x03\"x\"", wantField: "metadata block"},
		{name: "metadata two objects", in: "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x09\x01\x00\x00\x00\x04{}{}", wantField: "metadata block"},
		{name: "workflow null", in: "\x02\x01\x05\x00\x00\x00\x00\x00\x00\x09\x03\x00\x00\x00\x04null", wantField: "workflow block"},
		{
			name: "metadata with whitespace around the object is kept as sent",
			in:   "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x0a\x01\x00\x00\x00\x05 {}\r\n",
			check: func(t *testing.T, m *Message) {
				if string(m.Metadata()) != " {}\r\n" {
					t.Errorf("metadata = %q", m.Metadata())
				}
			},
		},
		{name: "component body of 1 byte", in: "\x02\x02\x02\x00\x00\x00\x00\x00\x00\x06\x02\x00\x00\x00\x01\x00", wantField: "component id length"},
		{
			name:      "component shorter than its id length",
			in:        "\x02\x02\x02\x00\x00\x00\x00\x00\x00\x09\x02\x00\x00\x00\x04\x00\x10ab",
			wantField: "component id length",
		},
		{
			name:      "component shorter than its media type length",
			in:        "\x02\x02\x02\x00\x00\x00\x00\x00\x00\x0f\x02\x00\x00\x00\x0a\x00\x01a\x00\x09mt\x00\x00\x00",
			wantField: "component media type length",
		},
		{
			name:      "component shorter than its content length",
			in:        "\x02\x02\x02\x00\x00\x00\x00\x00\x00\x13\x02\x00\x00\x00\x0e\x00\x01a\x00\x02mt\x00\x00\x00\x05abc",
			wantField: "component content length",
		},
		{
			name:      "component longer than its content length",
			in:        "\x02\x02\x02\x00\x00\x00\x00\x00\x00\x13\x02\x00\x00\x00\x0e\x00\x01a\x00\x02mt\x00\x00\x00\x02abc",
			wantField: "component content length",
		},
		{
			name: "empty component",
			in:   "\x02\x02\x02\x00\x00\x00\x00\x00\x00\x0d\x02\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00",
			check: func(t *testing.T, m *Message) {
				c, ok := m.Blocks[0].(*ComponentBlock)
				if len(m.Blocks) != 1 || !ok || c.ID != "" || c.MediaType != "" || len(c.Content) != 0 {
					t.Errorf("blocks = %+v, want one empty component", m.Blocks)
				}
			},
		},
		{
			name: "two blocks",
			in: "\x02\x02\x02\x00\x00\x02\x00\x00\x00\x1a" + "Q1" +
				"\x02\x00\x00\x00\x0e\x00\x01a\x00\x02mt\x00\x00\x00\x03abc" +
				"\x03\x00\x00\x00\x02{}",
			check: func(t *testing.T, m *Message) {
				if len(m.Blocks) != 2 || m.Blocks[0].Type() != BlockComponent || m.Blocks[1].Type() != BlockWorkflow || m.Metadata() != nil {
					t.Errorf("blocks = %+v", m.Blocks)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			modes := []string{"ReadMessage", "streaming"}
			if tt.messageOnly {
				modes = modes[:1]
			}
			for _, mode := range modes {
				for _, rd := range readers {
					fr := NewFramer(nil, rd.wrap(strings.NewReader(tt.in)))
					fr.MaxPayload, fr.MaxObjectID = tt.maxPayload, tt.maxObjectID
					var m *Message
					var err error
					if mode == "ReadMessage" {
						m, err = fr.ReadMessage()
					} else {
						m, err = readStreaming(fr)
					}
					var pe *ProtocolError
					switch {
					case tt.wantErr != nil:
						if !errors.Is(err, tt.wantErr) {
							t.Fatalf("%s/%s: err = %v, want %v", mode, rd.name, err, tt.wantErr)
						}
						if tt.wantErr == io.EOF && err != io.EOF {
							t.Errorf("%s/%s: err = %#v, want io.EOF itself", mode, rd.name, err)
						}
					case tt.wantField != "":
						if !errors.As(err, &pe) || pe.Field != tt.wantField {
							t.Fatalf("%s/%s: err = %v, want a *ProtocolError on %q", mode, rd.name, err, tt.wantField)
						}
					case err != nil:
						t.Fatalf("%s/%s: %v", mode, rd.name, err)
					default:
						if tt.check != nil {
							tt.check(t, m)
						}
						if got := mustAppend(t, m); string(got) != tt.in {
							t.Errorf("%s/%s: Append = %q, want %q", mode, rd.name, got, tt.in)
						}
					}
					if err != nil && m != nil {
						t.Errorf("%s/%s: a message with an error", mode, rd.name)
					}
					if err != nil && !documented(err) {
						t.Errorf("%s/%s: undocumented error %v", mode, rd.name, err)
					}
				}
			}
		})
	}
}

// TestProtocolErrorMessage checks the form of the errors: the field, and both numbers.
func TestProtocolErrorMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		maxPayload     uint32
	}{
		{name: "version", in: "\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00", want: "envelope: bad version: 0x01, want 0x02"},
		{name: "payload", in: helloRequest, maxPayload: 25, want: "envelope: payload 26 bytes exceeds limit 25: envelope: too large"},
		{name: "object id", in: "\x02\x01\x02\x00\x04\x01\x00\x00\x00\x00", want: "envelope: object id 1025 bytes exceeds limit 1024: envelope: too large"},
		{
			name: "block length",
			in:   "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x06\x01\x00\x00\x00\x02{",
			want: "envelope: bad block length: metadata block of 2 bytes, 1 left in payload",
		},
		{
			name: "block type",
			in:   "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x07\x04\x00\x00\x00\x02{}",
			want: "envelope: bad block type: 0x04 is not metadata (0x01), component (0x02) or workflow (0x03)",
		},
		{name: "truncated", in: "\x02\x01", want: "envelope: reading header: unexpected EOF"},
	}
	for _, tt := range tests {
		fr := NewFramer(nil, strings.NewReader(tt.in))
		fr.MaxPayload = tt.maxPayload
		if _, err := fr.ReadMessage(); err == nil || err.Error() != tt.want {
			t.Errorf("%s: err = %v, want %q", tt.name, err, tt.want)
		}
	}
}

// TestReadMessageHugePayloadNoAllocation checks that a header claiming 4 GiB - 1 of payload
// fails with ErrTooLarge right after the header: nothing more is read, nothing big allocated.
func TestReadMessageHugePayloadNoAllocation(t *testing.T) {
	// Not parallel: it measures the heap.
	const hdr = "\x02\x01\x02\x00\x00\x04\xff\xff\xff\xff"
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	fr := NewFramer(nil, io.MultiReader(strings.NewReader(hdr), failReader{t}))
	_, err := fr.ReadMessage()
	runtime.ReadMemStats(&after)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("allocated %d bytes reading a header", n)
	}
	// The error is sticky: the stream is out of step.
	if _, err2 := fr.ReadMessage(); err2 != err {
		t.Errorf("second ReadMessage = %v, want the same error %v", err2, err)
	}
}

// TestStreamingHugeBlocks checks the streaming reader against huge declared lengths: the
// payload cap does not apply, but a JSON block over MaxJSON fails before it is allocated and
// can then be skipped.
func TestStreamingHugeBlocks(t *testing.T) {
	t.Parallel()
	// A message declaring 4 GiB - 1 of payload whose first block is a 2 GiB metadata block,
	// then nothing: the reader must not try to allocate it.
	const in = "\x02\x02\x02\x00\x00\x00\xff\xff\xff\xff\x01\x80\x00\x00\x00"
	fr := NewFramer(nil, io.MultiReader(strings.NewReader(in), failReader{t}))
	fr.MaxPayload = 1 // not applied by the streaming reader
	h, id, err := fr.ReadHeader()
	if err != nil || h.PayloadLen != math.MaxUint32 || id != "" {
		t.Fatalf("ReadHeader = %+v, %q, %v", h, id, err)
	}
	bt, n, err := fr.NextBlock()
	if err != nil || bt != BlockMetadata || n != 1<<31 {
		t.Fatalf("NextBlock = %v, %d, %v", bt, n, err)
	}
	if _, err := fr.ReadJSONBlock(n); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadJSONBlock = %v, want ErrTooLarge", err)
	} else if want := "envelope: metadata block 2147483648 bytes exceeds limit 1048576: envelope: too large"; err.Error() != want {
		t.Errorf("err = %q, want %q", err, want)
	}
}

// TestStreamingSkipOversizedJSON checks that a metadata block over MaxJSON can be discarded
// and the next block and the next message read.
func TestStreamingSkipOversizedJSON(t *testing.T) {
	t.Parallel()
	vs := map[string][]byte{}
	for _, v := range loadVectors(t) {
		vs[v.name] = v.data
	}
	in := append(append([]byte(nil), vs["mardi-response-invoke"]...), vs["mardi-request-hello"]...)
	fr := NewFramer(nil, iotest.HalfReader(bytes.NewReader(in)))
	fr.MaxJSON = 20
	if _, _, err := fr.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	_, n, err := fr.NextBlock()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := fr.ReadJSONBlock(n); !errors.Is(err, ErrTooLarge) {
		t.Fatalf("ReadJSONBlock = %v, want ErrTooLarge", err)
	}
	if _, _, err := fr.NextBlock(); err == nil {
		t.Fatal("NextBlock with the metadata block unread: no error")
	}
	if err := fr.Discard(); err != nil {
		t.Fatal(err)
	}
	bt, n, err := fr.NextBlock()
	if err != nil || bt != BlockComponent {
		t.Fatalf("NextBlock = %v, %v", bt, err)
	}
	// Skip the component after reading its fields and part of its content.
	if _, _, _, err := fr.ReadComponentHeader(n); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(fr.Content(), make([]byte, 3)); err != nil {
		t.Fatal(err)
	}
	if err := fr.Discard(); err != nil {
		t.Fatal(err)
	}
	if bt, _, err := fr.NextBlock(); err != nil || bt != BlockWorkflow {
		t.Fatalf("NextBlock = %v, %v", bt, err)
	}
	if err := fr.Discard(); err != nil {
		t.Fatal(err)
	}
	if _, _, err := fr.NextBlock(); err != io.EOF {
		t.Fatalf("NextBlock at the end of the payload = %v, want io.EOF", err)
	}
	if _, _, err := fr.NextBlock(); err != io.EOF {
		t.Fatalf("NextBlock again = %v, want io.EOF", err)
	}
	m, err := fr.ReadMessage()
	if err != nil || m.Header.Op != doip.OpHello {
		t.Fatalf("next message = %+v, %v", m, err)
	}
}

// TestStreamingMisuse checks that calls out of order fail without reading, and leave the
// Framer usable.
func TestStreamingMisuse(t *testing.T) {
	t.Parallel()
	const in = "\x02\x02\x02\x00\x00\x00\x00\x00\x00\x1a" +
		"\x02\x00\x00\x00\x0e\x00\x01a\x00\x02mt\x00\x00\x00\x03abc" +
		"\x01\x00\x00\x00\x02{}"
	m := &Message{Header: Header{Type: TypeResponse, Op: doip.OpRetrieve}, Blocks: []Block{
		&ComponentBlock{ID: "a", MediaType: "mt", Content: []byte("abc")},
		&MetadataBlock{JSON: []byte(`{}`)},
	}}
	data := mustAppend(t, m)
	if string(data) != in {
		t.Fatalf("Append = %q, want %q", data, in)
	}
	fr := NewFramer(nil, bytes.NewReader(data))
	if _, err := fr.ReadJSONBlock(0); err == nil {
		t.Error("ReadJSONBlock before NextBlock: no error")
	}
	if _, err := io.ReadAll(fr.Content()); err != nil {
		t.Errorf("Content between messages = %v, want an empty reader", err)
	}
	if _, _, err := fr.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	bt, n, err := fr.NextBlock()
	if err != nil || bt != BlockComponent {
		t.Fatal(bt, err)
	}
	if _, err := fr.ReadJSONBlock(n); err == nil {
		t.Error("ReadJSONBlock on a component block: no error")
	}
	if _, _, _, err := fr.ReadComponentHeader(n + 1); err == nil {
		t.Error("ReadComponentHeader with the wrong length: no error")
	}
	if _, err := fr.Content().Read(make([]byte, 1)); err == nil || err == io.EOF {
		t.Errorf("Content before ReadComponentHeader = %v, want an error", err)
	}
	if _, err := fr.ReadMessage(); err == nil {
		t.Error("ReadMessage inside a message: no error")
	}
	if _, _, err := fr.ReadHeader(); err == nil {
		t.Error("ReadHeader inside a message: no error")
	}
	id, mt, cl, err := fr.ReadComponentHeader(n)
	if err != nil || id != "a" || mt != "mt" || cl != 3 {
		t.Fatalf("ReadComponentHeader = %q %q %d %v", id, mt, cl, err)
	}
	if _, _, err := fr.NextBlock(); err == nil {
		t.Error("NextBlock with content unread: no error")
	}
	content, err := io.ReadAll(fr.Content())
	if err != nil || string(content) != "abc" {
		t.Fatalf("content = %q, %v", content, err)
	}
	if bt, n, err = fr.NextBlock(); err != nil || bt != BlockMetadata {
		t.Fatal(bt, err)
	}
	if _, _, _, err := fr.ReadComponentHeader(n); err == nil {
		t.Error("ReadComponentHeader on a metadata block: no error")
	}
	if js, err := fr.ReadJSONBlock(n); err != nil || string(js) != "{}" {
		t.Fatalf("ReadJSONBlock = %s, %v", js, err)
	}
	if _, _, err := fr.NextBlock(); err != io.EOF {
		t.Fatalf("NextBlock = %v, want io.EOF", err)
	}
	if _, _, err := fr.ReadHeader(); err != io.EOF {
		t.Fatalf("ReadHeader = %v, want io.EOF", err)
	}

	w := NewFramer(io.Discard, nil)
	if _, err := w.ReadMessage(); err == nil {
		t.Error("ReadMessage on a write-only Framer: no error")
	}
	r := NewFramer(nil, strings.NewReader(""))
	if err := r.WriteMessage(m); err == nil {
		t.Error("WriteMessage on a read-only Framer: no error")
	}
}

// TestStreamingTruncatedContent checks that a stream ending inside the content is
// io.ErrUnexpectedEOF, not the clean io.EOF an io.LimitReader would give.
func TestStreamingTruncatedContent(t *testing.T) {
	t.Parallel()
	for _, v := range loadVectors(t) {
		if v.name != "mardi-response-retrieve-component" {
			continue
		}
		for _, rd := range readers {
			fr := NewFramer(nil, rd.wrap(bytes.NewReader(v.data[:len(v.data)-4])))
			if _, _, err := fr.ReadHeader(); err != nil {
				t.Fatal(err)
			}
			_, n, err := fr.NextBlock()
			if err != nil {
				t.Fatal(err)
			}
			if _, _, _, err := fr.ReadComponentHeader(n); err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(fr.Content())
			if !errors.Is(err, io.ErrUnexpectedEOF) || string(got) != "%PDF-1.4 " {
				t.Errorf("%s: content = %q, %v; want %q, io.ErrUnexpectedEOF", rd.name, got, err, "%PDF-1.4 ")
			}
			if _, _, err := fr.NextBlock(); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s: NextBlock after the truncation = %v, want the same error", rd.name, err)
			}

			fr = NewFramer(nil, rd.wrap(bytes.NewReader(v.data[:len(v.data)-4])))
			if _, _, err := fr.ReadHeader(); err != nil {
				t.Fatal(err)
			}
			if _, _, err := fr.NextBlock(); err != nil {
				t.Fatal(err)
			}
			if err := fr.Discard(); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("%s: Discard = %v, want io.ErrUnexpectedEOF", rd.name, err)
			}
		}
	}
}

// TestWriteStreamingMatchesAppend writes a message with WriteHeader, WriteJSONBlock,
// WriteComponentHeader and the content, and compares it with Message.Append; PayloadLen
// computed with the *Len helpers must match the one Append computes.
func TestWriteStreamingMatchesAppend(t *testing.T) {
	t.Parallel()
	md := []byte(`{"operation":"retrieve","element":"doip:bitstream/Q123/main-pdf"}`)
	wf := []byte(`{"workflow":"equation_extraction","sourceObject":"Q123"}`)
	id, mt := "doip:bitstream/Q123/main-pdf", "application/pdf"
	content := bytes.Repeat([]byte("%PDF-1.4 tiny\n"), 1000)

	m := &Message{
		Header:   Header{Type: TypeResponse, Op: doip.OpRetrieve},
		ObjectID: "Q123",
		Blocks: []Block{
			&MetadataBlock{JSON: md},
			&ComponentBlock{ID: id, MediaType: mt, Content: content},
			&WorkflowBlock{JSON: wf},
		},
	}
	want := mustAppend(t, m)

	p := JSONBlockLen(len(md)) + ComponentBlockLen(id, mt, uint64(len(content))) + JSONBlockLen(len(wf))
	if p != uint64(m.Header.PayloadLen) || m.Header.IDLen != 4 || m.Header.Version != Version {
		t.Fatalf("helpers give PayloadLen %d, Append set header %+v", p, m.Header)
	}

	var buf bytes.Buffer
	fr := NewFramer(&buf, nil)
	steps := []func() error{
		func() error {
			return fr.WriteHeader(Header{Type: TypeResponse, Op: doip.OpRetrieve, PayloadLen: uint32(p)}, "Q123")
		},
		func() error { return fr.WriteJSONBlock(BlockMetadata, md) },
		func() error { return fr.WriteComponentHeader(id, mt, uint32(len(content))) },
		func() error {
			_, err := io.Copy(fr.Writer(), iotest.HalfReader(bytes.NewReader(content)))
			return err
		},
		func() error { return fr.WriteJSONBlock(BlockWorkflow, wf) },
	}
	for i, step := range steps {
		if err := step(); err != nil {
			t.Fatalf("step %d: %v", i, err)
		}
	}
	if !bytes.Equal(buf.Bytes(), want) {
		t.Fatalf("streaming write differs from Append:\n%q\n%q", buf.Bytes(), want)
	}
	// And the next message may start.
	if err := fr.WriteMessage(m); err != nil {
		t.Fatal(err)
	}
}

// TestWriteStreamingChecks checks that the streaming writer refuses to break the framing.
func TestWriteStreamingChecks(t *testing.T) {
	t.Parallel()
	newFramer := func(payload uint32) (*Framer, *bytes.Buffer) {
		var buf bytes.Buffer
		fr := NewFramer(&buf, nil)
		if err := fr.WriteHeader(Header{Type: TypeResponse, Op: doip.OpRetrieve, PayloadLen: payload}, "Q1"); err != nil {
			t.Fatal(err)
		}
		return fr, &buf
	}

	fr, buf := newFramer(uint32(ComponentBlockLen("c", "m", 3)))
	if err := fr.WriteJSONBlock(BlockMetadata, []byte(`{}`)); err != nil {
		t.Fatalf("a block that fits: %v", err)
	}
	if err := fr.WriteComponentHeader("c", "m", 3); err == nil {
		t.Error("a component overrunning the declared payload: no error")
	}

	fr, buf = newFramer(uint32(ComponentBlockLen("c", "m", 3)))
	if err := fr.WriteComponentHeader("c", "m", 3); err != nil {
		t.Fatal(err)
	}
	n := buf.Len()
	if _, err := fr.Writer().Write([]byte("abcd")); err == nil || buf.Len() != n {
		t.Errorf("content overrun: err %v, %d bytes written", err, buf.Len()-n)
	}
	if _, err := fr.Writer().Write([]byte("ab")); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteJSONBlock(BlockMetadata, []byte(`{}`)); err == nil {
		t.Error("a block while content is owed: no error")
	}
	if err := fr.WriteHeader(Header{}, ""); err == nil {
		t.Error("a header while content is owed: no error")
	}
	if _, err := fr.Writer().Write([]byte("c")); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteHeader(Header{Op: doip.OpHello}, ""); err != nil {
		t.Errorf("a header after a complete message: %v", err)
	}

	fr, _ = newFramer(100)
	if err := fr.WriteMessage(&Message{}); err == nil {
		t.Error("WriteMessage inside a streamed message: no error")
	}
	if err := fr.WriteJSONBlock(BlockComponent, []byte(`{}`)); err == nil {
		t.Error("WriteJSONBlock of a component block: no error")
	}
	var pe *ProtocolError
	if err := fr.WriteJSONBlock(BlockMetadata, []byte(`[]`)); !errors.As(err, &pe) {
		t.Errorf("WriteJSONBlock of an array = %v, want a *ProtocolError", err)
	}
	if err := fr.WriteComponentHeader("c", "m", math.MaxUint32); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a component over 4 GiB = %v, want ErrTooLarge", err)
	}
	if err := fr.WriteComponentHeader(strings.Repeat("c", 1<<16), "m", 0); !errors.Is(err, ErrTooLarge) {
		t.Errorf("a component id of 64 KiB = %v, want ErrTooLarge", err)
	}
	if err := NewFramer(io.Discard, nil).WriteHeader(Header{}, strings.Repeat("Q", 1<<16)); !errors.Is(err, ErrTooLarge) {
		t.Errorf("an object id of 64 KiB = %v, want ErrTooLarge", err)
	}
	if err := NewFramer(io.Discard, nil).WriteHeader(Header{Version: 3}, ""); !errors.As(err, &pe) || pe.Field != "version" {
		t.Errorf("version 3 = %v, want a *ProtocolError on version", err)
	}

	// A write error is reported, wrapped.
	werr := errors.New("connection reset")
	fr = NewFramer(errWriter{werr}, nil)
	if err := fr.WriteMessage(&Message{}); !errors.Is(err, werr) {
		t.Errorf("WriteMessage = %v, want it to wrap %v", err, werr)
	}
}

type errWriter struct{ err error }

func (w errWriter) Write([]byte) (int, error) { return 0, w.err }

// Content given as a limited reader goes through the writer's own ReadFrom (how a gateway
// connection lets the kernel move a handed-off component), within the declared length.
func TestWriteContentReadFrom(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("0123456789"), 1000)
	var buf bytes.Buffer
	fr := NewFramer(&buf, nil)
	if err := fr.WriteHeader(Header{Type: TypeResponse, Op: doip.OpRetrieve, PayloadLen: uint32(ComponentBlockLen("c", "m", uint64(len(content))))}, "Q1"); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteComponentHeader("c", "m", uint32(len(content))); err != nil {
		t.Fatal(err)
	}
	n := buf.Len()
	rf := fr.Writer().(io.ReaderFrom)
	if got, err := rf.ReadFrom(&io.LimitedReader{R: bytes.NewReader(content), N: int64(len(content)) + 1}); err == nil || got != 0 || buf.Len() != n {
		t.Errorf("a reader longer than the declared length: %d, %v, %d bytes written", got, err, buf.Len()-n)
	}
	if got, err := rf.ReadFrom(&io.LimitedReader{R: bytes.NewReader(content), N: 4000}); err != nil || got != 4000 {
		t.Fatalf("ReadFrom = %d, %v", got, err)
	}
	if got, err := rf.ReadFrom(bytes.NewReader(content[4000:])); err != nil || got != int64(len(content))-4000 {
		t.Fatalf("ReadFrom of a plain reader = %d, %v", got, err)
	}
	if !bytes.Equal(buf.Bytes()[n:], content) {
		t.Error("the content written differs")
	}
	if _, err := fr.Writer().Write([]byte("x")); err == nil {
		t.Error("a byte past the declared length was taken")
	}
}
