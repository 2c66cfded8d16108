package main

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
)

// probe runs the command with args and returns its exit status and stderr.
func probe(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var stderr bytes.Buffer
	code := run(t.Context(), args, &stderr)
	return code, stderr.String()
}

// listen opens a TCP listener on loopback, closed when the test ends.
func listen(t *testing.T) net.Listener {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { lis.Close() })
	return lis
}

// closedAddr returns a loopback address on which nothing listens (any more).
func closedAddr(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := lis.Addr().String()
	lis.Close()
	return addr
}

// grpcServer starts a real gRPC server on loopback. With hs non-nil it registers that health
// server; without, it serves no service at all.
func grpcServer(t *testing.T, hs *health.Server) string {
	t.Helper()
	lis := listen(t)
	srv := grpc.NewServer()
	if hs != nil {
		healthpb.RegisterHealthServer(srv, hs)
	}
	go srv.Serve(lis)
	t.Cleanup(srv.Stop)
	return lis.Addr().String()
}

func TestGRPC(t *testing.T) {
	t.Parallel()
	hs := health.NewServer() // the whole server ("") starts SERVING
	hs.SetServingStatus("doip.retrieve.v1.RetrieveService", healthpb.HealthCheckResponse_SERVING)
	hs.SetServingStatus("doip.invoke.v1.InvokeService", healthpb.HealthCheckResponse_NOT_SERVING)
	addr := grpcServer(t, hs)
	bare := grpcServer(t, nil)

	tests := []struct {
		name     string
		args     []string
		wantCode int
		wantErr  string // in stderr; "" means stderr must be empty
	}{
		{"server serving", []string{"grpc", addr}, exitOK, ""},
		{"empty service is the server", []string{"grpc", addr, ""}, exitOK, ""},
		{"named service serving", []string{"grpc", addr, "doip.retrieve.v1.RetrieveService"}, exitOK, ""},
		{"named service not serving", []string{"grpc", addr, "doip.invoke.v1.InvokeService"}, exitFail,
			`service "doip.invoke.v1.InvokeService" is NOT_SERVING`},
		{"unknown service", []string{"grpc", addr, "no.such.Service"}, exitFail, `knows no service "no.such.Service"`},
		{"no health service", []string{"grpc", bare}, exitFail, "does not implement grpc.health.v1.Health"},
		{"nothing listening", []string{"grpc", closedAddr(t)}, exitFail, "Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stderr := probe(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit status %d, want %d; stderr: %s", code, tt.wantCode, stderr)
			}
			if tt.wantErr == "" && stderr != "" {
				t.Errorf("stderr %q, want none", stderr)
			}
			if !strings.Contains(stderr, tt.wantErr) {
				t.Errorf("stderr %q, want it to contain %q", stderr, tt.wantErr)
			}
			if tt.wantCode == exitFail && !strings.HasPrefix(stderr, "healthprobe: grpc "+tt.args[1]+": ") {
				t.Errorf("stderr %q does not name the check and the address", stderr)
			}
		})
	}
}

// TestGRPCShutdown checks the status the services report while draining (grpcapp turns
// health NOT_SERVING before it stops).
func TestGRPCShutdown(t *testing.T) {
	t.Parallel()
	hs := health.NewServer()
	addr := grpcServer(t, hs)
	if code, stderr := probe(t, "grpc", addr); code != exitOK {
		t.Fatalf("before shutdown: exit status %d, stderr %s", code, stderr)
	}
	hs.Shutdown()
	code, stderr := probe(t, "grpc", addr)
	if code != exitFail || !strings.Contains(stderr, "the server is NOT_SERVING") {
		t.Errorf("after shutdown: exit status %d, stderr %q; want 1 and NOT_SERVING", code, stderr)
	}
}

// TestGRPCTimeout: a peer that accepts but never speaks HTTP/2 fails the check within the
// timeout instead of hanging.
func TestGRPCTimeout(t *testing.T) {
	t.Parallel()
	lis := listen(t)
	accepted := make(chan net.Conn, 16)
	t.Cleanup(func() {
		lis.Close()
		for {
			select {
			case c := <-accepted:
				c.Close()
			default:
				return
			}
		}
	})
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			select {
			case accepted <- c: // held open, silent, until the test ends
			default:
				c.Close()
			}
		}
	}()
	code, stderr := probe(t, "-timeout", "200ms", "grpc", lis.Addr().String())
	if code != exitFail {
		t.Fatalf("exit status %d, want %d; stderr %s", code, exitFail, stderr)
	}
	if !strings.Contains(stderr, "no answer within 200ms") {
		t.Errorf("stderr %q does not say the check timed out", stderr)
	}
}

