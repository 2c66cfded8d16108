// Package tooltest finds the servers that tests run as processes of their own (versitygw,
// lakeFS), which `make tools` installs into .tmp/bin of the repository, picks loopback ports
// for them, and ends a test that cannot have one: it skips, unless the environment variable
// CI is non-empty, then it fails, because CI installs the tools first and must never skip
// silently.
package tooltest

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// Dir returns the nearest .tmp/bin, of the working directory or a folder above it, that holds
// every one of names as a file, or "" when there is none.
func Dir(names ...string) string {
	dir, err := os.Getwd()
	if err != nil {
		return ""
	}
	for {
		bin := filepath.Join(dir, ".tmp", "bin")
		if hasAll(bin, names) {
			return bin
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return ""
		}
		dir = parent
	}
}

func hasAll(dir string, names []string) bool {
	for _, n := range names {
		if fi, err := os.Stat(filepath.Join(dir, n)); err != nil || fi.IsDir() {
			return false
		}
	}
	return true
}

// Find returns the path of the binary name: the file the environment variable env names
// when it is set, else name on the PATH, else name in [Dir]. The error says where it looked.
func Find(env, name string) (string, error) {
	if p := os.Getenv(env); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", env, p, err)
		}
		return p, nil
	}
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	if d := Dir(name); d != "" {
		return filepath.Join(d, name), nil
	}
	return "", fmt.Errorf("%s not found in $%s, PATH or .tmp/bin of the working directory and its parents", name, env)
}

// Missing ends the test for want of a tool: it fails with ciMsg when the environment
// variable CI is set, and skips with skipMsg otherwise.
func Missing(tb testing.TB, ciMsg, skipMsg string) {
	tb.Helper()
	if os.Getenv("CI") != "" {
		tb.Fatal(ciMsg)
	}
	tb.Skip(skipMsg)
}

// FreePort returns a loopback TCP port that was free a moment ago. Another process may take
// it before the tool binds it: a caller that can, retries with another.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}
