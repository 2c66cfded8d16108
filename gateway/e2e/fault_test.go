package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/shared/tooltest"
)

// requestBound is the longest any request may take while a backend fails: the call timeout
// (3 s in these systems) plus retries and slack.
const requestBound = 15 * time.Second

// outcome classifies a request made during a fault.
func outcome(t *testing.T, err error, took time.Duration) string {
	t.Helper()
	if took > requestBound {
		t.Errorf("a request took %s during a fault; the bound is %s", took, requestBound)
	}
	var de *doip.Error
	switch {
	case err == nil:
		return "ok"
	case errors.As(err, &de) && de.Kind == doip.KindUnavailable:
		return "unavailable"
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		// The backend died after the answer began: the gateway closes the connection
		// (DESIGN §8) and the short answer tells the client.
		return "cut"
	default:
		t.Errorf("a request during a fault ended with %v; want success or Unavailable", err)
		return "other"
	}
}

// retrieveUntilOK retries until a request succeeds, within a bound.
func retrieveUntilOK(t *testing.T, s *system, req client.Request) {
	t.Helper()
	var last error
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		c := s.dial(t)
		if _, last = c.Do(t.Context(), req, nil); last == nil {
			return
		}
	}
	t.Fatalf("no recovery: %v", last)
}

// retrieve-svc killed and restarted while clients keep asking.
func TestRetrieveServiceKilledDuringTraffic(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	addr := s.retrieve.addr("grpc")
	var stop atomic.Bool
	counts := map[string]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			c := s.dial(t)
			for !stop.Load() {
				start := time.Now()
				_, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q123", Metadata: map[string]any{"element": "main-pdf"}}, nil)
				o := outcome(t, err, time.Since(start))
				mu.Lock()
				counts[o]++
				mu.Unlock()
				switch o {
				case "other":
					return
				case "cut":
					c = s.dial(t)
				}
			}
		})
	}
	time.Sleep(300 * time.Millisecond)
	_ = s.retrieve.cmd.Process.Signal(syscall.SIGKILL)
	time.Sleep(1500 * time.Millisecond)
	start(t, "retrieve-svc", 1, []string{"--listen", addr, "--data-dir", s.dataDir})
	retrieveUntilOK(t, s, client.Request{Op: doip.OpRetrieve, ObjectID: "Q123"})
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	t.Logf("outcomes: %v", counts)
	if counts["unavailable"] == 0 || counts["ok"] == 0 {
		t.Errorf("outcomes %v: want both successes and Unavailable answers", counts)
	}
}

// A façade that fails (Starlette's 500, its own 502 and 504) or hangs gives Unavailable in
// bounded time, and the record comes back when the façade does. An unknown QID, which the
// façade answers with 200 and its unknown-type record, is NotFound.
func TestFacadeFailures(t *testing.T) {
	skipShort(t)
	t.Parallel()
	facade := newFacadeStandIn(t, nil)
	facade.mode.Store("500")

	s := &system{dataDir: filepath.Join(t.TempDir(), "data")}
	s.retrieve = start(t, "retrieve-svc", 1, []string{"--listen", "127.0.0.1:0", "--data-dir", s.dataDir,
		"--fdo-api", facade.api(), "--fdo-timeout", "1s", "--cache-ttl", "0s"})
	s.gateway = start(t, "doip-gateway", 2, []string{"--host", "127.0.0.1", "--port", "0", "--retrieve-addr", s.retrieve.addr("grpc"),
		"--invoke-addr", "", "--call-timeout", "8s", "--tls-mode", "off"})
	c := s.dial(t)
	for _, m := range []string{"500", "502", "504", "slow"} {
		facade.mode.Store(m)
		begin := time.Now()
		_, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q123"}, nil)
		if o := outcome(t, err, time.Since(begin)); o != "unavailable" {
			t.Errorf("façade %s: outcome %s (%v), want Unavailable", m, o, err)
		}
	}
	if facade.hits.Load() < 5 {
		t.Errorf("the façade was asked %d times; 5xx answers should be retried", facade.hits.Load())
	}
	facade.mode.Store("")
	retrieveUntilOK(t, s, client.Request{Op: doip.OpRetrieve, ObjectID: "Q123"})
	_, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q124"}, nil)
	var de *doip.Error
	if !errors.As(err, &de) || de.Kind != doip.KindNotFound {
		t.Errorf("unknown object at the façade: %v, want NotFound", err)
	}
}

// findVersitygw finds the S3 server the storage tests use; CI must have it.
func findVersitygw(t *testing.T) string {
	t.Helper()
	p, err := tooltest.Find("VERSITYGW", "versitygw")
	if err != nil {
		tooltest.Missing(t, "versitygw not found (make tools installs it); CI must run the S3 tests", "versitygw not found: make tools installs it")
	}
	return p
}

func freePort(t testing.TB) string {
	t.Helper()
	port, err := tooltest.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return strconv.Itoa(port)
}

// startS3 runs versitygw on addr over dir until the returned stop is called.
func startS3(t *testing.T, bin, addr, dir string) (stop func()) {
	t.Helper()
	cmd := exec.Command(bin, "--access", "e2ekey", "--secret", "e2esecret123", "--port", addr, "--quiet", "posix", dir)
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("versitygw did not start")
		}
	}
	var once sync.Once
	stop = func() {
		once.Do(func() {
			_ = cmd.Process.Signal(syscall.SIGKILL)
			<-done
		})
	}
	t.Cleanup(stop)
	return stop
}