func TestTCP(t *testing.T) {
	t.Parallel()
	lis := listen(t)
	go func() {
		for {
			c, err := lis.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	if code, stderr := probe(t, "tcp", lis.Addr().String()); code != exitOK || stderr != "" {
		t.Errorf("listening: exit status %d, stderr %q; want 0 and nothing", code, stderr)
	}
	addr := closedAddr(t)
	code, stderr := probe(t, "tcp", addr)
	if code != exitFail || !strings.HasPrefix(stderr, "healthprobe: tcp "+addr+": ") || !strings.Contains(stderr, "refused") {
		t.Errorf("nothing listening: exit status %d, stderr %q; want 1 and connection refused", code, stderr)
	}
}

func TestHTTP(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/_health":
			w.WriteHeader(http.StatusOK)
		case "/moved":
			http.Redirect(w, r, "/_health", http.StatusFound)
		case "/created":
			w.WriteHeader(http.StatusNoContent)
		default:
			http.Error(w, "down", http.StatusServiceUnavailable)
		}
	}))
	t.Cleanup(srv.Close)

	tests := []struct {
		path     string
		wantCode int
		wantErr  string
	}{
		{"/_health", exitOK, ""},
		{"/created", exitOK, ""},
		{"/moved", exitOK, ""},
		{"/down", exitFail, "status 503 Service Unavailable"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			t.Parallel()
			code, stderr := probe(t, "http", srv.URL+tt.path)
			if code != tt.wantCode || !strings.Contains(stderr, tt.wantErr) || (tt.wantErr == "" && stderr != "") {
				t.Errorf("exit status %d, stderr %q; want %d and %q", code, stderr, tt.wantCode, tt.wantErr)
			}
		})
	}

	t.Run("nothing listening", func(t *testing.T) {
		t.Parallel()
		code, stderr := probe(t, "http", "http://"+closedAddr(t)+"/_health")
		if code != exitFail || !strings.Contains(stderr, "refused") {
			t.Errorf("exit status %d, stderr %q; want 1 and connection refused", code, stderr)
		}
	})
}

func TestHTTPTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	t.Cleanup(srv.Close)
	t.Cleanup(func() { close(release) })
	code, stderr := probe(t, "-timeout", "200ms", "http", srv.URL)
	if code != exitFail || !strings.Contains(stderr, "no answer within 200ms") {
		t.Errorf("exit status %d, stderr %q; want 1 and a timeout", code, stderr)
	}
}

func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		args    []string
		wantErr string
	}{
		{"no arguments", nil, "missing the kind of check"},
		{"unknown kind", []string{"udp", "127.0.0.1:1"}, `unknown check "udp"`},
		{"grpc without address", []string{"grpc"}, "grpc takes ADDR"},
		{"grpc with extra operand", []string{"grpc", "127.0.0.1:1", "svc", "more"}, "grpc takes ADDR"},
		{"grpc address without port", []string{"grpc", "localhost"}, `address "localhost": want host:port`},
		{"tcp without address", []string{"tcp"}, "tcp takes one ADDR"},
		{"tcp address without port", []string{"tcp", "127.0.0.1"}, "want host:port"},
		{"http without scheme", []string{"http", "127.0.0.1:8000/_health"}, "want an http:// or https:// URL"},
		{"http two urls", []string{"http", "http://a/", "http://b/"}, "http takes one URL"},
		{"bad timeout", []string{"-timeout", "soon", "tcp", "127.0.0.1:1"}, "invalid value"},
		{"zero timeout", []string{"-timeout", "0s", "tcp", "127.0.0.1:1"}, "want a positive duration"},
		{"help", []string{"-h"}, "usage: healthprobe"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			code, stderr := probe(t, tt.args...)
			if code != exitUsage {
				t.Errorf("exit status %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr, tt.wantErr) || !strings.Contains(stderr, "usage: healthprobe") {
				t.Errorf("stderr %q, want %q and the usage", stderr, tt.wantErr)
			}
		})
	}
}
