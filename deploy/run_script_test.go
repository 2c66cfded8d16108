package deploy_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/logtest"
)

// TestRunScript starts the system as `make run` does: scripts/run.sh itself, running the
// binaries `make build-run` puts into bin/, on their embedded defaults and the script's
// ACCESS_TOKENS. Only what would collide on a shared machine moves: the gateway's ports with
// --port (as RUN_ARGS passes it) and the other listeners with a config.yaml in the working
// directory (docs/configuration.md), all on loopback. Then doipy's create, update and delete
// and MaRDI's binary create and update work with the script's token, and both clients find
// Q123 by its title and, after equation_extraction, by a formula.
func TestRunScript(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole system: skipped under -short")
	}
	begin := time.Now()
	root := repoRoot(t)
	script, err := os.ReadFile(filepath.Join(root, "scripts", "run.sh"))
	if err != nil {
		t.Fatal(err)
	}
	m := accessTokensRE.FindSubmatch(script)
	if m == nil {
		t.Fatal("scripts/run.sh sets no default ACCESS_TOKENS")
	}

	// A copy of the repository's layout as the script sees it: scripts/run.sh, bin/, and the
	// working directory that holds the data folder (seeded with the samples) and config.yaml.
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "scripts"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "scripts", "run.sh"), script, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := buildWorkspace(t, root)
	if err := os.Symlink(bin, filepath.Join(dir, "bin")); err != nil {
		t.Fatal(err)
	}
	port := freePortPair(t) // the binary port and the JSON segments port
	free := func() string { return "127.0.0.1:" + strconv.Itoa(freePortPair(t)) }
	retrieve, invoke, admin := free(), free(), free()
	config := fmt.Sprintf(`gateway:
  host: 127.0.0.1
  http-port: %d
  retrieve-addr: %s
  invoke-addr: %s
  admin-addr: %s
retrieve-svc:
  listen: %s
  admin-addr: %s
invoke-svc:
  listen: %s
  retrieve-addr: %s
  admin-addr: %s
`, freePortPair(t), retrieve, invoke, admin, retrieve, free(), invoke, retrieve, free())
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}

	out := &logtest.Buffer{}
	cmd := exec.Command(filepath.Join(dir, "scripts", "run.sh"), "--port", strconv.Itoa(port))
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	t.Cleanup(func() {
		// Ctrl-C: the script stops all three and exits 0.
		_ = cmd.Process.Signal(syscall.SIGINT)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run.sh after Ctrl-C: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run.sh did not stop within 30s of Ctrl-C")
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
		if t.Failed() {
			t.Logf("--- output of run.sh:\n%s", out)
		}
	})

	// Ready: the gateway's /readyz (both DOIP listeners serve, retrieve-svc answers).
	deadline := time.Now().Add(time.Minute)
	for httpGet(t.Context(), "http://"+admin+"/readyz") != nil {
		select {
		case err := <-done:
			done <- err
			t.Fatalf("run.sh exited before the gateway was ready: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the gateway was not ready within a minute")
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Logf("make run's system up in %s", time.Since(begin).Round(time.Millisecond))
	if !strings.Contains(out.String(), "writes take the token") {
		t.Errorf("run.sh did not say which token writes take:\n%s", out)
	}

	g := &gatewayUnderTest{t: t, root: root, doipctl: filepath.Join(bin, "doipctl"),
		binary: "127.0.0.1:" + strconv.Itoa(port), segments: "127.0.0.1:" + strconv.Itoa(port+1),
		token: writeToken(t, string(m[1]))}
	g.writes(nil)
	if out := g.mustCtl("invoke", "Q123", "--workflow", "equation_extraction"); !strings.Contains(out, "equations") {
		t.Fatalf("invoke equation_extraction: %s", out)
	}
	g.searches()
	t.Logf("make run: %s in all", time.Since(begin).Round(time.Millisecond))
}
