package grpcapp_test

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/fdo-doip/doip-gateway/shared/admin"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/slogapp"
)

func get(t *testing.T, url string) (int, string, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), err
}

// TestServeDrainsInOrder runs gRPC and the admin server together as the services do: while a
// call is in flight after the drain began, health is NOT_SERVING and /readyz answers 503;
// gRPC stops once the call ends, and the admin server after it.
func TestServeDrainsInOrder(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	// Read only after Serve returned: every goroutine that logs has ended by then.
	logs := &strings.Builder{}
	logger := slog.New(slog.NewTextHandler(logs, nil))
	s := grpcapp.NewServer()
	s.SetServing()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() {
		done <- s.Serve(ctx, lis, grpcapp.ServeOptions{
			DrainTimeout: 30 * time.Second,
			AdminAddr:    "127.0.0.1:0",
			AdminHandler: admin.NewHandler(prometheus.NewRegistry(), s.Ready, logger),
			Ready: func(grpcAddr, adminAddr net.Addr) {
				if grpcAddr.String() != lis.Addr().String() {
					t.Errorf("Ready got gRPC address %v, want %v", grpcAddr, lis.Addr())
				}
				addrs <- adminAddr
			},
		}, logger)
	}()
	url := "http://" + (<-addrs).String() + "/readyz"

	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	// A Watch stream stays open until its client ends it: a call in flight that holds the
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
	if code, body, err := get(t, url); code != http.StatusOK {
		t.Fatalf("/readyz while serving = %d %q %v", code, body, err)
	}

	cancel() // begin the drain
	if resp, err := watch.Recv(); err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_NOT_SERVING {
		t.Fatalf("Watch after the drain began = %v, %v", resp, err)
	}
	code, body, err := get(t, url)
	if code != http.StatusServiceUnavailable || !strings.Contains(body, "NOT_SERVING") {
		t.Errorf("/readyz while a call is in flight = %d %q %v, want 503 NOT_SERVING", code, body, err)
	}
	select {
	case err := <-done:
		t.Fatalf("Serve returned %v while a call was in flight", err)
	default:
	}
	wcancel()
	if err := <-done; err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if _, _, err := get(t, url); err == nil {
		t.Error("the admin server still answers after Serve returned")
	}
	if !strings.Contains(logs.String(), "msg=stopped") {
		t.Errorf("log %q lacks msg=stopped", logs.String())
	}
}

// TestServeAdminAddrInUse: an admin address that cannot be bound fails Serve at once and
// closes the gRPC listener.
func TestServeAdminAddrInUse(t *testing.T) {
	t.Parallel()
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpcapp.NewServer()
	err = s.Serve(t.Context(), lis, grpcapp.ServeOptions{
		DrainTimeout: time.Second,
		AdminAddr:    taken.Addr().String(),
		AdminHandler: http.NotFoundHandler(),
		Ready:        func(net.Addr, net.Addr) { t.Error("Ready called although the admin address is taken") },
	}, slogapp.Discard())
	if err == nil {
		t.Fatal("Serve with the admin address in use succeeded")
	}
	if _, err := lis.Accept(); err == nil {
		t.Error("the gRPC listener is still open")
	}
}

// TestServeWithoutAdmin: with no admin address, Serve runs gRPC alone and tells Ready a nil
// admin address.
func TestServeWithoutAdmin(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpcapp.NewServer()
	ctx, cancel := context.WithCancel(t.Context())
	var gotAdmin net.Addr = &net.TCPAddr{}
	err = s.Serve(ctx, lis, grpcapp.ServeOptions{
		DrainTimeout: time.Second,
		Ready: func(_, adminAddr net.Addr) {
			gotAdmin = adminAddr
			cancel()
		},
	}, slogapp.Discard())
	if err != nil {
		t.Fatalf("Serve = %v", err)
	}
	if gotAdmin != nil {
		t.Errorf("Ready got admin address %v, want nil", gotAdmin)
	}
}
