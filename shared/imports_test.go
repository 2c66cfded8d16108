// Package shared_test checks the import rule of shared/README.md: shared is a leaf, and no
// package in it imports a service module.
package shared_test

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

const modulePrefix = "github.com/fdo-doip/doip-gateway/"

var forbidden = []string{"gateway", "retrieve-svc", "invoke-svc", "deploy"}

func TestSharedImportsNoService(t *testing.T) {
	t.Parallel()
	files := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") {
			return err
		}
		f, err := parser.ParseFile(token.NewFileSet(), path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		files++
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, m := range forbidden {
				if p == modulePrefix+m || strings.HasPrefix(p, modulePrefix+m+"/") {
					t.Errorf("%s imports %s: shared must not import a service module", path, p)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 10 {
		t.Fatalf("read only %d Go files; is the test running in shared/?", files)
	}
}
