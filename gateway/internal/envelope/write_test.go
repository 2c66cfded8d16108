package envelope

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip/doiptest"
)

func writeVector(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "writes", name+".bin"))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

type gotElement struct{ id, mediaType, data string }

// readWrite reads one request and its elements' bytes.
func readWrite(c *ServerCodec) (*doip.Request, []gotElement, error) {
	req, err := c.ReadRequest()
	if err != nil {
		return nil, nil, err
	}
	read, err := doiptest.ReadElements(req)
	var els []gotElement
	for _, e := range read {
		if int64(len(e.Data)) != e.Size {
			return req, els, errors.New("size mismatch")
		}
		els = append(els, gotElement{e.ID, e.MediaType, e.Data})
	}
	return req, els, err
}

func newWriteCodec(r io.Reader, limits doip.Limits) (*ServerCodec, *bytes.Buffer, *bufio.Writer) {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	return NewServerCodec(bufio.NewReader(r), bw, Options{Limits: limits}), &out, bw
}

// MaRDI's client's captured writes decode, through readers of every speed: the create's
// "json" is a JSON text inside a string, its object id empty; the update carries one
// component block whose bytes stream to the handler.
func TestReadWriteVectors(t *testing.T) {
	tests := []struct {
		vector, objectID, attrs string
		op                      doip.Op
		elements                []gotElement
	}{
		{"mardi-head-request-create", "", `{"content":{"label":"Test item","description":"made by a capture run","claims":{"P31":"Q5"}}}`, doip.OpCreate, nil},
		{"mardi-head-request-create-via-http-gateway", "", `{"content":{"label":"Test item","description":null,"claims":{}}}`, doip.OpCreate, nil},
		{"mardi-head-request-update", "Q123", "", doip.OpUpdate, []gotElement{{"notes.txt", "text/plain", "Hello World\n"}}},
		{"mardi-head-request-update-properties", "Q123", `{"content":{"label":"New title","claims":{"P16":"Q482723"}}}`, doip.OpUpdate, nil},
	}
	feeds := map[string]func(io.Reader) io.Reader{"plain": func(r io.Reader) io.Reader { return r }, "onebyte": iotest.OneByteReader, "half": iotest.HalfReader}
	for _, tc := range tests {
		for name, feed := range feeds {
			t.Run(tc.vector+"/"+name, func(t *testing.T) {
				c, _, _ := newWriteCodec(feed(bytes.NewReader(writeVector(t, tc.vector))), doip.Limits{})
				req, els, err := readWrite(c)
				if err != nil {
					t.Fatal(err)
				}
				if req.Op != tc.op || req.ObjectID != tc.objectID || req.Username != "capture@bot" || req.Token != "bot-secret" {
					t.Fatalf("request = %+v", req)
				}
				if got := string(req.Write.Object.Attributes); got != tc.attrs {
					t.Errorf("attributes = %s\nwant %s", got, tc.attrs)
				}
				if len(els) != len(tc.elements) || (len(els) == 1 && els[0] != tc.elements[0]) {
					t.Errorf("elements = %q, want %q", els, tc.elements)
				}
				if _, err := c.ReadRequest(); err != io.EOF {
					t.Errorf("after the write: %v, want io.EOF", err)
				}
			})
		}
	}
}

// Answers to writes reproduce MaRDI's server's bytes.
func TestWriteAnswerVectors(t *testing.T) {
	commit := strings.Repeat("c0ffee", 10) + "c0ff"
	tests := []struct {
		vector string
		req    string
		resp   *doip.Response
	}{
		{"mardi-head-response-create", "mardi-head-request-create", &doip.Response{ObjectID: "Q6900001", Written: &doip.WriteResult{}}},
		{"mardi-head-response-update", "mardi-head-request-update", &doip.Response{ObjectID: "Q123", Written: &doip.WriteResult{
			Version: commit, Branch: "main", Stored: []doip.ComponentInfo{{ID: "notes.txt", MediaType: "text/plain", Size: 12}}}}},
		{"mardi-head-response-update-properties", "mardi-head-request-update-properties", &doip.Response{ObjectID: "Q123", Written: &doip.WriteResult{}}},
	}
	for _, tc := range tests {
		t.Run(tc.vector, func(t *testing.T) {
			c, out, bw := newWriteCodec(bytes.NewReader(writeVector(t, tc.req)), doip.Limits{})
			req, _, err := readWrite(c)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.WriteResponse(req, tc.resp); err != nil {
				t.Fatal(err)
			}
			_ = bw.Flush()
			if want := writeVector(t, tc.vector); !bytes.Equal(out.Bytes(), want) {
				t.Fatalf("wrote\n%q\nwant\n%q", out.Bytes(), want)
			}
		})
	}
}

