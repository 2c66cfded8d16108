// Package grpctest runs gRPC servers for tests: in memory (a bufconn listener and a client
// connection to it, both closed when the test ends) or on a loopback port, and records the
// request ids a stub server is sent. It is for tests only; nothing in a
// binary imports it.
package grpctest

import (
	"context"
	"errors"
	"net"
	"slices"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/test/bufconn"

	"github.com/fdo-doip/doip-gateway/shared/requestid"
)

// Target is the dial target of an in-memory listener: passthrough, so no resolver runs; the
// dialer of [Listener.DialOption] makes the connection.
const Target = "passthrough:///bufnet"

// bufferSize is the in-memory connection's buffer in each direction.
const bufferSize = 1 << 20

// Listener is an in-memory listener.
type Listener struct{ *bufconn.Listener }

// Listen returns a new in-memory listener.
func Listen() *Listener { return &Listener{bufconn.Listen(bufferSize)} }

// DialOption returns the dial option that connects to l; dial [Target] with it.
func (l *Listener) DialOption() grpc.DialOption {
	return grpc.WithContextDialer(func(ctx context.Context, _ string) (net.Conn, error) { return l.DialContext(ctx) })
}

// Serve serves gs on l until the test ends; then it stops gs and reports an error of Serve
// as a test error.
func (l *Listener) Serve(t testing.TB, gs *grpc.Server) {
	t.Helper()
	served := make(chan error, 1)
	go func() { served <- gs.Serve(l) }()
	t.Cleanup(func() {
		gs.Stop()
		// ErrServerStopped: the test ended before Serve began, which is no fault.
		if err := <-served; err != nil && !errors.Is(err, grpc.ErrServerStopped) {
			t.Errorf("grpctest: Serve: %v", err)
		}
	})
}

// Serve serves gs in memory until the test ends and returns a client connection to it, made
// without transport security and with opts; the connection is closed when the test ends,
// before the server stops.
func Serve(t testing.TB, gs *grpc.Server, opts ...grpc.DialOption) *grpc.ClientConn {
	t.Helper()
	l := Listen()
	l.Serve(t, gs)
	opts = append([]grpc.DialOption{grpc.WithTransportCredentials(insecure.NewCredentials()), l.DialOption()}, opts...)
	cc, err := grpc.NewClient(Target, opts...)
	if err != nil {
		t.Fatalf("grpctest: NewClient: %v", err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// ServeLoopback serves gs on a loopback TCP port until the test ends and returns its address
// (host:port), for code under test that dials an address of its own.
func ServeLoopback(t testing.TB, gs *grpc.Server) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = gs.Serve(lis) }()
	t.Cleanup(gs.Stop)
	return lis.Addr().String()
}

// RequestIDs remembers the request ids (metadata x-request-id) of the calls a stub server
// gets. Its zero value is empty and ready.
type RequestIDs struct {
	mu  sync.Mutex
	ids []string
}

// Record keeps the request ids of the incoming call whose context is ctx.
func (r *RequestIDs) Record(ctx context.Context) {
	ids := metadata.ValueFromIncomingContext(ctx, requestid.MetadataKey)
	r.mu.Lock()
	defer r.mu.Unlock()
	r.ids = append(r.ids, ids...)
}

// Seen returns the ids recorded so far, in the order of the calls.
func (r *RequestIDs) Seen() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.ids)
}
