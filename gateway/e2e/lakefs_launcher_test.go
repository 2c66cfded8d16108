package e2e_test

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/shared/lakefstest"
)

// repoRoot is the folder of go.work.
func repoRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOWORK").Output()
	if err != nil || strings.TrimSpace(string(out)) == "" || strings.TrimSpace(string(out)) == "off" {
		return "", fmt.Errorf("no go.work found (go env GOWORK: %q, %v)", out, err)
	}
	return filepath.Dir(strings.TrimSpace(string(out))), nil
}

// lakeFSNotice prints, from TestMain, that the real-lakeFS suite will skip when lakeFS is not
// installed (shown under -v, or when the package fails; `make test` says it before the run).
func lakeFSNotice() {
	if n := lakefstest.Notice(); n != "" {
		fmt.Print(n)
	}
}

// startLakeFS starts a real lakeFS (package lakefstest, as compose runs it) and sets up the
// repository with the sample objects exactly as compose's lakefs-setup job does. It skips,
// loudly, when lakeFS is not installed, and under -short.
func startLakeFS(t testing.TB, opts ...lakefstest.Option) *lakefstest.Server {
	t.Helper()
	if testing.Short() {
		t.Skip("end-to-end test: skipped under -short")
	}
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	l := lakefstest.Start(t, opts...)
	l.SetupRepo(t, filepath.Join(root, "retrieve-svc", "internal", "sampledata", "objects", "main"))
	return l
}
