package httpapi_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/httpapi"
)

// Every operation and status over Cordra's face, with Go's client over real TLS.
func TestCordraOperations(t *testing.T) {
	t.Parallel()
	f := &fake{}
	srv, c := newServer(t, f)
	u := srv.URL
	bearer := "Bearer " + token
	basic := "Basic " + base64.StdEncoding.EncodeToString([]byte("bot:"+token))
	tests := []struct {
		name, method, path, body string
		hdr                      []string
		code                     int
		status                   string // Doip-Status
		want                     string // in the body
		op                       doip.Op
	}{
		{"hello", "GET", "/doip?operationId=0.DOIP/Op.Hello&targetId=service", "", nil, 200, "0.DOIP/Status.001", `"type":"0.TYPE/DOIPServiceInfo"`, doip.OpHello},
		{"hello short forms", "GET", "/doip?o=0.DOIP/Op.Hello&t=" + serviceID, "", nil, 200, "0.DOIP/Status.001", `"id":"test/service"`, doip.OpHello},
		{"hello no target", "GET", "/doip?o=0.DOIP/Op.Hello", "", nil, 200, "0.DOIP/Status.001", `"protocolVersion":"2.0"`, doip.OpHello},
		{"hello path form", "GET", "/doip/0.DOIP/Op.Hello?targetId=service", "", nil, 200, "0.DOIP/Status.001", `DOIPServiceInfo`, doip.OpHello},
		{"list operations of the service", "GET", "/doip?o=0.DOIP/Op.ListOperations&t=service", "", nil, 200, "0.DOIP/Status.001", `"equation_extraction"`, doip.OpListOps},
		{"list operations of an object", "GET", "/doip/0.DOIP/Op.ListOperations?t=Q1", "", nil, 200, "0.DOIP/Status.001", `["0.DOIP/Op.Retrieve","0.DOIP/Op.ListOperations","equation_extraction"]`, doip.OpListOps},
		{"retrieve record", "GET", "/doip/0.DOIP/Op.Retrieve?targetId=Q1", "", nil, 200, "0.DOIP/Status.001", `"label":"A paper on energy"`, doip.OpRetrieve},
		{"retrieve record by POST", "POST", "/doip?operationId=0.DOIP/Op.Retrieve&targetId=Q1", "", nil, 200, "0.DOIP/Status.001", `"elements":[`, doip.OpRetrieve},
		{"retrieve element, dotted attribute", "GET", "/doip/0.DOIP/Op.Retrieve?targetId=Q1&attributes.element=equations.json", "", nil, 200, "0.DOIP/Status.001", `"E = mc^2"`, doip.OpRetrieve},
		{"retrieve element, JSON attributes", "GET", `/doip/0.DOIP/Op.Retrieve?targetId=Q1&attributes={"element":"equations.json"}`, "", nil, 200, "0.DOIP/Status.001", `"sourceComponent"`, doip.OpRetrieve},
		{"unknown object", "GET", "/doip/0.DOIP/Op.Retrieve?targetId=Q9", "", nil, 404, "0.DOIP/Status.104", `"message":"no object Q9"`, doip.OpRetrieve},
		{"unknown element", "GET", "/doip/0.DOIP/Op.Retrieve?targetId=Q1&attributes.element=nope", "", nil, 404, "0.DOIP/Status.104", `no component nope`, doip.OpRetrieve},
		{"invoke with bearer", "POST", "/doip?operationId=equation_extraction&targetId=Q1", `{"pages":[1]}`, []string{"Authorization", bearer}, 200, "0.DOIP/Status.001", `"params":{"pages":[1]}`, doip.OpInvoke},
		{"invoke with basic", "POST", "/doip/equation_extraction?targetId=Q1", "", []string{"Authorization", basic}, 200, "0.DOIP/Status.001", `"equationCount":2`, doip.OpInvoke},
		{"invoke with authentication parameter", "POST", `/doip/equation_extraction?targetId=Q1&authentication={"token":"s3cret"}`, "", nil, 200, "0.DOIP/Status.001", `"equationCount":2`, doip.OpInvoke},
		{"invoke without token", "POST", "/doip/equation_extraction?targetId=Q1", "", nil, 401, "0.DOIP/Status.102", `needs a token`, doip.OpInvoke},
		{"invoke with a wrong token", "POST", "/doip/equation_extraction?targetId=Q1", "", []string{"Authorization", "Bearer nope"}, 401, "0.DOIP/Status.102", `needs a token`, doip.OpInvoke},
		{"invoke by GET", "GET", "/doip/equation_extraction?targetId=Q1", "", nil, 405, "0.DOIP/Status.101", `use POST`, 0},
		{"unknown workflow", "POST", "/doip/nope?targetId=Q1", "", []string{"Authorization", bearer}, 404, "0.DOIP/Status.104", `no workflow nope`, doip.OpInvoke},
		{"delete is declined", "POST", "/doip/0.DOIP/Op.Delete?targetId=Q1", "", nil, 400, "0.DOIP/Status.200", `not supported`, doip.OpUnknown},
		{"search", "GET", "/doip/0.DOIP/Op.Search?targetId=service&query=energy&pageSize=5", "", nil, 400, "0.DOIP/Status.200", `not supported`, doip.OpSearch},
		{"no operation", "GET", "/doip?targetId=Q1", "", nil, 400, "0.DOIP/Status.101", `no operation`, 0},
		{"no target", "GET", "/doip?o=0.DOIP/Op.Retrieve", "", nil, 400, "0.DOIP/Status.101", `no target`, 0},
		{"path and query disagree", "GET", "/doip/0.DOIP/Op.Hello?o=0.DOIP/Op.Retrieve&t=Q1", "", nil, 400, "0.DOIP/Status.101", `the path names`, 0},
		{"operation twice", "GET", "/doip?o=0.DOIP/Op.Hello&operationId=0.DOIP/Op.Retrieve", "", nil, 400, "0.DOIP/Status.101", `more than once`, 0},
		{"bad attributes", "GET", "/doip?o=0.DOIP/Op.Retrieve&t=Q1&attributes=[1]", "", nil, 400, "0.DOIP/Status.101", `JSON object`, 0},
		{"bad range attribute", "GET", `/doip?o=0.DOIP/Op.Retrieve&t=Q1&attributes={"element":"data.bin","range":5}`, "", nil, 400, "0.DOIP/Status.101", `attributes.range`, 0},
		{"invalid JSON body", "POST", "/doip/equation_extraction?t=Q1", `{"pages":`, nil, 400, "0.DOIP/Status.101", `not valid JSON`, 0},
		{"bad Authorization", "POST", "/doip/equation_extraction?t=Q1", "", []string{"Authorization", "Digest x"}, 401, "0.DOIP/Status.102", `Bearer or Basic`, 0},
		{"backend unavailable", "GET", "/doip?o=0.DOIP/Op.Retrieve&t=Qbusy", "", nil, 503, "0.DOIP/Status.500", `unavailable`, doip.OpRetrieve},
		{"budget exceeded", "POST", "/doip?o=equation_extraction&t=Qbudget", "", nil, 500, "0.DOIP/Status.500", `60s budget`, doip.OpInvoke},
		{"internal", "GET", "/doip?o=0.DOIP/Op.Retrieve&t=Qbroken", "", nil, 500, "0.DOIP/Status.500", `internal error`, doip.OpRetrieve},
		{"handler gave no answer", "GET", "/doip?o=0.DOIP/Op.Retrieve&t=Qsilent", "", nil, 500, "0.DOIP/Status.500", `no answer`, doip.OpRetrieve},
		{"method", "PUT", "/doip?o=0.DOIP/Op.Hello", "", nil, 405, "0.DOIP/Status.101", `not allowed`, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := do(t, c, tt.method, u+tt.path, tt.body, tt.hdr...)
			if r.code != tt.code || r.h.Get("Doip-Status") != tt.status || !bytes.Contains(r.body, []byte(tt.want)) {
				t.Fatalf("%s %s: %d %s %s\nwant %d %s with %s", tt.method, tt.path, r.code, r.h.Get("Doip-Status"), r.body, tt.code, tt.status, tt.want)
			}
			if r.code >= 400 && r.h.Get("Content-Type") != "application/json" {
				t.Errorf("error Content-Type %q", r.h.Get("Content-Type"))
			}
			if r.code == 401 && r.h.Get("WWW-Authenticate") == "" {
				t.Error("401 without WWW-Authenticate")
			}
			if tt.op != 0 {
				if got := f.last(); got.Op != tt.op || got.Framing != doip.FramingHTTP {
					t.Errorf("handler saw op %v framing %s, want %v http", got.Op, got.Framing, tt.op)
				}
			}
		})
	}
}