// envelopeOf builds a request envelope from blocks.
func envelopeOf(op byte, id string, blocks ...[]byte) []byte {
	payload := bytes.Join(blocks, nil)
	b := []byte{Version, byte(TypeRequest), op, 0}
	b = binary.BigEndian.AppendUint16(b, uint16(len(id)))
	b = binary.BigEndian.AppendUint32(b, uint32(len(payload)))
	return append(append(b, id...), payload...)
}

func metaBlock(js string) []byte {
	b := binary.BigEndian.AppendUint32([]byte{byte(BlockMetadata)}, uint32(len(js)))
	return append(b, js...)
}

func compBlock(id, mt, data string) []byte {
	body := binary.BigEndian.AppendUint16(nil, uint16(len(id)))
	body = append(body, id...)
	body = binary.BigEndian.AppendUint16(body, uint16(len(mt)))
	body = append(body, mt...)
	body = binary.BigEndian.AppendUint32(body, uint32(len(data)))
	body = append(body, data...)
	return append(binary.BigEndian.AppendUint32([]byte{byte(BlockComponent)}, uint32(len(body))), body...)
}

// Bad writes get errors that name the problem; creates stream two elements; delete and
// history are named by "operation".
func TestReadWriteCases(t *testing.T) {
	two := envelopeOf(0x08, "", metaBlock(`{"operation":"create","attributes":{"content":{"n":1}},"token":"t"}`),
		compBlock("a.txt", "text/plain", "alpha"), compBlock("b", "", "beta"))
	c, _, _ := newWriteCodec(bytes.NewReader(two), doip.Limits{})
	req, els, err := readWrite(c)
	if err != nil || req.Token != "t" || len(els) != 2 || els[1] != (gotElement{"b", "", "beta"}) {
		t.Fatalf("create with two elements = %+v, %q, %v", req, els, err)
	}
	for _, tc := range []struct{ name, op, want string }{
		{"delete", `{"operation":"delete","expectedVersion":"v1","username":"u","password":"p"}`, "delete"},
		{"history", `{"operation":"history","pageSize":5}`, "history"},
	} {
		c, _, _ := newWriteCodec(bytes.NewReader(envelopeOf(0x00, "Q991", metaBlock(tc.op))), doip.Limits{})
		req, err := c.ReadRequest()
		if err != nil || req.Op.String() != tc.want || req.ObjectID != "Q991" {
			t.Fatalf("%s = %+v, %v", tc.name, req, err)
		}
		if tc.name == "delete" && (req.Write == nil || req.Write.ExpectedVersion != "v1" || req.Username != "u" || req.Token != "p") {
			t.Errorf("delete = %+v", req)
		}
		if q, err := doip.ParseHistoryQuery(req.Params); tc.name == "history" && (err != nil || q.PageSize != 5) {
			t.Errorf("history query = %+v, %v", q, err)
		}
	}
	for _, tc := range []struct {
		name string
		in   []byte
		lim  doip.Limits
		want string
	}{
		{"create json not a JSON object", envelopeOf(0x08, "", metaBlock(`{"operation":"create","json":"{oops"}`)), doip.Limits{}, "invalid JSON"},
		{"create without content", envelopeOf(0x08, "", metaBlock(`{"operation":"create"}`)), doip.Limits{}, "create requires a 'json' field"},
		{"update element mismatch", envelopeOf(0x03, "Q1", metaBlock(`{"operation":"update","element":"x"}`), compBlock("y", "", "1")), doip.Limits{}, "must match component block id"},
		{"update with nothing", envelopeOf(0x03, "Q1", metaBlock(`{"operation":"update"}`)), doip.Limits{}, "update requires a component block"},
		{"properties not an object", envelopeOf(0x03, "Q1", metaBlock(`{"operation":"update","properties":[1]}`)), doip.Limits{}, "must be a JSON object"},
		{"over the upload cap", envelopeOf(0x08, "", metaBlock(`{"json":"{}"}`), compBlock("a", "", strings.Repeat("x", 100))), doip.Limits{MaxUpload: 64}, "too large"},
		{"cut off in the content", envelopeOf(0x08, "", metaBlock(`{"json":"{}"}`), compBlock("a", "", "0123456789"))[:40], doip.Limits{}, "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, _ := newWriteCodec(bytes.NewReader(tc.in), tc.lim)
			_, _, err := readWrite(c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one with %q", err, tc.want)
			}
		})
	}
}

