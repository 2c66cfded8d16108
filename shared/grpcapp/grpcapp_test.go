package grpcapp

import (
	"context"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/slogapp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/reflection/grpc_reflection_v1"
)

func TestHealthReflectionAndDrain(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := NewServer()
	s.SetServing("doip.test.v1.Nothing")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- s.Run(ctx, lis, time.Second, slogapp.Discard()) }()

	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	hc := healthpb.NewHealthClient(cc)
	for _, name := range []string{"", "doip.test.v1.Nothing"} {
		resp, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{Service: name})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Fatalf("health %q = %v, %v", name, resp, err)
		}
	}
	rc, err := grpc_reflection_v1.NewServerReflectionClient(cc).ServerReflectionInfo(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if err := rc.Send(&grpc_reflection_v1.ServerReflectionRequest{MessageRequest: &grpc_reflection_v1.ServerReflectionRequest_ListServices{}}); err != nil {
		t.Fatal(err)
	}
	resp, err := rc.Recv()
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, svc := range resp.GetListServicesResponse().GetService() {
		found = found || svc.GetName() == "grpc.health.v1.Health"
	}
	if !found {
		t.Errorf("reflection lists %v, want grpc.health.v1.Health among them", resp.GetListServicesResponse().GetService())
	}
	_ = rc.CloseSend()

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after cancel = %v, want nil", err)
	}
}

func TestReady(t *testing.T) {
	t.Parallel()
	s := NewServer()
	s.SetServing("doip.test.v1.Nothing")
	if err := s.Ready(t.Context()); err != nil {
		t.Fatalf("Ready while serving = %v", err)
	}
	s.Drain(time.Second, slogapp.Discard())
	if err := s.Ready(t.Context()); err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Errorf("Ready after Drain = %v, want NOT_SERVING", err)
	}
}