// A body that is neither JSON nor multipart is refused with 415.
func TestCordraBodyNotJSON(t *testing.T) {
	t.Parallel()
	srv, c := newServer(t, &fake{})
	req, _ := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/doip/equation_extraction?t=Q1", strings.NewReader("hello"))
	req.Header.Set("Content-Type", "text/plain")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnsupportedMediaType {
		t.Fatalf("status %d, want 415", resp.StatusCode)
	}
}

// A JSON body over the segment limit is refused with 413 before it is all read.
func TestCordraBodyTooLarge(t *testing.T) {
	t.Parallel()
	srv, c := newServer(t, &fake{})
	big := `{"x":"` + strings.Repeat("a", 2<<20) + `"}`
	r := do(t, c, "POST", srv.URL+"/doip/equation_extraction?t=Q1", big)
	if r.code != http.StatusRequestEntityTooLarge {
		t.Fatalf("status %d %s, want 413", r.code, r.body)
	}
}

// The request id: the client's (parameter or header) when usable, else a fresh one; always
// in the answer's X-Request-Id and in the handler's context.
func TestRequestID(t *testing.T) {
	t.Parallel()
	f := &fake{}
	srv, c := newServer(t, f)
	r := do(t, c, "GET", srv.URL+"/doip?o=0.DOIP/Op.Hello&requestId=abc-1", "")
	if got := r.h.Get("X-Request-Id"); got != "abc-1" || f.lastRID() != "abc-1" || f.last().RequestID != "abc-1" {
		t.Errorf("requestId parameter: header %q, context %q", got, f.lastRID())
	}
	r = do(t, c, "GET", srv.URL+"/doip?o=0.DOIP/Op.Hello", "", "X-Request-Id", "hdr-2")
	if got := r.h.Get("X-Request-Id"); got != "hdr-2" || f.lastRID() != "hdr-2" {
		t.Errorf("header: %q, context %q", got, f.lastRID())
	}
	r = do(t, c, "GET", srv.URL+"/doip?o=0.DOIP/Op.Hello", "", "X-Request-Id", "bad id with spaces")
	if got := r.h.Get("X-Request-Id"); len(got) != 16 || got != f.lastRID() {
		t.Errorf("fresh id: %q, context %q", got, f.lastRID())
	}
}

