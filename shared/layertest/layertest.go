// Package layertest checks that the imports inside one module point one way, down its
// layers. Each module writes its layers in a test of its own (`<module>/imports_test.go`) and
// calls [Check]; the rule is then part of `go test`, not of review.
//
// A module's packages are named by their directory below the module root ("internal/doip");
// a name ending in "/..." covers that directory and everything below it ("cmd/..."). A
// package may import the packages of lower layers only: not its own layer, not a higher one.
// Every package of the module must be in exactly one layer, so that a new package needs a
// place before it can be imported.
//
// The rule covers what a package is built from: its own files and its in-package tests. An
// external test package (package x_test) uses x as a client does and may import from any
// layer, except a command. Nothing but a command imports a command, and no module imports
// another service module: only itself and shared.
package layertest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// T is the part of *testing.T that Check uses.
type T interface {
	Helper()
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
}

var _ T = (*testing.T)(nil)

// Rules are the layers of one module.
type Rules struct {
	// Module is the module path, such as "github.com/fdo-doip/doip-gateway/gateway".
	Module string
	// Shared is the module path every module may import, such as
	// "github.com/fdo-doip/doip-gateway/shared".
	Shared string
	// Layers lists the module's packages by directory, lowest layer first.
	Layers [][]string
}

// layerOf returns the layer of the package in dir, or -1.
func (r Rules) layerOf(dir string) int {
	i, _ := r.entryOf(dir)
	return i
}

// entryOf returns the layer of the package in dir and the name in Layers that covers it, or
// -1 and "".
func (r Rules) entryOf(dir string) (int, string) {
	for i, layer := range r.Layers {
		for _, p := range layer {
			if p == dir {
				return i, p
			}
			if base, ok := strings.CutSuffix(p, "/..."); ok && (dir == base || strings.HasPrefix(dir, base+"/")) {
				return i, p
			}
		}
	}
	return -1, ""
}

// isCommand reports whether dir holds a command.
func isCommand(dir string) bool { return dir == "cmd" || strings.HasPrefix(dir, "cmd/") }

// Check walks the Go files below root, the module's directory, and reports every import
// against r. Files in root itself (the test that calls Check) and in testdata are not read.
func Check(t T, root string, r Rules) {
	t.Helper()
	repo := path.Dir(r.Module) + "/"
	used := make(map[string]bool)
	files := 0
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if name := d.Name(); p != root && (name == "testdata" || strings.HasPrefix(name, ".") || strings.HasPrefix(name, "_")) {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") {
			return nil
		}
		rel, err := filepath.Rel(root, filepath.Dir(p))
		if err != nil {
			return err
		}
		dir := filepath.ToSlash(rel)
		if dir == "." {
			return nil
		}
		f, err := parser.ParseFile(token.NewFileSet(), p, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		from, entry := r.entryOf(dir)
		if from < 0 {
			t.Errorf("%s: package %s is in no layer; give it one in the module's imports_test.go", p, dir)
			return nil
		}
		used[entry] = true
		external := strings.HasSuffix(f.Name.Name, "_test")
		for _, imp := range f.Imports {
			ip, _ := strconv.Unquote(imp.Path.Value)
			if !strings.HasPrefix(ip, repo) || ip == r.Shared || strings.HasPrefix(ip, r.Shared+"/") {
				continue
			}
			if ip != r.Module && !strings.HasPrefix(ip, r.Module+"/") {
				t.Errorf("%s imports %s: a module imports only itself and %s", p, ip, r.Shared)
				continue
			}
			to := strings.TrimPrefix(strings.TrimPrefix(ip, r.Module), "/")
			switch {
			case to == dir:
			case isCommand(to) && !isCommand(dir):
				t.Errorf("%s imports %s: only a command imports a command", p, to)
			case external:
			case r.layerOf(to) < 0:
				t.Errorf("%s imports %s, which is in no layer", p, to)
			case r.layerOf(to) >= from:
				t.Errorf("%s imports %s against the layers: %s is in layer %d %v, %s in layer %d %v; a package imports lower layers only",
					p, to, dir, from, r.Layers[from], to, r.layerOf(to), r.Layers[r.layerOf(to)])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%v", err)
	}
	if files < 10 {
		t.Fatalf("read only %d Go files below %s; is the test running in the module's root?", files, root)
	}
	for _, layer := range r.Layers {
		for _, p := range layer {
			if !used[p] {
				t.Errorf("%s names no package: the rules are out of date", p)
			}
		}
	}
}
