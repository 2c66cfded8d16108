// Package grpctest runs gRPC servers in memory for tests: a bufconn listener and a client
// connection to it, both closed when the test ends. It is for tests only; nothing in a
// binary imports it.
package grpctest

import (
	"context"
	"errors"
	"net"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/test/bufconn"
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
