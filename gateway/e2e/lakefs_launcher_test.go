package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// The lakeFS of the tests is the real one at the version docker-compose.yml pins, installed by
// `make tools` into .tmp/bin (scripts/install-lakefs.sh). It is set up exactly as the compose
// lakefs and lakefs-setup services do: local KV and local block store, the admin key pair from
// LAKEFS_INSTALLATION_*, then lakectl creates the repository, uploads the sample objects and
// commits them.
const (
	lakeFSRepo   = "doip"
	lakeFSBranch = "main"
	lakeFSKey    = "local-only-key-id" // compose's default LAKEFS_USER: 17 characters
	lakeFSSecret = "local-only-insecure-secret"
)

// repoRoot is the folder of go.work.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == "off" {
		return "", fmt.Errorf("no go.work found (go env GOWORK: %q, %v)", out, err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// lakeFSBin returns the lakefs and lakectl binaries of .tmp/bin, or an error saying how to get
// them.
func lakeFSBin() (lakefs, lakectl string, err error) {
	root, err := repoRoot()
	if err != nil {
		return "", "", err
	}
	lakefs, lakectl = filepath.Join(root, ".tmp", "bin", "lakefs"), filepath.Join(root, ".tmp", "bin", "lakectl")
	for _, p := range []string{lakefs, lakectl} {
		if _, err := os.Stat(p); err != nil {
			return "", "", fmt.Errorf("%s is missing: run `make tools` (it installs lakeFS v1.84.0)", p)
		}
	}
	return lakefs, lakectl, nil
}

// lakeFSNotice prints, from TestMain, whether the real-lakeFS suite can run. It goes to
// stdout, which `go test` shows for the package even without -v, so a missing lakeFS is
// never silent.
func lakeFSNotice() {
	if _, _, err := lakeFSBin(); err != nil {
		fmt.Printf("e2e: ********************************************************************\n"+
			"e2e: THE REAL-LAKEFS SUITE IS SKIPPED: %v\n"+
			"e2e: ********************************************************************\n", err)
	}
}

// lakeFS is one lakefs process over a data folder that outlives restarts.
type lakeFS struct {
	bin, ctl string
	key      string // the admin access key id
	dir      string // metadata and blocks
	addr     string // 127.0.0.1:port, the same across restarts

	mu   sync.Mutex
	cmd  *exec.Cmd
	logs *bytes.Buffer
	done chan struct{}
}

// startLakeFS starts lakeFS on a free loopback port and sets up the repository with the
// sample objects, as the compose setup job does. It skips the test, loudly, when lakeFS is
// not installed.
func startLakeFS(t testing.TB) *lakeFS {
	t.Helper()
	return startLakeFSWithKey(t, lakeFSKey)
}

// startLakeFSWithKey is startLakeFS with another admin access key id.
func startLakeFSWithKey(t testing.TB, key string) *lakeFS {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped under -short")
	}
	bin, ctl, err := lakeFSBin()
	if err != nil {
		if os.Getenv("CI") != "" { // CI installs the tools first: a missing lakeFS is a failure there
			t.Fatalf("CI is set and lakeFS is missing: %v", err)
		}
		t.Skipf("REAL LAKEFS SUITE SKIPPED: %v", err)
	}
	l := &lakeFS{bin: bin, ctl: ctl, key: key, dir: t.TempDir(), addr: "127.0.0.1:" + freePort(t)}
	l.start(t)
	t.Cleanup(func() {
		l.stop(t)
		if t.Failed() {
			t.Logf("--- logs of lakefs:\n%s", l.logText())
		}
	})
	root, _ := repoRoot()
	samples := filepath.Join(root, "retrieve-svc", "internal", "sampledata", "objects", "main") + string(filepath.Separator)
	// lakefs-setup's script, command for command.
	if _, err := l.lakectl(t, "branch", "show", "lakefs://"+lakeFSRepo+"/"+lakeFSBranch); err == nil {
		t.Fatal("a fresh lakeFS already has the branch")
	}
	l.mustLakectl(t, "repo", "create", "lakefs://"+lakeFSRepo, "local://"+lakeFSRepo, "--default-branch", lakeFSBranch)
	l.mustLakectl(t, "fs", "upload", "--recursive", "--no-progress", "--source", samples, "lakefs://"+lakeFSRepo+"/"+lakeFSBranch+"/")
	l.mustLakectl(t, "commit", "lakefs://"+lakeFSRepo+"/"+lakeFSBranch, "--message", "sample objects Q123 and Q456")
	return l
}

