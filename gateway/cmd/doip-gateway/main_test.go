package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/grpctest"
	"github.com/fdo-doip/doip-gateway/shared/logtest"
	"github.com/fdo-doip/doip-gateway/shared/webtest"
)

// retrieveStub serves every record as an empty object and remembers the request ids.
type retrieveStub struct {
	retrievev1.UnimplementedRetrieveServiceServer
	ids grpctest.RequestIDs
}

func (r *retrieveStub) GetRecord(ctx context.Context, req *retrievev1.GetRecordRequest) (*retrievev1.GetRecordResponse, error) {
	r.ids.Record(ctx)
	return &retrievev1.GetRecordResponse{ObjectId: req.GetObjectId(), RecordJson: []byte(`{}`)}, nil
}

// TestAdminAndRequestID runs the gateway against a stub retrieve-svc: a retrieve carries its
// request id to the backend and into the log, the admin server reports the metrics, and
// readiness follows the backend's health.
func TestAdminAndRequestID(t *testing.T) {
	t.Parallel()
	stub := &retrieveStub{}
	rs := grpcapp.NewServer()
	retrievev1.RegisterRetrieveServiceServer(rs.GRPC, stub)
	rs.SetServing(retrievev1.RetrieveService_ServiceDesc.ServiceName)
	retrieveAddr := grpctest.ServeLoopback(t, rs.GRPC)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var logs logtest.Buffer
	errc := make(chan error, 1)
	go func() {
		errc <- run(ctx, []string{"--host", "127.0.0.1", "--port", "0", "--tls-mode", "off", "--invoke-addr=",
			"--retrieve-addr", retrieveAddr, "--admin-addr", "127.0.0.1:0", "--log-format", "json", "--config="},
			func(string) string { return "" }, io.MultiWriter(&logs, t.Output()))
	}()
	var adminURL, envelopeAddr string
	deadline := time.Now().Add(30 * time.Second)
	for adminURL == "" || envelopeAddr == "" {
		select {
		case err := <-errc:
			t.Fatalf("run returned early: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateway did not start")
		}
		for _, rec := range logs.Records() {
			if a, ok := rec["admin_addr"].(string); ok && rec["msg"] == "admin listening" {
				adminURL = "http://" + a
			}
			if a, ok := rec["addr"].(string); ok && rec["msg"] == "listening" && rec["listener"] == "envelope" {
				envelopeAddr = a
			}
		}
		time.Sleep(10 * time.Millisecond)
	}

	c, err := client.Dial(t.Context(), envelopeAddr, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q1"}, nil); err != nil {
		t.Fatalf("retrieve: %v", err)
	}
	c.Close()

	if code, body := webtest.Get(t, adminURL+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := webtest.Get(t, adminURL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d %q", code, body)
	}
	code, body := webtest.Get(t, adminURL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`doip_requests_total{framing="envelope",listener="envelope",op="retrieve",status="ok"} 1`,
		`doip_request_duration_seconds_count{framing="envelope",op="retrieve"} 1`,
		`doip_connections_total{listener="envelope",tls="false"} 1`,
		`doip_active_connections{listener="segments"} 0`,
		`doip_response_bytes_total{framing="envelope"}`,
		`grpc_client_handled_total{grpc_code="OK",grpc_method="GetRecord",grpc_service="doip.retrieve.v1.RetrieveService",grpc_type="unary"} 1`,
		`grpc_client_handled_total{grpc_code="OK",grpc_method="Check",grpc_service="grpc.health.v1.Health",grpc_type="unary"}`,
		`grpc_client_handling_seconds_count{grpc_method="GetRecord",grpc_service="doip.retrieve.v1.RetrieveService",grpc_type="unary"} 1`,
		"process_open_fds", "go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	// The id the backend got is the one the gateway logged for the request.
	ids := stub.ids.Seen()
	// The access log is buffered: its line arrives within the flush interval.
	var logged []string
	for wait := time.Now().Add(10 * time.Second); len(logged) == 0 && time.Now().Before(wait); time.Sleep(10 * time.Millisecond) {
		for _, rec := range logs.Records() {
			if rec["msg"] == "request done" {
				id, _ := rec["request_id"].(string)
				logged = append(logged, id)
			}
		}
	}
	if len(ids) != 1 || len(logged) != 1 || ids[0] != logged[0] || len(ids[0]) != 16 {
		t.Errorf("retrieve-svc got request ids %q, the gateway logged %q", ids, logged)
	}

	// The backend drains: once the cached answer is old, the gateway is not ready.
	rs.Health.Shutdown()
	deadline = time.Now().Add(3*readyCacheTTL + 5*time.Second)
	for {
		code, body := webtest.Get(t, adminURL+"/readyz")
		if code == http.StatusServiceUnavailable && strings.Contains(body, "NOT_SERVING") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz with retrieve-svc draining = %d %q", code, body)
		}
		time.Sleep(100 * time.Millisecond)
	}

	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run after cancel = %v", err)
	}
	if _, err := http.Get(adminURL + "/healthz"); err == nil {
		t.Error("the admin server answers after the gateway stopped")
	}
}
