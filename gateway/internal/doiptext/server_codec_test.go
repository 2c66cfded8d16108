package doiptext

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"reflect"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// codec returns a ServerCodec over in and the buffer its answers go to.
func codec(in io.Reader, opts Options) (*ServerCodec, *bytes.Buffer, *bufio.Writer) {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	return NewServerCodec(bufio.NewReader(in), bw, opts), &out, bw
}

func int64p(n int64) *int64 { return &n }

// What each request vector decodes to.
var wantRequests = map[string][]*doip.Request{
	"doipy-request-hello":                              {{Op: doip.OpHello, OperationID: OpIDHello, ObjectID: "test/service"}},
	"doipy-request-list-ops":                           {{Op: doip.OpListOps, OperationID: OpIDListOperations, ObjectID: "test/service"}},
	"doipy-request-retrieve-metadata":                  {{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "test/abc", ElementSizes: true}},
	"doipy-request-retrieve-element":                   {{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "test/abc", Element: "file"}},
	"doipy-request-retrieve-missing":                   {{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "test/missing", ElementSizes: true}},
	"doipy-request-create-with-bytes":                  {{Op: doip.OpCreate, OperationID: OpIDCreate, Token: "secret", Username: "admin"}},
	"cnri-style-request-hello":                         {{Op: doip.OpHello, OperationID: OpIDHello, ObjectID: "test/service", RequestID: helloID}},
	"cnri-style-request-retrieve-include-element-data": {{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "test/abc", ElementSizes: true, IncludeElementData: true, RequestID: retrieveID}},
	"cnri-style-two-requests-one-connection": {
		{Op: doip.OpHello, OperationID: OpIDHello, ObjectID: "test/service", RequestID: helloID},
		{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "test/abc", Element: "file", RequestID: retrieveID},
	},
}

func TestReadRequestVectors(t *testing.T) {
	for _, v := range loadVectors(t) {
		if !strings.HasPrefix(v.name, "doipy-request-") && !strings.HasPrefix(v.name, "cnri-style-request-") && !strings.HasPrefix(v.name, "cnri-style-two-requests-") {
			continue
		}
		want, ok := wantRequests[v.name]
		if !ok {
			t.Errorf("request vector %s has no expected request", v.name)
			continue
		}
		t.Run(v.name, func(t *testing.T) {
			for _, fd := range feeds {
				c, _, _ := codec(fd.wrap(bytes.NewReader(v.data)), Options{})
				for i, w := range want {
					w.Framing = doip.FramingText
					got, err := c.ReadRequest()
					if err != nil {
						t.Fatalf("%s: request %d: %v", fd.name, i, err)
					}
					dropWrite(t, got) // writes are checked in write_test.go
					if !reflect.DeepEqual(got, w) {
						t.Fatalf("%s: request %d:\n%+v\nwant\n%+v", fd.name, i, got, w)
					}
				}
				if _, err := c.ReadRequest(); err != io.EOF {
					t.Fatalf("%s: after the last request: %v, want io.EOF", fd.name, err)
				}
			}
		})
	}
}

// msg builds a one-segment request message.
func msg(first string, more ...string) string {
	s := first + "\n#\n"
	for _, m := range more {
		s += m
	}
	return s + "#\n"
}

