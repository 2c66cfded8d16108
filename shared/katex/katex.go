// Package katex holds the one copy of KaTeX in the product: the gateway's web pages serve
// these files (embedded, no CDN) to render equations, and the equation-extraction corpus
// checks under Node that every LaTeX formula it reconstructs parses with the same KaTeX
// (check.js). README.md names the version and how to refresh it.
package katex

import (
	"embed"
	"path/filepath"
	"runtime"
)

// Files are katex.min.js, katex.min.css and fonts/*.woff2, at the root of the FS.
//
//go:embed katex.min.js katex.min.css fonts
var Files embed.FS

// Dir is this package's folder in the source tree, where check.js and katex.min.js are for
// a Node parse check; it is for tests and tools run from a checkout, not for binaries.
func Dir() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(file)
}
