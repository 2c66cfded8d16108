package eqextract

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/hostileinput"
)

// The hostile inputs of issue 10 ("a 1 KB file must not take the workers down"), made at
// test time. Each ends in a result or a clear error, allocating a bounded amount. The tests
// measure allocation with runtime.MemStats, so they do not run in parallel.
func TestHostilePDFs(t *testing.T) {
	for _, tt := range []struct {
		name     string
		pdf      []byte
		warning  string // in the result's warnings ("" for none)
		maxAlloc uint64
	}{
		// The reader's CMap parser looped 2·10⁹ times and died of out-of-memory.
		{"CMap announcing 2e9 bfchar", hostileinput.CMapCountBomb(2_000_000_000), "", 16 << 20},
		// 24 s and out-of-memory before.
		{"CMap announcing 3e7 bfchar", hostileinput.CMapCountBomb(30_000_000), "", 16 << 20},
		{"CMap deflate bomb", hostileinput.CMapDeflateBomb(64 << 20), "decoded-bytes budget of 4194304 bytes", 64 << 20},
		{"content deflate bomb", hostileinput.ContentDeflateBomb(64 << 20), "page content over 8388608 bytes", 64 << 20},
		// Within the page-content cap, 8 MiB of operands took 5 s and 450 MiB.
		{"8 MiB of operands", hostileinput.ContentDeflateBomb(8<<20 - 64), "operand budget: a run of more than 65536 operands", 64 << 20},
		// Quadratic layout: more than 150 s before.
		{"150k glyphs one per baseline", hostileinput.GlyphColumn(150_000), "layout budget of 2000 baselines", 256 << 20},
		// 1999 baselines of 10 glyphs, all overlapping: 50 s before.
		{"1999 overlapping rows of 10 glyphs", hostileinput.GlyphGrid(1999, 10), "layout budget of 2000000 row-glyph comparisons", 64 << 20},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var (
				res Result
				err error
			)
			n := allocated(func() {
				res, err = FromPDFContext(t.Context(), bytes.NewReader(tt.pdf), int64(len(tt.pdf)), nil)
			})
			if err != nil {
				t.Fatalf("FromPDF: %v; want a result with page 1 uncertain", err)
			}
			if len(res.UncertainPages) != 1 || res.UncertainPages[0] != 1 {
				t.Errorf("uncertain pages = %v, want [1]", res.UncertainPages)
			}
			if tt.warning != "" && !strings.Contains(strings.Join(res.Warnings, "; "), tt.warning) {
				t.Errorf("warnings = %q, want one naming %q", res.Warnings, tt.warning)
			}
			if n > tt.maxAlloc {
				t.Errorf("allocated %d MiB, over %d MiB", n>>20, tt.maxAlloc>>20)
			}
		})
	}
}

// A 24 KB archive of 2.7 million one-character displays expanded to 290 MB of
// equations.json before; the equation budget stops it.
func TestHostileArchive(t *testing.T) {
	a := hostileinput.ExpandingArchive(200_000)
	var err error
	n := allocated(func() { _, err = FromArchive(bytes.NewReader(a), int64(len(a)), "src.tar.gz") })
	if !errors.Is(err, ErrTooLarge) || !strings.Contains(err.Error(), "equation budget of 20000") {
		t.Errorf("err = %v, want the equation budget", err)
	}
	if n > 256<<20 {
		t.Errorf("allocated %d MiB", n>>20)
	}
}

// The layout budget of a page leaves room for real pages: rows are counted as makeRows
// groups them.
func TestCountRows(t *testing.T) {
	t.Parallel()
	var gs []glyph
	for i := range 10 {
		gs = append(gs, glyph{y: 100 - 0.2*float64(i)}) // 0, 0.2 | 0.4, 0.6 | ...
	}
	if n, want := countRows(gs, 100), len(makeRows(gs)); n != want {
		t.Errorf("countRows = %d, makeRows made %d", n, want)
	}
	if n := countRows(gs, 3); n != 4 {
		t.Errorf("countRows with limit 3 = %d, want 4 (stops past the limit)", n)
	}
}