func TestReadRequestFields(t *testing.T) {
	const target = `"targetId":"Q1"`
	tests := []struct {
		name string
		in   string
		want doip.Request // Framing is added
	}{
		{"number requestId kept as its text", msg(`{"requestId":-12.5e3,` + target + `,"operationId":"0.DOIP/Op.Hello"}`),
			doip.Request{Op: doip.OpHello, OperationID: OpIDHello, ObjectID: "Q1", RequestID: "-12.5e3"}},
		{"null requestId absent", msg(`{"requestId":null,` + target + `,"operationId":"0.DOIP/Op.Hello"}`),
			doip.Request{Op: doip.OpHello, OperationID: OpIDHello, ObjectID: "Q1"}},
		{"escaped requestId", msg(`{"requestId":"a\u0062\"c",` + target + `,"operationId":"0.DOIP/Op.Hello"}`),
			doip.Request{Op: doip.OpHello, OperationID: OpIDHello, ObjectID: "Q1", RequestID: `ab"c`}},
		{"empty targetId", msg(`{"targetId":"","operationId":"0.DOIP/Op.Hello"}`),
			doip.Request{Op: doip.OpHello, OperationID: OpIDHello}},
		{"unknown properties ignored", msg(`{"clientId":"me","authentication":{"password":"x"},` + target + `,"operationId":"0.DOIP/Op.ListOperations","extra":[1]}`),
			doip.Request{Op: doip.OpListOps, OperationID: OpIDListOperations, ObjectID: "Q1", Token: "x", Username: "me"}},
		{"pretty CRLF first segment", "{\r\n  \"targetId\": \"Q1\",\r\n  \"operationId\": \"0.DOIP/Op.Retrieve\"\r\n}\r\n#\r\n#\r\n",
			doip.Request{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "Q1", ElementSizes: true}},
		{"update", msg(`{`+target+`,"operationId":"0.DOIP/Op.Update"}`, "{}\n#\n"),
			doip.Request{Op: doip.OpUpdate, OperationID: OpIDUpdate, ObjectID: "Q1"}},
		{"search", msg(`{` + target + `,"operationId":"0.DOIP/Op.Search","attributes":{"query":"*"}}`),
			doip.Request{Op: doip.OpSearch, OperationID: OpIDSearch, ObjectID: "Q1", Search: &doip.SearchRequest{Query: "*", PageSize: -1}}},
		{"delete", msg(`{` + target + `,"operationId":"0.DOIP/Op.Delete"}`),
			doip.Request{Op: doip.OpDelete, OperationID: OpIDDelete, ObjectID: "Q1"}},
		{"other 0.DOIP op is unknown", msg(`{` + target + `,"operationId":"0.DOIP/Op.Frobnicate"}`),
			doip.Request{Op: doip.OpUnknown, OperationID: "0.DOIP/Op.Frobnicate", ObjectID: "Q1"}},
		{"retrieve element with range", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"element":"main-pdf","range":{"start":10,"end":19}}}`),
			doip.Request{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "Q1", Element: "main-pdf", Range: &doip.Range{Start: int64p(10), End: int64p(19)}}},
		{"range with null start", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"element":"e","range":{"start":null,"end":100}}}`),
			doip.Request{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "Q1", Element: "e", Range: &doip.Range{End: int64p(100)}}},
		{"range without end", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"element":"e","range":{"start":5}}}`),
			doip.Request{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "Q1", Element: "e", Range: &doip.Range{Start: int64p(5)}}},
		{"range of nulls is no range", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"element":"e","range":{"start":null,"end":null}}}`),
			doip.Request{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "Q1", Element: "e"}},
		{"range null", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"element":"e","range":null}}`),
			doip.Request{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "Q1", Element: "e"}},
		{"range in exponent form", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"element":"e","range":{"start":1e3,"end":2.0}}}`),
			doip.Request{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "Q1", Element: "e", Range: &doip.Range{Start: int64p(1000), End: int64p(2)}}},
		{"includeElementData true", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"includeElementData":true}}`),
			doip.Request{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "Q1", ElementSizes: true, IncludeElementData: true}},
		{"includeElementData \"false\"", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"includeElementData":"false"}}`),
			doip.Request{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "Q1", ElementSizes: true}},
		{"includeElementData false", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"includeElementData":false}}`),
			doip.Request{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "Q1", ElementSizes: true}},
		{"retrieve attributes ignored elsewhere", msg(`{` + target + `,"operationId":"0.DOIP/Op.Hello","attributes":{"element":7,"range":"x"}}`),
			doip.Request{Op: doip.OpHello, OperationID: OpIDHello, ObjectID: "Q1"}},
		{"extended operation, no params", msg(`{` + target + `,"operationId":"equation_extraction"}`),
			doip.Request{Op: doip.OpInvoke, OperationID: "equation_extraction", ObjectID: "Q1", Workflow: "equation_extraction"}},
		{"params from compact input", msg(`{` + target + `,"operationId":"wf","input":{"pages":[1,2]},"attributes":{"params":{"x":1}}}`),
			doip.Request{Op: doip.OpInvoke, OperationID: "wf", ObjectID: "Q1", Workflow: "wf", Params: json.RawMessage(`{"pages":[1,2]}`)}},
		{"params from attributes", msg(`{`+target+`,"operationId":"wf","attributes":{"params":{"x":1}}}`, "{\"y\":2}\n#\n"),
			doip.Request{Op: doip.OpInvoke, OperationID: "wf", ObjectID: "Q1", Workflow: "wf", Params: json.RawMessage(`{"x":1}`)}},
		{"params from the first input segment", msg(`{`+target+`,"operationId":"wf"}`, "@\n1\nx\n#\n", "{\"y\":2}\n#\n", "{\"z\":3}\n#\n"),
			doip.Request{Op: doip.OpInvoke, OperationID: "wf", ObjectID: "Q1", Workflow: "wf", Params: json.RawMessage(`{"y":2}`)}},
		{"non-object input is no params", msg(`{` + target + `,"operationId":"wf","input":"text","attributes":{"params":[1]}}`),
			doip.Request{Op: doip.OpInvoke, OperationID: "wf", ObjectID: "Q1", Workflow: "wf"}},
		{"non-object input falls back to attributes.params", msg(`{` + target + `,"operationId":"wf","input":[1],"attributes":{"params":{"x":1}}}`),
			doip.Request{Op: doip.OpInvoke, OperationID: "wf", ObjectID: "Q1", Workflow: "wf", Params: json.RawMessage(`{"x":1}`)}},
		{"first input segment not an object", msg(`{`+target+`,"operationId":"wf"}`, "[1]\n#\n", "{\"y\":2}\n#\n"),
			doip.Request{Op: doip.OpInvoke, OperationID: "wf", ObjectID: "Q1", Workflow: "wf"}},
		{"create input read and dropped", string(readVector(t, "doipy-request-create-with-bytes")),
			doip.Request{Op: doip.OpCreate, OperationID: OpIDCreate, Token: "secret", Username: "admin"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			forFeeds(t, []byte(tc.in), func(t *testing.T, br *bufio.Reader) {
				c := NewServerCodec(br, bufio.NewWriter(io.Discard), Options{})
				got, err := c.ReadRequest()
				if err != nil {
					t.Fatal(err)
				}
				dropWrite(t, got) // writes are checked in write_test.go
				want := tc.want
				want.Framing = doip.FramingText
				if !reflect.DeepEqual(got, &want) {
					t.Fatalf("got\n%+v\nwant\n%+v", got, &want)
				}
				if _, err := c.ReadRequest(); err != io.EOF {
					t.Fatalf("then %v, want io.EOF", err)
				}
			})
		})
	}
}

// Bad requests fail with a *doip.Error of the right kind whose message names the problem.
func TestReadRequestErrors(t *testing.T) {
	const target = `"targetId":"Q1"`
	tests := []struct {
		name string
		in   string
		opts Options
		kind doip.ErrorKind
		msg  string // part of the message
	}{
		{"first segment an array", msg(`[1]`), Options{}, doip.KindBadRequest, "first segment must be a JSON object, not an array"},
		{"first segment a string", msg(`"x"`), Options{}, doip.KindBadRequest, "not a string"},
		{"first segment bytes", "@\n1\nx\n#\n#\n", Options{}, doip.KindBadRequest, "not a bytes segment"},
		{"no segments", "#\n", Options{}, doip.KindBadRequest, "no segments"},
		{"no targetId", msg(`{"operationId":"0.DOIP/Op.Hello"}`), Options{}, doip.KindBadRequest, "no targetId"},
		{"null targetId", msg(`{"targetId":null,"operationId":"0.DOIP/Op.Hello"}`), Options{}, doip.KindBadRequest, "no targetId"},
		{"number targetId", msg(`{"targetId":5,"operationId":"0.DOIP/Op.Hello"}`), Options{}, doip.KindBadRequest, "targetId must be a string, not a number"},
		{"no operationId", msg(`{` + target + `}`), Options{}, doip.KindBadRequest, "no operationId"},
		{"empty operationId", msg(`{` + target + `,"operationId":""}`), Options{}, doip.KindBadRequest, "operationId is empty"},
		{"object operationId", msg(`{` + target + `,"operationId":{}}`), Options{}, doip.KindBadRequest, "operationId must be a string, not an object"},
		{"object requestId", msg(`{"requestId":{},` + target + `,"operationId":"0.DOIP/Op.Hello"}`), Options{}, doip.KindBadRequest, "requestId must be a string, not an object"},
		{"boolean requestId", msg(`{"requestId":true,` + target + `,"operationId":"0.DOIP/Op.Hello"}`), Options{}, doip.KindBadRequest, "requestId must be a string, not a boolean"},
		{"attributes an array", msg(`{` + target + `,"operationId":"0.DOIP/Op.Hello","attributes":[]}`), Options{}, doip.KindBadRequest, "attributes must be a JSON object, not an array"},
		{"element a number", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"element":1}}`), Options{}, doip.KindBadRequest, "attributes.element must be a string"},
		{"includeElementData yes", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"includeElementData":"yes"}}`), Options{}, doip.KindBadRequest, "includeElementData must be true or false, not a string"},
		{"includeElementData 1", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"includeElementData":1}}`), Options{}, doip.KindBadRequest, "includeElementData must be true or false, not a number"},
		{"range an array", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"element":"e","range":[1,2]}}`), Options{}, doip.KindBadRequest, "attributes.range must be an object"},
		{"range start negative", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"element":"e","range":{"start":-1}}}`), Options{}, doip.KindBadRequest, "range.start must be a whole number from 0, not -1"},
		{"range end a fraction", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"element":"e","range":{"end":1.5}}}`), Options{}, doip.KindBadRequest, "range.end must be a whole number from 0, not 1.5"},
		{"range end a string", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"element":"e","range":{"end":"9"}}}`), Options{}, doip.KindBadRequest, "range.end must be a number, not a string"},
		{"range start huge", msg(`{` + target + `,"operationId":"0.DOIP/Op.Retrieve","attributes":{"element":"e","range":{"start":1e300}}}`), Options{}, doip.KindBadRequest, "range.start must be a whole number"},
		{"compact input and input segments", msg(`{`+target+`,"operationId":"wf","input":{}}`, "{}\n#\n"), Options{}, doip.KindBadRequest, "input given both in the first segment and as 1 more segments"},
		{"bad framing", "@\n05\n", Options{}, doip.KindBadRequest, "bad chunk size: leading zero"},
		{"bad framing in input", msg(`{`+target+`,"operationId":"wf"}`, "@\nzz\n"), Options{}, doip.KindBadRequest, "bad chunk size"},
		{"invalid JSON", msg(`{"targetId":}`), Options{}, doip.KindBadRequest, "bad JSON segment: not valid JSON"},
		{"first segment over MaxSegment", msg(`{` + target + `,"operationId":"0.DOIP/Op.Hello"}`), Options{Limits: doip.Limits{MaxSegment: 20}}, doip.KindTooLarge, "JSON segment of at least"},
		{"input bytes over MaxMessage", msg(`{`+target+`,"operationId":"wf"}`, "@\n100\n"+strings.Repeat("x", 100)+"\n#\n"), Options{Limits: doip.Limits{MaxPayload: 100}}, doip.KindTooLarge, "exceeds limit 100"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			forFeeds(t, []byte(tc.in), func(t *testing.T, br *bufio.Reader) {
				c := NewServerCodec(br, bufio.NewWriter(io.Discard), tc.opts)
				req, err := c.ReadRequest()
				var e *doip.Error
				if !errors.As(err, &e) {
					t.Fatalf("got %+v, %v; want a *doip.Error", req, err)
				}
				if e.Kind != tc.kind || !strings.Contains(e.Message, tc.msg) {
					t.Fatalf("got %s %q, want %s saying %q", e.Kind, e.Message, tc.kind, tc.msg)
				}
				if !strings.HasPrefix(e.Message, "doiptext: ") || !strings.Contains(err.Error(), "doiptext: ") {
					t.Errorf("message %q, error %q: not naming the package", e.Message, err)
				}
				if tc.kind == doip.KindTooLarge && !errors.Is(err, ErrTooLarge) {
					t.Errorf("%v does not wrap ErrTooLarge", err)
				}
			})
		})
	}
}

