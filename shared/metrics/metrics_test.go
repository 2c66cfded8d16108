package metrics

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/fdo-doip/doip-gateway/shared/grpctest"
)

func TestNewRegistry(t *testing.T) {
	t.Parallel()
	families, err := NewRegistry().Gather()
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, f := range families {
		names[f.GetName()] = true
	}
	for _, want := range []string{"go_goroutines", "go_memstats_alloc_bytes", "process_cpu_seconds_total", "process_open_fds"} {
		if !names[want] {
			t.Errorf("registry lacks %s", want)
		}
	}
}

func TestSplitMethod(t *testing.T) {
	t.Parallel()
	for in, want := range map[string][2]string{
		"/doip.retrieve.v1.RetrieveService/GetRecord": {"doip.retrieve.v1.RetrieveService", "GetRecord"},
		"/grpc.health.v1.Health/Check":                {"grpc.health.v1.Health", "Check"},
		"nonsense":                                    {"unknown", "nonsense"},
	} {
		if s, m := splitMethod(in); s != want[0] || m != want[1] {
			t.Errorf("splitMethod(%q) = %q, %q", in, s, m)
		}
	}
}

// pair is a health server and a client over bufconn, both measured in reg.
type pair struct {
	reg    *prometheus.Registry
	server *GRPCServer
	client *GRPCClient
	health *health.Server
	hc     healthpb.HealthClient
}

func newPair(t *testing.T) *pair {
	t.Helper()
	p := &pair{reg: prometheus.NewRegistry(), health: health.NewServer()}
	p.server = NewGRPCServer(p.reg)
	p.client = NewGRPCClient(p.reg)
	gs := grpc.NewServer(p.server.ServerOptions()...)
	healthpb.RegisterHealthServer(gs, p.health)
	p.server.InitializeMetrics(gs)
	p.hc = healthpb.NewHealthClient(grpctest.Serve(t, gs, p.client.DialOptions()...))
	return p
}

const (
	svc   = "grpc.health.v1.Health"
	unary = "unary"
	sstr  = "server_stream"
)

// waitFor polls until f reports true, for up to ten seconds: some ends are recorded by
// another goroutine after the call has returned to the test.
func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestUnary(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	if _, err := p.hc.Check(t.Context(), &healthpb.HealthCheckRequest{}); err != nil {
		t.Fatal(err)
	}
	if _, err := p.hc.Check(t.Context(), &healthpb.HealthCheckRequest{Service: "nope"}); status.Code(err) != codes.NotFound {
		t.Fatalf("Check(nope) = %v", err)
	}
	for side, m := range map[string]rpcMetrics{"server": p.server.m, "client": p.client.m} {
		if got := testutil.ToFloat64(m.started.WithLabelValues(unary, svc, "Check")); got != 2 {
			t.Errorf("%s started = %v, want 2", side, got)
		}
		if got := testutil.ToFloat64(m.handled.WithLabelValues(unary, svc, "Check", "OK")); got != 1 {
			t.Errorf("%s handled OK = %v, want 1", side, got)
		}
		if got := testutil.ToFloat64(m.handled.WithLabelValues(unary, svc, "Check", "NotFound")); got != 1 {
			t.Errorf("%s handled NotFound = %v, want 1", side, got)
		}
	}
	// The server's series were created at zero for every method and code.
	if got := testutil.ToFloat64(p.server.m.handled.WithLabelValues(sstr, svc, "Watch", "Unavailable")); got != 0 {
		t.Errorf("initialized Watch series = %v", got)
	}
	if n := testutil.CollectAndCount(p.server.m.handling, "grpc_server_handling_seconds"); n < 2 {
		t.Errorf("%d handling series, want Check and the initialized ones", n)
	}
}

