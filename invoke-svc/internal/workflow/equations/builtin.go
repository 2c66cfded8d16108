package equations

import (
	"bytes"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/eqextract"
)

// Builtin is the [Extractor] of package eqextract.
type Builtin struct{}

// FromLaTeX implements [Extractor].
func (Builtin) FromLaTeX(src []byte) (eqextract.Result, error) { return eqextract.FromLaTeX(src) }

// FromArchive implements [Extractor].
func (Builtin) FromArchive(data []byte, name string) (eqextract.Result, error) {
	return eqextract.FromArchive(bytes.NewReader(data), int64(len(data)), name)
}

// FromPDF implements [Extractor].
func (Builtin) FromPDF(data []byte, pages []int) (eqextract.Result, error) {
	return eqextract.FromPDF(bytes.NewReader(data), int64(len(data)), pages)
}
