package grpcapp_test

import (
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/backend"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/slogapp"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// startServer serves a grpcapp server with opts on a free loopback port; its health service
// answers SERVING for the service name mark, which tells the replicas apart.
func startServer(t *testing.T, mark string, opts ...grpc.ServerOption) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpcapp.NewServer(opts...)
	s.SetServing(mark)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, lis, time.Second, slogapp.Discard()) }()
	t.Cleanup(func() { cancel(); <-done })
	return lis.Addr().String()
}

// followsReplicas dials a name that resolves to replica a alone, through the balancer every
// client of the services uses (backend.Dial: round robin). When the client asks its resolver
// again, the name resolves to a and b, as a DNS name does after a replica was added. It
// reports whether a call reached b before wait ran out, and how often the resolver was asked.
func followsReplicas(t *testing.T, wait time.Duration, opts ...grpc.ServerOption) (reachedB bool, resolves int32) {
	t.Helper()
	a := startServer(t, "replica.a", opts...)
	b := startServer(t, "replica.b", opts...)
	var asked atomic.Int32
	r := manual.NewBuilderWithScheme("replicas")
	r.InitialState(resolver.State{Addresses: []resolver.Address{{Addr: a}}})
	r.ResolveNowCallback = func(resolver.ResolveNowOptions) {
		asked.Add(1)
		r.UpdateState(resolver.State{Addresses: []resolver.Address{{Addr: a}, {Addr: b}}})
	}
	cc, err := backend.Dial("replicas:///svc", backend.WithDialOptions(grpc.WithResolvers(r)))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	hc := healthpb.NewHealthClient(cc)
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		resp, err := hc.Check(ctx, &healthpb.HealthCheckRequest{Service: "replica.b"})
		cancel()
		if err == nil && resp.GetStatus() == healthpb.HealthCheckResponse_SERVING {
			t.Logf("the added replica answered %s after the first call", time.Since(deadline.Add(-wait)).Round(time.Millisecond))
			return true, asked.Load()
		}
		time.Sleep(20 * time.Millisecond)
	}
	return false, asked.Load()
}

// TestMaxConnectionAgeFollowsReplicas: with a maximum connection age on the servers, a client
// that resolved one replica reaches a replica added later within about that age, because the
// ended connection makes it resolve the name again. Without it the client keeps its one
// connection and never learns of the new replica.
func TestMaxConnectionAgeFollowsReplicas(t *testing.T) {
	t.Parallel()
	t.Run("with a maximum age", func(t *testing.T) {
		t.Parallel()
		ok, resolves := followsReplicas(t, 5*time.Second, grpcapp.MaxConnectionAge(300*time.Millisecond, time.Second)...)
		if !ok {
			t.Errorf("no call reached the added replica within 5s (resolver asked %d times)", resolves)
		}
		if resolves == 0 {
			t.Errorf("the client never asked its resolver again")
		}
	})
	t.Run("without", func(t *testing.T) {
		t.Parallel()
		if opts := grpcapp.MaxConnectionAge(0, time.Second); len(opts) != 0 {
			t.Fatalf("MaxConnectionAge(0, …) = %d options, want none (off)", len(opts))
		}
		if ok, resolves := followsReplicas(t, 1500*time.Millisecond); ok || resolves != 0 {
			t.Errorf("without a maximum age: added replica reached %v, resolver asked %d times; want neither (the test would prove nothing)", ok, resolves)
		}
	})
}

// TestMaxConnectionAgeGraceLetsCallsFinish: a call that is running when its connection
// reaches the maximum age is not cut off; it finishes, within the grace.
func TestMaxConnectionAgeGraceLetsCallsFinish(t *testing.T) {
	t.Parallel()
	addr := startServer(t, "replica.a", grpcapp.MaxConnectionAge(200*time.Millisecond, 5*time.Second)...)
	cc, err := backend.Dial(addr)
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	// Watch is a server stream that stays open: it stands for a long workflow run.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	w, err := healthpb.NewHealthClient(cc).Watch(ctx, &healthpb.HealthCheckRequest{Service: "replica.a"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Recv(); err != nil {
		t.Fatal(err)
	}
	// Past several ages, the stream is still open: nothing arrives, and no error either.
	recv := make(chan error, 1)
	go func() { _, err := w.Recv(); recv <- err }()
	select {
	case err := <-recv:
		t.Fatalf("the running call ended after the maximum age, within the grace: %v", err)
	case <-time.After(time.Second):
	}
}
