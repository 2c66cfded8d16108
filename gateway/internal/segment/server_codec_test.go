package segment

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/mardijson"
)

// newTestCodec returns a codec reading in (through a small bufio.Reader, so a wrapped
// reader's short reads come through) and writing to the returned buffer.
func newTestCodec(in io.Reader, maxSeg, maxMsg uint32) (*ServerCodec, *bytes.Buffer, *bufio.Writer) {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	return NewServerCodec(bufio.NewReaderSize(in, 16), bw, Options{Limits: doip.Limits{MaxSegment: maxSeg, MaxPayload: maxMsg}}), &out, bw
}

func TestReadRequest(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		maxSeg, maxMsg uint32
		in             string
		want           doip.Request
	}{
		{name: "hello by number",
			in:   "\x00\x00\x00\x11{\"operationId\":1}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpHello, OperationID: "1"}},
		{name: "hello by name in upper case",
			in:   "\x00\x00\x00\x17{\"operationId\":\"HELLO\"}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpHello, OperationID: "HELLO"}},
		{name: "retrieve the record",
			in:   "\x00\x00\x00\x23{\"targetId\":\"Q123\",\"operationId\":2}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpRetrieve, OperationID: "2", ObjectID: "Q123"}},
		{name: "retrieve by name in mixed case, element",
			in:   "\x00\x00\x00\x64{\"targetId\":\"Q123\",\"operationId\":\"ReTrieve\",\"attributes\":{\"element\":\"doip:bitstream/Q123/main-pdf\"}}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpRetrieve, OperationID: "ReTrieve", ObjectID: "Q123", Element: "doip:bitstream/Q123/main-pdf"}},
		{name: "componentId",
			in:   "\x00\x00\x00\x4b{\"targetId\":\"Q123\",\"operationId\":2,\"attributes\":{\"componentId\":\"main-pdf\"}}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpRetrieve, OperationID: "2", ObjectID: "Q123", Element: "main-pdf"}},
		{name: "component_id",
			in:   "\x00\x00\x00\x4c{\"targetId\":\"Q123\",\"operationId\":2,\"attributes\":{\"component_id\":\"fulltext\"}}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpRetrieve, OperationID: "2", ObjectID: "Q123", Element: "fulltext"}},
		{name: "element wins over componentId",
			in:   "\x00\x00\x00\x50{\"targetId\":\"Q1\",\"operationId\":2,\"attributes\":{\"componentId\":\"b\",\"element\":\"a\"}}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpRetrieve, OperationID: "2", ObjectID: "Q1", Element: "a"}},
		{name: "snake_case keys",
			in:   "\x00\x00\x00\x75{\"target_id\":\"Q123\",\"operation_id\":\"invoke\",\"attributes\":{\"workflow\":\"equation_extraction\",\"params\":{\"pages\":[1,2]}}}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpInvoke, OperationID: "invoke", ObjectID: "Q123", Workflow: "equation_extraction", Params: json.RawMessage(`{"pages":[1,2]}`)}},
		{name: "workflow and params at top level",
			in:   "\x00\x00\x00\x5b{\"targetId\":\"Q123\",\"operationId\":5,\"workflow\":\"equation_extraction\",\"params\":{\"pages\":[1]}}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpInvoke, OperationID: "5", ObjectID: "Q123", Workflow: "equation_extraction", Params: json.RawMessage(`{"pages":[1]}`)}},
		{name: "attributes win over top level",
			in:   "\x00\x00\x00\x70{\"targetId\":\"Q1\",\"operationId\":5,\"workflow\":\"b\",\"params\":{\"b\":2},\"attributes\":{\"workflow\":\"a\",\"params\":{\"a\":1}}}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpInvoke, OperationID: "5", ObjectID: "Q1", Workflow: "a", Params: json.RawMessage(`{"a":1}`)}},
		{name: "null attributes and params are none",
			in:   "\x00\x00\x00\x41{\"targetId\":\"Q1\",\"operationId\":5,\"attributes\":null,\"params\":null}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpInvoke, OperationID: "5", ObjectID: "Q1"}},
		{name: "camelCase wins over snake_case",
			in:   "\x00\x00\x00\x43{\"target_id\":\"Q2\",\"targetId\":\"Q1\",\"operation_id\":1,\"operationId\":2}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpRetrieve, OperationID: "2", ObjectID: "Q1"}},
		{name: "list operations by number",
			in:   "\x00\x00\x00\x11{\"operationId\":4}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpListOps, OperationID: "4"}},
		{name: "list_ops",
			in:   "\x00\x00\x00\x1a{\"operationId\":\"list_ops\"}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpListOps, OperationID: "list_ops"}},
		{name: "LIST_OPERATIONS for an object",
			in:   "\x00\x00\x00\x31{\"targetId\":\"Q9\",\"operationId\":\"LIST_OPERATIONS\"}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpListOps, OperationID: "LIST_OPERATIONS", ObjectID: "Q9"}},
		{name: "purge",
			in:   "\x00\x00\x00\x21{\"targetId\":\"Q9\",\"operationId\":7}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpPurge, OperationID: "7", ObjectID: "Q9"}},
		{name: "operation code as a string",
			in:   "\x00\x00\x00\x23{\"targetId\":\"Q9\",\"operationId\":\"2\"}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpRetrieve, OperationID: "2", ObjectID: "Q9"}},
		{name: "missing targetId is for the dispatcher",
			in:   "\x00\x00\x00\x1a{\"operationId\":\"retrieve\"}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpRetrieve, OperationID: "retrieve"}},
		{name: "unknown name is for the dispatcher",
			in:   "\x00\x00\x00\x2c{\"targetId\":\"Q1\",\"operationId\":\"frobnicate\"}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpUnknown, OperationID: "frobnicate", ObjectID: "Q1"}},
		{name: "standard DOIP name is unknown here",
			in:   "\x00\x00\x00\x34{\"targetId\":\"Q1\",\"operationId\":\"0.DOIP/Op.Retrieve\"}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpUnknown, OperationID: "0.DOIP/Op.Retrieve", ObjectID: "Q1"}},
		{name: "unknown code is passed on",
			in:   "\x00\x00\x00\x12{\"operationId\":42}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.Op(42), OperationID: "42"}},
		{name: "code too big for the operation byte is unknown",
			in:   "\x00\x00\x00\x13{\"operationId\":300}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpUnknown, OperationID: "300"}},
		{name: "whitespace and unknown members",
			in:   "\x00\x00\x00\x41  {\"operationId\" : 1, \"requestId\": \"r1\", \"clientId\": {\"x\": [1]}}\n\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpHello, OperationID: "1"}},
		{name: "further segments are read and dropped",
			in:   "\x00\x00\x00\x21{\"targetId\":\"Q1\",\"operationId\":2}\x00\x00\x00\x12%PDF-1.7 raw bytes\x00\x00\x00\x0f{\"more\":\"json\"}\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpRetrieve, OperationID: "2", ObjectID: "Q1"}},
		{name: "a further segment over MaxSegment but within MaxMessage", maxSeg: 40, maxMsg: 100,
			in:   "\x00\x00\x00\x21{\"targetId\":\"Q1\",\"operationId\":2}\x00\x00\x00\x310123456789012345678901234567890123456789012345678\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpRetrieve, OperationID: "2", ObjectID: "Q1"}},
		{name: "first segment at MaxSegment, message at MaxMessage", maxSeg: 17, maxMsg: 20,
			in:   "\x00\x00\x00\x11{\"operationId\":1}\x00\x00\x00\x03abc\x00\x00\x00\x00",
			want: doip.Request{Op: doip.OpHello, OperationID: "1"}},
	} {
		for _, w := range wrappers {
			t.Run(tc.name+"/"+w.name, func(t *testing.T) {
				t.Parallel()
				c, _, _ := newTestCodec(w.wrap(strings.NewReader(tc.in)), tc.maxSeg, tc.maxMsg)
				got, err := c.ReadRequest()
				if err != nil {
					t.Fatalf("ReadRequest: %v", err)
				}
				want := tc.want
				want.Framing = doip.FramingSegment
				if !reflect.DeepEqual(*got, want) {
					t.Fatalf("got  %+v\nwant %+v", *got, want)
				}
				if _, err := c.ReadRequest(); err != io.EOF {
					t.Fatalf("after the request: %v, want io.EOF", err)
				}
			})
		}
	}
}

func TestReadRequestMalformed(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name           string
		maxSeg, maxMsg uint32
		in             string
		kind           doip.ErrorKind
		is             error // also in the chain: ErrTooLarge, io.ErrUnexpectedEOF, or nil for a *ProtocolError
		msg            string
	}{
		{name: "truncated length", in: "\x00\x00\x00",
			kind: doip.KindBadRequest, is: io.ErrUnexpectedEOF, msg: "segment: reading the length of segment 1: unexpected EOF"},
		{name: "truncated body", in: "\x00\x00\x00\x11{\"operationId\"",
			kind: doip.KindBadRequest, is: io.ErrUnexpectedEOF, msg: "segment: reading segment 1: got 14 of 17 bytes"},
		{name: "no end segment", in: "\x00\x00\x00\x11{\"operationId\":1}",
			kind: doip.KindBadRequest, is: io.ErrUnexpectedEOF, msg: "length of segment 2"},
		{name: "truncated further segment", in: "\x00\x00\x00\x11{\"operationId\":1}\x00\x00\x00\x09abc",
			kind: doip.KindBadRequest, is: io.ErrUnexpectedEOF, msg: "reading segment 2: 6 bytes missing"},
		{name: "first segment at MaxSegment+1", maxSeg: 16, in: "\x00\x00\x00\x11{\"operationId\":1}\x00\x00\x00\x00",
			kind: doip.KindTooLarge, is: ErrTooLarge, msg: "segment: segment 17 bytes exceeds limit 16"},
		{name: "message at MaxMessage+1", maxSeg: 17, maxMsg: 19, in: "\x00\x00\x00\x11{\"operationId\":1}\x00\x00\x00\x03abc\x00\x00\x00\x00",
			kind: doip.KindTooLarge, is: ErrTooLarge, msg: "segment: message 20 bytes exceeds limit 19"},
		{name: "4 GiB claim", in: "\xff\xff\xff\xff",
			kind: doip.KindTooLarge, is: ErrTooLarge, msg: "segment: segment 4294967295 bytes exceeds limit 1048576"},
		{name: "4 GiB claim in a further segment", in: "\x00\x00\x00\x11{\"operationId\":1}\xff\xff\xff\xff",
			kind: doip.KindTooLarge, is: ErrTooLarge, msg: "segment: message 4294967312 bytes exceeds limit 16777216"},
		{name: "empty request", in: "\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "segment: bad first segment: length 0, an empty request"},
		{name: "not JSON", in: "\x00\x00\x00\x05hello\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "segment: bad first segment: not JSON: invalid character 'h' looking for beginning of value"},
		{name: "JSON cut short", in: "\x00\x00\x00\x10{\"operationId\":1\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "bad first segment: not JSON: unexpected end of JSON input"},
		{name: "JSON array", in: "\x00\x00\x00\x13[{\"operationId\":1}]\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "segment: bad first segment: a JSON array, where a JSON object belongs"},
		{name: "JSON null", in: "\x00\x00\x00\x04null\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "bad first segment: a JSON null, where"},
		{name: "JSON string", in: "\x00\x00\x00\x07\"hello\"\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "bad first segment: a JSON string, where"},
		{name: "missing operationId", in: "\x00\x00\x00\x11{\"targetId\":\"Q1\"}\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "segment: bad operationId: missing"},
		{name: "null operationId", in: "\x00\x00\x00\x24{\"targetId\":\"Q1\",\"operationId\":null}\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "bad operationId: missing"},
		{name: "empty operationId", in: "\x00\x00\x00\x13{\"operationId\":\" \"}\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "bad operationId: an empty string"},
		{name: "boolean operationId", in: "\x00\x00\x00\x14{\"operationId\":true}\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "bad operationId: a JSON boolean"},
		{name: "object operation_id", in: "\x00\x00\x00\x19{\"operation_id\":{\"op\":1}}\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "bad operation_id: a JSON object"},
		{name: "fractional operationId", in: "\x00\x00\x00\x13{\"operationId\":1.5}\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "bad operationId: 1.5 is not an operation code"},
		{name: "negative operationId", in: "\x00\x00\x00\x12{\"operationId\":-1}\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "bad operationId: -1 is not an operation code"},
		{name: "targetId a number", in: "\x00\x00\x00\x20{\"targetId\":123,\"operationId\":2}\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "bad targetId: a JSON number, where a string belongs"},
		{name: "attributes an array", in: "\x00\x00\x00\x2a{\"operationId\":2,\"attributes\":[\"element\"]}\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "bad attributes: a JSON array, where a JSON object belongs"},
		{name: "element an object", in: "\x00\x00\x00\x2d{\"operationId\":2,\"attributes\":{\"element\":{}}}\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "bad attributes.element: a JSON object, where a string belongs"},
		{name: "params a string", in: "\x00\x00\x00\x24{\"operationId\":5,\"params\":\"pages=1\"}\x00\x00\x00\x00",
			kind: doip.KindBadRequest, msg: "bad params: a JSON string, where a JSON object belongs"},
	} {
		for _, w := range wrappers {
			t.Run(tc.name+"/"+w.name, func(t *testing.T) {
				t.Parallel()
				c, _, _ := newTestCodec(w.wrap(strings.NewReader(tc.in)), tc.maxSeg, tc.maxMsg)
				req, err := c.ReadRequest()
				if err == nil {
					t.Fatalf("ReadRequest = %+v, want an error", req)
				}
				de, ok := errors.AsType[*doip.Error](err)
				if !ok {
					t.Fatalf("error %v carries no *doip.Error", err)
				}
				if de.Kind != tc.kind || !strings.Contains(de.Message, tc.msg) || !strings.Contains(err.Error(), tc.msg) {
					t.Fatalf("error %q, answer %q; want kind %s saying %q", err, de, tc.kind, tc.msg)
				}
				if tc.is != nil {
					if !errors.Is(err, tc.is) {
						t.Fatalf("error %v is not %v", err, tc.is)
					}
				} else if _, ok := errors.AsType[*ProtocolError](err); !ok {
					t.Fatalf("error %v carries no *ProtocolError", err)
				}
			})
		}
	}
}

func TestReadRequestCleanEOF(t *testing.T) {
	t.Parallel()
	c, _, _ := newTestCodec(strings.NewReader(""), 0, 0)
	if _, err := c.ReadRequest(); err != io.EOF {
		t.Fatalf("ReadRequest on an empty stream = %v, want io.EOF", err)
	}
}

// TestReadRequestIOError checks that an error of the connection, such as a timeout, is
// passed on for the server to classify, not dressed up as a bad request.
func TestReadRequestIOError(t *testing.T) {
	t.Parallel()
	errTimeout := errors.New("i/o timeout")
	c, _, _ := newTestCodec(io.MultiReader(strings.NewReader("\x00\x00"), iotest.ErrReader(errTimeout)), 0, 0)
	_, err := c.ReadRequest()
	if !errors.Is(err, errTimeout) {
		t.Fatalf("err = %v, want the reader's error", err)
	}
	if _, ok := errors.AsType[*doip.Error](err); ok {
		t.Fatalf("err = %v carries a *doip.Error", err)
	}
}

// decodeAnswer reads one answer back: its segments up to the zero-length end, which must
// be the last bytes written.
func decodeAnswer(t *testing.T, b []byte) [][]byte {
	t.Helper()
	sr := NewReader(bytes.NewReader(b))
	var segs [][]byte
	for {
		n, err := sr.NextSegment()
		if err == ErrEndOfMessage {
			break
		}
		if err != nil {
			t.Fatalf("decoding the answer: %v", err)
		}
		seg, err := io.ReadAll(sr.Content())
		if err != nil || uint32(len(seg)) != n {
			t.Fatalf("decoding the answer: %d of %d bytes, %v", len(seg), n, err)
		}
		segs = append(segs, seg)
	}
	if _, err := sr.NextSegment(); err != io.EOF {
		t.Fatalf("bytes after the answer: %v", err)
	}
	return segs
}

// status is the first segment of an answer.
type status struct {
	Status     string            `json:"status"`
	Metadata   []json.RawMessage `json:"metadata"`
	Attributes *struct {
		Filename string `json:"filename"`
	} `json:"attributes"`
	Message string `json:"message"`
	Error   string `json:"error"`
}

func decodeStatus(t *testing.T, seg []byte) status {
	t.Helper()
	var st status
	dec := json.NewDecoder(bytes.NewReader(seg))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&st); err != nil {
		t.Fatalf("status segment %q: %v", seg, err)
	}
	return st
}

// writeResponse writes resp with a fresh codec and returns the bytes.
func writeResponse(t *testing.T, req *doip.Request, resp *doip.Response) ([]byte, error) {
	t.Helper()
	c, out, bw := newTestCodec(strings.NewReader(""), 0, 0)
	err := c.WriteResponse(req, resp)
	if ferr := bw.Flush(); ferr != nil {
		t.Fatal(ferr)
	}
	return out.Bytes(), err
}

// noWriterTo hides a reader's WriteTo, so CopyExact takes its io.CopyN path.
type noWriterTo struct{ io.Reader }

func TestWriteResponseComponent(t *testing.T) {
	t.Parallel()
	req := &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q123", Element: "main-pdf", Framing: doip.FramingSegment}
	for _, body := range []struct {
		name string
		r    func() io.Reader
	}{
		{"WriterTo", func() io.Reader { return strings.NewReader("%PDF-1.7 hello") }},
		{"plain reader", func() io.Reader { return noWriterTo{iotest.HalfReader(strings.NewReader("%PDF-1.7 hello"))} }},
	} {
		resp := &doip.Response{Op: doip.OpRetrieve, ObjectID: "Q123", Component: &doip.ComponentBody{
			ID: "doip:bitstream/Q123/main-pdf", MediaType: "application/pdf", Size: 14, Body: body.r()}}
		got, err := writeResponse(t, req, resp)
		if err != nil {
			t.Fatalf("%s: %v", body.name, err)
		}
		want := "\x00\x00\x00\x5b{\"status\":\"success\",\"metadata\":[],\"attributes\":{\"filename\":\"doip:bitstream/Q123/main-pdf\"}}\x00\x00\x00\x0e%PDF-1.7 hello\x00\x00\x00\x00"
		if string(got) != want {
			t.Fatalf("%s: wrote\n%q\nwant\n%q", body.name, got, want)
		}
		segs := decodeAnswer(t, got)
		st := decodeStatus(t, segs[0])
		if st.Status != "success" || len(st.Metadata) != 0 || st.Attributes == nil || st.Attributes.Filename != "doip:bitstream/Q123/main-pdf" {
			t.Fatalf("%s: status %+v", body.name, st)
		}
		if len(segs) != 2 || string(segs[1]) != "%PDF-1.7 hello" {
			t.Fatalf("%s: segments %q", body.name, segs)
		}
	}
}

func TestWriteResponseHello(t *testing.T) {
	t.Parallel()
	resp := &doip.Response{Op: doip.OpHello, Hello: &doip.ServiceInfo{
		ServiceID: "mardi/doip", Server: "doip-gateway", Version: "1.2.3",
		Operations: map[string]doip.Op{"hello": doip.OpHello, "retrieve": doip.OpRetrieve, "list_operations": doip.OpListOps, "invoke": doip.OpInvoke},
		Workflows:  []string{"equation_extraction"},
	}}
	meta, _, _, err := mardijson.ResponseParts(resp)
	if err != nil {
		t.Fatal(err)
	}
	got, err := writeResponse(t, &doip.Request{Op: doip.OpHello, Framing: doip.FramingSegment}, resp)
	if err != nil {
		t.Fatal(err)
	}
	segs := decodeAnswer(t, got)
	if len(segs) != 1 {
		t.Fatalf("%d segments, want the status only", len(segs))
	}
	st := decodeStatus(t, segs[0])
	if st.Status != "success" || st.Attributes != nil || len(st.Metadata) != 1 {
		t.Fatalf("status %+v", st)
	}
	if !bytes.Equal(st.Metadata[0], meta) {
		t.Fatalf("metadata\n%s\nResponseParts gives\n%s", st.Metadata[0], meta)
	}
	var hello struct {
		Operation  string         `json:"operation"`
		Operations map[string]int `json:"availableOperations"`
	}
	if err := json.Unmarshal(st.Metadata[0], &hello); err != nil || hello.Operation != "hello" || hello.Operations["invoke"] != 5 {
		t.Fatalf("hello metadata %s: %+v, %v", st.Metadata[0], hello, err)
	}
}

func TestWriteResponseParts(t *testing.T) {
	t.Parallel()
	record := json.RawMessage("{\n  \"@id\": \"Q123\",\n  \"name\": \"a <b> & c\"\n}")
	for _, tc := range []struct {
		name  string
		resp  *doip.Response
		want  string // the whole answer, for the cases where it is short enough to read
		check func(t *testing.T, st status, segs [][]byte)
	}{
		{name: "record, copied as it is",
			resp: &doip.Response{Op: doip.OpRetrieve, ObjectID: "Q123", Record: &doip.Record{ObjectID: "Q123", JSON: record}},
			want: "\x00\x00\x00\x4c{\"status\":\"success\",\"metadata\":[{\n  \"@id\": \"Q123\",\n  \"name\": \"a <b> & c\"\n}]}\x00\x00\x00\x00"},
		{name: "list operations",
			resp: &doip.Response{Op: doip.OpListOps, Operations: &doip.OperationList{Operations: map[string]doip.Op{"retrieve": 2, "hello": 1}}},
			want: "\x00\x00\x00\x70{\"status\":\"success\",\"metadata\":[{\"operation\":\"list_operations\",\"availableOperations\":{\"hello\":1,\"retrieve\":2}}]}\x00\x00\x00\x00"},
		{name: "purge",
			resp: &doip.Response{Op: doip.OpPurge, ObjectID: "Q7", Purge: &doip.PurgeResult{Purged: true}},
			want: "\x00\x00\x00\x55{\"status\":\"success\",\"metadata\":[{\"operation\":\"purge\",\"objectId\":\"Q7\",\"purged\":true}]}\x00\x00\x00\x00"},
		{name: "record with element data",
			resp: &doip.Response{Op: doip.OpRetrieve, ObjectID: "Q1", Record: &doip.Record{JSON: json.RawMessage(`{"@id":"Q1"}`)}, Elements: []doip.ComponentBody{
				{ID: "a", Size: 2, Body: strings.NewReader("aa")}, {ID: "empty", Size: 0}, {ID: "b", Size: 3, Body: strings.NewReader("bbb")}}},
			want: "\x00\x00\x00\x4c{\"status\":\"success\",\"metadata\":[{\"@id\":\"Q1\"}],\"attributes\":{\"filename\":\"a\"}}\x00\x00\x00\x02aa\x00\x00\x00\x03bbb\x00\x00\x00\x00"},
		{name: "empty component only",
			resp: &doip.Response{Op: doip.OpRetrieve, Component: &doip.ComponentBody{ID: "empty", Size: 0}},
			want: "\x00\x00\x00\x22{\"status\":\"success\",\"metadata\":[]}\x00\x00\x00\x00"},
		{name: "invoke: metadata, then the workflow result, then derived components",
			resp: &doip.Response{Op: doip.OpInvoke, ObjectID: "Q123", Invoke: &doip.InvokeResult{
				Workflow: "equation_extraction",
				Result:   json.RawMessage(`{"workflow":"equation_extraction","source":"Q123","derivedComponents":[{"componentId":"equations","mediaType":"application/json","size":4}]}`),
				Derived:  []doip.ComponentBody{{ID: "equations", MediaType: "application/json", Size: 4, Body: strings.NewReader("[1,2]"[:4])}},
			}},
			check: func(t *testing.T, st status, segs [][]byte) {
				if len(st.Metadata) != 2 {
					t.Fatalf("%d metadata entries, want 2", len(st.Metadata))
				}
				var meta struct {
					Operation, Workflow string
					Result              json.RawMessage
				}
				if err := json.Unmarshal(st.Metadata[0], &meta); err != nil || meta.Operation != "invoke" || meta.Workflow != "equation_extraction" {
					t.Fatalf("first metadata %s: %v", st.Metadata[0], err)
				}
				if !bytes.Equal(st.Metadata[1], meta.Result) || !bytes.Contains(st.Metadata[1], []byte("derivedComponents")) {
					t.Fatalf("second metadata %s, want the workflow result %s", st.Metadata[1], meta.Result)
				}
				if st.Attributes == nil || st.Attributes.Filename != "equations" || len(segs) != 2 || string(segs[1]) != "[1,2" {
					t.Fatalf("attributes %+v, segments %q", st.Attributes, segs)
				}
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := writeResponse(t, &doip.Request{Op: tc.resp.Op, ObjectID: tc.resp.ObjectID}, tc.resp)
			if err != nil {
				t.Fatal(err)
			}
			if tc.want != "" && string(got) != tc.want {
				t.Fatalf("wrote\n%q\nwant\n%q", got, tc.want)
			}
			segs := decodeAnswer(t, got)
			st := decodeStatus(t, segs[0])
			if st.Status != "success" || st.Metadata == nil {
				t.Fatalf("status %+v", st)
			}
			if tc.check != nil {
				tc.check(t, st, segs)
			}
		})
	}
}

func TestWriteResponseFailures(t *testing.T) {
	t.Parallel()
	comp := func(size int64, body io.Reader) *doip.Response {
		return &doip.Response{Op: doip.OpRetrieve, Component: &doip.ComponentBody{ID: "c1", Size: size, Body: body}}
	}
	for _, tc := range []struct {
		name    string
		resp    *doip.Response
		msg     string
		kind    doip.ErrorKind // when a *doip.Error is expected
		written string         // what went out before the error
	}{
		{name: "short body, WriterTo", resp: comp(10, strings.NewReader("hello")),
			msg: "segment: streaming component c1: sent 5 of 10 bytes: copied 5 bytes, want 10", written: "\x00\x00\x00\x41{\"status\":\"success\",\"metadata\":[],\"attributes\":{\"filename\":\"c1\"}}\x00\x00\x00\x0ahello"},
		{name: "short body, plain reader", resp: comp(10, noWriterTo{strings.NewReader("hello")}),
			msg: "segment: streaming component c1: sent 5 of 10 bytes: unexpected EOF", written: "\x00\x00\x00\x41{\"status\":\"success\",\"metadata\":[],\"attributes\":{\"filename\":\"c1\"}}\x00\x00\x00\x0ahello"},
		{name: "long body, WriterTo: nothing past Size goes out", resp: comp(3, strings.NewReader("hello")),
			msg: "runs 2 bytes past the end of the segment", written: "\x00\x00\x00\x41{\"status\":\"success\",\"metadata\":[],\"attributes\":{\"filename\":\"c1\"}}\x00\x00\x00\x03hel"},
		{name: "body that fails", resp: comp(3, iotest.ErrReader(errors.New("backend gone"))),
			msg: "segment: streaming component c1: sent 0 of 3 bytes: backend gone", written: "\x00\x00\x00\x41{\"status\":\"success\",\"metadata\":[],\"attributes\":{\"filename\":\"c1\"}}\x00\x00\x00\x03"},
		{name: "negative size", resp: comp(-1, nil), kind: doip.KindTooLarge, msg: "component c1 is -1 bytes"},
		{name: "size over 4 GiB - 1", resp: comp(1<<32, strings.NewReader("")), kind: doip.KindTooLarge, msg: "component c1 is 4294967296 bytes, more than a segment can carry"},
		{name: "no body", resp: comp(3, nil), kind: doip.KindInternal, msg: "component c1 of 3 bytes has no body"},
		{name: "empty response", resp: &doip.Response{Op: doip.OpRetrieve}, msg: "empty response"},
		{name: "record that is not JSON", resp: &doip.Response{Record: &doip.Record{JSON: json.RawMessage("{oops")}}, msg: "segment: the response's metadata is not valid JSON"},
	} {
		got, err := writeResponse(t, &doip.Request{Op: doip.OpRetrieve}, tc.resp)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: err = %v, want one saying %q", tc.name, err, tc.msg)
			continue
		}
		if tc.kind != "" {
			if de, ok := errors.AsType[*doip.Error](err); !ok || de.Kind != tc.kind {
				t.Errorf("%s: err = %v, want a *doip.Error of kind %s", tc.name, err, tc.kind)
			}
		}
		if string(got) != tc.written {
			t.Errorf("%s: wrote %q, want %q", tc.name, got, tc.written)
		}
	}
}

func TestWriteError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		req  *doip.Request
		e    *doip.Error
		want string
	}{
		{"operation error", &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q404"}, doip.Errorf(doip.KindNotFound, "object Q404 not found"),
			"\x00\x00\x00\x47{\"status\":\"error\",\"error\":\"NotFound\",\"message\":\"object Q404 not found\"}\x00\x00\x00\x00"},
		{"framing error, no request", nil, doip.Errorf(doip.KindTooLarge, "segment: segment 4294967295 bytes exceeds limit 1048576"),
			"\x00\x00\x00\x69{\"status\":\"error\",\"error\":\"TooLarge\",\"message\":\"segment: segment 4294967295 bytes exceeds limit 1048576\"}\x00\x00\x00\x00"},
		{"text that needs escaping", nil, doip.Errorf(doip.KindBadRequest, "bad \"x\" <y>\n"),
			"\x00\x00\x00\x43{\"status\":\"error\",\"error\":\"BadRequest\",\"message\":\"bad \\\"x\\\" <y>\\n\"}\x00\x00\x00\x00"},
		{"budget exceeded", &doip.Request{Op: doip.OpInvoke, ObjectID: "Q1"}, doip.Errorf(doip.KindLimitExceeded, "time budget of 60s exceeded"),
			"\x00\x00\x00\x52{\"status\":\"error\",\"error\":\"LimitExceeded\",\"message\":\"time budget of 60s exceeded\"}\x00\x00\x00\x00"},
		{"nil error", nil, nil,
			"\x00\x00\x00\x40{\"status\":\"error\",\"error\":\"Internal\",\"message\":\"internal error\"}\x00\x00\x00\x00"},
	} {
		c, out, bw := newTestCodec(strings.NewReader(""), 0, 0)
		if err := c.WriteError(tc.req, tc.e); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if err := bw.Flush(); err != nil {
			t.Fatal(err)
		}
		if out.String() != tc.want {
			t.Errorf("%s: wrote\n%q\nwant\n%q", tc.name, out.String(), tc.want)
		}
		segs := decodeAnswer(t, out.Bytes())
		st := decodeStatus(t, segs[0])
		wantErr := doip.AsError(nil)
		if tc.e != nil {
			wantErr = tc.e
		}
		if len(segs) != 1 || st.Status != "error" || st.Message != wantErr.Message || st.Error != string(wantErr.Kind) {
			t.Errorf("%s: decoded %+v from %d segments", tc.name, st, len(segs))
		}
	}
}

// TestReadRequestThenError runs the server's sequence after a framing error: ReadRequest
// fails, and WriteError answers with what the error carries.
func TestReadRequestThenError(t *testing.T) {
	t.Parallel()
	c, out, bw := newTestCodec(strings.NewReader("\xff\xff\xff\xff"), 0, 0)
	_, err := c.ReadRequest()
	de, ok := errors.AsType[*doip.Error](err)
	if !ok {
		t.Fatalf("ReadRequest = %v", err)
	}
	if err := c.WriteError(nil, de); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "\x00\x00\x00\x7d{\"status\":\"error\",\"error\":\"TooLarge\",\"message\":\"segment: segment 4294967295 bytes exceeds limit 1048576: segment: too large\"}\x00\x00\x00\x00"
	if out.String() != want {
		t.Fatalf("wrote\n%q\nwant\n%q", out.String(), want)
	}
}

func TestKeepAliveAndProgress(t *testing.T) {
	t.Parallel()
	c, out, bw := newTestCodec(strings.NewReader(""), 0, 0)
	if c.KeepAlive() {
		t.Error("KeepAlive = true; one request per connection")
	}
	if err := c.WriteProgress(&doip.Request{}, "running", "half way", 0.5); err != nil {
		t.Errorf("WriteProgress = %v", err)
	}
	_ = bw.Flush()
	if out.Len() != 0 {
		t.Errorf("WriteProgress wrote %q", out.Bytes())
	}
}
