// Package e2e_test starts the real binaries (retrieve-svc, invoke-svc, doip-gateway), built
// from the workspace, on loopback ports and talks to them over real sockets. The tests skip
// under -short.
package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
)

// binDir holds the binaries built once by TestMain.
var binDir string

func TestMain(m *testing.M) {
	flag.Parse()
	if testing.Short() {
		fmt.Println("e2e: skipped under -short")
		os.Exit(m.Run())
	}
	lakeFSNotice()
	dir, err := os.MkdirTemp("", "doip-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := build(dir); err != nil {
		fmt.Fprintln(os.Stderr, "e2e: build:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	binDir = dir
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// build compiles the three services and doipctl from the workspace into dir.
func build(dir string) error {
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == "off" {
		return fmt.Errorf("no go.work found (go env GOWORK: %q, %v)", out, err)
	}
	root := filepath.Dir(strings.TrimSpace(string(out)))
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"./gateway/cmd/doip-gateway", "./gateway/cmd/doipctl",
		"./retrieve-svc/cmd/retrieve-svc", "./invoke-svc/cmd/invoke-svc")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("%v\n%s", err, b)
	}
	return nil
}

func skipShort(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped under -short")
	}
}

// proc is one running binary.
type proc struct {
	name  string
	cmd   *exec.Cmd
	mu    sync.Mutex
	logs  bytes.Buffer
	addrs map[string]string // listener name (or the service name) → address
	ready chan struct{}
	done  chan struct{}
	err   error // Wait's result, set before done closes
}

// start runs bin with args and env, and waits until it has logged "listening" wantAddrs
// times. Its logs are kept and shown when the test fails.
func start(t testing.TB, bin string, wantAddrs int, args []string, env ...string) *proc {
	t.Helper()
	p, err := tryStart(t, bin, wantAddrs, args, env...)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// tryStart is start for a process that may fail to listen (a port taken in the meantime):
// its exit before listening is returned as an error.
func tryStart(t testing.TB, bin string, wantAddrs int, args []string, env ...string) (*proc, error) {
	t.Helper()
	p := &proc{name: bin, addrs: map[string]string{}, ready: make(chan struct{}), done: make(chan struct{})}
	p.cmd = exec.Command(filepath.Join(binDir, bin), args...)
	p.cmd.Env = append(os.Environ(), append([]string{"LOG_FORMAT=json", "LOG_LEVEL=debug", "ADMIN_ADDR=127.0.0.1:0"}, env...)...)
	// Our own pipe, not StderrPipe: Wait closes that one as soon as the process exits, which
	// can cut off the last lines it wrote (a drained worker's last "invoke done"). Here the
	// reader reads to the end, and done waits for it, a little at most (a child process that
	// outlives its parent may hold the pipe open).
	stderr, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	p.cmd.Stderr = w
	p.cmd.Stdout = io.Discard
	err = p.cmd.Start()
	w.Close()
	if err != nil {
		stderr.Close()
		t.Fatalf("start %s: %v", bin, err)
	}
	logsRead := make(chan struct{})
	go func() {
		defer close(logsRead)
		defer stderr.Close()
		p.readLogs(stderr, wantAddrs)
		_, _ = io.Copy(io.Discard, stderr) // past a line too long to keep
	}()
	go func() {
		p.err = p.cmd.Wait()
		select {
		case <-logsRead:
		case <-time.After(2 * time.Second):
		}
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop(t)
		if t.Failed() {
			t.Logf("--- logs of %s:\n%s", bin, p.logText())
		}
	})
	select {
	case <-p.ready:
	case <-p.done:
		return nil, fmt.Errorf("%s exited before listening: %v\n%s", bin, p.err, p.logText())
	case <-time.After(60 * time.Second):
		t.Fatalf("%s did not start listening within 60s\n%s", bin, p.logText())
	}
	return p, nil
}

func (p *proc) readLogs(r io.Reader, want int) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		line := sc.Bytes()
		p.mu.Lock()
		p.logs.Write(line)
		p.logs.WriteByte('\n')
		var rec struct {
			Msg      string `json:"msg"`
			Addr     string `json:"addr"`
			Listener string `json:"listener"`
		}
		if json.Unmarshal(line, &rec) == nil && rec.Msg == "listening" && rec.Addr != "" {
			key := rec.Listener
			if key == "" {
				key = "grpc"
			}
			p.addrs[key] = rec.Addr
			if n++; n == want {
				close(p.ready)
			}
		}
		p.mu.Unlock()
	}
}

func (p *proc) logText() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.logs.String()
}

func (p *proc) addr(name string) string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.addrs[name]
}

// stop sends SIGTERM and waits for a graceful exit, killing after 20 s.
func (p *proc) stop(t testing.TB) {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(20 * time.Second):
		t.Errorf("%s did not stop within 20s of SIGTERM; killing it", p.name)
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// system is the three services started together on loopback.
type system struct {
	dataDir  string
	retrieve *proc
	invoke   *proc   // the first worker
	workers  []*proc // every invoke-svc
	gateway  *proc
}

// startSystem starts retrieve-svc (folder backend seeded with the sample objects), one
// invoke-svc and the gateway in plaintext-or-TLS mode.
func startSystem(t *testing.T, gatewayArgs ...string) *system {
	t.Helper()
	return startSystemWorkers(t, 1, gatewayArgs...)
}

// startSystemWorkers is startSystem with n invoke-svc workers behind the gateway.
func startSystemWorkers(t *testing.T, n int, gatewayArgs ...string) *system {
	t.Helper()
	return startSystemWorkerEnv(t, n, nil, gatewayArgs...)
}

// startSystemWorkerEnv is startSystemWorkers with workerEnv added to each worker's
// environment.
func startSystemWorkerEnv(t *testing.T, n int, workerEnv []string, gatewayArgs ...string) *system {
	t.Helper()
	s := &system{dataDir: filepath.Join(t.TempDir(), "data")}
	s.retrieve = start(t, "retrieve-svc", 1, []string{"--listen", "127.0.0.1:0", "--data-dir", s.dataDir})
	var addrs []string
	for range n {
		w := start(t, "invoke-svc", 1, []string{"--listen", "127.0.0.1:0", "--retrieve-addr", s.retrieve.addr("grpc")}, workerEnv...)
		s.workers = append(s.workers, w)
		addrs = append(addrs, w.addr("grpc"))
	}
	s.invoke = s.workers[0]
	args := append([]string{"--host", "127.0.0.1", "--port", "0",
		"--retrieve-addr", s.retrieve.addr("grpc"), "--invoke-addr", strings.Join(addrs, ","),
		"--tls-cert", filepath.Join(t.TempDir(), "none.crt"), "--tls-key", filepath.Join(t.TempDir(), "none.key"),
		"--call-timeout", "3s"}, gatewayArgs...)
	s.gateway = start(t, "doip-gateway", 2, args)
	return s
}

func (s *system) envelopeAddr() string { return s.gateway.addr("envelope") }

// dial opens a plaintext connection to the gateway's binary port.
func (s *system) dial(t *testing.T) *client.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, s.envelopeAddr(), nil)
	if err != nil {
		t.Fatal(err)
	}
	c.Timeout = 20 * time.Second
	t.Cleanup(func() { c.Close() })
	return c
}

// component returns the bytes of a stored sample component.
func (s *system) component(t *testing.T, shard, qid, id string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(s.dataDir, "main", shard, qid, "components", id))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// vector reads a golden request from the envelope codec's copy of the spec vectors.
func vector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "internal", "envelope", "testdata", "vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}
