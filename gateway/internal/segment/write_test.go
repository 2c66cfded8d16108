package segment

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip/doiptest"
)

// frame builds a message: each part as a segment, then the zero-length end.
func frame(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		b = binary.BigEndian.AppendUint32(b, uint32(len(p)))
		b = append(b, p...)
	}
	return append(b, 0, 0, 0, 0)
}

func writeCodec(in []byte, lim doip.Limits) (*ServerCodec, *bytes.Buffer, *bufio.Writer) {
	var out bytes.Buffer
	bw := bufio.NewWriter(&out)
	return NewServerCodec(bufio.NewReader(bytes.NewReader(in)), bw, Options{Limits: lim}), &out, bw
}

func readAllElements(req *doip.Request) ([]string, error) {
	read, err := doiptest.ReadElements(req)
	var got []string
	for _, e := range read {
		got = append(got, e.ID+"="+e.Data)
	}
	return got, err
}

func TestReadWrite(t *testing.T) {
	t.Parallel()
	in := frame(`{"targetId":"","operationId":"create","attributes":{"json":"{\"label\":\"x\"}","type":"Dataset","username":"u","password":"p","elements":[{"id":"a","type":"text/plain"}]}}`,
		`{"id":"a"}`, "alpha", `{"id":"b"}`, "beta")
	c, out, bw := writeCodec(in, doip.Limits{})
	req, err := c.ReadRequest()
	if err != nil {
		t.Fatal(err)
	}
	if req.Op != doip.OpCreate || req.Username != "u" || req.Token != "p" || string(req.Write.Object.Attributes) != `{"content":{"label":"x"}}` ||
		req.Write.Object.Type != "Dataset" || len(req.Write.Object.Elements) != 1 {
		t.Fatalf("request = %+v, write %+v", req, req.Write)
	}
	got, err := readAllElements(req)
	if err != nil || strings.Join(got, ",") != "a=alpha,b=beta" {
		t.Fatalf("elements = %v, %v", got, err)
	}
	if err := req.Write.Elements.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.WriteResponse(req, &doip.Response{ObjectID: "Q991", Written: &doip.WriteResult{}}); err != nil {
		t.Fatal(err)
	}
	_ = bw.Flush()
	if want := frame(`{"status":"success","metadata":[{"operation":"create","status":"created","qid":"Q991"}]}`); !bytes.Equal(out.Bytes(), want) {
		t.Errorf("answer = %q", out.Bytes())
	}
	for _, tc := range []struct{ op, want string }{{"delete", "delete"}, {"history", "history"}} {
		c, _, _ := writeCodec(frame(`{"targetId":"Q991","operationId":"`+tc.op+`","attributes":{"token":"t","pageSize":3,"expectedVersion":"v"}}`), doip.Limits{})
		req, err := c.ReadRequest()
		if err != nil || req.Op.String() != tc.want || req.Token != "t" {
			t.Errorf("%s = %+v, %v", tc.op, req, err)
		}
	}
	for _, tc := range []struct {
		name string
		in   []byte
		lim  doip.Limits
		want string
	}{
		{"json not an object", frame(`{"targetId":"","operationId":"create","attributes":{"json":"[1]"}}`), doip.Limits{}, "attributes.json"},
		{"header not JSON", frame(`{"targetId":"","operationId":"create","attributes":{}}`, "xyz", "bytes"), doip.Limits{}, "element header"},
		{"header without bytes", frame(`{"targetId":"","operationId":"create","attributes":{}}`, `{"id":"a"}`), doip.Limits{}, "where its bytes belong"},
		{"over the upload cap", frame(`{"targetId":"","operationId":"create","attributes":{}}`, `{"id":"a"}`, strings.Repeat("x", 200)), doip.Limits{MaxUpload: 100}, "too large"},
		{"cut short", frame(`{"targetId":"","operationId":"update","attributes":{}}`, `{"id":"a"}`, "0123456789")[:80], doip.Limits{}, "missing"},
		{"cut at the end", frame(`{"targetId":"","operationId":"update","attributes":{}}`, `{"id":"a"}`, "0123456789")[:89], doip.Limits{}, "unexpected EOF"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _, _ := writeCodec(tc.in, tc.lim)
			req, err := c.ReadRequest()
			if err == nil {
				_, err = readAllElements(req)
			}
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one with %q", err, tc.want)
			}
		})
	}
}

// FuzzReadWrite: arbitrary input as a write never panics, hangs or yields more element bytes
// than it holds.
func FuzzReadWrite(f *testing.F) {
	f.Add(frame(`{"targetId":"","operationId":"create","attributes":{"json":"{}"}}`, `{"id":"a"}`, "alpha"))
	f.Add(frame(`{"targetId":"Q1","operationId":"update","attributes":{"content":{}}}`, `{"id":"a"}`, "x", `{"id":"b"}`, "yy"))
	f.Add(frame(`{"targetId":"Q1","operationId":"history","attributes":{"pageSize":"2"}}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		c, _, _ := writeCodec(in, doip.Limits{MaxSegment: 4096, MaxPayload: 1 << 16, MaxUpload: 1 << 16})
		req, err := c.ReadRequest()
		if err != nil {
			return
		}
		got, _ := readAllElements(req)
		n := 0
		for _, g := range got {
			n += len(g)
		}
		if n > len(in) {
			t.Fatalf("%d element bytes from %d input bytes", n, len(in))
		}
		if req.Write != nil && req.Write.Elements != nil {
			_ = req.Write.Elements.Close()
		}
	})
}
