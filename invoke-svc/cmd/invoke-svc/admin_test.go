package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	invokev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/invoke/v1"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/grpctest"
	"github.com/fdo-doip/doip-gateway/shared/logtest"
	"github.com/fdo-doip/doip-gateway/shared/webtest"
)

// retrieveStub is a retrieve-svc that knows no object and remembers the request ids it was
// sent.
type retrieveStub struct {
	retrievev1.UnimplementedRetrieveServiceServer
	ids grpctest.RequestIDs
}

func (r *retrieveStub) GetRecord(ctx context.Context, req *retrievev1.GetRecordRequest) (*retrievev1.GetRecordResponse, error) {
	r.ids.Record(ctx)
	return nil, status.Errorf(codes.NotFound, "no object %s", req.GetObjectId())
}

// TestAdminMetricsAndRequestID runs two workflows, one of which asks retrieve-svc (a stub)
// for a record: the request id of the invocation reaches the stub and the logs, and the
// workflow and gRPC metrics count both runs.
func TestAdminMetricsAndRequestID(t *testing.T) {
	t.Parallel()
	stub := &retrieveStub{}
	rs := grpcapp.NewServer()
	retrievev1.RegisterRetrieveServiceServer(rs.GRPC, stub)
	retrieveAddr := grpctest.ServeLoopback(t, rs.GRPC)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var logs logtest.Buffer
	addrc := make(chan [2]net.Addr, 1)
	errc := make(chan error, 1)
	go func() {
		ctx := grpcapp.WithReady(ctx, func(a, adm net.Addr) { addrc <- [2]net.Addr{a, adm} })
		errc <- run(ctx, []string{"--listen", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--retrieve-addr", retrieveAddr,
			"--log-format", "json", "--log-level", "debug"},
			noEnv, io.MultiWriter(&logs, t.Output()))
	}()
	var addrs [2]net.Addr
	select {
	case addrs = <-addrc:
	case err := <-errc:
		t.Fatalf("run returned before listening: %v", err)
	}
	adminURL := "http://" + addrs[1].String()
	conn, err := grpc.NewClient(addrs[0].String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := invokev1.NewInvokeServiceClient(conn)

	invoke := func(rid, workflow string) error {
		ctx := metadata.AppendToOutgoingContext(t.Context(), "x-request-id", rid)
		stream, err := c.Invoke(ctx, &invokev1.InvokeRequest{ObjectId: "Q123", Workflow: workflow})
		if err != nil {
			return err
		}
		for {
			if _, err := stream.Recv(); err != nil {
				if err == io.EOF {
					return nil
				}
				return err
			}
		}
	}
	if err := invoke("rid-echo-1", "echo"); err != nil {
		t.Fatalf("echo: %v", err)
	}
	if err := invoke("rid-eq-1", "equation_extraction"); status.Code(err) != codes.NotFound {
		t.Fatalf("equation_extraction of an unknown object: %v, want NotFound", err)
	}
	if got := stub.ids.Seen(); len(got) == 0 || strings.Join(got, ",") != strings.Repeat("rid-eq-1,", len(got)-1)+"rid-eq-1" {
		t.Errorf("retrieve-svc saw request ids %q, want rid-eq-1 on every call", got)
	}

	if code, body := webtest.Get(t, adminURL+"/readyz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/readyz = %d %q", code, body)
	}
	code, body := webtest.Get(t, adminURL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`workflow_runs_total{result="ok",workflow="echo"} 1`,
		`workflow_runs_total{result="not_found",workflow="equation_extraction"} 1`,
		`workflow_runs_total{result="failed",workflow="echo"} 0`,
		`workflow_duration_seconds_count{workflow="echo"} 1`,
		`workflow_duration_seconds_count{workflow="equation_extraction"} 1`,
		"\nworkflow_runs_in_flight 0\n", // both runs are over
		`grpc_server_handled_total{grpc_code="NotFound",grpc_method="Invoke",grpc_service="doip.invoke.v1.InvokeService",grpc_type="server_stream"} 1`,
		`grpc_server_handled_total{grpc_code="OK",grpc_method="Invoke",grpc_service="doip.invoke.v1.InvokeService",grpc_type="server_stream"} 1`,
		`grpc_client_handled_total{grpc_code="NotFound",grpc_method="GetRecord",grpc_service="doip.retrieve.v1.RetrieveService",grpc_type="unary"}`,
		"go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}

	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run after cancel = %v, want nil", err)
	}
	found := 0
	for line := range strings.Lines(logs.String()) {
		if strings.Contains(line, `"msg":"invoke found nothing to work on"`) {
			found++
			if !strings.Contains(line, `"request_id":"rid-eq-1"`) {
				t.Errorf("log line without the request id: %s", line)
			}
		}
	}
	if found != 1 {
		t.Errorf("%d lines of the failed run, want 1:\n%s", found, logs.String())
	}
}