// TestStream covers the ends of a server stream: ended by the server (an error), and
// abandoned by a client that cancels its context without reading on.
func TestStream(t *testing.T) {
	t.Parallel()
	p := newPair(t)

	// Watch of a service the server does not know sends SERVICE_UNKNOWN and stays open;
	// cancelling the context after the first message ends it on both sides.
	ctx, cancel := context.WithCancel(t.Context())
	stream, err := p.hc.Watch(ctx, &healthpb.HealthCheckRequest{Service: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil {
		t.Fatal(err)
	}
	cancel() // abandoned: no further Recv
	waitFor(t, "the abandoned stream counted on the client", func() bool {
		return testutil.ToFloat64(p.client.m.handled.WithLabelValues(sstr, svc, "Watch", "Canceled")) == 1
	})
	waitFor(t, "the cancelled stream counted on the server", func() bool {
		return testutil.ToFloat64(p.server.m.handled.WithLabelValues(sstr, svc, "Watch", "Canceled")) == 1
	})

	// A stream that ends with an error while the client reads: its deadline passes.
	dctx, dcancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer dcancel()
	stream, err = p.hc.Watch(dctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err = stream.Recv(); err != nil {
			break
		}
	}
	// The client sees its deadline pass, or the server's cancellation that follows from it.
	if c := status.Code(err); c != codes.DeadlineExceeded && c != codes.Canceled {
		t.Fatalf("Watch until the deadline: %v", err)
	}
	ended := testutil.ToFloat64(p.client.m.handled.WithLabelValues(sstr, svc, "Watch", "DeadlineExceeded")) +
		testutil.ToFloat64(p.client.m.handled.WithLabelValues(sstr, svc, "Watch", "Canceled"))
	if ended != 2 {
		t.Errorf("client handled Watch = %v, want 2 (each stream counted once, by Recv or by the context)", ended)
	}
	if got := testutil.ToFloat64(p.client.m.started.WithLabelValues(sstr, svc, "Watch")); got != 2 {
		t.Errorf("client started = %v, want 2", got)
	}
	if n := testutil.CollectAndCount(p.client.m.handling); n != 1 {
		t.Errorf("client handling series = %d, want 1 (Watch)", n)
	}
	if c := testutil.ToFloat64(p.client.m.handled.WithLabelValues(sstr, svc, "Watch", "OK")); c != 0 {
		t.Errorf("client handled OK = %v", c)
	}
}

func TestRegisterTwicePanics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	NewGRPCServer(reg)
	NewGRPCClient(reg) // another side: no clash
	defer func() {
		if recover() == nil {
			t.Error("registering the server families twice did not panic")
		}
	}()
	NewGRPCServer(reg)
}

func TestCodeOf(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want codes.Code
	}{
		{nil, codes.OK},
		{status.Error(codes.NotFound, "x"), codes.NotFound},
		{context.Canceled, codes.Canceled},
		{fmt.Errorf("wrapped: %w", context.DeadlineExceeded), codes.DeadlineExceeded},
		{errors.New("plain"), codes.Unknown},
	} {
		if got := codeOf(tc.err); got != tc.want {
			t.Errorf("codeOf(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
}

// A method's series are found once and then reused; a code's series appears when it is
// first counted (the client side creates none in advance), a code beyond the known ones too.
func TestCallSeries(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	m := NewGRPCClient(reg).m
	const method = "/doip.retrieve.v1.RetrieveService/GetRecord"
	for _, err := range []error{nil, nil, status.Error(codes.NotFound, "no"), status.Error(codes.Code(42), "odd")} {
		m.begin(unary, method).end(err)
	}
	if got := testutil.ToFloat64(m.started.WithLabelValues(unary, "doip.retrieve.v1.RetrieveService", "GetRecord")); got != 4 {
		t.Errorf("started = %v, want 4", got)
	}
	for code, want := range map[string]float64{"OK": 2, "NotFound": 1, "Code(42)": 1} {
		if got := testutil.ToFloat64(m.handled.WithLabelValues(unary, "doip.retrieve.v1.RetrieveService", "GetRecord", code)); got != want {
			t.Errorf("handled %s = %v, want %v", code, got, want)
		}
	}
	if n := testutil.CollectAndCount(m.handled, "grpc_client_handled_total"); n != 3 {
		t.Errorf("%d handled series, want the 3 codes counted", n)
	}
	if n := testutil.CollectAndCount(m.handling, "grpc_client_handling_seconds"); n != 1 {
		t.Errorf("%d handling series, want 1", n)
	}
}