// End of stream and I/O errors are not framing errors: they come through as they are.
func TestReadRequestPassesEOFAndIOErrors(t *testing.T) {
	boom := errors.New("boom")
	tests := []struct {
		name string
		in   func() io.Reader
		want error
	}{
		{"clean EOF", func() io.Reader { return strings.NewReader("") }, io.EOF},
		{"clean EOF after blank lines", func() io.Reader { return strings.NewReader("\r\n\n") }, io.EOF},
		{"EOF inside the first segment", func() io.Reader { return strings.NewReader(`{"targetId"`) }, io.ErrUnexpectedEOF},
		{"EOF inside the input", func() io.Reader { return strings.NewReader("{\"targetId\":\"a\",\"operationId\":\"b\"}\n#\n@\n3\nab") }, io.ErrUnexpectedEOF},
		{"EOF before the end segment", func() io.Reader { return strings.NewReader("{\"targetId\":\"a\",\"operationId\":\"b\"}\n#\n") }, io.ErrUnexpectedEOF},
		{"I/O error", func() io.Reader { return iotest.ErrReader(boom) }, boom},
		{"I/O error in the input", func() io.Reader {
			return io.MultiReader(strings.NewReader("{\"targetId\":\"a\",\"operationId\":\"b\"}\n#\n@\n"), iotest.ErrReader(boom))
		}, boom},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, fd := range feeds {
				c := NewServerCodec(bufio.NewReaderSize(fd.wrap(tc.in()), fd.size), bufio.NewWriter(io.Discard), Options{})
				if _, err := c.ReadRequest(); err != tc.want {
					t.Fatalf("%s: got %v, want %v unchanged", fd.name, err, tc.want)
				}
			}
		})
	}
}

