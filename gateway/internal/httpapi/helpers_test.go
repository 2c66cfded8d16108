package httpapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/httpapi"
	"github.com/fdo-doip/doip-gateway/gateway/internal/httpapi/httpapitest"
	"github.com/fdo-doip/doip-gateway/shared/requestid"
)

// The fake service's objects.
const (
	serviceID = "test/service"
	token     = "s3cret"
	objectID  = "Q1"
	dataID    = "data.bin"
	dataSize  = 1000
	version   = "c0ffee"
)

// data is the byte at offset i of data.bin.
func dataByte(i int64) byte { return byte(i*7 + i/251) }

func dataBytes(from, to int64) []byte {
	b := make([]byte, 0, to-from)
	for i := from; i < to; i++ {
		b = append(b, dataByte(i))
	}
	return b
}

// patternReader yields n bytes of the data.bin pattern from offset off, without holding them.
type patternReader struct{ off, n int64 }

func (p *patternReader) Read(b []byte) (int, error) {
	if p.n == 0 {
		return 0, io.EOF
	}
	b = b[:min(int64(len(b)), p.n)]
	for i := range b {
		b[i] = dataByte(p.off + int64(i))
	}
	p.off += int64(len(b))
	p.n -= int64(len(b))
	return len(b), nil
}

const equationsDoc = `{"sourceComponent":"doip:bitstream/Q1/paper.pdf","sourceMediaType":"application/pdf","equations":[
{"page":2,"number":"1","latex":"E = mc^2"},{"page":3,"number":"2","latex":"\\int_0^1 x\\,dx = \\frac{1}{2}"}]}`

// fake is a DOIP handler with one object, as the dispatcher answers.
type fake struct {
	mu   sync.Mutex
	reqs []doip.Request
	rids []string
	// size is data.bin's size (dataSize when 0).
	size int64
}

func (f *fake) last() doip.Request {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reqs[len(f.reqs)-1]
}

func (f *fake) lastRID() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rids[len(f.rids)-1]
}

