package httpapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
	"sync"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/httpapi"
)

// writer is a DOIP handler that takes creates and updates as the dispatcher does: it
// refuses a write without the token before reading any byte, then pulls each element and
// keeps its digest and size; a retrieve with includeElementData answers with two elements.
type writer struct {
	mu       sync.Mutex
	object   doip.DigitalObject
	got      map[string]string // element id → "mediaType size sha256"
	order    []string
	lastType string
}

func (wr *writer) ServeDOIP(_ context.Context, w doip.ResponseWriter, req *doip.Request) {
	switch req.Op {
	case doip.OpCreate, doip.OpUpdate:
		if req.Token != token {
			_ = w.Error(doip.Errorf(doip.KindForbidden, "%s needs the write permission", req.Op))
			return
		}
		if req.Write == nil {
			_ = w.Error(doip.Errorf(doip.KindBadRequest, "no object"))
			return
		}
		got := map[string]string{}
		var order []string
		for req.Write.Elements != nil {
			up, err := req.Write.Elements.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				_ = w.Error(doip.AsError(err))
				return
			}
			h := sha256.New()
			n, err := io.Copy(h, up.Body)
			if err != nil {
				_ = w.Error(doip.AsError(err))
				return
			}
			got[up.ID] = fmt.Sprintf("%s %d %x", up.MediaType, n, h.Sum(nil)[:4])
			order = append(order, up.ID)
		}
		wr.mu.Lock()
		wr.object, wr.got, wr.order = req.Write.Object, got, order
		wr.mu.Unlock()
		rec := &doip.Record{ObjectID: "Qnew", Type: req.Write.Object.Type, Version: version}
		for _, id := range order {
			rec.Components = append(rec.Components, doip.ComponentInfo{ID: id, Size: 1})
		}
		_ = w.Respond(&doip.Response{Op: req.Op, ObjectID: "Qnew", Written: &doip.WriteResult{Record: rec, Version: version}})
	case doip.OpRetrieve:
		rec := &doip.Record{ObjectID: objectID, Type: "Dataset", Version: version, JSON: json.RawMessage(`{"name":"x"}`),
			Components: []doip.ComponentInfo{{ID: "a.csv", MediaType: "text/csv", Filename: "a.csv", Size: 3}, {ID: dataID, Size: dataSize}}}
		resp := &doip.Response{Op: req.Op, ObjectID: objectID, Record: rec}
		if req.IncludeElementData {
			resp.Elements = []doip.ComponentBody{
				{ID: "a.csv", MediaType: "text/csv", Filename: "a.csv", Size: 3, Body: strings.NewReader("x,y")},
				{ID: dataID, Size: dataSize, Body: &patternReader{n: dataSize}},
			}
		}
		_ = w.Respond(resp)
	default:
		_ = w.Error(doip.Errorf(doip.KindUnsupported, "not here"))
	}
}

func newWriteServer(t *testing.T, wr *writer, lim doip.Limits) (string, *http.Client) {
	t.Helper()
	srv := newTLSServer(t, httpapi.New(httpapi.Options{Handler: wr, ServiceID: serviceID, Limits: lim,
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}))
	return srv.URL, srv.Client()
}

// part is one part of a multipart body built by a test.
type part struct {
	name, filename, mediaType string
	body                      io.Reader
}

