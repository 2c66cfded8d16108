package envelope

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func newTestCodec(in []byte) (*ServerCodec, *bytes.Buffer, *bufio.Writer) {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	return NewServerCodec(bufio.NewReader(bytes.NewReader(in)), bw, Options{Limits: doip.Limits{MaxPayload: 1 << 16, MaxSegment: 1024}}), &out, bw
}

func TestServerCodecReadsReferenceRequests(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		file string
		want doip.Request
	}{
		{"mardi-request-hello.bin", doip.Request{Op: doip.OpHello, OperationID: "hello"}},
		{"mardi-request-list-ops.bin", doip.Request{Op: doip.OpListOps, OperationID: "list_operations"}},
		{"mardi-request-retrieve-metadata.bin", doip.Request{Op: doip.OpRetrieve, OperationID: "retrieve", ObjectID: "Q123"}},
		{"mardi-request-retrieve-component.bin", doip.Request{Op: doip.OpRetrieve, OperationID: "retrieve", ObjectID: "Q123", Element: "doip:bitstream/Q123/main-pdf"}},
		{"mardi-request-invoke.bin", doip.Request{Op: doip.OpInvoke, OperationID: "invoke", ObjectID: "Q123", Workflow: "equation_extraction", Params: json.RawMessage(`{"pages":[1,2]}`)}},
	} {
		c, _, _ := newTestCodec(nil)
		c.fr = NewFramer(nil, iotest.OneByteReader(bytes.NewReader(readVector(t, tc.file))))
		got, err := c.ReadRequest()
		if err != nil {
			t.Fatalf("%s: %v", tc.file, err)
		}
		tc.want.Framing = doip.FramingEnvelope
		if got.Op != tc.want.Op || got.OperationID != tc.want.OperationID || got.ObjectID != tc.want.ObjectID ||
			got.Element != tc.want.Element || got.Workflow != tc.want.Workflow || string(got.Params) != string(tc.want.Params) || got.Framing != tc.want.Framing {
			t.Errorf("%s: got %+v, want %+v", tc.file, got, tc.want)
		}
		if _, err := c.ReadRequest(); !errors.Is(err, io.EOF) {
			t.Errorf("%s: second read = %v, want io.EOF", tc.file, err)
		}
	}
}

func TestServerCodecRequestVariants(t *testing.T) {
	t.Parallel()
	msg := func(op doip.Op, id string, blocks ...Block) []byte {
		b, err := (&Message{Header: Header{Type: TypeRequest, Op: op}, ObjectID: id, Blocks: blocks}).Append(nil)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	for _, tc := range []struct {
		name string
		in   []byte
		want func(*doip.Request) bool
	}{
		{"op named in metadata when the byte is unknown", msg(0x00, "", &MetadataBlock{JSON: []byte(`{"operation":"list_ops"}`)}),
			func(r *doip.Request) bool { return r.Op == doip.OpListOps }},
		{"componentId alias", msg(doip.OpRetrieve, "Q1", &MetadataBlock{JSON: []byte(`{"componentId":"main-pdf"}`)}),
			func(r *doip.Request) bool { return r.Element == "main-pdf" }},
		{"workflow and params in a workflow block", msg(doip.OpInvoke, "Q1", &MetadataBlock{JSON: []byte(`{"operation":"invoke"}`)}, &WorkflowBlock{JSON: []byte(`{"workflow":"w","params":{"a":1}}`)}),
			func(r *doip.Request) bool { return r.Workflow == "w" && string(r.Params) == `{"a":1}` }},
		{"null params are none", msg(doip.OpInvoke, "Q1", &MetadataBlock{JSON: []byte(`{"workflow":"w","params":null}`)}),
			func(r *doip.Request) bool { return r.Params == nil }},
	} {
		c, _, _ := newTestCodec(tc.in)
		got, err := c.ReadRequest()
		if err != nil || !tc.want(got) {
			t.Errorf("%s: got %+v, %v", tc.name, got, err)
		}
	}
}

func TestServerCodecReadErrorsCarryKinds(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
		kind doip.ErrorKind
	}{
		{"bad version", "\x01\x01\x01\x00\x00\x00\x00\x00\x00\x00", doip.KindBadRequest},
		{"too large", "\x02\x01\x01\x00\x00\x00\x00\x01\x00\x01", doip.KindTooLarge},
		{"a response where a request belongs", "\x02\x02\x01\x00\x00\x00\x00\x00\x00\x00", doip.KindBadRequest},
		{"metadata with a wrong field type", "\x02\x01\x02\x00\x00\x00\x00\x00\x00\x12\x01\x00\x00\x00\x0d{\"element\":7}", doip.KindBadRequest},
	} {
		c, _, _ := newTestCodec([]byte(tc.in))
		_, err := c.ReadRequest()
		var e *doip.Error
		if !errors.As(err, &e) || e.Kind != tc.kind || e.Message == "" {
			t.Errorf("%s: err = %v, want a %s doip.Error", tc.name, err, tc.kind)
		}
	}
	c, _, _ := newTestCodec([]byte("\x02\x01"))
	if _, err := c.ReadRequest(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("truncated header: %v", err)
	}
}