func (f *fake) ServeDOIP(ctx context.Context, w doip.ResponseWriter, req *doip.Request) {
	f.mu.Lock()
	f.reqs = append(f.reqs, *req)
	rid, _ := requestid.FromContext(ctx)
	f.rids = append(f.rids, rid)
	f.mu.Unlock()
	size := f.size
	if size == 0 {
		size = dataSize
	}
	isService := req.ObjectID == serviceID
	switch {
	case req.ObjectID == "Qbusy":
		_ = w.Error(doip.Errorf(doip.KindUnavailable, "retrieve service unavailable"))
	case req.ObjectID == "Qbudget":
		_ = w.Error(doip.Errorf(doip.KindLimitExceeded, "the run exceeded its 60s budget"))
	case req.ObjectID == "Qbroken":
		_ = w.Error(doip.Errorf(doip.KindInternal, "internal error"))
	case req.ObjectID == "Qsilent":
		// No answer at all: the API answers for it.
	case req.Op == doip.OpHello:
		_ = w.Respond(&doip.Response{Op: req.Op, Hello: &doip.ServiceInfo{ServiceID: serviceID, Server: "fake", Version: "1",
			Operations: map[string]doip.Op{"hello": doip.OpHello, "retrieve": doip.OpRetrieve}, Workflows: []string{"equation_extraction"}}})
	case req.Op == doip.OpListOps && (isService || req.ObjectID == objectID):
		_ = w.Respond(&doip.Response{Op: req.Op, Operations: &doip.OperationList{Object: strings.TrimPrefix(req.ObjectID, serviceID), Workflows: []string{"equation_extraction"}}})
	case req.ObjectID != objectID && req.Op != doip.OpSearch && req.Op != doip.OpCreate:
		_ = w.Error(doip.Errorf(doip.KindNotFound, "no object %s", req.ObjectID))
	case req.Op == doip.OpRetrieve && req.Element == "":
		_ = w.Respond(&doip.Response{Op: req.Op, Record: &doip.Record{ObjectID: objectID, Type: "Item", Version: version,
			JSON: json.RawMessage(`{"label":"A paper on energy","description":"with two equations"}`),
			Components: []doip.ComponentInfo{{ID: "doip:bitstream/Q1/" + dataID, MediaType: "application/octet-stream", Size: size},
				{ID: "doip:bitstream/Q1/paper.pdf", MediaType: "application/pdf", Filename: "paper.pdf", Size: 3}}}})
	case req.Op == doip.OpRetrieve && req.Element == dataID:
		start, end := int64(0), size-1
		if r := req.Range; r != nil {
			switch {
			case r.Start == nil && (*r.End == 0 || *r.End > size):
				_ = w.Error(doip.Errorf(doip.KindBadRequest, "range of the last %d bytes is out of bounds for %s", *r.End, dataID))
				return
			case r.Start == nil:
				start = size - *r.End
			default:
				start = *r.Start
				if r.End != nil {
					end = *r.End
				}
			}
			if start >= size || end >= size || end < start {
				_ = w.Error(doip.Errorf(doip.KindBadRequest, "range %d-%d is out of bounds for %s", start, end, dataID))
				return
			}
		}
		n := end - start + 1
		_ = w.Respond(&doip.Response{Op: req.Op, Component: &doip.ComponentBody{ID: dataID, MediaType: "application/octet-stream", Filename: "data ü.bin",
			Size: n, TotalSize: size, Version: version, Body: &patternReader{off: start, n: n}}})
	case req.Op == doip.OpRetrieve && req.Element == "equations.json":
		_ = w.Respond(&doip.Response{Op: req.Op, Component: &doip.ComponentBody{ID: "equations.json", MediaType: "application/json",
			Size: int64(len(equationsDoc)), Body: strings.NewReader(equationsDoc)}})
	case req.Op == doip.OpRetrieve:
		_ = w.Error(doip.Errorf(doip.KindNotFound, "no component %s", req.Element))
	case req.Op == doip.OpInvoke || req.Op == doip.OpPurge:
		if req.Token != token {
			_ = w.Error(doip.Errorf(doip.KindUnauthenticated, "%s needs a token", req.Op))
			return
		}
		if req.Op == doip.OpPurge {
			_ = w.Respond(&doip.Response{Op: req.Op, Purge: &doip.PurgeResult{Purged: true}})
			return
		}
		if req.Workflow != "equation_extraction" {
			_ = w.Error(doip.Errorf(doip.KindNotFound, "no workflow %s", req.Workflow))
			return
		}
		_ = w.Progress("read", "reading the record", 0.1)
		_ = w.Progress("extract", "", 0.6)
		_ = w.Respond(&doip.Response{Op: req.Op, Invoke: &doip.InvokeResult{Workflow: req.Workflow,
			Result: json.RawMessage(`{"equationCount":2,"params":` + string(orNull(req.Params)) + `}`)}})
	default:
		_ = w.Error(doip.Errorf(doip.KindUnsupported, "operation %s is not supported", req.OperationID))
	}
}

func orNull(b json.RawMessage) json.RawMessage {
	if len(b) == 0 {
		return json.RawMessage("null")
	}
	return b
}

// newServer starts the API over real TLS on loopback.
func newServer(t *testing.T, f *fake) (*httptest.Server, *http.Client) {
	t.Helper()
	srv := newTLSServer(t, httpapi.New(httpapi.Options{Handler: f, ServiceID: serviceID, Logger: slog.New(slog.NewTextHandler(t.Output(), nil))}))
	return srv, srv.Client()
}

// newTLSServer serves h over TLS, HTTP/2 offered, on a loopback port.
func newTLSServer(t *testing.T, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	t.Cleanup(srv.Close)
	return srv
}

type result struct {
	code int
	h    http.Header
	body []byte
}

func do(t *testing.T, c *http.Client, method, url string, body string, hdr ...string) result {
	t.Helper()
	resp, b := httpapitest.Do(t, c, method, url, body, hdr...)
	return result{resp.StatusCode, resp.Header, b}
}

func jsonField(t *testing.T, b []byte, key string) any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %s", b)
	}
	return m[key]
}
