package main

import (
	"net/http"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"google.golang.org/grpc/metadata"

	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/webtest"
)

// TestAdminAndRequestID serves a record and a component with a request id in the metadata,
// then reads the admin endpoints: the metrics moved, and the id is in the logs.
func TestAdminAndRequestID(t *testing.T) {
	t.Parallel()
	s := start(t, nil, env("DATA_DIR", filepath.Join(t.TempDir(), "data")))
	if s.adminURL == "" {
		t.Fatal("no admin address")
	}
	client := retrievev1.NewRetrieveServiceClient(s.conn)
	ctx := metadata.AppendToOutgoingContext(t.Context(), "x-request-id", "rid-retrieve-1")
	for range 2 {
		if _, err := client.GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: "Q123"}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := client.GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: "Q999999"}); err == nil {
		t.Fatal("GetRecord of a missing object succeeded")
	}
	_, data, err := streamAllContext(ctx, client, &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "source.tex"})
	if err != nil {
		t.Fatal(err)
	}
	n := len(data)

	if code, body := webtest.Get(t, s.adminURL+"/healthz"); code != http.StatusOK || body != "ok\n" {
		t.Errorf("/healthz = %d %q", code, body)
	}
	if code, body := webtest.Get(t, s.adminURL+"/readyz"); code != http.StatusOK {
		t.Errorf("/readyz = %d %q", code, body)
	}
	code, body := webtest.Get(t, s.adminURL+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	for _, want := range []string{
		`grpc_server_started_total{grpc_method="GetRecord",grpc_service="doip.retrieve.v1.RetrieveService",grpc_type="unary"} 3`,
		`grpc_server_handled_total{grpc_code="OK",grpc_method="GetRecord",grpc_service="doip.retrieve.v1.RetrieveService",grpc_type="unary"} 2`,
		`grpc_server_handled_total{grpc_code="NotFound",grpc_method="GetRecord",grpc_service="doip.retrieve.v1.RetrieveService",grpc_type="unary"} 1`,
		`grpc_server_handled_total{grpc_code="OK",grpc_method="StreamComponent",grpc_service="doip.retrieve.v1.RetrieveService",grpc_type="server_stream"} 1`,
		`grpc_server_handling_seconds_count{grpc_method="GetRecord",grpc_service="doip.retrieve.v1.RetrieveService",grpc_type="unary"} 3`,
		`retrieve_record_cache_total{result="hit"} 2`, // the second GetRecord and the stream
		`retrieve_record_cache_total{result="miss"} 2`,
		`retrieve_record_fetches_total{result="not_found"} 1`,
		`retrieve_component_bytes_total ` + strconv.Itoa(n),
		`retrieve_derived_bytes_total 0`,
		"process_resident_memory_bytes", "go_goroutines",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	if err := s.stop(); err != nil {
		t.Errorf("run returned %v", err)
	}
	logs := s.logs.String()
	for _, want := range []string{`msg="record served"`, `msg="component streamed"`, "msg=\"admin listening\""} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s", want)
		}
	}
	for line := range strings.Lines(logs) {
		if (strings.Contains(line, "record served") || strings.Contains(line, "component streamed")) && !strings.Contains(line, "request_id=rid-retrieve-1") {
			t.Errorf("log line without the request id: %s", line)
		}
	}
}
