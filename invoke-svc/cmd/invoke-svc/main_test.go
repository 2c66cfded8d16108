package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"slices"
	"strings"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	invokev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/invoke/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/logtest"
	"github.com/fdo-doip/doip-gateway/shared/settings"
)

func noEnv(string) string { return "" }

func TestRunServesUntilCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var logs logtest.Buffer
	addrc := make(chan net.Addr, 1)
	errc := make(chan error, 1)
	go func() {
		ctx := grpcapp.WithReady(ctx, func(a, adm net.Addr) {
			if adm != nil {
				t.Errorf("admin server at %v although disabled", adm)
			}
			addrc <- a
		})
		errc <- run(ctx, []string{"--listen", "127.0.0.1:0", "--admin-addr=", "--log-format", "json", "--log-level", "debug"},
			noEnv, io.MultiWriter(&logs, t.Output()))
	}()
	var addr net.Addr
	select {
	case addr = <-addrc:
	case err := <-errc:
		t.Fatalf("run returned before listening: %v", err)
	}

	conn, err := grpc.NewClient(addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatalf("NewClient: %v", err)
	}
	defer conn.Close()

	health := healthpb.NewHealthClient(conn)
	for _, service := range []string{"", "doip.invoke.v1.InvokeService"} {
		resp, err := health.Check(t.Context(), &healthpb.HealthCheckRequest{Service: service})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health of %q = %v, %v; want SERVING", service, resp, err)
		}
	}

	c := invokev1.NewInvokeServiceClient(conn)
	list, err := c.ListWorkflows(t.Context(), &invokev1.ListWorkflowsRequest{})
	if err != nil {
		t.Fatalf("ListWorkflows: %v", err)
	}
	if !slices.ContainsFunc(list.GetWorkflows(), func(w *invokev1.Workflow) bool { return w.GetName() == "echo" }) {
		t.Errorf("ListWorkflows = %v, want echo among them", list)
	}

	stream, err := c.Invoke(t.Context(), &invokev1.InvokeRequest{ObjectId: "Q123", Workflow: "echo", ParamsJson: []byte(`{}`)})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	msg, err := stream.Recv()
	if err != nil || msg.GetProgress().GetStage() != "accepted" {
		t.Fatalf("first message = %v, %v; want the accepted event", msg, err)
	}
	if msg, err = stream.Recv(); err != nil {
		t.Fatalf("Recv: %v", err)
	}
	if got, want := string(msg.GetResult().GetResultJson()), `{"workflow":"echo","sourceObject":"Q123","params":{}}`; got != want {
		t.Errorf("echo result = %s, want %s", got, want)
	}
	if _, err := stream.Recv(); err != io.EOF {
		t.Errorf("after the result: %v, want io.EOF", err)
	}

	cancel()
	if err := <-errc; err != nil {
		t.Errorf("run after cancel = %v, want nil", err)
	}
	for _, want := range []string{`"msg":"listening"`, `"addr":"` + addr.String() + `"`, `"workflows":["echo","equation_extraction"]`, `"svc":"invoke-svc"`, `"msg":"shutting down"`, `"msg":"stopped"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log does not contain %s:\n%s", want, logs.String())
		}
	}
}

func TestRunRejectsBadConfig(t *testing.T) {
	t.Parallel()
	getenv := func(k string) string {
		if k == "MAX_CONCURRENT" {
			return "0"
		}
		return ""
	}
	err := run(t.Context(), []string{"--log-level", "loud"}, getenv, t.Output())
	if err == nil {
		t.Fatal("run with a bad config = nil, want an error")
	}
	for _, want := range []string{"MAX_CONCURRENT", "--log-level"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not name %s", err, want)
		}
	}
}

func TestRunHelp(t *testing.T) {
	t.Parallel()
	var logs, stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"-h"}, noEnv, &logs)
	if code := settings.Exit("invoke-svc", err, &stdout, &stderr); code != 0 || logs.Len() != 0 || stderr.Len() != 0 {
		t.Fatalf("run -h = %v: exit %d, logs %q, stderr %q; want exit 0 and the usage on stdout", err, code, logs.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "--listen / INVOKE_LISTEN") {
		t.Errorf("run -h printed %q, want the usage", stdout.String())
	}
}

func TestRunListenFails(t *testing.T) {
	t.Parallel()
	var lc net.ListenConfig
	taken, err := lc.Listen(t.Context(), "tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	err = run(t.Context(), []string{"--listen", taken.Addr().String()}, noEnv, t.Output())
	if err == nil || !strings.Contains(err.Error(), "listen") {
		t.Errorf("run on a taken port = %v, want a listen error", err)
	}
}