// The handler may stop reading: Close skips a small rest, and the next request follows.
func TestWriteCloseSkips(t *testing.T) {
	in := append(writeVector(t, "mardi-head-request-update"), envelopeOf(0x00, "Q1", metaBlock(`{"operation":"history"}`))...)
	c, _, _ := newWriteCodec(bytes.NewReader(in), doip.Limits{})
	req, err := c.ReadRequest()
	if err != nil {
		t.Fatal(err)
	}
	if err := req.Write.Elements.Close(); err != nil {
		t.Fatal(err)
	}
	if next, err := c.ReadRequest(); err != nil || next.Op != doip.OpHistory {
		t.Fatalf("next = %+v, %v", next, err)
	}
}

// FuzzReadWrite: arbitrary bytes as a write never panic, hang, or yield more element bytes
// than the payload announced.
func FuzzReadWrite(f *testing.F) {
	for _, v := range []string{"mardi-head-request-create", "mardi-head-request-update", "mardi-head-request-update-properties"} {
		f.Add(writeVector(f, v))
	}
	f.Add(envelopeOf(0x08, "", metaBlock(`{"json":"{}"}`), compBlock("a", "t", "x"), compBlock("b", "", "yy")))
	f.Fuzz(func(t *testing.T, in []byte) {
		c, _, _ := newWriteCodec(bytes.NewReader(in), doip.Limits{MaxPayload: 1 << 16, MaxSegment: 4096, MaxUpload: 1 << 16})
		for range 4 {
			req, err := c.ReadRequest()
			if err != nil {
				return
			}
			if req.Write == nil || req.Write.Elements == nil {
				continue
			}
			var n int64
			for {
				u, err := req.Write.Elements.Next()
				if err != nil {
					break
				}
				k, err := io.Copy(io.Discard, u.Body)
				if n += k; n > int64(len(in)) {
					t.Fatalf("read %d element bytes from %d input bytes", n, len(in))
				}
				if err != nil {
					break
				}
			}
			if req.Write.Elements.Close() != nil {
				return
			}
		}
	})
}

// A write whose metadata is wrong but whose payload was read whole is answered in turn: the
// connection stays in step for the next request.
func TestBadWriteKeepsStep(t *testing.T) {
	in := append(envelopeOf(0x03, "Q1", metaBlock(`{"operation":"update"}`)), envelopeOf(0x00, "Q1", metaBlock(`{"operation":"history"}`))...)
	c, _, _ := newWriteCodec(bytes.NewReader(in), doip.Limits{})
	req, err := c.ReadRequest()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := req.Write.Elements.Next(); err == nil || !strings.Contains(err.Error(), "update requires") {
		t.Errorf("Next = %v", err)
	}
	if err := req.Write.Elements.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	if next, err := c.ReadRequest(); err != nil || next.Op != doip.OpHistory {
		t.Fatalf("next = %+v, %v", next, err)
	}
	// Op byte 0x0a without a name is no delete.
	c, _, _ = newWriteCodec(bytes.NewReader(envelopeOf(0x0a, "Q1", metaBlock(`{"operation":"teleport"}`))), doip.Limits{})
	if req, err := c.ReadRequest(); err != nil || req.Op != doip.OpUnknown {
		t.Errorf("0x0a teleport = %+v, %v", req, err)
	}
}
