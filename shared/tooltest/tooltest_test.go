package tooltest

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
)

// TestDirAndFind: Dir finds the .tmp/bin above the working directory that holds every name,
// and Find prefers the environment variable to it. It changes the working directory and the
// environment, so it cannot run in parallel.
func TestDirAndFind(t *testing.T) {
	repo := t.TempDir()
	bin := filepath.Join(repo, ".tmp", "bin")
	for _, name := range []string{"a", "b"} {
		if err := os.MkdirAll(bin, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(bin, name), []byte("#!/bin/sh\n"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	below := filepath.Join(repo, "x", "y")
	if err := os.MkdirAll(below, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(below)
	t.Setenv("PATH", t.TempDir())
	if got := Dir("a", "b"); got != bin {
		t.Errorf("Dir(a, b) = %q, want %q", got, bin)
	}
	if got := Dir("a", "c"); got != "" {
		t.Errorf("Dir(a, c) = %q, want none: c is missing", got)
	}
	t.Setenv("TOOLTEST_A", "")
	if got, err := Find("TOOLTEST_A", "a"); err != nil || got != filepath.Join(bin, "a") {
		t.Errorf("Find = %q, %v", got, err)
	}
	other := filepath.Join(t.TempDir(), "a")
	if err := os.WriteFile(other, nil, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("TOOLTEST_A", other)
	if got, err := Find("TOOLTEST_A", "a"); err != nil || got != other {
		t.Errorf("Find with TOOLTEST_A set = %q, %v; want %q", got, err, other)
	}
	if _, err := Find("TOOLTEST_C", "c"); err == nil {
		t.Error("Find(c) found a missing binary")
	}
	if p, err := FreePort(); err != nil || p <= 0 || p >= ephemeralLow() {
		t.Errorf("FreePort = %d, %v; want a port below %d", p, err, ephemeralLow())
	}
	p, err := FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []int{p, p + 1} {
		l, err := net.Listen("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(q)))
		if err != nil {
			t.Errorf("FreePorts(2) = %d, but %d is taken: %v", p, q, err)
			continue
		}
		l.Close()
	}
}
