package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/tlsconf"
	"github.com/fdo-doip/doip-gateway/gateway/internal/tlstest"
	"github.com/fdo-doip/doip-gateway/shared/requestid"

	"github.com/fdo-doip/doip-gateway/shared/logtest"
)

// textCodec is the line codec of server_test.go, with requests marked as the standard framing
// and an optional third word taken as the client's requestId: "hello x rid".
type textCodec struct{ doip.ServerCodec }

func newTextCodec(r *bufio.Reader, w *bufio.Writer, lim doip.Limits) (doip.ServerCodec, error) {
	c, err := newLineCodec(r, w, lim)
	return textCodec{c}, err
}

func (c textCodec) ReadRequest() (*doip.Request, error) {
	req, err := c.ServerCodec.ReadRequest()
	if err != nil {
		return nil, err
	}
	req.ObjectID, req.RequestID, _ = strings.Cut(req.ObjectID, " ")
	req.Framing = doip.FramingText
	return req, nil
}

// idHandler answers like echoHandler and remembers the request id of each request's context.
type idHandler struct {
	echoHandler
	mu  sync.Mutex
	ids []string
}

func (h *idHandler) ServeDOIP(ctx context.Context, w doip.ResponseWriter, req *doip.Request) {
	id, _ := requestid.FromContext(ctx)
	h.mu.Lock()
	h.ids = append(h.ids, id)
	h.mu.Unlock()
	h.echoHandler.ServeDOIP(ctx, w, req)
}

// eventually polls f for up to ten seconds: the server finishes a connection (closing it,
// counting it) on its own goroutine, after the client has seen its end.
func eventually(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// histogramCount returns the sample count of the histogram series with the given labels.
func histogramCount(t *testing.T, reg *prometheus.Registry, name string, labels map[string]string) uint64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			for _, lp := range m.GetLabel() {
				if labels[lp.GetName()] != lp.GetValue() {
					continue next
				}
			}
			return m.GetHistogram().GetSampleCount()
		}
	}
	return 0
}

