package layertest

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// recorder is a T that keeps what Check reports.
type recorder struct{ errs []string }

func (r *recorder) Helper() {}
func (r *recorder) Errorf(format string, args ...any) {
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}
func (r *recorder) Fatalf(format string, args ...any) {
	r.errs = append(r.errs, "fatal: "+fmt.Sprintf(format, args...))
}

const mod = "example.com/repo/svc"

// writeModule writes one Go file per entry of files (directory → imports) below a new root.
func writeModule(t *testing.T, files map[string][]string) string {
	t.Helper()
	root := t.TempDir()
	for dir, imports := range files {
		pkg, name := filepath.Base(strings.TrimSuffix(dir, "_test")), "a.go"
		if strings.HasSuffix(dir, "_test") {
			dir, pkg, name = strings.TrimSuffix(dir, "_test"), filepath.Base(strings.TrimSuffix(dir, "_test"))+"_test", "a_test.go"
		}
		var b strings.Builder
		fmt.Fprintf(&b, "package %s\n\n", pkg)
		for _, imp := range imports {
			fmt.Fprintf(&b, "import _ %q\n", imp)
		}
		if err := os.MkdirAll(filepath.Join(root, dir), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, dir, name), []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestCheck(t *testing.T) {
	t.Parallel()
	rules := Rules{Module: mod, Shared: "example.com/repo/shared", Layers: [][]string{
		{"internal/model"},
		{"internal/codec/a", "internal/codec/b"},
		{"internal/server"},
		{"cmd/..."},
	}}
	files := map[string][]string{
		"internal/model":        {"fmt", "example.com/repo/shared/log"},
		"internal/codec/a":      {mod + "/internal/model"},
		"internal/codec/b":      {mod + "/internal/codec/a"},                   // same layer
		"internal/codec/b_test": {mod + "/internal/server", mod + "/cmd/tool"}, // external test: only the command is wrong
		"internal/server":       {mod + "/internal/codec/a", "example.com/repo/other/internal/x"},
		"internal/model/extra":  nil, // in no layer
		"cmd/tool":              {mod + "/internal/server"},
		"cmd/tool2":             {mod + "/cmd/tool"},
		"internal/x1":           nil,
		"internal/x2":           nil,
	}
	var rec recorder
	Check(&rec, writeModule(t, files), rules)
	want := []string{
		"internal/codec/b/a.go imports internal/codec/a against the layers",
		"internal/codec/b/a_test.go imports cmd/tool: only a command imports a command",
		"internal/server/a.go imports example.com/repo/other/internal/x: a module imports only itself and example.com/repo/shared",
		"package internal/model/extra is in no layer",
		"package internal/x1 is in no layer",
		"package internal/x2 is in no layer",
		"cmd/tool2/a.go imports cmd/tool against the layers",
	}
	for _, w := range want {
		if !slices.ContainsFunc(rec.errs, func(e string) bool { return strings.Contains(filepath.ToSlash(e), w) }) {
			t.Errorf("no report of %q", w)
		}
	}
	if len(rec.errs) != len(want) {
		t.Errorf("got %d reports, want %d:\n%s", len(rec.errs), len(want), strings.Join(rec.errs, "\n"))
	}
}

// An entry that names no package is reported, so the rules cannot rot.
func TestCheckStaleEntry(t *testing.T) {
	t.Parallel()
	files := map[string][]string{}
	for i := range 10 {
		files[fmt.Sprintf("internal/p%d", i)] = nil
	}
	var rec recorder
	Check(&rec, writeModule(t, files), Rules{Module: mod, Shared: "example.com/repo/shared", Layers: [][]string{
		{"internal/p0", "internal/p1", "internal/p2", "internal/p3", "internal/p4"},
		{"internal/p5", "internal/p6", "internal/p7", "internal/p8", "internal/p9", "internal/gone"},
	}})
	if len(rec.errs) != 1 || !strings.Contains(rec.errs[0], "internal/gone names no package") {
		t.Errorf("reports = %q, want one about internal/gone", rec.errs)
	}
}
