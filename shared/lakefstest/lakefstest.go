// Package lakefstest runs a real lakeFS for tests, at the version docker-compose.yml pins,
// set up as the compose lakefs service is: local KV store and local block store in a
// temporary folder, an admin key pair from LAKEFS_INSTALLATION_*, and a loopback port chosen
// at test time. [Server.SetupRepo] then runs the compose lakefs-setup job's lakectl commands.
//
// The binaries are found in ".tmp/bin" of the working directory or a folder above it, where
// `make tools` installs them (scripts/install-lakefs.sh). When they are absent, [Start] skips
// the test, unless the environment variable CI is non-empty: then the test fails, because
// CI installs the tools first and must never skip silently.
package lakefstest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/tooltest"
)

// Version is the lakeFS release docker-compose.yml pins and `make tools` installs.
const Version = "v1.84.0"

// The repository, branch and admin key pair of the compose setup (its defaults).
const (
	Repo      = "doip"
	Branch    = "main"
	AccessKey = "local-only-key-id" // 17 characters: lakeFS's S3 gateway takes 3 to 20
	SecretKey = "local-only-insecure-secret"
)

// Binaries returns the paths of lakefs and lakectl in .tmp/bin of the working directory or
// the nearest folder above it that has them, or an error saying how to install them.
func Binaries() (lakefs, lakectl string, err error) {
	dir := tooltest.Dir("lakefs", "lakectl")
	if dir == "" {
		return "", "", fmt.Errorf("lakefs and lakectl %s are not in .tmp/bin of the working directory or its parents: run `make tools`", Version)
	}
	return filepath.Join(dir, "lakefs"), filepath.Join(dir, "lakectl"), nil
}

// Notice is a loud line for a test binary's TestMain when lakeFS is missing, else "".
func Notice() string {
	if _, _, err := Binaries(); err != nil {
		return "****************************************************************\n" +
			"THE REAL-LAKEFS TESTS ARE SKIPPED: " + err.Error() + "\n" +
			"****************************************************************\n"
	}
	return ""
}

// Server is one lakeFS process over a folder that outlives restarts.
type Server struct {
	AccessKey, SecretKey string
	Addr                 string // 127.0.0.1:PORT, the same across restarts
	Dir                  string // metadata and blocks

	bin, ctl string
	mu       sync.Mutex
	cmd      *exec.Cmd
	logs     *bytes.Buffer
	done     chan struct{}
}

// Option changes how [Start] sets lakeFS up.
type Option func(*Server)

// WithAccessKey makes the admin access key id key instead of [AccessKey].
func WithAccessKey(key string) Option { return func(s *Server) { s.AccessKey = key } }

// Start runs lakeFS, waits until it is healthy, and stops it when the test ends (showing its
// log if the test failed). It skips the test when lakeFS is not installed (fails with CI set).
func Start(tb testing.TB, opts ...Option) *Server {
	tb.Helper()
	bin, ctl, err := Binaries()
	if err != nil {
		tooltest.Missing(tb, fmt.Sprintf("lakefstest: CI is set and lakeFS is missing: %v", err), fmt.Sprintf("REAL LAKEFS TEST SKIPPED: %v", err))
	}
	s := &Server{AccessKey: AccessKey, SecretKey: SecretKey, Dir: tb.TempDir(), bin: bin, ctl: ctl}
	for _, o := range opts {
		o(s)
	}
	port, err := tooltest.FreePort()
	if err != nil {
		tb.Fatal(err)
	}
	s.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	tb.Cleanup(func() {
		s.Stop(tb)
		if tb.Failed() {
			tb.Logf("--- logs of lakefs:\n%s", s.Logs())
		}
	})
	s.Restart(tb)
	return s
}

// URL is the server's base URL: its API below /api/v1, its S3 gateway at the root.
func (s *Server) URL() string { return "http://" + s.Addr }

// env is the compose lakefs service's environment, on this server's folder and port.
func (s *Server) env() []string {
	return append(os.Environ(),
		"LAKEFS_LISTEN_ADDRESS="+s.Addr,
		"LAKEFS_DATABASE_TYPE=local",
		"LAKEFS_DATABASE_LOCAL_PATH="+filepath.Join(s.Dir, "metadata"),
		"LAKEFS_BLOCKSTORE_TYPE=local",
		"LAKEFS_BLOCKSTORE_LOCAL_PATH="+filepath.Join(s.Dir, "data", "block"),
		"LAKEFS_AUTH_ENCRYPT_SECRET_KEY=local-only-insecure-encrypt-secret",
		"LAKEFS_INSTALLATION_USER_NAME=admin",
		"LAKEFS_INSTALLATION_ACCESS_KEY_ID="+s.AccessKey,
		"LAKEFS_INSTALLATION_SECRET_ACCESS_KEY="+s.SecretKey,
		"LAKEFS_STATS_ENABLED=false",
		"LAKEFS_LOGGING_LEVEL=WARN",
	)
}

