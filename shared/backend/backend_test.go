package backend

import (
	"net"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
)

func startHealth(t *testing.T) string {
	t.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := grpcapp.NewServer()
	s.SetServing()
	go func() { _ = s.GRPC.Serve(lis) }()
	t.Cleanup(s.GRPC.Stop)
	return lis.Addr().String()
}

func TestRoundRobinOverStaticList(t *testing.T) {
	t.Parallel()
	a, b := startHealth(t), startHealth(t)
	cc, err := Dial(Target([]string{a, b}), RetryOnUnavailable("grpc.health.v1.Health"))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()
	seen := map[string]int{}
	hc := healthpb.NewHealthClient(cc)
	for range 20 {
		var p peer.Peer
		if _, err := hc.Check(t.Context(), &healthpb.HealthCheckRequest{}, grpc.Peer(&p), grpc.WaitForReady(true)); err != nil {
			t.Fatal(err)
		}
		seen[p.Addr.String()]++
	}
	if seen[a] == 0 || seen[b] == 0 {
		t.Errorf("calls per backend = %v, want both %s and %s used", seen, a, b)
	}
}

func TestTargetAndErrors(t *testing.T) {
	t.Parallel()
	if got := Target([]string{"x:1"}); got != "x:1" {
		t.Errorf("Target(one) = %q", got)
	}
	if got := Target([]string{"x:1", "y:2"}); got != "static:///x:1,y:2" {
		t.Errorf("Target(two) = %q", got)
	}
	if _, err := Dial(""); err == nil {
		t.Error("empty address accepted")
	}
	if _, err := Dial("static:///,"); err == nil || !strings.Contains(err.Error(), "no address") {
		t.Errorf("empty static list: %v", err)
	}
}