// FuzzPageContent runs the content-stream interpreter on fuzzed page content: no panic, no
// hang, and an allocation bound.
func FuzzPageContent(f *testing.F) {
	f.Add([]byte("BT /F1 10 Tf 72 700 Td (a + b = c) Tj 450 0 Td ((1)) Tj ET"))
	f.Add([]byte("q 1 0 0 1 5 5 cm BT /F1 12 Tf 2 Tz 1 Tc 3 Tw 14 TL [(x)-250(=)-250(y)] TJ T* (z) ' 1 2 (w) \" ET Q"))
	f.Add([]byte("BT /F1 1000 Tf 0 0 Td (x) Tj 0 -0.5 Td (x) Tj 0 -0.5 Td (x) Tj ET"))
	// a display with a fraction bar (re f) and stroked rules (m l S), as formula
	// reconstruction reads them
	f.Add([]byte("BT /F1 10 Tf 300 412 Td (a + b) Tj 0 -24 Td (c) Tj -80 12 Td (x =) Tj 240 0 Td ((1)) Tj ET " +
		"q 1 0 0 1 0 0 cm 299 417 30 0.4 re f Q 0.5 w 100 50 m 300 50 l S 1 1 m 2 1 l 3 3 l h B n"))
	f.Fuzz(func(t *testing.T, content []byte) {
		if len(content) > 1<<16 {
			return
		}
		pdf := onePage(string(content), helv)
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		n := allocated(func() { _, _ = FromPDFContext(ctx, bytes.NewReader(pdf), int64(len(pdf)), nil) })
		if d := time.Since(start); d > 8*time.Second {
			t.Fatalf("FromPDF took %v", d)
		}
		if limit := uint64(64<<20 + 512*len(content)); n > limit {
			t.Fatalf("%d bytes of content allocated %d bytes, over %d", len(content), n, limit)
		}
	})
}

// Pages that all draw one content stream cost the interpreter its size once per page: a
// 1.6 KB PDF of 10 pages sharing 8 MiB of content took 14 s. The decoded content of the
// whole document is budgeted. (Not parallel: it lowers the budget for the call.)
func TestHostileSharedContent(t *testing.T) {
	defer func(old int64) { MaxPDFContentBytes = old }(MaxPDFContentBytes)
	MaxPDFContentBytes = 4 << 20
	pdf := hostileinput.SlowPages(12, 1<<20)
	_, err := FromPDFContext(t.Context(), bytes.NewReader(pdf), int64(len(pdf)), nil)
	if !errors.Is(err, ErrTooComplex) || !strings.Contains(err.Error(), "content budget of 4194304 decoded bytes for the document exceeded at page 5") {
		t.Errorf("err = %v, want the document's content budget", err)
	}
}

// The LaTeX paths stop when their context ends.
func TestLaTeXContextCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	src := []byte(strings.Repeat("x ", 1<<18))
	if _, err := FromLaTeXContext(ctx, src); !errors.Is(err, context.Canceled) {
		t.Errorf("FromLaTeXContext after cancel: %v", err)
	}
	a := hostileinput.ExpandingArchive(20_000)
	if _, err := FromArchiveContext(ctx, bytes.NewReader(a), int64(len(a)), "src.tar.gz"); !errors.Is(err, context.Canceled) {
		t.Errorf("FromArchiveContext after cancel: %v", err)
	}
}

// The page-content scan reads content as the reader's lexer does. Regression: content
// ending inside a hex string ("<\x00\x00\x00\x00", found by FuzzPageContent) made the
// reader's lexer loop forever, deaf to the deadline.
func TestContentScan(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in       string
		longest  int
		unclosed bool
	}{
		{"1 2 3 m 4 5 l", 3, false},
		{"(1 2 3 4 5) Tj 1 2", 2, false},
		{"% 1 2 3 4 5 6\n7 8", 2, false},
		{"<< /A 1 >> BDC 1 2 3 4", 4, false},
		{"<0102> Tj", 0, false},
		{"(a \\) 1 2 3", 0, false},
		{"<\x00\x00\x00\x00", 0, true},
		{"1 2 <", 2, true},
		{"[<01> 1 2 3 (x)] TJ", 3, false},
	} {
		var o contentScan
		// One byte at a time: the state carries across writes.
		for i := range len(tt.in) {
			_, _ = o.Write([]byte{tt.in[i]})
		}
		o.endToken()
		if o.longest != tt.longest || o.unterminatedHex() != tt.unclosed {
			t.Errorf("%q: longest run %d, unterminated hex %v; want %d, %v", tt.in, o.longest, o.unterminatedHex(), tt.longest, tt.unclosed)
		}
	}
	pdf := onePage("BT /F1 10 Tf (a) Tj ET <\x00\x00\x00\x00", helv)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	res, err := FromPDFContext(ctx, bytes.NewReader(pdf), int64(len(pdf)), nil)
	if err != nil || len(res.UncertainPages) != 1 || !strings.Contains(strings.Join(res.Warnings, ";"), "ends inside a hex string") {
		t.Errorf("unterminated hex string: %+v, %v", res, err)
	}
}
