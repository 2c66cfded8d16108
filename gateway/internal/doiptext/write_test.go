package doiptext

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

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip/doiptest"
)

// dropWrite reads a write's elements to the end and clears req.Write, so that tests of the
// other fields compare requests without it.
func dropWrite(t *testing.T, req *doip.Request) {
	t.Helper()
	if req.Write == nil {
		return
	}
	if req.Write.Elements != nil {
		if err := req.Write.Elements.Close(); err != nil {
			t.Fatalf("skipping the write's input: %v", err)
		}
	}
	req.Write = nil
}

func writeVector(tb testing.TB, name string) []byte {
	tb.Helper()
	data, err := os.ReadFile(filepath.Join("testdata", "writes", name+".bin"))
	if err != nil {
		tb.Fatal(err)
	}
	return data
}

type gotElement struct{ id, data string }

// readAll reads a request and every element's bytes.
func readAll(t *testing.T, c *ServerCodec) (*doip.Request, []gotElement, error) {
	t.Helper()
	req, err := c.ReadRequest()
	if err != nil {
		return nil, nil, err
	}
	read, err := doiptest.ReadElements(req)
	var els []gotElement
	for _, e := range read {
		els = append(els, gotElement{e.ID, e.Data})
	}
	return req, els, err
}

// The captured doipy writes decode to what the dispatcher needs, through every feed.
func TestReadWriteVectors(t *testing.T) {
	const uuid = "e6dbd8bc-fa3e-49bc-93c9-9d63e587374b"
	tests := []struct {
		vector   string
		op       doip.Op
		objectID string
		object   doip.DigitalObject
		remove   []string
		elements []gotElement
	}{
		{"doipy-request-create", doip.OpCreate, "test/chosen1", doip.DigitalObject{ID: "test/chosen1", Type: "Document",
			Attributes: json.RawMessage(`{"content": {"id": "", "name": "Hello World", "description": "metadata only"}}`)}, nil, nil},
		{"doipy-request-create-with-bytes", doip.OpCreate, "", doip.DigitalObject{Type: "Document",
			Attributes: json.RawMessage(`{"content": {"id": "", "name": "Hello World"}}`),
			Elements:   []doip.Element{{ID: uuid, MediaType: "text/plain", Attributes: json.RawMessage(`{"filename": "hello.txt"}`), Size: -1}}},
			nil, []gotElement{{uuid, "Hello World\n"}}},
		// doipy's updates carry neither id nor type: the id is the target's.
		{"doipy-request-update", doip.OpUpdate, "test/abc", doip.DigitalObject{
			Attributes: json.RawMessage(`{"content": {"id": "test/abc", "name": "Hello World"}}`),
			Elements:   []doip.Element{{ID: "file", MediaType: "text/plain", Attributes: json.RawMessage(`{"filename": "hello.txt"}`), Size: -1}}},
			nil, []gotElement{{"file", "Hello World\n"}}},
		{"doipy-request-update-metadata", doip.OpUpdate, "test/abc", doip.DigitalObject{
			Attributes: json.RawMessage(`{"content": {"name": "Renamed"}}`)}, nil, nil},
		{"doipy-request-update-delete-element", doip.OpUpdate, "test/abc", doip.DigitalObject{
			Attributes: json.RawMessage(`{"content": {"name": "Renamed", "id": "test/abc", "DO_Status": "deleted", "Status_URL": "some tombstone URL"}}`)},
			[]string{"file"}, nil},
		{"doipy-request-delete", doip.OpDelete, "test/abc", doip.DigitalObject{}, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.vector, func(t *testing.T) {
			forFeeds(t, writeVector(t, tc.vector), func(t *testing.T, br *bufio.Reader) {
				c := NewServerCodec(br, bufio.NewWriter(io.Discard), Options{})
				req, els, err := readAll(t, c)
				if err != nil {
					t.Fatal(err)
				}
				if req.Op != tc.op || req.ObjectID != tc.objectID || req.Username != "admin" || req.Token != "secret" || req.Write == nil {
					t.Fatalf("request = %+v", req)
				}
				w := req.Write
				if w.Object.ID != tc.object.ID || w.Object.Type != tc.object.Type || string(w.Object.Attributes) != string(tc.object.Attributes) ||
					len(w.Object.Elements) != len(tc.object.Elements) {
					t.Fatalf("object = %+v\nwant %+v", w.Object, tc.object)
				}
				for i, e := range tc.object.Elements {
					g := w.Object.Elements[i]
					if g.ID != e.ID || g.MediaType != e.MediaType || string(g.Attributes) != string(e.Attributes) || g.Size != e.Size {
						t.Errorf("element %d = %+v, want %+v", i, g, e)
					}
				}
				if strings.Join(w.RemoveElements, ",") != strings.Join(tc.remove, ",") {
					t.Errorf("remove = %v, want %v", w.RemoveElements, tc.remove)
				}
				if len(els) != len(tc.elements) || (len(els) > 0 && els[0] != tc.elements[0]) {
					t.Errorf("elements = %q, want %q", els, tc.elements)
				}
				if _, err := c.ReadRequest(); err != io.EOF {
					t.Errorf("after the write: %v, want io.EOF", err)
				}
			})
		})
	}
}

