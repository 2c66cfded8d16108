// Package tooltest finds the servers that tests run as processes of their own (versitygw,
// lakeFS), which `make tools` installs into .tmp/bin of the repository, picks loopback ports
// for them, and ends a test that cannot have one: it skips, unless the environment variable
// CI is non-empty, then it fails, because CI installs the tools first and must never skip
// silently.
package tooltest

import (
	"fmt"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
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

// FreePort returns a loopback TCP port that was free a moment ago, for a server that a test
// stops and starts again on the same port. See [FreePorts].
func FreePort() (int, error) { return FreePorts(1) }

// FreePorts returns the first of n consecutive loopback TCP ports that were free a moment
// ago. They lie below the range the kernel hands to outgoing connections
// (ip_local_port_range), so while a test's server is down no connection can take its port;
// only a listener that names it can, and the start is random to make that rare. A caller
// that can, retries when a port is taken all the same.
func FreePorts(n int) (int, error) {
	low := ephemeralLow()
	const first = 10000
	if low-n <= first+100 {
		return 0, fmt.Errorf("tooltest: the ephemeral port range starts at %d, too low to pick ports beneath it", low)
	}
	for range 200 {
		p := first + rand.IntN(low-n-first)
		if portsFree(p, n) {
			return p, nil
		}
	}
	return 0, fmt.Errorf("tooltest: no %d free consecutive ports below %d", n, low)
}

// ephemeralLow is the first port of the range for outgoing connections, Linux's default
// when it cannot be read.
func ephemeralLow() int {
	b, err := os.ReadFile("/proc/sys/net/ipv4/ip_local_port_range")
	if err != nil {
		return 32768
	}
	f := strings.Fields(string(b))
	if len(f) != 2 {
		return 32768
	}
	low, err := strconv.Atoi(f[0])
	if err != nil {
		return 32768
	}
	return low
}

// portsFree reports whether ports p … p+n-1 can all be listened on now.
func portsFree(p, n int) bool {
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := range n {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(p+i)))
		if err != nil {
			return false
		}
		ls = append(ls, l)
	}
	return true
}