// Restart starts lakeFS (again, after [Server.Stop]) on the same folder and port, and waits
// up to a minute until /_health answers.
func (s *Server) Restart(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	cmd := exec.Command(s.bin, "run")
	cmd.Dir, cmd.Env = s.Dir, s.env()
	logs := &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = &lockedWriter{mu: &s.mu, w: logs}, &lockedWriter{mu: &s.mu, w: logs}
	if err := cmd.Start(); err != nil {
		s.mu.Unlock()
		tb.Fatalf("lakefstest: start lakefs: %v", err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	s.cmd, s.logs, s.done = cmd, logs, done
	s.mu.Unlock()
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		select {
		case <-done:
			tb.Fatalf("lakefstest: lakefs exited at start:\n%s", s.Logs())
		default:
		}
		if resp, err := http.Get(s.URL() + "/_health"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("lakefstest: lakefs not healthy within a minute:\n%s", s.Logs())
		}
	}
}

// Stop ends lakeFS with SIGTERM, killing it after 20 s. The folder stays.
func (s *Server) Stop(tb testing.TB) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
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
		tb.Errorf("lakefstest: lakefs did not stop within 20s of SIGTERM; killing it")
		_ = cmd.Process.Kill()
		<-done
	}
}

// RSS is lakeFS's resident memory in bytes (Linux), 0 when unknown.
func (s *Server) RSS() int64 {
	s.mu.Lock()
	pid := s.cmd.Process.Pid
	s.mu.Unlock()
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

// Logs returns what lakeFS has written since it was last started.
func (s *Server) Logs() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.logs == nil {
		return ""
	}
	return s.logs.String()
}

// SetupRepo runs the compose lakefs-setup job's commands: the branch must not exist yet; then
// the repository is created with its default branch, samples (a folder laid out as
// {pp}/{qq}/{rr}/{QID}/components/{id}) is uploaded to it, and committed.
func (s *Server) SetupRepo(tb testing.TB, samples string) {
	tb.Helper()
	if _, err := s.Lakectl(tb, "branch", "show", "lakefs://"+Repo+"/"+Branch); err == nil {
		tb.Fatal("lakefstest: a fresh lakeFS already has the branch")
	}
	s.MustLakectl(tb, "repo", "create", "lakefs://"+Repo, "local://"+Repo, "--default-branch", Branch)
	s.MustLakectl(tb, "fs", "upload", "--recursive", "--no-progress", "--source", filepath.Clean(samples)+string(filepath.Separator), "lakefs://"+Repo+"/"+Branch+"/")
	s.MustLakectl(tb, "commit", "lakefs://"+Repo+"/"+Branch, "--message", "sample objects Q123 and Q456")
}

// CreateRepo creates an empty repository with its default branch, as lakectl repo create does.
func (s *Server) CreateRepo(tb testing.TB, repo, branch string) {
	tb.Helper()
	s.MustLakectl(tb, "repo", "create", "lakefs://"+repo, "local://"+repo, "--default-branch", branch)
}

// Lakectl runs lakectl against the server with the admin key pair.
func (s *Server) Lakectl(tb testing.TB, args ...string) (string, error) {
	tb.Helper()
	ctx, cancel := context.WithTimeout(tb.Context(), 5*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.ctl, args...)
	cmd.Env = append(os.Environ(),
		"LAKECTL_SERVER_ENDPOINT_URL="+s.URL(),
		"LAKECTL_CREDENTIALS_ACCESS_KEY_ID="+s.AccessKey,
		"LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY="+s.SecretKey,
		"HOME="+s.Dir, // no ~/.lakectl.yaml of the user's
	)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// MustLakectl is Lakectl that fails the test on an error.
func (s *Server) MustLakectl(tb testing.TB, args ...string) string {
	tb.Helper()
	out, err := s.Lakectl(tb, args...)
	if err != nil {
		tb.Fatalf("lakectl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// API calls the REST API (path below /api/v1) with the admin key pair, decodes a 2xx JSON
// answer into out (when not nil) and returns the status.
func (s *Server) API(tb testing.TB, method, path string, out any) int {
	tb.Helper()
	req, err := http.NewRequestWithContext(tb.Context(), method, s.URL()+"/api/v1"+path, nil)
	if err != nil {
		tb.Fatal(err)
	}
	req.SetBasicAuth(s.AccessKey, s.SecretKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if out != nil && resp.StatusCode < 300 {
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil && !errors.Is(err, context.Canceled) {
			tb.Fatalf("%s %s: %v", method, path, err)
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