// env is the lakefs service's environment in docker-compose.yml, on this test's folder and port.
func (l *lakeFS) env() []string {
	return append(os.Environ(),
		"LAKEFS_LISTEN_ADDRESS="+l.addr,
		"LAKEFS_DATABASE_TYPE=local",
		"LAKEFS_DATABASE_LOCAL_PATH="+filepath.Join(l.dir, "metadata"),
		"LAKEFS_BLOCKSTORE_TYPE=local",
		"LAKEFS_BLOCKSTORE_LOCAL_PATH="+filepath.Join(l.dir, "data", "block"),
		"LAKEFS_AUTH_ENCRYPT_SECRET_KEY=local-only-insecure-encrypt-secret",
		"LAKEFS_INSTALLATION_USER_NAME=admin",
		"LAKEFS_INSTALLATION_ACCESS_KEY_ID="+l.key,
		"LAKEFS_INSTALLATION_SECRET_ACCESS_KEY="+lakeFSSecret,
		"LAKEFS_STATS_ENABLED=false",
		"LAKEFS_LOGGING_LEVEL=WARN",
	)
}

// start runs lakefs and waits until /_health answers.
func (l *lakeFS) start(t testing.TB) {
	t.Helper()
	l.mu.Lock()
	cmd := exec.Command(l.bin, "run")
	cmd.Dir, cmd.Env = l.dir, l.env()
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &lockedWriter{mu: &l.mu, w: logs}, &lockedWriter{mu: &l.mu, w: logs}
	if err := cmd.Start(); err != nil {
		l.mu.Unlock()
		t.Fatalf("start lakefs: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	l.cmd, l.logs, l.done = cmd, logs, done
	l.mu.Unlock()
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-done:
			t.Fatalf("lakefs exited at start:\n%s", l.logText())
		default:
		}
		if resp, err := http.Get(l.url() + "/_health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("lakefs not healthy within 60s:\n%s", l.logText())
		}
	}
}

// stop ends lakefs with SIGTERM, killing it after 20 s.
func (l *lakeFS) stop(t testing.TB) {
	l.mu.Lock()
	cmd, done := l.cmd, l.done
	l.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(20 * time.Second):
		t.Errorf("lakefs did not stop within 20s of SIGTERM; killing it")
		_ = cmd.Process.Kill()
		<-done
	}
}

func (l *lakeFS) url() string { return "http://" + l.addr }

// rss is lakefs's resident memory in bytes (Linux), 0 when unknown.
func (l *lakeFS) rss() int64 {
	l.mu.Lock()
	pid := l.cmd.Process.Pid
	l.mu.Unlock()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for line := range strings.Lines(string(data)) {
		var kb int64
		if _, err := fmt.Sscanf(line, "VmRSS: %d kB", &kb); err == nil {
			return kb << 10
		}
	}
	return 0
}

func (l *lakeFS) logText() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.logs == nil {
		return ""
	}
	return l.logs.String()
}

func (l *lakeFS) lakectl(t testing.TB, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, l.ctl, args...)
	cmd.Env = append(os.Environ(),
		"LAKECTL_SERVER_ENDPOINT_URL="+l.url(),
		"LAKECTL_CREDENTIALS_ACCESS_KEY_ID="+l.key,
		"LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY="+lakeFSSecret,
		"HOME="+l.dir, // no ~/.lakectl.yaml of the user's
	)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (l *lakeFS) mustLakectl(t testing.TB, args ...string) string {
	t.Helper()
	out, err := l.lakectl(t, args...)
	if err != nil {
		t.Fatalf("lakectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// api calls lakeFS's REST API and decodes the JSON answer into out.
func (l *lakeFS) api(t testing.TB, method, path string, out any) int {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, l.url()+"/api/v1"+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(l.key, lakeFSSecret)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return resp.StatusCode
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (w *lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}
