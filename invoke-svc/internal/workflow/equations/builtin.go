package equations

import (
	"bytes"
	"context"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/eqextract"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/extractproc"
)

// Builtin is the [Extractor] of package eqextract, in this process; every path stops when
// ctx is done.
type Builtin struct{}

// FromLaTeX implements [Extractor].
func (Builtin) FromLaTeX(ctx context.Context, src []byte) (eqextract.Result, error) {
	return eqextract.FromLaTeXContext(ctx, src)
}

// FromArchive implements [Extractor].
func (Builtin) FromArchive(ctx context.Context, data []byte, name string) (eqextract.Result, error) {
	return eqextract.FromArchiveContext(ctx, bytes.NewReader(data), int64(len(data)), name)
}

// FromPDF implements [Extractor].
func (Builtin) FromPDF(ctx context.Context, data []byte, pages []int) (eqextract.Result, error) {
	return eqextract.FromPDFContext(ctx, bytes.NewReader(data), int64(len(data)), pages)
}

// Isolated is the [Extractor] that runs package eqextract in a child process with budgets
// of its own (package extractproc): a runaway parse fails its run, never the worker.
type Isolated struct {
	X *extractproc.Extractor
}

// FromLaTeX implements [Extractor].
func (i Isolated) FromLaTeX(ctx context.Context, src []byte) (eqextract.Result, error) {
	return i.X.Extract(ctx, extractproc.KindLaTeX, "source.tex", nil, src)
}

// FromArchive implements [Extractor].
func (i Isolated) FromArchive(ctx context.Context, data []byte, name string) (eqextract.Result, error) {
	return i.X.Extract(ctx, extractproc.KindArchive, name, nil, data)
}

// FromPDF implements [Extractor].
func (i Isolated) FromPDF(ctx context.Context, data []byte, pages []int) (eqextract.Result, error) {
	return i.X.Extract(ctx, extractproc.KindPDF, "source.pdf", pages, data)
}