// Cordra's search parameters become the search's attributes.
func TestCordraSearchAttributes(t *testing.T) {
	t.Parallel()
	f := &fake{}
	srv, c := newServer(t, f)
	do(t, c, "GET", srv.URL+`/doip/0.DOIP/Op.Search?targetId=service&query=energy&pageSize=5&facets=[{"field":"type"}]`, "")
	if got := f.last(); got.Op != doip.OpSearch || got.ObjectID != serviceID {
		t.Fatalf("handler saw %+v", got)
	}
	r := do(t, c, "GET", srv.URL+`/doip/0.DOIP/Op.Search?targetId=service&query=energy&pageSize=five`, "")
	if r.code != 400 || !strings.Contains(string(r.body), "pageSize") {
		t.Errorf("bad pageSize: %d %s", r.code, r.body)
	}
}

// An invoke asked with Accept: text/event-stream answers with its progress, then its result.
func TestInvokeEvents(t *testing.T) {
	t.Parallel()
	srv, c := newServer(t, &fake{})
	r := do(t, c, "POST", srv.URL+"/doip?o=equation_extraction&t=Q1", "", "Accept", "text/event-stream", "Authorization", "Bearer "+token)
	want := "event: progress\ndata: {\"stage\":\"read\",\"message\":\"reading the record\",\"fraction\":0.1}\n\n" +
		"event: progress\ndata: {\"stage\":\"extract\",\"fraction\":0.6}\n\n" +
		"event: result\ndata: {\"attributes\":{\"workflow\":\"equation_extraction\",\"cached\":false},\"output\":{\"equationCount\":2,\"params\":null}}\n\n"
	if r.code != 200 || r.h.Get("Content-Type") != "text/event-stream" || string(r.body) != want {
		t.Fatalf("%d %s\n%s\nwant\n%s", r.code, r.h.Get("Content-Type"), r.body, want)
	}
	// A refusal before any event is an ordinary HTTP error.
	r = do(t, c, "POST", srv.URL+"/doip?o=equation_extraction&t=Q1", "", "Accept", "text/event-stream")
	if r.code != 401 {
		t.Fatalf("without token: %d %s", r.code, r.body)
	}
}

