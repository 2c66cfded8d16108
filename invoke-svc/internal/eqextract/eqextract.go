package eqextract

import (
	"errors"
	"strings"
)

// Equation is one display equation (or, for multi-line environments, one numbered line
// together with the unnumbered lines that belong to it).
type Equation struct {
	Page   int    `json:"page,omitempty"`   // 1-based; PDF path only (0 when unknown)
	Number string `json:"number,omitempty"` // as printed, without parentheses: "3", "2.2a", "A.1", "*"
	Label  string `json:"label,omitempty"`  // \label{...} (LaTeX path)
	LaTeX  string `json:"latex,omitempty"`  // the body, whitespace-normalised (LaTeX path), or reconstructed from the glyphs (PDF path)
	Text   string `json:"text,omitempty"`   // the text as extracted (PDF path)
	// Confidence (PDF path) is how far the reconstructed LaTeX can be trusted, from 0 to 1:
	// lowered for every glyph without a mapping and every construct that was not understood.
	Confidence float64 `json:"confidence,omitempty"`
	// Notes (PDF path) name what the reconstruction did not understand.
	Notes []string    `json:"notes,omitempty"`
	Env   string      `json:"environment,omitempty"` // LaTeX environment ("equation", "align*", "displaymath" for \[..\], "$$")
	File  string      `json:"file,omitempty"`        // source file inside an archive (FromArchive only)
	Line  int         `json:"line,omitempty"`        // 1-based source line (LaTeX path)
	BBox  *[4]float64 `json:"bbox,omitempty"`        // x0,y0,x1,y1 in PDF points, origin bottom left (PDF path)
}

// Result is what one extraction found.
type Result struct {
	Equations []Equation `json:"equations"`
	// UncertainPages lists the 1-based pages whose text could not be extracted reliably
	// (no text, mostly unmappable glyphs, or over a limit); no equations are reported for them.
	UncertainPages []int `json:"uncertain_pages,omitempty"`
	// Pages is the number of pages of the PDF (PDF path) or 0 (LaTeX path).
	Pages int `json:"pages,omitempty"`
	// Warnings name recoverable problems in the input (an environment that is never closed,
	// an \input that could not be resolved, ...).
	Warnings []string `json:"warnings,omitempty"`
}

// Numbered reports whether the equation carries a printed number or tag.
func (e Equation) Numbered() bool { return e.Number != "" }

// Errors returned by the extractors; they are wrapped with details, test with errors.Is.
var (
	// ErrTooLarge: the input exceeds a size or count limit.
	ErrTooLarge = errors.New("eqextract: input too large")
	// ErrTooComplex: the input needs more work than allowed (deeply nested, pathological).
	ErrTooComplex = errors.New("eqextract: input too complex")
	// ErrNotPDF: the bytes are not a readable PDF.
	ErrNotPDF = errors.New("eqextract: not a readable PDF")
	// ErrBadArchive: the archive is malformed, unsafe or has no main .tex file.
	ErrBadArchive = errors.New("eqextract: bad source archive")
	// ErrPageRange: a page asked for is not in the PDF.
	ErrPageRange = errors.New("eqextract: page out of range")
)

// Limits of the extractors. They are variables so that a caller (or a test) can tighten them;
// they are read at the start of each call.
var (
	// MaxLaTeXBytes caps the size of one LaTeX source, after \input inlining.
	MaxLaTeXBytes = 16 << 20
	// MaxArchiveBytes caps the total uncompressed size of the files read from a source archive.
	MaxArchiveBytes int64 = 64 << 20
	// MaxArchiveFiles caps the number of entries of a source archive.
	MaxArchiveFiles = 5000
	// MaxPDFBytes caps the size of a PDF.
	MaxPDFBytes int64 = 256 << 20
	// MaxPDFPages caps the number of pages processed in one call.
	MaxPDFPages = 2000
	// MaxPageContentBytes caps the decoded content stream of one page; larger pages are
	// reported as uncertain.
	MaxPageContentBytes int64 = 8 << 20
	// MaxPDFContentBytes caps the decoded content streams of all pages of one PDF (a
	// paper's pages hold tens of KiB each; a page repeated many times, or one content stream
	// drawn by every page, would otherwise cost the interpreter its size once per page).
	// Past it the call fails with ErrTooComplex.
	MaxPDFContentBytes int64 = 64 << 20
	// MaxPDFObjects caps the cross-reference table size the PDF reader is allowed to allocate.
	MaxPDFObjects int64 = 1 << 21
	// MaxCMapBytes caps the decoded bytes of one ToUnicode CMap (the largest real ones, for
	// CJK fonts, are about 1 MiB). A font over it makes its page uncertain.
	MaxCMapBytes int64 = 4 << 20
	// MaxCMapEntries caps the bfchar and bfrange entries of one ToUnicode CMap.
	MaxCMapEntries = 1 << 17
	// MaxLayoutRows caps the baseline rows of one page that layout analysis takes on; a
	// page with more (a page of text has about 50, a dense table a few hundred) is reported
	// uncertain. Grouping rows into bands compares neighbouring rows, so the cap bounds the
	// work of a page whose glyphs all overlap.
	MaxLayoutRows = 2000
	// MaxLayoutWork caps the layout work of one page: the rows of each band times its
	// glyphs, summed over the bands (number finding compares each row with the band's
	// glyphs). Pages of papers need a few thousand.
	MaxLayoutWork = 2_000_000
	// MaxEquations caps the equations of one result, on every path.
	MaxEquations = 20000
)

// NormalizeNumber maps an equation number or tag to a comparable form: no spaces, no
// surrounding parentheses, no math-mode dollars, and the Unicode glyphs a PDF shows for
// primes and asterisks mapped to ASCII.
func NormalizeNumber(s string) string {
	s = strings.TrimSpace(s)
	var b strings.Builder
	for _, r := range s {
		switch r {
		case ' ', '\t', '\n', '\r', '$', '\u00a0':
			continue
		case '\u2032', '\u2019', '\u0027':
			b.WriteByte('\'')
		case '\u2217', '\u22c6', '\u2731':
			b.WriteByte('*')
		case '\u2013', '\u2212':
			b.WriteByte('-')
		default:
			b.WriteRune(r)
		}
	}
	out := b.String()
	out = strings.ReplaceAll(out, `\ast`, "*")
	out = strings.ReplaceAll(out, `\star`, "*")
	out = strings.ReplaceAll(out, `\prime`, "'")
	out = strings.ReplaceAll(out, `^{'}`, "'")
	out = strings.ReplaceAll(out, `^'`, "'")
	for len(out) >= 2 && out[0] == '(' && out[len(out)-1] == ')' {
		out = out[1 : len(out)-1]
	}
	return out
}