// Our hello and error answers, given the reference server's values, are its exact bytes.
func TestServerCodecWritesReferenceBytes(t *testing.T) {
	t.Parallel()
	c, out, bw := newTestCodec(readVector(t, "mardi-request-hello.bin"))
	req, err := c.ReadRequest()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.WriteResponse(req, &doip.Response{Op: req.Op, Hello: &doip.ServiceInfo{
		Server: "mardi_doip_server", Operations: map[string]doip.Op{"hello": 1, "retrieve": 2, "invoke": 5}}}); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	if want := readVector(t, "mardi-response-hello.bin"); !bytes.Equal(out.Bytes(), want) {
		t.Errorf("hello:\n got %q\nwant %q", out.Bytes(), want)
	}

	c, out, bw = newTestCodec(readVector(t, "mardi-request-retrieve-metadata.bin"))
	req, err = c.ReadRequest()
	if err != nil {
		t.Fatal(err)
	}
	req.ObjectID = "Q999"
	if err := c.WriteError(req, &doip.Error{Kind: "KeyError", Message: "Component id not found: x"}); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	if want := readVector(t, "mardi-response-error.bin"); !bytes.Equal(out.Bytes(), want) {
		t.Errorf("error:\n got %q\nwant %q", out.Bytes(), want)
	}

	c, out, bw = newTestCodec(readVector(t, "mardi-request-retrieve-component.bin"))
	req, err = c.ReadRequest()
	if err != nil {
		t.Fatal(err)
	}
	body := "%PDF-1.4 tiny"
	if err := c.WriteResponse(req, &doip.Response{Component: &doip.ComponentBody{ID: req.Element, MediaType: "application/pdf",
		Size: int64(len(body)), Body: iotest.HalfReader(strings.NewReader(body))}}); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	if want := readVector(t, "mardi-response-retrieve-component.bin"); !bytes.Equal(out.Bytes(), want) {
		t.Errorf("component:\n got %q\nwant %q", out.Bytes(), want)
	}
}

func TestServerCodecInvokeAndLimits(t *testing.T) {
	t.Parallel()
	c, out, bw := newTestCodec(readVector(t, "mardi-request-invoke.bin"))
	req, err := c.ReadRequest()
	if err != nil {
		t.Fatal(err)
	}
	result := json.RawMessage(`{"workflow":"equation_extraction","sourceObject":"Q123"}`)
	eq := `[{"page":1,"latex":"E=mc^2"}]`
	if err := c.WriteResponse(req, &doip.Response{Invoke: &doip.InvokeResult{Workflow: "equation_extraction", Result: result,
		Derived: []doip.ComponentBody{{ID: "doip:bitstream/Q123/equations.json", MediaType: "application/json", Size: int64(len(eq)), Body: strings.NewReader(eq)}}}}); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	m, err := NewFramer(nil, bytes.NewReader(out.Bytes())).ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if m.Header.Op != doip.OpInvoke || m.ObjectID != "Q123" || len(m.Blocks) != 3 {
		t.Fatalf("invoke answer: %+v", m)
	}
	if cb := m.Blocks[1].(*ComponentBlock); string(cb.Content) != eq || string(m.Blocks[2].(*WorkflowBlock).JSON) != string(result) {
		t.Errorf("invoke blocks: %+v", m.Blocks)
	}
	if !bytes.Contains(m.Metadata(), []byte(`"result":{"workflow"`)) {
		t.Errorf("metadata = %s", m.Metadata())
	}

	// A component the envelope cannot carry is refused before anything is written.
	c, out, _ = newTestCodec(nil)
	err = c.WriteResponse(&doip.Request{ObjectID: "Q1"}, &doip.Response{Component: &doip.ComponentBody{ID: "big", Size: 1 << 32}})
	var e *doip.Error
	if !errors.As(err, &e) || e.Kind != doip.KindTooLarge || out.Len() != 0 {
		t.Errorf("4 GiB component: %v, %d bytes written", err, out.Len())
	}
	// A body shorter than its announced size is an error, not a short answer passed off as whole.
	c, _, _ = newTestCodec(nil)
	if err := c.WriteResponse(&doip.Request{ObjectID: "Q1"}, &doip.Response{Component: &doip.ComponentBody{ID: "x", Size: 10, Body: strings.NewReader("abc")}}); err == nil {
		t.Error("short body accepted")
	}
}

func readVector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