// MaRDI's routes: bytes, search, purge, create, with {"detail"} errors and never 200 with one.
func TestMardiRoutes(t *testing.T) {
	t.Parallel()
	f := &fake{}
	srv, c := newServer(t, f)
	u := srv.URL
	r := do(t, c, "GET", u+"/doip/retrieve/Q1/data.bin", "")
	if r.code != 200 || !bytes.Equal(r.body, dataBytes(0, dataSize)) || r.h.Get("Content-Disposition") != `attachment; filename*=utf-8''data%20%C3%BC.bin` {
		t.Fatalf("retrieve: %d %q %d bytes", r.code, r.h.Get("Content-Disposition"), len(r.body))
	}
	r = do(t, c, "GET", u+"/doip/retrieve/Q1/nope", "")
	if r.code != 404 || jsonField(t, r.body, "detail") != "no component nope" {
		t.Fatalf("unknown component: %d %s", r.code, r.body)
	}
	n := len(f.reqs)
	r = do(t, c, "GET", u+"/doip/retrieve/Q1/equations.json?force_reload=false", "", "Authorization", "Bearer "+token)
	if r.code != 200 || len(f.reqs) != n+2 || f.reqs[n].Op != doip.OpPurge || f.reqs[n+1].Op != doip.OpRetrieve {
		t.Fatalf("force_reload: %d, requests %v", r.code, f.reqs[n:])
	}
	r = do(t, c, "POST", u+"/doip/retrieve/Q1/data.bin", "")
	if r.code != 400 || !strings.Contains(string(r.body), "no target") {
		t.Errorf("POST to the retrieve route is Cordra's path form (operation retrieve/Q1/data.bin): %d %s", r.code, r.body)
	}

	for _, tt := range []struct {
		url    string
		code   int
		detail string
	}{
		{"/doip/search", 422, "q is required"},
		{"/doip/search?q=x&limit=0", 422, "limit must be"},
		{"/doip/search?q=x&limit=51", 422, "limit must be"},
		{"/doip/search?q=x&namespaces=items", 400, "namespaces must be"},
		{"/doip/search?q=x&namespaces=120,0", 400, "operation 0.DOIP/Op.Search is not supported"},
		{"/doip/search?q=x&namespaces=all", 400, "not supported"},
	} {
		r := do(t, c, "GET", u+tt.url, "")
		if r.code != tt.code || !strings.Contains(jsonField(t, r.body, "detail").(string), tt.detail) {
			t.Errorf("%s: %d %s, want %d %s", tt.url, r.code, r.body, tt.code, tt.detail)
		}
	}

	r = do(t, c, "POST", u+"/doip/purge/Q1", "", "Authorization", "Bearer "+token)
	if r.code != 200 || string(r.body) != "{\"purged\":true}\n" {
		t.Errorf("purge: %d %s", r.code, r.body)
	}
	r = do(t, c, "POST", u+"/doip/purge/Q1", "")
	if r.code != 401 || jsonField(t, r.body, "detail") == nil {
		t.Errorf("purge without token: %d %s", r.code, r.body)
	}
	r = do(t, c, "POST", u+"/doip/purge/Q9", "", "Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte("u:"+token)))
	if r.code != 404 {
		t.Errorf("purge of an unknown object: %d %s", r.code, r.body)
	}

	for _, tt := range []struct {
		body   string
		code   int
		detail string
	}{
		{`{"label":"x","type":"y"}`, 422, "mutually exclusive"},
		{`{"description":"x"}`, 422, "either 'label'"},
		{`[1]`, 422, "JSON object"},
		{`{"label":"A new item"}`, 400, "not supported"},
	} {
		r := do(t, c, "POST", u+"/doip/create", tt.body)
		if r.code != tt.code || !strings.Contains(jsonField(t, r.body, "detail").(string), tt.detail) {
			t.Errorf("create %s: %d %s", tt.body, r.code, r.body)
		}
	}
	if got := f.last(); got.Op != doip.OpCreate || got.OperationID != "0.DOIP/Op.Create" {
		t.Errorf("create reached the handler as %v %s", got.Op, got.OperationID)
	}
}

// Oversized headers are refused by the server, not read without bound.
func TestHeaderCap(t *testing.T) {
	t.Parallel()
	srv, c := newServer(t, &fake{})
	srv.Config.MaxHeaderBytes = 4 << 10
	req, _ := http.NewRequestWithContext(t.Context(), "GET", srv.URL+"/doip?o=0.DOIP/Op.Hello", nil)
	req.Header.Set("X-Big", strings.Repeat("a", 64<<10))
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
			t.Fatalf("status %d", resp.StatusCode)
		}
	}
}

// A client that sends less body than it announced is answered within the read timeout, not
// waited for.
func TestSlowBody(t *testing.T) {
	t.Parallel()
	api := httpapi.New(httpapi.Options{Handler: &fake{}, ServiceID: serviceID, ReadTimeout: 200 * time.Millisecond})
	srv := httptest.NewServer(api)
	t.Cleanup(srv.Close)
	nc, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(nc, "POST /doip?o=equation_extraction&t=Q1 HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"pa")
	start := time.Now()
	resp, err := http.ReadResponse(bufio.NewReader(nc), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 || time.Since(start) > 5*time.Second {
		t.Errorf("status %d after %v", resp.StatusCode, time.Since(start))
	}
}