// Each way a create's input can be wrong gets an error that says what was wrong (Cordra's
// words where Cordra has them), and the stream is not read past the message.
func TestReadWriteRefuses(t *testing.T) {
	const head = `{"targetId":"svc","operationId":"0.DOIP/Op.Create"}` + "\n#\n"
	tests := []struct{ name, in, want string }{
		{"no object", head + "#\n", "Missing input"},
		{"object not JSON object", head + "[1]\n#\n#\n", "must be a JSON object"},
		{"attributes not object", head + `{"attributes":[1]}` + "\n#\n#\n", "attributes must be a JSON object"},
		{"element without id", head + `{"elements":[{"type":"x"}]}` + "\n#\n#\n", "has no id"},
		{"extra segments without elements", head + "{}\n#\n{\"id\":\"a\"}\n#\n#\n", "Unexpected input segments"},
		{"header not an id", head + `{"elements":[{"id":"a"}]}` + "\n#\n{\"x\":1}\n#\n#\n", "Unexpected element header"},
		{"bytes where header belongs", head + `{"elements":[{"id":"a"}]}` + "\n#\n@\n1\nx\n#\n#\n", "Unexpected element header"},
		{"unknown element", head + `{"elements":[{"id":"a"}]}` + "\n#\n{\"id\":\"b\"}\n#\n@\n1\nx\n#\n#\n", "No such element \"b\""},
		{"header without bytes", head + `{"elements":[{"id":"a"}]}` + "\n#\n{\"id\":\"a\"}\n#\n#\n", "Unexpected end of input"},
		{"cut off in the bytes", head + `{"elements":[{"id":"a"}]}` + "\n#\n{\"id\":\"a\"}\n#\n@\n100\nshort", "unexpected EOF"},
		{"update id differs", `{"targetId":"Q1","operationId":"0.DOIP/Op.Update"}` + "\n#\n{\"id\":\"Q2\"}\n#\n#\n", "is not the targetId"},
		{"delete with input", `{"targetId":"Q1","operationId":"0.DOIP/Op.Delete"}` + "\n#\n{}\n#\n#\n", "Unexpected input"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := NewServerCodec(bufio.NewReader(strings.NewReader(tc.in)), bufio.NewWriter(io.Discard), Options{})
			_, _, err := readAll(t, c)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want one with %q", err, tc.want)
			}
			var de *doip.Error
			if !errors.As(err, &de) && !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Errorf("err %v carries no *doip.Error", err)
			}
		})
	}
}

// An upload past MaxUpload stops at the cap, before its bytes are read.
func TestReadWriteUploadCap(t *testing.T) {
	in := `{"targetId":"svc","operationId":"0.DOIP/Op.Create"}` + "\n#\n" + `{"elements":[{"id":"a"}]}` + "\n#\n{\"id\":\"a\"}\n#\n@\n999999\n"
	c := NewServerCodec(bufio.NewReader(strings.NewReader(in)), bufio.NewWriter(io.Discard), Options{Limits: doip.Limits{MaxUpload: 1000}})
	_, _, err := readAll(t, c)
	if !errors.Is(err, ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge", err)
	}
}

// The handler may stop reading: Close skips the rest of a small message, and the next
// request is read in step.
func TestWriteCloseSkips(t *testing.T) {
	in := string(writeVector(t, "doipy-request-update")) + string(writeVector(t, "doipy-request-delete"))
	c := NewServerCodec(bufio.NewReader(strings.NewReader(in)), bufio.NewWriter(io.Discard), Options{})
	req, err := c.ReadRequest()
	if err != nil {
		t.Fatal(err)
	}
	if err := req.Write.Elements.Close(); err != nil {
		t.Fatal(err)
	}
	if next, err := c.ReadRequest(); err != nil || next.Op != doip.OpDelete {
		t.Fatalf("next = %+v, %v", next, err)
	}
}

