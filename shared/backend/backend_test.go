package backend

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/grpctest"
	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/peer"
)

func startHealth(t *testing.T) string {
	t.Helper()
	s := grpcapp.NewServer()
	s.SetServing()
	return grpctest.ServeLoopback(t, s.GRPC)
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

func TestHealthProbe(t *testing.T) {
	t.Parallel()
	s := grpcapp.NewServer()
	s.SetServing("doip.test.v1.Thing")
	cc, err := Dial(grpctest.ServeLoopback(t, s.GRPC))
	if err != nil {
		t.Fatal(err)
	}
	defer cc.Close()

	cached := NewHealthProbe(cc, "doip.test.v1.Thing", time.Hour)
	fresh := NewHealthProbe(cc, "doip.test.v1.Thing", 0)
	for _, p := range []*HealthProbe{cached, fresh} {
		if err := p.Check(t.Context()); err != nil {
			t.Fatalf("Check while serving: %v", err)
		}
	}
	s.Health.Shutdown() // draining
	if err := cached.Check(t.Context()); err != nil {
		t.Errorf("cached Check = %v, want the cached nil", err)
	}
	if err := fresh.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "NOT_SERVING") {
		t.Errorf("Check while draining = %v, want NOT_SERVING", err)
	}
	if err := NewHealthProbe(cc, "doip.test.v1.Other", 0).Check(t.Context()); err == nil || !strings.Contains(err.Error(), "NotFound") {
		t.Errorf("Check of an unknown service = %v", err)
	}
	// A caller that has given up is not cached as a failure.
	done, cancel := context.WithCancel(t.Context())
	cancel()
	whole := NewHealthProbe(cc, "", time.Hour)
	s.Health.Resume()
	if err := whole.Check(done); err != nil {
		t.Errorf("Check with a cancelled context = %v, want the real answer", err)
	}

	s.GRPC.Stop()
	down := NewHealthProbe(cc, "", 0)
	if err := down.Check(t.Context()); err == nil || !strings.Contains(err.Error(), "health check failed") {
		t.Errorf("Check of a stopped server = %v", err)
	}
}