// multipartBody streams parts as multipart/form-data through a pipe; it returns the body and
// its Content-Type.
func multipartBody(parts ...part) (io.Reader, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for _, p := range parts {
			h := textproto.MIMEHeader{}
			params := map[string]string{"name": p.name}
			if p.filename != "" {
				params["filename"] = p.filename
			}
			h.Set("Content-Disposition", mime.FormatMediaType("form-data", params))
			if p.mediaType != "" {
				h.Set("Content-Type", p.mediaType)
			}
			w, err := mw.CreatePart(h)
			if err == nil {
				_, err = io.Copy(w, p.body)
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	return pr, mw.FormDataContentType()
}

func post(t *testing.T, c *http.Client, url, ct string, body io.Reader, hdr ...string) result {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, url, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return result{resp.StatusCode, resp.Header, b}
}

// A create and an update with two elements in a multipart body reach the handler as the
// standard framing's write: the object from the part input, each element part streamed in
// order with its media type.
func TestMultipartWrite(t *testing.T) {
	t.Parallel()
	wr := &writer{}
	u, c := newWriteServer(t, wr, doip.Limits{})
	bearer := []string{"Authorization", "Bearer " + token}
	body, ct := multipartBody(
		part{name: "input", body: strings.NewReader(`{"type":"Dataset","attributes":{"content":{"name":"x"}},"elements":[{"id":"a.csv","type":"text/csv","attributes":{"filename":"a.csv"}}]}`)},
		part{name: "a.csv", filename: "a.csv", mediaType: "text/csv", body: strings.NewReader("x,y")},
		part{name: dataID, filename: dataID, mediaType: "application/octet-stream", body: &patternReader{n: 5 << 20}})
	r := post(t, c, u+"/doip?operationId=0.DOIP/Op.Create&targetId=service", ct, body, bearer...)
	if r.code != 200 || !bytes.Contains(r.body, []byte(`"id":"Qnew"`)) {
		t.Fatalf("create: %d %s", r.code, r.body)
	}
	wr.mu.Lock()
	if wr.object.Type != "Dataset" || len(wr.object.Elements) != 1 || strings.Join(wr.order, ",") != "a.csv,"+dataID ||
		!strings.HasPrefix(wr.got["a.csv"], "text/csv 3 ") || !strings.HasPrefix(wr.got[dataID], fmt.Sprintf("application/octet-stream %d ", 5<<20)) {
		t.Errorf("handler saw %+v %v %v", wr.object, wr.order, wr.got)
	}
	wr.mu.Unlock()

	// An update in the path form, with json as the name of the object's part.
	body, ct = multipartBody(part{name: "json", body: strings.NewReader(`{}`)},
		part{name: "a.csv", filename: "other.csv", body: strings.NewReader("1,2,3")})
	r = post(t, c, u+"/doip/0.DOIP/Op.Update?targetId=Q1", ct, body, bearer...)
	if r.code != 200 {
		t.Fatalf("update: %d %s", r.code, r.body)
	}
	wr.mu.Lock()
	if strings.Join(wr.order, ",") != "a.csv" || !strings.HasPrefix(wr.got["a.csv"], " 5 ") {
		t.Errorf("update: handler saw %v %v", wr.order, wr.got)
	}
	wr.mu.Unlock()
}

// Errors of a multipart write name what was wrong, with the HTTP status of their kind.
func TestMultipartWriteErrors(t *testing.T) {
	t.Parallel()
	wr := &writer{}
	u, c := newWriteServer(t, wr, doip.Limits{MaxUpload: 1 << 20, MaxSegment: 1 << 10})
	bearer := []string{"Authorization", "Bearer " + token}
	obj := func() part { return part{name: "input", body: strings.NewReader(`{"type":"Dataset"}`)} }
	create := u + "/doip?o=0.DOIP/Op.Create&t=service"
	tests := []struct {
		name  string
		url   string
		parts []part
		ct    string // replaces the body's Content-Type
		hdr   []string
		code  int
		want  string
	}{
		{"no identity", create, []part{obj(), {name: "a", body: strings.NewReader("x")}}, "", nil, 403, "write permission"},
		{"object not first", create, []part{{name: "a", body: strings.NewReader("x")}, obj()}, "", bearer, 400, `named input (or json)`},
		{"object twice", create, []part{obj(), {name: "json", body: strings.NewReader("{}")}}, "", bearer, 400, "given twice"},
		{"object not JSON", create, []part{{name: "input", body: strings.NewReader("{")}}, "", bearer, 400, "not valid JSON"},
		{"object not an object", create, []part{{name: "input", body: strings.NewReader("[1]")}}, "", bearer, 400, "must be a JSON object"},
		{"object too large", create, []part{{name: "input", body: strings.NewReader(`{"x":"` + strings.Repeat("a", 2<<10) + `"}`)}}, "", bearer, 413, "over 1024 bytes"},
		{"part without a name", create, []part{obj(), {name: "", body: strings.NewReader("x")}}, "", bearer, 400, "no name"},
		{"upload too large", create, []part{obj(), {name: "big", body: &patternReader{n: 2 << 20}}}, "", bearer, 413, "over 1048576 bytes"},
		{"no boundary", create, []part{obj()}, "multipart/form-data", bearer, 400, "no boundary"},
		{"wrong boundary", create, []part{obj()}, "multipart/form-data; boundary=nope", bearer, 400, "first part"},
		{"not a write", u + "/doip?o=equation_extraction&t=Q1", []part{obj()}, "", bearer, 415, "only 0.DOIP/Op.Create and 0.DOIP/Op.Update"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, ct := multipartBody(tt.parts...)
			if tt.ct != "" {
				ct = tt.ct
			}
			r := post(t, c, tt.url, ct, body, tt.hdr...)
			code := tt.code
			if r.code != code || !bytes.Contains(r.body, []byte(tt.want)) {
				t.Fatalf("%d %s, want %d with %q", r.code, r.body, code, tt.want)
			}
		})
	}
}

// A retrieve with includeElementData answers multipart/mixed: the object, then each element
// with its id, media type and filename.
func TestIncludeElementData(t *testing.T) {
	t.Parallel()
	u, c := newWriteServer(t, &writer{}, doip.Limits{})
	resp, err := c.Get(u + "/doip?o=0.DOIP/Op.Retrieve&t=Q1&attributes.includeElementData=true")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	mt, params, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	if resp.StatusCode != 200 || mt != "multipart/mixed" {
		t.Fatalf("%d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	mr := multipart.NewReader(resp.Body, params["boundary"])
	var got []string
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(p)
		_, dp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		got = append(got, fmt.Sprintf("%s|%s|%s|%d", dp["name"], dp["filename"], p.Header.Get("Content-Type"), len(b)))
		if dp["name"] == "json" && !bytes.Contains(b, []byte(`"id":"Q1"`)) {
			t.Errorf("object part %s", b)
		}
		if dp["name"] == dataID && !bytes.Equal(b, dataBytes(0, dataSize)) {
			t.Error("data.bin's bytes differ")
		}
	}
	if len(got) != 3 || !strings.HasPrefix(got[0], "json||application/json|") || got[1] != "a.csv|a.csv|text/csv|3" ||
		got[2] != fmt.Sprintf("%s||application/octet-stream|%d", dataID, dataSize) {
		t.Errorf("parts %q", got)
	}
}

// An update whose whole body is one element's bytes (attributes.element names it): the
// element streamed with the body's media type and length; the object is left as it is.
func TestRawElementUpdate(t *testing.T) {
	t.Parallel()
	wr := &writer{}
	u, c := newWriteServer(t, wr, doip.Limits{MaxUpload: 1 << 20})
	bearer := []string{"Authorization", "Bearer " + token}
	r := post(t, c, u+"/doip?o=0.DOIP/Op.Update&t=Q1&attributes.element=a.csv", "text/csv", strings.NewReader("x,y\n1,2\n"), bearer...)
	if r.code != 200 {
		t.Fatalf("update: %d %s", r.code, r.body)
	}
	wr.mu.Lock()
	if strings.Join(wr.order, ",") != "a.csv" || !strings.HasPrefix(wr.got["a.csv"], "text/csv 8 ") || wr.object.Type != "" || wr.object.Attributes != nil {
		t.Errorf("handler saw %+v %v %v", wr.object, wr.order, wr.got)
	}
	wr.mu.Unlock()
	// JSON bytes are the element's too.
	r = post(t, c, u+"/doip/0.DOIP/Op.Update?t=Q1&attributes.element=e.json", "application/json", strings.NewReader(`{"a":1}`), bearer...)
	wr.mu.Lock()
	if r.code != 200 || !strings.HasPrefix(wr.got["e.json"], "application/json 7 ") {
		t.Errorf("JSON element: %d %s; handler saw %v", r.code, r.body, wr.got)
	}
	wr.mu.Unlock()
	for _, tt := range []struct {
		name, url string
		body      io.Reader
		hdr       []string
		code      int
		want      string
	}{
		{"too large", "attributes.element=big", bytes.NewReader(make([]byte, 2<<20)), bearer, 413, "over 1048576 bytes"},
		{"too large, length unknown", "attributes.element=big", &patternReader{n: 2 << 20}, bearer, 413, "over 1048576 bytes"},
		{"no element id", "attributes.element=", strings.NewReader("x"), bearer, 400, "must name the element"},
		{"no identity", "attributes.element=a.csv", strings.NewReader("x"), nil, 403, "write permission"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := post(t, c, u+"/doip?o=0.DOIP/Op.Update&t=Q1&"+tt.url, "application/octet-stream", tt.body, tt.hdr...)
			if r.code != tt.code || !bytes.Contains(r.body, []byte(tt.want)) {
				t.Fatalf("%d %s, want %d with %q", r.code, r.body, tt.code, tt.want)
			}
		})
	}
}