func TestOpFromID(t *testing.T) {
	for id, want := range map[string]doip.Op{
		OpIDHello: doip.OpHello, OpIDListOperations: doip.OpListOps, OpIDRetrieve: doip.OpRetrieve,
		OpIDCreate: doip.OpCreate, OpIDUpdate: doip.OpUpdate, OpIDSearch: doip.OpSearch,
		OpIDDelete: doip.OpDelete, "0.DOIP/Op.Other": doip.OpUnknown, "0.DOIP/": doip.OpUnknown,
		"0.doip/Op.Hello": doip.OpInvoke, "equation_extraction": doip.OpInvoke, "": doip.OpInvoke,
		"20.500.123/Op.Thing": doip.OpInvoke,
	} {
		if got := OpFromID(id); got != want {
			t.Errorf("OpFromID(%q) = %v, want %v", id, got, want)
		}
	}
}

func TestStatusFor(t *testing.T) {
	for kind, want := range map[doip.ErrorKind]string{
		doip.KindBadRequest:      "0.DOIP/Status.101",
		doip.KindTooLarge:        "0.DOIP/Status.101",
		doip.KindUnauthenticated: "0.DOIP/Status.102",
		doip.KindNotFound:        "0.DOIP/Status.104",
		doip.KindUnsupported:     "0.DOIP/Status.200",
		doip.KindUnavailable:     "0.DOIP/Status.500",
		doip.KindInternal:        "0.DOIP/Status.500",
		doip.KindLimitExceeded:   "0.DOIP/Status.500",
		"SomethingNew":           "0.DOIP/Status.500",
	} {
		if got := StatusFor(kind); got != want {
			t.Errorf("StatusFor(%s) = %s, want %s", kind, got, want)
		}
	}
}

