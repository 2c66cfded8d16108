package admin_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/fdo-doip/doip-gateway/shared/admin"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/metrics"
	"github.com/fdo-doip/doip-gateway/shared/slogapp"
	"github.com/fdo-doip/doip-gateway/shared/webtest"
)

func start(t *testing.T, reg *prometheus.Registry, ready admin.ReadyFunc) (*admin.Server, string) {
	t.Helper()
	logger := slogapp.New(t.Output(), 0, slogapp.FormatText, "test")
	s, err := admin.Start(t.Context(), "127.0.0.1:0", admin.NewHandler(reg, ready, logger), logger)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s, "http://" + s.Addr().String()
}

func TestEndpoints(t *testing.T) {
	t.Parallel()
	reg := metrics.NewRegistry()
	things := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_things_total", Help: "Things."})
	reg.MustRegister(things)
	things.Add(3)
	var notReady atomic.Pointer[string]
	s, url := start(t, reg, func(context.Context) error {
		if why := notReady.Load(); why != nil {
			return errors.New(*why)
		}
		return nil
	})

	code, body := webtest.Do(t, http.MethodGet, url+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{"test_things_total 3", "go_goroutines", "process_cpu_seconds_total"} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// The scrape counts itself.
	if _, body := webtest.Do(t, http.MethodGet, url+"/metrics"); !strings.Contains(body, `promhttp_metric_handler_requests_total{code="200"} 1`) {
		t.Errorf("second scrape lacks the first one:\n%s", body)
	}
	if code, body := webtest.Do(t, http.MethodGet, url+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := webtest.Do(t, http.MethodGet, url+"/readyz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	why := "backend down"
	notReady.Store(&why)
	if code, body := webtest.Do(t, http.MethodGet, url+"/readyz"); code != http.StatusServiceUnavailable || body != "not ready: backend down\n" {
		t.Errorf("/readyz when not ready = %d %q", code, body)
	}
	if code, _ := webtest.Do(t, http.MethodGet, url+"/healthz"); code != http.StatusOK {
		t.Errorf("/healthz when not ready = %d; liveness does not depend on readiness", code)
	}
	if code, _ := webtest.Do(t, http.MethodHead, url+"/healthz"); code != http.StatusOK {
		t.Errorf("HEAD /healthz = %d", code)
	}
	if code, _ := webtest.Do(t, http.MethodPost, url+"/metrics"); code != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics = %d", code)
	}
	if code, _ := webtest.Do(t, http.MethodGet, url+"/debug/pprof/"); code != http.StatusNotFound {
		t.Errorf("GET /debug/pprof/ = %d", code)
	}

	if err := s.Shutdown(t.Context()); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("the server answers after Shutdown")
	}
}

func TestNilReadyAndBusyPort(t *testing.T) {
	t.Parallel()
	s, url := start(t, prometheus.NewRegistry(), nil)
	if code, _ := webtest.Do(t, http.MethodGet, url+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz without a check = %d", code)
	}
	_, err := admin.Start(t.Context(), s.Addr().String(), http.NotFoundHandler(), slogapp.Discard())
	if err == nil || !strings.Contains(err.Error(), "admin: listen on "+s.Addr().String()) {
		t.Errorf("Start on a busy port: %v", err)
	}
	if _, err := admin.Start(t.Context(), "nonsense", http.NotFoundHandler(), slogapp.Discard()); err == nil {
		t.Error("Start on a bad address succeeded")
	}
}

// TestReadyFlipsOnDrain serves gRPC with an admin server beside it, as the services do:
// /readyz answers 200 while serving and 503 from the moment the drain begins, while a call
// is still in flight.
func TestReadyFlipsOnDrain(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpcapp.NewServer()
	srv.SetServing()
	_, url := start(t, prometheus.NewRegistry(), srv.Ready)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Run(ctx, lis, 30*time.Second, slogapp.Discard()) }()

	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	// A Watch stream stays open until its client ends it: an RPC in flight that holds the
	// drain open.
	wctx, wcancel := context.WithCancel(t.Context())
	defer wcancel()
	watch, err := healthpb.NewHealthClient(cc).Watch(wctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Watch = %v, %v", resp, err)
	}
	if code, body := webtest.Do(t, http.MethodGet, url+"/readyz"); code != http.StatusOK {
		t.Fatalf("/readyz while serving = %d %q", code, body)
	}

	cancel() // begin the drain
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch after the drain began = %v, %v", resp, err)
	}
	code, body := webtest.Do(t, http.MethodGet, url+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "NOT_SERVING") {
		t.Errorf("/readyz while draining = %d %q", code, body)
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v while a call was in flight", err)
	default:
	}
	wcancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v", err)
	}
	if code, _ := webtest.Do(t, http.MethodGet, url+"/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("/readyz after the drain = %d", code)
	}
}

// Regression (/readyz showed the backend's address): a readiness reason is answered with
// its addresses, URLs and paths taken out.
func TestReadyzRevealsNoAddress(t *testing.T) {
	t.Parallel()
	why := `backend doip.retrieve.v1.RetrieveService: rpc error: code = Unavailable desc = connection error: desc = "transport: Error while dialing: dial tcp 10.1.2.3:50051: connect: connection refused"; ` +
		`also [fe80::1%eth0]:9000, [::1]:50051, retrieve-svc:50051, lakefs.internal.example:8000, http://user:pw@lakefs:8000/api, /var/lib/doip/data/records`
	_, url := start(t, prometheus.NewRegistry(), func(context.Context) error { return errors.New(why) })
	code, body := webtest.Do(t, http.MethodGet, url+"/readyz")
	if code != http.StatusServiceUnavailable || !strings.HasPrefix(body, "not ready: backend doip.retrieve.v1.RetrieveService") {
		t.Fatalf("/readyz = %d %q", code, body)
	}
	for _, leak := range []string{"10.1.2.3", "50051", "fe80", "::1", "retrieve-svc:", "lakefs", "8000", "pw@", "/var/lib"} {
		if strings.Contains(body, leak) {
			t.Errorf("/readyz body %q shows %q", body, leak)
		}
	}
	for _, keep := range []string{"Unavailable", "connection refused"} {
		if !strings.Contains(body, keep) {
			t.Errorf("/readyz body %q lost the reason %q", body, keep)
		}
	}
}

// TestServe: without an address run gets no admin server; with one, run gets its address
// and the server answers until run returns; a busy address fails before run.
func TestServe(t *testing.T) {
	t.Parallel()
	logger := slogapp.Discard()
	h := admin.NewHandler(prometheus.NewRegistry(), nil, logger)
	ran := false
	err := admin.Serve(t.Context(), "", h, logger, func(addr net.Addr) error {
		ran = true
		if addr != nil {
			t.Errorf("admin address %v without an admin server", addr)
		}
		return errors.New("run's error")
	})
	if !ran || err == nil || err.Error() != "run's error" {
		t.Errorf("Serve without an address: ran %t, %v", ran, err)
	}
	var url string
	err = admin.Serve(t.Context(), "127.0.0.1:0", h, logger, func(addr net.Addr) error {
		url = "http://" + addr.String()
		if code, body := webtest.Get(t, url+"/healthz"); code != http.StatusOK || body != "ok\n" {
			t.Errorf("/healthz while run runs = %d %q", code, body)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil {
		t.Error("the admin server answers after Serve returned")
	}
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	err = admin.Serve(t.Context(), busy.Addr().String(), h, logger, func(net.Addr) error {
		t.Error("run ran although the admin address is busy")
		return nil
	})
	if err == nil {
		t.Error("Serve on a busy address succeeded")
	}
}