// S3 down and back: components fail with Unavailable in bounded time, then come back.
func TestS3DownAndBack(t *testing.T) {
	skipShort(t)
	t.Parallel()
	bin := findVersitygw(t)
	s3dir := t.TempDir()
	comp := filepath.Join(s3dir, "fdo", "main", "00", "01", "23", "Q123", "components")
	if err := os.MkdirAll(comp, 0o755); err != nil {
		t.Fatal(err)
	}
	pdf, err := os.ReadFile(filepath.Join("..", "..", "retrieve-svc", "internal", "sampledata", "objects", "main", "00", "01", "23", "Q123", "components", "main-pdf"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(comp, "main-pdf"), pdf, 0o644); err != nil {
		t.Fatal(err)
	}
	meta := t.TempDir()
	rec, _ := os.ReadFile(filepath.Join("..", "..", "retrieve-svc", "internal", "sampledata", "objects", "records", "Q123.json"))
	_ = os.MkdirAll(filepath.Join(meta, "records"), 0o755)
	_ = os.WriteFile(filepath.Join(meta, "records", "Q123.json"), rec, 0o644)

	addr := "127.0.0.1:" + freePort(t)
	stopS3 := startS3(t, bin, addr, s3dir)
	s := &system{dataDir: meta}
	s.retrieve = start(t, "retrieve-svc", 1, []string{"--listen", "127.0.0.1:0", "--data-dir", meta, "--s3-timeout", "2s", "--component-cache-size", "0"},
		"LAKEFS_URL=http://"+addr, "LAKEFS_REPO=fdo", "LAKEFS_USER=e2ekey", "LAKEFS_PASSWORD=e2esecret123")
	s.gateway = start(t, "doip-gateway", 2, []string{"--host", "127.0.0.1", "--port", "0", "--retrieve-addr", s.retrieve.addr("grpc"),
		"--invoke-addr", "", "--call-timeout", "8s", "--tls-mode", "off"})
	get := client.Request{Op: doip.OpRetrieve, ObjectID: "Q123", Metadata: map[string]any{"element": "main-pdf"}}
	c := s.dial(t)
	resp, err := c.Do(t.Context(), get, nil)
	if err != nil || len(resp.Components) != 1 || len(resp.Components[0].Content) != len(pdf) {
		t.Fatalf("from S3: %v", err)
	}
	if !strings.Contains(s.retrieve.logText(), `"msg":"component handed off"`) {
		t.Error("the component was not handed off to a presigned URL: the gateway streamed it through retrieve-svc")
	}
	stopS3()
	begin := time.Now()
	_, err = c.Do(t.Context(), get, nil)
	if o := outcome(t, err, time.Since(begin)); o != "unavailable" {
		t.Errorf("S3 down: %s (%v), want Unavailable", o, err)
	}
	if _, err := c.Do(context.Background(), client.Request{Op: doip.OpHello}, nil); err != nil {
		t.Errorf("hello while S3 is down: %v", err)
	}
	startS3(t, bin, addr, s3dir)
	retrieveUntilOK(t, s, get)
	if strings.Contains(s.retrieve.logText(), "e2esecret123") {
		t.Error("the S3 secret appears in retrieve-svc's logs")
	}
}

// Derived components are never half-written: while invokes keep rewriting equations.json,
// retrieve-svc is killed and restarted; afterwards every stored derived file is whole JSON,
// and what a client retrieves is whole too.
func TestNoHalfWrittenDerivedComponents(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	addr := s.retrieve.addr("grpc")
	var stop atomic.Bool
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			c := s.dial(t)
			for !stop.Load() {
				begin := time.Now()
				_, err := c.Do(t.Context(), client.Request{Op: doip.OpInvoke, ObjectID: "Q123",
					Metadata: map[string]any{"workflow": "equation_extraction", "params": map[string]any{"force": true}}}, nil)
				var de *doip.Error
				switch {
				case err == nil, errors.As(err, &de) && de.Kind == doip.KindUnavailable:
				case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
					// The backend died after the answer began: the gateway closes the
					// connection (DESIGN §8), and the client connects again.
					c = s.dial(t)
				default:
					t.Errorf("invoke during the fault: %v", err)
					return
				}
				if time.Since(begin) > requestBound {
					t.Errorf("an invoke took %s", time.Since(begin))
				}
			}
		})
	}
	time.Sleep(500 * time.Millisecond)
	_ = s.retrieve.cmd.Process.Signal(syscall.SIGKILL)
	time.Sleep(time.Second)
	start(t, "retrieve-svc", 1, []string{"--listen", addr, "--data-dir", s.dataDir})
	retrieveUntilOK(t, s, client.Request{Op: doip.OpRetrieve, ObjectID: "Q123", Metadata: map[string]any{"element": "equations.json"}})
	time.Sleep(500 * time.Millisecond)
	stop.Store(true)
	wg.Wait()

	dir := filepath.Join(s.dataDir, "main", "00", "01", "23", "Q123", "components", "derived", "equation_extraction")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	whole := 0
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), ".tmp-") {
			continue // a write cut off by the kill: never listed, never served
		}
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil || !json.Valid(b) {
			t.Errorf("derived %s is not whole JSON (%d bytes, %v)", e.Name(), len(b), err)
		}
		whole++
	}
	if whole == 0 {
		t.Fatal("no derived component was written")
	}
	c := s.dial(t)
	resp, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q123", Metadata: map[string]any{"element": "equations.json"}}, nil)
	if err != nil || len(resp.Components) != 1 || !json.Valid(resp.Components[0].Content) {
		t.Errorf("equations.json after the fault: %v", err)
	}
}
