package invoke_test

import (
	"context"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/invoke"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
	invokev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/invoke/v1"
)

// inFlight reads workflow_runs_in_flight from reg.
func inFlight(t *testing.T, reg *prometheus.Registry) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == invoke.InFlightMetric {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatalf("%s is not registered", invoke.InFlightMetric)
	return 0
}

// waitInFlight waits until the gauge reads want: runs leave it as their handlers return.
func waitInFlight(t *testing.T, reg *prometheus.Registry, want float64) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for inFlight(t, reg) != want {
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v, want %v", invoke.InFlightMetric, inFlight(t, reg), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestInvokeCountsRunsInFlight: workflow_runs_in_flight counts the runs that hold a slot and
// those that wait for one (the queue), and drops back as each ends, whether it finished or
// was cancelled while waiting.
func TestInvokeCountsRunsInFlight(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	wreg, err := workflow.NewRegistry(b.runner())
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	srv := invoke.NewServer(wreg, 1, testLogger(t), invoke.WithMetrics(invoke.NewMetrics(reg)))
	waiting := make(chan struct{}, 16)
	srv.SetOnWait(func() { waiting <- struct{}{} })
	c := serve(t, srv)
	if got := inFlight(t, reg); got != 0 {
		t.Fatalf("idle worker: %s = %v, want 0", invoke.InFlightMetric, got)
	}

	a, err := c.Invoke(t.Context(), &invokev1.InvokeRequest{ObjectId: "A", Workflow: "block"})
	if err != nil {
		t.Fatal(err)
	}
	<-b.started // A runs in the one slot
	waitInFlight(t, reg, 1)

	queued := make([]grpc.ServerStreamingClient[invokev1.InvokeResponse], 0, 2)
	cancelC := func() {}
	for _, id := range []string{"B", "C"} {
		ctx := t.Context()
		if id == "C" {
			var cancel func()
			ctx, cancel = context.WithCancel(ctx)
			cancelC = cancel
		}
		s, err := c.Invoke(ctx, &invokev1.InvokeRequest{ObjectId: id, Workflow: "block"})
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, s)
		<-waiting
	}
	waitInFlight(t, reg, 3) // one running, two queued

	cancelC() // C gives up while queued
	if _, err := drain(queued[1]); err == nil {
		t.Errorf("cancelled run C ended without an error")
	}
	waitInFlight(t, reg, 2)

	b.release <- struct{}{} // A finishes, B takes the slot
	if _, err := drain(a); err != nil {
		t.Errorf("run A: %v", err)
	}
	<-b.started
	waitInFlight(t, reg, 1)
	b.release <- struct{}{}
	if _, err := drain(queued[0]); err != nil {
		t.Errorf("run B: %v", err)
	}
	waitInFlight(t, reg, 0)
}
