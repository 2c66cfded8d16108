package main

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/retrieve"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/logtest"
	"github.com/fdo-doip/doip-gateway/shared/settings"
)

func env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// started is a retrieve-svc running in the test, with a client connected to it.
type started struct {
	conn     *grpc.ClientConn
	logs     *logtest.Buffer
	adminURL string       // "http://127.0.0.1:port" of the admin server; empty when disabled
	stop     func() error // cancels the context and returns what run returned
}

func start(t *testing.T, args []string, getenv func(string) string) *started {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	logs := &logtest.Buffer{}
	addrc := make(chan [2]net.Addr, 1)
	errc := make(chan error, 1)
	args = append([]string{"--listen", "127.0.0.1:0", "--admin-addr", "127.0.0.1:0", "--log-format", "text", "--log-level", "debug"}, args...)
	go func() {
		ctx := grpcapp.WithReady(ctx, func(a, adm net.Addr) { addrc <- [2]net.Addr{a, adm} })
		errc <- run(ctx, args, getenv, io.MultiWriter(logs, t.Output()))
	}()
	var addr net.Addr
	var adminURL string
	select {
	case addrs := <-addrc:
		addr = addrs[0]
		if addrs[1] != nil {
			adminURL = "http://" + addrs[1].String()
		}
	case err := <-errc:
		cancel()
		t.Fatalf("run returned before listening: %v", err)
	}
	conn, err := grpc.NewClient(addr.String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	s := &started{conn: conn, logs: logs, adminURL: adminURL}
	var once sync.Once
	var runErr error
	s.stop = func() error {
		once.Do(func() {
			conn.Close()
			cancel()
			runErr = <-errc
		})
		return runErr
	}
	t.Cleanup(func() { s.stop() })
	return s
}

func TestRun(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "records"), 0o755); err != nil {
		t.Fatal(err)
	}
	record := `{"kernel":{"digitalObjectType":"https://fdo.example.org/fdo/types/Dataset",
		"fdo:hasComponent":[{"componentId":"data.csv","mediaType":"text/csv"}]}}`
	if err := os.WriteFile(filepath.Join(dir, "records", "Q42.json"), []byte(record), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, []string{"--data-dir", dir, "--seed-samples=false"}, env())
	ctx := t.Context()

	health := healthpb.NewHealthClient(s.conn)
	for _, svc := range []string{"", retrieve.ServiceName} {
		resp, err := health.Check(ctx, &healthpb.HealthCheckRequest{Service: svc})
		if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
			t.Errorf("health of %q = %v, %v; want SERVING", svc, resp, err)
		}
	}
	resp, err := retrievev1.NewRetrieveServiceClient(s.conn).GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: "Q42"})
	if err != nil {
		t.Fatal(err)
	}
	if string(resp.GetRecordJson()) != record || len(resp.GetComponents()) != 1 {
		t.Errorf("GetRecord(Q42) = %v", resp)
	}
	// records/ and the search index, nothing seeded.
	if entries, _ := os.ReadDir(dir); len(entries) != 2 || entries[0].Name() != "records" || entries[1].Name() != "search-index" {
		t.Errorf("the data dir was seeded although seeding was off: %v", entries)
	}
	if err := s.stop(); err != nil {
		t.Errorf("run returned %v after cancel; want nil", err)
	}
	logs := s.logs.String()
	for _, want := range []string{`msg=listening`, `addr=127.0.0.1:`, `records=folder`, `msg="shutting down"`, `msg=stopped`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
}

// TestRunSeeds starts on a data dir that does not exist yet: the sample objects are written
// and served.
func TestRunSeeds(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	s := start(t, nil, env("DATA_DIR", dir))
	client := retrievev1.NewRetrieveServiceClient(s.conn)
	resp, err := client.GetRecord(t.Context(), &retrievev1.GetRecordRequest{ObjectId: "Q123", WithComponentSizes: true})
	if err != nil {
		t.Fatalf("GetRecord of a sample object: %v", err)
	}
	if len(resp.GetComponents()) == 0 {
		t.Fatalf("sample Q123 lists no components: %v", resp)
	}
	c := resp.GetComponents()[0]
	_, data, err := streamAll(t, client, &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: c.GetComponentId()})
	if err != nil {
		t.Fatal(err)
	}
	n := int64(len(data))
	if c.Size == nil || n != c.GetSize() {
		t.Errorf("streamed %d bytes of %s; record says %v", n, c.GetComponentId(), c.Size)
	}
	if !strings.Contains(s.logs.String(), "seeded sample objects") {
		t.Errorf("no seeding logged:\n%s", s.logs.String())
	}
	if err := s.stop(); err != nil {
		t.Errorf("run returned %v", err)
	}
}

// TestRunFacade reads records from a façade given with credentials, which never reach the
// logs.
func TestRunFacade(t *testing.T) {
	t.Parallel()
	facade := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := r.BasicAuth(); !ok || u != "svc" || p != "pa55word" || r.URL.Path != "/fdo/Q5" {
			http.NotFound(w, r)
			return
		}
		w.Write([]byte(`{"kernel":{"digitalObjectType":"https://fdo.example.org/fdo/types/Person"}}`))
	}))
	t.Cleanup(facade.Close)
	api := strings.Replace(facade.URL, "http://", "http://svc:pa55word@", 1) + "/fdo"
	s := start(t, []string{"--data-dir", t.TempDir(), "--seed-samples=false"}, env("FDO_API", api))
	resp, err := retrievev1.NewRetrieveServiceClient(s.conn).GetRecord(t.Context(), &retrievev1.GetRecordRequest{ObjectId: "Q5"})
	if err != nil || resp.GetObjectType() != "https://fdo.example.org/fdo/types/Person" {
		t.Fatalf("GetRecord through the façade = %v, %v", resp, err)
	}
	if err := s.stop(); err != nil {
		t.Errorf("run returned %v", err)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, "records=facade") {
		t.Errorf("logs lack records=facade:\n%s", logs)
	}
	if strings.Contains(logs, "pa55word") || strings.Contains(logs, "svc:") {
		t.Errorf("credentials in the logs:\n%s", logs)
	}
}

func TestRunErrors(t *testing.T) {
	t.Parallel()
	var stderr bytes.Buffer
	err := run(t.Context(), []string{"--listen", "nope", "--cache-size", "x"}, env(), &stderr)
	if err == nil || !strings.Contains(err.Error(), "--listen") || !strings.Contains(err.Error(), "--cache-size") {
		t.Errorf("run with bad flags: %v", err)
	}
	// a data dir that is a file
	file := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := run(t.Context(), []string{"--data-dir", file, "--listen", "127.0.0.1:0"}, env(), &stderr); err == nil {
		t.Error("run with a file as data dir succeeded")
	}
}

func TestRunHelp(t *testing.T) {
	t.Parallel()
	var logs, stdout, stderr bytes.Buffer
	err := run(t.Context(), []string{"-h"}, env(), &logs)
	if code := settings.Exit("retrieve-svc", err, &stdout, &stderr); code != 0 || logs.Len() != 0 || stderr.Len() != 0 {
		t.Errorf("run -h = %v: exit %d, logs %q, stderr %q; want exit 0 and the usage on stdout", err, code, logs.String(), stderr.String())
	}
	if !strings.Contains(stdout.String(), "--fdo-api") || !strings.Contains(stdout.String(), "FDO_API") {
		t.Errorf("usage:\n%s", stdout.String())
	}
}