func TestMetricsAndRequestIDs(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	h := &idHandler{}
	var logs logtest.Buffer
	s := &Server{Name: "seg", Handler: h, NewCodec: newTextCodec, Metrics: m,
		Logger: slog.New(slog.NewJSONHandler(&logs, nil))}
	addr := serve(t, s)
	if got := testutil.ToFloat64(m.connections.WithLabelValues("seg", tlsNo)); got != 0 {
		t.Errorf("connections before any = %v", got)
	}

	// One connection, three requests; the client gives an id to the last.
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	var received int
	for _, line := range []string{"hello a\n", "retrieve Q1\n", "hello b rid-7\n"} {
		received += len(roundTrip(t, c, br, line))
	}
	if got := testutil.ToFloat64(m.active.WithLabelValues("seg")); got != 1 {
		t.Errorf("active connections = %v, want 1", got)
	}
	c.Close()

	// A framing error before any request, and a client that stops in the middle of one.
	bad, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	answer := roundTrip(t, bad, bufio.NewReader(bad), "!x\n")
	bad.Close()
	cut, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(cut, "hello half-a-line")
	cut.(*net.TCPConn).CloseWrite()
	if b, _ := io.ReadAll(cut); len(b) != 0 {
		t.Errorf("answer to a cut request: %q", b)
	}
	cut.Close()

	eventually(t, "every connection closed", func() bool { return testutil.ToFloat64(m.active.WithLabelValues("seg")) == 0 })
	eventually(t, "the unknown-framing bytes counted", func() bool {
		return testutil.ToFloat64(m.responseBytes.WithLabelValues("unknown")) == float64(len(answer))
	})
	for _, tc := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"hello ok", m.requests.WithLabelValues("seg", "doiptext", "hello", "ok"), 2},
		{"retrieve NotFound", m.requests.WithLabelValues("seg", "doiptext", "retrieve", "NotFound"), 1},
		{"connections", m.connections.WithLabelValues("seg", tlsNo), 3},
		{"bytes to the text client", m.responseBytes.WithLabelValues("doiptext"), float64(received)},
		{"malformed", m.framingErrors.WithLabelValues("seg", framingMalformed), 1},
		{"truncated", m.framingErrors.WithLabelValues("seg", framingTruncated), 1},
	} {
		if got := testutil.ToFloat64(tc.c); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
	if n := histogramCount(t, reg, "doip_request_duration_seconds", map[string]string{"framing": "doiptext", "op": "hello"}); n != 2 {
		t.Errorf("duration samples of hello = %d, want 2", n)
	}
	if err := testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP doip_active_connections Open DOIP client connections, by listener.
# TYPE doip_active_connections gauge
doip_active_connections{listener="seg"} 0
`), "doip_active_connections"); err != nil {
		t.Error(err)
	}

	// Request ids: the handler saw them in its context, and "request done" logs them.
	h.mu.Lock()
	ids := append([]string(nil), h.ids...)
	h.mu.Unlock()
	if len(ids) != 3 || ids[2] != "rid-7" || len(ids[0]) != 16 || ids[0] == ids[1] {
		t.Errorf("handler saw request ids %q; want two fresh ones, then rid-7", ids)
	}
	var logged []string
	for _, rec := range logs.Records() {
		if id, ok := rec["request_id"].(string); ok && rec["msg"] == "request done" {
			logged = append(logged, id)
		}
	}
	if strings.Join(logged, ",") != strings.Join(ids, ",") {
		t.Errorf("request done logged ids %q, handler saw %q", logged, ids)
	}
}

// TestMetricsTLS counts connections by transport and the TLS failures.
func TestMetricsTLS(t *testing.T) {
	t.Parallel()
	cert := tlstest.Cert(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	m := NewMetrics(prometheus.NewRegistry())
	addr := serve(t, &Server{Name: "env", Handler: &echoHandler{}, NewCodec: newLineCodec, TLSConfig: cfg, TLSMode: tlsconf.Required,
		Metrics: m, Logger: testLogger(t)})

	tc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	if got := roundTrip(t, tc, bufio.NewReader(tc), "hello tls\n"); got != "ok tls\n" {
		t.Errorf("over TLS = %q", got)
	}
	tc.Close()
	pc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(pc, "hello plain\n")
	io.ReadAll(pc)
	pc.Close()
	// A ClientHello byte followed by garbage: the handshake fails.
	gc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	gc.Write([]byte("\x16\x03\x01\x00\x05hello"))
	io.ReadAll(gc)
	gc.Close()

	eventually(t, "every connection closed", func() bool { return testutil.ToFloat64(m.active.WithLabelValues("env")) == 0 })
	for _, tc := range []struct {
		name string
		c    prometheus.Collector
		want float64
	}{
		{"tls", m.connections.WithLabelValues("env", tlsYes), 1},
		{"failed", m.connections.WithLabelValues("env", tlsFailed), 2},
		{"plaintext", m.connections.WithLabelValues("env", tlsNo), 0},
		{"plaintext on tls", m.framingErrors.WithLabelValues("env", framingPlaintext), 1},
		{"handshake", m.framingErrors.WithLabelValues("env", framingTLS), 1},
		{"requests", m.requests.WithLabelValues("env", "unknown", "hello", "ok"), 1},
	} {
		if got := testutil.ToFloat64(tc.c); got != tc.want {
			t.Errorf("%s = %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestMetricsAborted counts an answer whose write fails as aborted.
func TestMetricsAborted(t *testing.T) {
	t.Parallel()
	m := NewMetrics(prometheus.NewRegistry())
	failing := doip.HandlerFunc(func(_ context.Context, w doip.ResponseWriter, _ *doip.Request) {
		_ = w.Respond(&doip.Response{})
	})
	s := &Server{Name: "x", Handler: failing, Metrics: m, Logger: testLogger(t),
		NewCodec: func(r *bufio.Reader, w *bufio.Writer, lim doip.Limits) (doip.ServerCodec, error) {
			c, err := newLineCodec(r, w, lim)
			return failingCodec{c}, err
		}}
	addr := serve(t, s)
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(c, "hello a\n")
	io.ReadAll(c)
	c.Close()
	eventually(t, "the aborted request counted", func() bool {
		return testutil.ToFloat64(m.requests.WithLabelValues("x", "unknown", "hello", statusAborted)) == 1
	})
}

// failingCodec fails every response, as a broken backend stream does after the first byte.
type failingCodec struct{ doip.ServerCodec }

func (failingCodec) WriteResponse(*doip.Request, *doip.Response) error {
	return errors.New("backend stream broke")
}

func TestServing(t *testing.T) {
	t.Parallel()
	s := &Server{Name: "x", Handler: &echoHandler{}, NewCodec: newLineCodec}
	if s.Serving() {
		t.Error("Serving before Serve")
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	eventually(t, "Serving", s.Serving)
	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatal(err)
	}
	if s.Serving() {
		t.Error("Serving after Shutdown")
	}
	if err := <-done; !errors.Is(err, ErrServerClosed) {
		t.Errorf("Serve = %v", err)
	}
}

func TestNilMetrics(t *testing.T) {
	t.Parallel()
	var m *Metrics
	m.initListener("x")
	m.connOpened("x")
	m.connClosed("x")
	m.connEstablished("x", tlsNo)
	m.connRejected("x")
	m.framingError("x", framingMalformed)
	m.requestDone("x", &doip.Request{}, statusOK, 1)
	b := &byteCounter{}
	b.add(3)
	b.setFraming(doip.FramingEnvelope)
	b.close()
}

// TestMetricsRejected counts connections over max-conns.
func TestMetricsRejected(t *testing.T) {
	t.Parallel()
	m := NewMetrics(prometheus.NewRegistry())
	addr := serve(t, &Server{Name: "t", Handler: &echoHandler{}, NewCodec: newLineCodec, MaxConns: 1, Metrics: m, Logger: testLogger(t)})
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	roundTrip(t, first, bufio.NewReader(first), "hello one\n")
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	io.ReadAll(second)
	if got := testutil.ToFloat64(m.rejected.WithLabelValues("t")); got != 1 {
		t.Errorf("rejected = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.active.WithLabelValues("t")); got != 1 {
		t.Errorf("active = %v, want 1 (the rejected one is not counted)", got)
	}
}

// Regression (~5,500 series from the 256 operation bytes): every op byte the model does not
// define shares the label "other".
func TestOpLabelsBounded(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	labels := map[string]bool{}
	for b := range 256 {
		req := &doip.Request{Op: doip.Op(b), Framing: "envelope"}
		m.requestDone("env", req, statusOK, 0.001)
		labels[opLabel(req.Op)] = true
	}
	if len(labels) != 11 || !labels[opOther] || !labels["invoke"] || !labels["unknown"] {
		t.Errorf("op labels = %v; want the 10 named operations and %q", labels, opOther)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("env", "envelope", opOther, statusOK)); got != 256-10 {
		t.Errorf("requests of undefined ops = %v, want %d", got, 256-10)
	}
	if n := testutil.CollectAndCount(m.requests); n != 11 {
		t.Errorf("doip_requests_total has %d series, want 11", n)
	}
}

// TestRequestSeriesResolvedOnce: requests of one kind count in one child each, requests of
// other kinds in their own, and concurrent first requests of a kind lose no count.
func TestRequestSeriesResolvedOnce(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	hello := &doip.Request{Op: doip.OpHello, Framing: doip.Framing("envelope")}
	other := &doip.Request{Op: doip.Op(0x42), Framing: doip.Framing("segments")}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 100 {
				m.requestDone("envelope", hello, statusOK, 0.001)
				m.requestDone("seg", other, string(doip.KindNotFound), 0.002)
			}
		})
	}
	wg.Wait()
	m.requestDone("envelope", hello, statusAborted, 0.5)
	if got := testutil.ToFloat64(m.requests.WithLabelValues("envelope", "envelope", "hello", "ok")); got != 800 {
		t.Errorf("hello ok = %v, want 800", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("seg", "segments", opOther, string(doip.KindNotFound))); got != 800 {
		t.Errorf("other NotFound = %v, want 800", got)
	}
	if got := testutil.ToFloat64(m.requests.WithLabelValues("envelope", "envelope", "hello", statusAborted)); got != 1 {
		t.Errorf("hello aborted = %v, want 1", got)
	}
	if n := testutil.CollectAndCount(m.duration); n != 2 {
		t.Errorf("%d duration series, want 2", n)
	}
}

func BenchmarkRequestDone(b *testing.B) {
	m := NewMetrics(prometheus.NewRegistry())
	req := &doip.Request{Op: doip.OpHello, Framing: doip.Framing("envelope")}
	b.ReportAllocs()
	for b.Loop() {
		m.requestDone("envelope", req, statusOK, 0.0001)
	}
}