// answer writes resp (or e) to req with a fresh codec and returns the bytes.
func answer(t *testing.T, opts Options, req *doip.Request, resp *doip.Response, e *doip.Error) []byte {
	t.Helper()
	c, out, bw := codec(strings.NewReader(""), opts)
	var err error
	if e != nil {
		err = c.WriteError(req, e)
	} else {
		err = c.WriteResponse(req, resp)
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

var (
	vectorOpts = Options{AdvertiseIP: "127.0.0.1", AdvertisePort: 18443}
	cnriOpts   = Options{AdvertiseIP: "127.0.0.1", AdvertisePort: 9000}
	helloResp  = &doip.Response{Op: doip.OpHello, Hello: &doip.ServiceInfo{ServiceID: "test/service"}}
	abcRecord  = &doip.Record{ObjectID: "test/abc", Type: "Document", JSON: json.RawMessage(`{"id":"test/abc","name":"Hello World"}`),
		Components: []doip.ComponentInfo{{ID: "file", MediaType: "text/plain", Filename: "helloworld.txt", Size: 12}}}
)

func elementResp() *doip.Response {
	return &doip.Response{Op: doip.OpRetrieve, ObjectID: "test/abc", Component: &doip.ComponentBody{
		ID: "file", MediaType: "text/plain", Filename: "helloworld.txt", Size: 12, Body: strings.NewReader(elementText)}}
}

// Answers whose values are all ours to choose reproduce the vectors byte for byte.
func TestWriteResponseVectors(t *testing.T) {
	reqAbc := &doip.Request{Op: doip.OpRetrieve, OperationID: OpIDRetrieve, ObjectID: "test/abc", Framing: doip.FramingText}
	tests := []struct {
		vector string
		opts   Options
		req    *doip.Request
		resp   *doip.Response
		err    *doip.Error
	}{
		{"std-response-hello", vectorOpts, &doip.Request{Op: doip.OpHello, ObjectID: "test/service"}, helloResp, nil},
		{"std-response-list-ops", vectorOpts, &doip.Request{Op: doip.OpListOps, ObjectID: "test/service"},
			&doip.Response{Op: doip.OpListOps, Operations: &doip.OperationList{}}, nil},
		{"std-response-retrieve-metadata", vectorOpts, reqAbc, &doip.Response{Op: doip.OpRetrieve, ObjectID: "test/abc", Record: abcRecord}, nil},
		{"std-response-retrieve-element", vectorOpts, reqAbc, elementResp(), nil},
		{"std-response-error-not-found", vectorOpts, reqAbc, nil, doip.Errorf(doip.KindNotFound, "No such object test/missing")},
		{"std-response-create", vectorOpts, reqAbc, &doip.Response{Record: &doip.Record{ObjectID: "test/new1", Type: "Document", JSON: json.RawMessage(`{"id": "test/new1"}`)}}, nil},
		{"cnri-style-response-hello", cnriOpts, &doip.Request{Op: doip.OpHello, RequestID: helloID}, helloResp, nil},
		{"cnri-style-response-error-bad-request", cnriOpts, &doip.Request{RequestID: helloID}, nil,
			doip.Errorf(doip.KindBadRequest, "Request initial segment must be a JSON object")},
	}
	for _, tc := range tests {
		t.Run(tc.vector, func(t *testing.T) {
			got := answer(t, tc.opts, tc.req, tc.resp, tc.err)
			if want := readVector(t, tc.vector); !bytes.Equal(got, want) {
				t.Fatalf("wrote\n%q\nwant\n%q", got, want)
			}
		})
	}
}

// The includeElementData request vector, answered, gives the response vector exactly, its
// requestId echoed.
func TestIncludeElementDataVector(t *testing.T) {
	c, out, bw := codec(bytes.NewReader(readVector(t, "cnri-style-request-retrieve-include-element-data")), cnriOpts)
	req, err := c.ReadRequest()
	if err != nil {
		t.Fatal(err)
	}
	resp := &doip.Response{Op: req.Op, ObjectID: req.ObjectID, Record: abcRecord, Elements: []doip.ComponentBody{
		{ID: "file", MediaType: "text/plain", Filename: "helloworld.txt", Size: 12, Body: strings.NewReader(elementText)}}}
	if err := c.WriteResponse(req, resp); err != nil {
		t.Fatal(err)
	}
	_ = bw.Flush()
	if want := readVector(t, "cnri-style-response-retrieve-include-element-data"); !bytes.Equal(out.Bytes(), want) {
		t.Fatalf("wrote\n%q\nwant\n%q", out.Bytes(), want)
	}
}

// Two pipelined requests on one connection: two ReadRequest calls, then io.EOF; the
// answers echo their requestIds and equal the two-responses vector.
func TestTwoRequestsOneConnection(t *testing.T) {
	for _, fd := range feeds {
		t.Run(fd.name, func(t *testing.T) {
			c, out, bw := codec(fd.wrap(bytes.NewReader(readVector(t, "cnri-style-two-requests-one-connection"))), cnriOpts)
			for i, resp := range []*doip.Response{helloResp, elementResp()} {
				req, err := c.ReadRequest()
				if err != nil {
					t.Fatalf("request %d: %v", i, err)
				}
				if err := c.WriteResponse(req, resp); err != nil {
					t.Fatalf("answer %d: %v", i, err)
				}
				_ = bw.Flush()
			}
			if _, err := c.ReadRequest(); err != io.EOF {
				t.Fatalf("third ReadRequest: %v, want io.EOF", err)
			}
			if want := readVector(t, "cnri-style-two-responses-one-connection"); !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("wrote\n%q\nwant\n%q", out.Bytes(), want)
			}
		})
	}
}

func TestWriteResponseShapes(t *testing.T) {
	req := &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1", RequestID: "r1"}
	tests := []struct {
		name string
		opts Options
		req  *doip.Request
		resp *doip.Response
		want string
	}{
		{"hello with everything", Options{AdvertiseIP: "10.0.0.1", AdvertisePort: 3568, ServiceID: "unused"}, req,
			&doip.Response{Hello: &doip.ServiceInfo{ServiceID: "21.T/svc", Server: "doip-gateway", PublicKey: map[string]string{"kty": "RSA", "n": "AQ", "e": "AQAB"}}},
			`{"requestId":"r1","status":"0.DOIP/Status.001","output":{"id":"21.T/svc","type":"0.TYPE/DOIPServiceInfo","attributes":{"ipAddress":"10.0.0.1","port":3568,"protocol":"TCP","protocolVersion":"2.0","serviceName":"doip-gateway","publicKey":{"e":"AQAB","kty":"RSA","n":"AQ"}}}}` + "\n#\n#\n"},
		{"hello service id from options", Options{ServiceID: "21.T/svc"}, nil,
			&doip.Response{Hello: &doip.ServiceInfo{}},
			`{"status":"0.DOIP/Status.001","output":{"id":"21.T/svc","type":"0.TYPE/DOIPServiceInfo","attributes":{"protocol":"TCP","protocolVersion":"2.0"}}}` + "\n#\n#\n"},
		{"service operations with workflows", Options{}, nil,
			&doip.Response{Operations: &doip.OperationList{Workflows: []string{"equation_extraction", "ocr"}}},
			`{"status":"0.DOIP/Status.001","output":["0.DOIP/Op.Hello","0.DOIP/Op.ListOperations","0.DOIP/Op.Retrieve","equation_extraction","ocr"]}` + "\n#\n#\n"},
		{"object operations", Options{}, req,
			&doip.Response{Operations: &doip.OperationList{Object: "Q1", Workflows: []string{"ocr"}}},
			`{"requestId":"r1","status":"0.DOIP/Status.001","output":["0.DOIP/Op.Retrieve","0.DOIP/Op.ListOperations","ocr"]}` + "\n#\n#\n"},
		{"record without type, unknown size, no filename, pretty JSON", Options{}, req,
			&doip.Response{ObjectID: "Q1", Record: &doip.Record{JSON: json.RawMessage("{\n  \"a\": \"<b>\"\n}"), Components: []doip.ComponentInfo{{ID: "c", MediaType: "application/pdf", Size: -1}}}},
			`{"requestId":"r1","status":"0.DOIP/Status.001","output":{"id":"Q1","type":"0.TYPE/DO","attributes":{"content":{"a":"<b>"}},"elements":[{"id":"c","type":"application/pdf"}]}}` + "\n#\n#\n"},
		{"record with two elements, one empty", Options{}, req,
			&doip.Response{Record: &doip.Record{ObjectID: "Q1", Type: "T", JSON: json.RawMessage(`{}`), Components: []doip.ComponentInfo{{ID: "a", Size: 3}, {ID: "b", Size: 0}}},
				Elements: []doip.ComponentBody{{ID: "a", Size: 3, Body: strings.NewReader("abc")}, {ID: "b", Size: 0, Body: strings.NewReader("")}}},
			`{"requestId":"r1","status":"0.DOIP/Status.001"}` + "\n#\n" +
				`{"id":"Q1","type":"T","attributes":{"content":{}},"elements":[{"id":"a","length":3},{"id":"b","length":0}]}` + "\n#\n" +
				`{"id":"a"}` + "\n#\n@\n3\nabc\n#\n" + `{"id":"b"}` + "\n#\n@\n#\n#\n"},
		{"component named by its id, zero bytes", Options{}, req,
			&doip.Response{Component: &doip.ComponentBody{ID: "doip:bitstream/Q1/main-pdf", MediaType: "application/pdf", Size: 0, Body: strings.NewReader("")}},
			`{"requestId":"r1","status":"0.DOIP/Status.001","attributes":{"filename":"main-pdf","mediaType":"application/pdf"}}` + "\n#\n@\n#\n#\n"},
		{"component without media type, nil body", Options{}, nil,
			&doip.Response{Component: &doip.ComponentBody{ID: "x", Size: 0}},
			`{"status":"0.DOIP/Status.001","attributes":{"filename":"x"}}` + "\n#\n@\n#\n#\n"},
		{"invoke", Options{}, &doip.Request{Op: doip.OpInvoke, RequestID: "r2"},
			&doip.Response{Invoke: &doip.InvokeResult{Workflow: "ocr", Cached: true, Result: json.RawMessage(`{ "pages": 2 }`),
				Derived: []doip.ComponentBody{{ID: "ocr-text", MediaType: "text/plain", Size: 2, Body: strings.NewReader("hi")}}}},
			`{"requestId":"r2","status":"0.DOIP/Status.001","attributes":{"workflow":"ocr","cached":true}}` + "\n#\n" +
				`{"pages":2}` + "\n#\n" + `{"id":"ocr-text","type":"text/plain","length":2}` + "\n#\n@\n2\nhi\n#\n#\n"},
		{"invoke without result", Options{}, nil,
			&doip.Response{Invoke: &doip.InvokeResult{Workflow: "ocr"}},
			`{"status":"0.DOIP/Status.001","attributes":{"workflow":"ocr","cached":false}}` + "\n#\nnull\n#\n#\n"},
		{"purge", Options{}, req, &doip.Response{Purge: &doip.PurgeResult{Purged: true}},
			`{"requestId":"r1","status":"0.DOIP/Status.001","output":{"purged":true}}` + "\n#\n#\n"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := answer(t, tc.opts, tc.req, tc.resp, nil)
			if string(got) != tc.want {
				t.Fatalf("wrote\n%q\nwant\n%q", got, tc.want)
			}
			// Every answer is a well-formed message.
			if _, err := dump(NewReader(bufio.NewReader(bytes.NewReader(got)))); err != io.EOF {
				t.Fatalf("answer does not decode: %v", err)
			}
		})
	}
}