// Answers to writes reproduce the contract's vectors byte for byte.
func TestWriteWrittenVectors(t *testing.T) {
	req := &doip.Request{Op: doip.OpUpdate, ObjectID: "test/abc"}
	tests := []struct {
		vector string
		resp   *doip.Response
	}{
		{"std-response-create", &doip.Response{Written: &doip.WriteResult{
			Record: &doip.Record{ObjectID: "test/new1", Type: "Document"}, Attributes: json.RawMessage(`{"content":{"id":"test/new1"}}`)}}},
		{"std-response-update", &doip.Response{Written: &doip.WriteResult{
			Record: &doip.Record{ObjectID: "test/abc", Type: "Document", Components: []doip.ComponentInfo{
				{ID: "file", MediaType: "text/plain", Filename: "hello.txt", Size: 12}}},
			Attributes: json.RawMessage(`{"content":{"id":"test/abc","name":"Hello World"}}`)}}},
		{"std-response-delete", &doip.Response{Written: &doip.WriteResult{Deleted: true, Version: "abc"}}},
	}
	for _, tc := range tests {
		t.Run(tc.vector, func(t *testing.T) {
			got := answer(t, Options{}, req, tc.resp, nil)
			if want := writeVector(t, tc.vector); !bytes.Equal(got, want) {
				t.Fatalf("wrote\n%q\nwant\n%q", got, want)
			}
		})
	}
	// With a version, the answer names it in attributes.
	got := answer(t, Options{}, req, &doip.Response{Written: &doip.WriteResult{
		Record: &doip.Record{ObjectID: "Q991", Type: "Document"}, Attributes: json.RawMessage(`{"content":{}}`), Version: "c1"}}, nil)
	if !bytes.Contains(got, []byte(`"attributes":{"content":{},"version":"c1"}`)) {
		t.Errorf("answer with version = %q", got)
	}
	got = answer(t, Options{}, &doip.Request{Op: doip.OpHistory, ObjectID: "Q991"}, &doip.Response{History: &doip.History{ObjectID: "Q991",
		Versions: []doip.VersionInfo{{Version: "c2", Author: "alice", Change: "updated"}}, NextPageToken: "c2"}}, nil)
	if !bytes.HasPrefix(got, []byte(`{"status":"0.DOIP/Status.001","output":{"id":"Q991","versions":[{"version":"c2","time":"0001-01-01T00:00:00Z","author":"alice","change":"updated"}],"nextPageToken":"c2"}}`)) {
		t.Errorf("history answer = %q", got)
	}
}

// FuzzReadWrite feeds arbitrary input to a create or an update: no panic, no hang, and never
// more element bytes than the message cap.
func FuzzReadWrite(f *testing.F) {
	for _, v := range []string{"doipy-request-create", "doipy-request-create-with-bytes", "doipy-request-update",
		"doipy-request-update-delete-element", "doipy-request-delete"} {
		f.Add(writeVector(f, v))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		const max = 1 << 16
		c := NewServerCodec(bufio.NewReader(bytes.NewReader(in)), bufio.NewWriter(io.Discard),
			Options{Limits: doip.Limits{MaxSegment: 4096, MaxPayload: max, MaxUpload: max}})
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
				if n += k; n > max {
					t.Fatalf("read %d element bytes, more than the cap %d", n, max)
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

// A create that is well framed but wrong is answered in turn: the next request on the
// connection is read in step.
func TestBadWriteKeepsStep(t *testing.T) {
	in := `{"targetId":"svc","operationId":"0.DOIP/Op.Create"}` + "\n#\n[1]\n#\n{\"id\":\"a\"}\n#\n@\n1\nx\n#\n#\n" +
		`{"targetId":"svc","operationId":"0.DOIP/Op.Create"}` + "\n#\n#\n" +
		string(writeVector(t, "doipy-request-delete"))
	c := NewServerCodec(bufio.NewReader(strings.NewReader(in)), bufio.NewWriter(io.Discard), Options{})
	for _, want := range []string{"must be a JSON object", "Missing input"} {
		req, err := c.ReadRequest()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := req.Write.Elements.Next(); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Next = %v, want %q", err, want)
		}
		if err := req.Write.Elements.Close(); err != nil {
			t.Errorf("Close = %v", err)
		}
	}
	if next, err := c.ReadRequest(); err != nil || next.Op != doip.OpDelete {
		t.Fatalf("next = %+v, %v", next, err)
	}
}
