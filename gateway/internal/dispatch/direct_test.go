package dispatch

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
)

// A retrieve service that hands off to presigned URLs; the gateway fetches the bytes, from a
// plain-HTTP storage on a connection of its own, from an HTTPS one with its HTTP client.
func TestDirectReads(t *testing.T) {
	t.Parallel()
	for _, scheme := range []string{"http", "https"} {
		t.Run(scheme, func(t *testing.T) {
			t.Parallel()
			testDirectReads(t, scheme)
		})
	}
}

func testDirectReads(t *testing.T, scheme string) {
	content := bytes.Repeat([]byte("0123456789"), 100_000) // 1 MB
	var mode atomic.Value
	mode.Store("ok")
	newServer := httptest.NewServer
	if scheme == "https" {
		newServer = httptest.NewTLSServer
	}
	storage := newServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch mode.Load() {
		case "404":
			http.NotFound(w, r)
		case "500":
			http.Error(w, "boom", http.StatusInternalServerError)
		case "short":
			w.Header().Set("Content-Length", "10")
			_, _ = w.Write([]byte("0123"))
		default:
			http.ServeContent(w, r, "x", time.Time{}, bytes.NewReader(content))
		}
	}))
	defer storage.Close()

	var allowed atomic.Bool
	rs := okRetrieve(nil)
	rs.stream = func(r *retrievev1.StreamComponentRequest, st retrievev1.RetrieveService_StreamComponentServer) error {
		allowed.Store(r.GetAllowDirect())
		h := &retrievev1.ComponentHeader{ComponentId: "big", MediaType: "application/octet-stream", Size: int64(len(content)), TotalSize: int64(len(content)),
			DirectUrl: storage.URL + "/bucket/key?X-Amz-Signature=secret"}
		if r.GetRange() != nil {
			h.Offset, h.Size = r.GetRange().GetStart(), r.GetRange().GetEnd()-r.GetRange().GetStart()+1
		}
		return st.Send(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Header{Header: h}})
	}
	d := newDispatcher(t, rs, nil)
	d.DirectReads, d.Direct = true, NewDirectClient(d.callTimeout())
	if scheme == "https" {
		d.Direct.Transport.(*http.Transport).TLSClientConfig = storage.Client().Transport.(*http.Transport).TLSClientConfig
	}

	var r recorder
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1", Element: "big"})
	if r.err != nil || !allowed.Load() || !bytes.Equal(r.bodies[0], content) {
		t.Fatalf("direct read: err %v, allowed %v, %d bytes", r.err, allowed.Load(), len(r.bodies))
	}
	start, end := int64(5), int64(14)
	r = recorder{}
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1", Element: "big", Range: &doip.Range{Start: &start, End: &end}})
	if r.err != nil || string(r.bodies[0]) != "5678901234" {
		t.Errorf("ranged direct read: %v, %q", r.err, r.bodies)
	}
	for m, kind := range map[string]doip.ErrorKind{"404": doip.KindNotFound, "500": doip.KindUnavailable} {
		mode.Store(m)
		r = recorder{}
		d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1", Element: "big"})
		if r.err == nil || r.err.Kind != kind || strings.Contains(r.err.Message, "secret") || strings.Contains(r.err.Message, "127.0.0.1") {
			t.Errorf("storage %s: %v, want %s without the URL", m, r.err, kind)
		}
	}
	mode.Store("short")
	r = recorder{}
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1", Element: "big"})
	if r.err == nil {
		t.Error("a body shorter than announced was accepted")
	}

	d.DirectReads = false
	mode.Store("ok")
	r = recorder{}
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1", Element: "big"})
	if allowed.Load() {
		t.Error("the gateway allowed a hand-off with DirectReads off")
	}
}