func TestWriteResponseErrors(t *testing.T) {
	tests := []struct {
		name    string
		resp    *doip.Response
		want    string
		nothing bool // nothing may have been written
	}{
		{"empty response", &doip.Response{}, "empty response", true},
		{"nil response", nil, "no response", true},
		{"invalid record JSON", &doip.Response{Record: &doip.Record{ObjectID: "Q", JSON: json.RawMessage(`{"a":`)}}, "", true},
		{"invalid result JSON", &doip.Response{Invoke: &doip.InvokeResult{Workflow: "w", Result: json.RawMessage(`[`)}}, "result of workflow w", true},
		{"short component", &doip.Response{Component: &doip.ComponentBody{ID: "c", Size: 5, Body: strings.NewReader("abc")}}, "streaming element c: doiptext: body ended after 3 of 5 bytes", false},
		{"long component", &doip.Response{Component: &doip.ComponentBody{ID: "c", Size: 2, Body: strings.NewReader("abc")}}, "streaming element c: doiptext: body has more than the 2 bytes", false},
		{"short element", &doip.Response{Record: &doip.Record{ObjectID: "Q"}, Elements: []doip.ComponentBody{{ID: "e", Size: 5, Body: strings.NewReader("abc")}}}, "streaming element e", false},
		{"long derived", &doip.Response{Invoke: &doip.InvokeResult{Workflow: "w", Derived: []doip.ComponentBody{{ID: "d", Size: 1, Body: strings.NewReader("abc")}}}}, "streaming element d", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, out, bw := codec(strings.NewReader(""), Options{})
			err := c.WriteResponse(&doip.Request{}, tc.resp)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error saying %q", err, tc.want)
			}
			_ = bw.Flush()
			if tc.nothing && out.Len() > 0 {
				t.Fatalf("wrote %q before failing", out.Bytes())
			}
		})
	}
}

