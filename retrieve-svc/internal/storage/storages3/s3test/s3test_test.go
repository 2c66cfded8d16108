package s3test

import (
	"os"
	"path/filepath"
	"testing"
)

// TestBinaryLookup checks the search order: $VERSITYGW, then PATH, then .tmp/bin in the
// working directory or above. It changes the environment and the working directory, so it
// cannot run in parallel.
func TestBinaryLookup(t *testing.T) {
	repo := t.TempDir()
	bin := filepath.Join(repo, ".tmp", "bin", "versitygw")
	if err := os.MkdirAll(filepath.Dir(bin), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	pkg := filepath.Join(repo, "retrieve-svc", "internal", "storage")
	if err := os.MkdirAll(pkg, 0o755); err != nil {
		t.Fatal(err)
	}
	t.Chdir(pkg)
	t.Setenv("PATH", t.TempDir())
	t.Setenv("VERSITYGW", "")
	if got, err := Binary(); err != nil || got != bin {
		t.Errorf("Binary() from below the repository = %q, %v; want %q", got, err, bin)
	}

	onPath := t.TempDir()
	if err := os.WriteFile(filepath.Join(onPath, "versitygw"), []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", onPath)
	if got, err := Binary(); err != nil || got != filepath.Join(onPath, "versitygw") {
		t.Errorf("Binary() with versitygw on PATH = %q, %v", got, err)
	}

	t.Setenv("VERSITYGW", bin)
	if got, err := Binary(); err != nil || got != bin {
		t.Errorf("Binary() with VERSITYGW = %q, %v", got, err)
	}
	t.Setenv("VERSITYGW", filepath.Join(repo, "missing"))
	if _, err := Binary(); err == nil {
		t.Error("Binary() with VERSITYGW naming a missing file succeeded")
	}

	t.Setenv("VERSITYGW", "")
	t.Setenv("PATH", t.TempDir())
	t.Chdir(t.TempDir())
	if _, err := Binary(); err == nil {
		t.Error("Binary() with no versitygw anywhere succeeded")
	}
}
