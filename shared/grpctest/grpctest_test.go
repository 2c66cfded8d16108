package grpctest_test

import (
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/fdo-doip/doip-gateway/shared/grpctest"
)

func TestServe(t *testing.T) {
	t.Parallel()
	gs := grpc.NewServer()
	healthpb.RegisterHealthServer(gs, health.NewServer())
	cc := grpctest.Serve(t, gs)
	resp, err := healthpb.NewHealthClient(cc).Check(t.Context(), &healthpb.HealthCheckRequest{})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("Check = %v, %v", resp, err)
	}
}

// A test that ends before the server began serving is not an error.
func TestServeUnused(t *testing.T) {
	t.Parallel()
	grpctest.Serve(t, grpc.NewServer())
}