// A requestId is echoed exactly as it came, as the first key, in answers and errors; after
// a framing error (req nil) there is none.
func TestRequestIDEcho(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"requestId":42,"targetId":"x","operationId":"0.DOIP/Op.Hello"}`, `{"requestId":42,`},
		{`{"requestId":"a\u0062","targetId":"x","operationId":"0.DOIP/Op.Hello"}`, `{"requestId":"a\u0062",`},
		{`{"requestId":"","targetId":"x","operationId":"0.DOIP/Op.Hello"}`, `{"requestId":"",`},
		{`{"targetId":"x","operationId":"0.DOIP/Op.Hello"}`, `{"status":`},
	}
	for _, tc := range tests {
		c, out, bw := codec(strings.NewReader(msg(tc.in)), Options{})
		req, err := c.ReadRequest()
		if err != nil {
			t.Fatal(err)
		}
		for _, write := range []func() error{
			func() error { return c.WriteResponse(req, helloResp) },
			func() error { return c.WriteError(req, doip.Errorf(doip.KindUnsupported, "Operation not supported")) },
		} {
			out.Reset()
			if err := write(); err != nil {
				t.Fatal(err)
			}
			_ = bw.Flush()
			if !strings.HasPrefix(out.String(), tc.want) {
				t.Errorf("%s: answer %q does not start %q", tc.in, out.String(), tc.want)
			}
		}
	}
	got := answer(t, Options{}, nil, nil, doip.Errorf(doip.KindBadRequest, "doiptext: bad chunk size: leading zero"))
	if want := `{"status":"0.DOIP/Status.101","attributes":{"message":"doiptext: bad chunk size: leading zero"}}` + "\n#\n#\n"; string(got) != want {
		t.Fatalf("framing error answer %q, want %q", got, want)
	}
}

func TestWriteErrorStatuses(t *testing.T) {
	req := &doip.Request{RequestID: "r"}
	for _, kind := range []doip.ErrorKind{doip.KindBadRequest, doip.KindTooLarge, doip.KindUnauthenticated, doip.KindNotFound, doip.KindUnsupported, doip.KindUnavailable, doip.KindInternal, doip.KindLimitExceeded} {
		got := answer(t, Options{}, req, nil, doip.Errorf(kind, "m <&> \"q\""))
		want := `{"requestId":"r","status":"` + StatusFor(kind) + `","attributes":{"message":"m <&> \"q\""}}` + "\n#\n#\n"
		if string(got) != want {
			t.Errorf("%s: %q, want %q", kind, got, want)
		}
	}
}

func TestProgressAndKeepAlive(t *testing.T) {
	c, out, bw := codec(strings.NewReader(""), Options{})
	if err := c.WriteProgress(&doip.Request{}, "stage", "msg", 0.5); err != nil {
		t.Fatal(err)
	}
	_ = bw.Flush()
	if out.Len() != 0 {
		t.Fatalf("progress wrote %q", out.Bytes())
	}
	if !c.KeepAlive() {
		t.Fatal("KeepAlive is false")
	}
}

// generator yields n bytes of a pattern without holding them.
type generator struct{ left int64 }

func (g *generator) Read(p []byte) (int, error) {
	if g.left == 0 {
		return 0, io.EOF
	}
	n := min(int64(len(p)), g.left, int64(len(pattern)-7))
	off := g.left % 7
	copy(p[:n], pattern[off:off+n])
	g.left -= n
	return int(n), nil
}

// pattern is what generator copies from, shifted so that chunks differ.
var pattern = bytes.Repeat([]byte("0123456789abcdefghijklmnopqrstuvwxyz\n"), 64<<10/37+1)[:64<<10]

type countingWriter struct{ n int64 }

func (c *countingWriter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// A 1,000-chunk element (250 MiB) streams through WriteResponse without the heap growing
// with its size.
func TestStreamLargeElement(t *testing.T) {
	if testing.Short() {
		t.Skip("streams 250 MiB")
	}
	const chunks = 1000
	size := int64(chunks * WriteChunkSize)
	cw := &countingWriter{}
	bw := bufio.NewWriterSize(cw, 64<<10)
	c := NewServerCodec(bufio.NewReader(strings.NewReader("")), bw, Options{})
	req := &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1", Element: "big", RequestID: "r"}
	resp := &doip.Response{Component: &doip.ComponentBody{ID: "big", Filename: "big.bin", MediaType: "application/octet-stream", Size: size, Body: &generator{left: size}}}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	start := time.Now()
	if err := c.WriteResponse(req, resp); err != nil {
		t.Fatal(err)
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	runtime.ReadMemStats(&after)

	first := `{"requestId":"r","status":"0.DOIP/Status.001","attributes":{"filename":"big.bin","mediaType":"application/octet-stream"}}` + "\n#\n"
	want := int64(len(first)) + int64(len("@\n")) + chunks*int64(len("262144\n")+WriteChunkSize+len("\n")) + int64(len("#\n#\n"))
	if cw.n != want {
		t.Fatalf("wrote %d bytes, want %d", cw.n, want)
	}
	growth := int64(after.HeapInuse) - int64(before.HeapInuse)
	if growth > 32<<20 {
		t.Fatalf("heap grew by %d bytes streaming %d", growth, size)
	}
	if total := after.TotalAlloc - before.TotalAlloc; total > 16<<20 {
		t.Fatalf("allocated %d bytes in all streaming %d", total, size)
	}
	t.Logf("streamed %d bytes in %v; heap in use %+d bytes", size, took, growth)
}

// A 101 answer to a broken message still echoes its requestId, so a CNRI client can match it.
func TestFramingErrorEchoesRequestID(t *testing.T) {
	t.Parallel()
	in := "{\"requestId\":\"r-7\",\"targetId\":\"Q1\",\"operationId\":\"0.DOIP/Op.Retrieve\"}\n#\n@\n012\nabc\n#\n#\n"
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	c := NewServerCodec(bufio.NewReader(strings.NewReader(in)), bw, Options{})
	_, err := c.ReadRequest()
	var e *doip.Error
	if !errors.As(err, &e) {
		t.Fatalf("err = %v, want a framing error", err)
	}
	if err := c.WriteError(nil, e); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	if !strings.HasPrefix(out.String(), `{"requestId":"r-7","status":"0.DOIP/Status.101"`) {
		t.Errorf("answer = %q", out.String())
	}
}

// An invoke that asked for progress gets its first segment early, one segment per event,
// then the result; a failure after the first event is a final error segment.
func TestProgressEvents(t *testing.T) {
	t.Parallel()
	in := "{\"requestId\":\"p1\",\"targetId\":\"Q1\",\"operationId\":\"equation_extraction\",\"attributes\":{\"progress\":true}}\n#\n#\n" +
		"{\"requestId\":\"p2\",\"targetId\":\"Q1\",\"operationId\":\"equation_extraction\",\"attributes\":{\"progress\":\"true\"}}\n#\n#\n" +
		"{\"requestId\":\"p3\",\"targetId\":\"Q1\",\"operationId\":\"equation_extraction\"}\n#\n#\n"
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	c := NewServerCodec(bufio.NewReader(strings.NewReader(in)), bw, Options{})

	req, err := c.ReadRequest()
	if err != nil || !req.Progress {
		t.Fatalf("request 1: %+v, %v", req, err)
	}
	for _, stage := range []string{"read", "extract"} {
		if err := c.WriteProgress(req, stage, "", 0.5); err != nil {
			t.Fatal(err)
		}
	}
	if !strings.Contains(out.String(), `{"progress":{"stage":"extract","fraction":0.5}}`) {
		t.Fatalf("progress not flushed at once: %q", out.String())
	}
	body := `[1]`
	if err := c.WriteResponse(req, &doip.Response{Invoke: &doip.InvokeResult{Workflow: "equation_extraction", Result: json.RawMessage(`{"n":1}`),
		Derived: []doip.ComponentBody{{ID: "equations.json", MediaType: "application/json", Size: 3, Body: strings.NewReader(body)}}}}); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	want := "{\"requestId\":\"p1\",\"status\":\"0.DOIP/Status.001\",\"attributes\":{\"progress\":true}}\n#\n" +
		"{\"progress\":{\"stage\":\"read\",\"fraction\":0.5}}\n#\n{\"progress\":{\"stage\":\"extract\",\"fraction\":0.5}}\n#\n" +
		"{\"n\":1}\n#\n{\"id\":\"equations.json\",\"type\":\"application/json\",\"length\":3}\n#\n@\n3\n[1]\n#\n#\n"
	if out.String() != want {
		t.Errorf("answer 1:\n got %q\nwant %q", out.String(), want)
	}

	out.Reset()
	req, err = c.ReadRequest()
	if err != nil || !req.Progress {
		t.Fatalf("request 2: %+v, %v", req, err)
	}
	_ = c.WriteProgress(req, "read", "reading", 0.1)
	if err := c.WriteError(req, &doip.Error{Kind: doip.KindUnavailable, Message: "storage down"}); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	if !strings.HasSuffix(out.String(), "{\"error\":{\"status\":\"0.DOIP/Status.500\",\"message\":\"storage down\"}}\n#\n#\n") {
		t.Errorf("failure after progress: %q", out.String())
	}

	out.Reset()
	req, err = c.ReadRequest()
	if err != nil || req.Progress {
		t.Fatalf("request 3: %+v, %v", req, err)
	}
	if err := c.WriteProgress(req, "read", "", 0); err != nil || out.Len() != 0 {
		t.Errorf("progress without asking: %q, %v", out.String(), err)
	}
}

func TestOperationIDs(t *testing.T) {
	t.Parallel()
	service := &doip.OperationList{Operations: map[string]doip.Op{"hello": doip.OpHello, "create": doip.OpCreate, "search": doip.OpSearch}}
	if got, want := strings.Join(operationIDs(service), " "), "0.DOIP/Op.Hello 0.DOIP/Op.ListOperations 0.DOIP/Op.Retrieve 0.DOIP/Op.Create 0.DOIP/Op.Search"; got != want {
		t.Errorf("service operations %q; want %q", got, want)
	}
	object := &doip.OperationList{Object: "Q1", Operations: map[string]doip.Op{"retrieve": doip.OpRetrieve, "create": doip.OpCreate}, Workflows: []string{"equation_extraction"}}
	if got, want := strings.Join(operationIDs(object), " "), "0.DOIP/Op.Retrieve 0.DOIP/Op.ListOperations equation_extraction"; got != want {
		t.Errorf("object operations %q; want %q", got, want)
	}
}
