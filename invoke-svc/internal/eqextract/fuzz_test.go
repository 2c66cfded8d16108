package eqextract

import (
	"bytes"
	"context"
	"testing"
	"time"
)

// FuzzFromLaTeX: no panic, no hang, and every equation has a body or a number.
func FuzzFromLaTeX(f *testing.F) {
	for _, s := range []string{
		doc(`\begin{align} a &= b \label{x} \\ c \nonumber \end{align} \[ y \] $$z$$`),
		doc(`\begin{subequations}\begin{gather} a \tag*{T} \\ b \end{gather}\end{subequations}`),
		"\\numberwithin{equation}{section}\\begin{document}\\section{A}\\appendix\\section{B}\\begin{equation}x\\end{equation}",
		"% \\begin{equation}\n\\verb|$$|\\begin{verbatim}\\[\\end{verbatim}\\begin{equation}{\\label{a{b}}\\end{equation}",
		"\\begin{alignat}{2}a&b\\\\[3pt]c\\end{alignat}\\begin{eqnarray*}x\\end{eqnarray*}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		if len(src) > 1<<16 {
			return
		}
		start := time.Now()
		res, err := FromLaTeX(src)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("FromLaTeX took %v on %d bytes", d, len(src))
		}
		if err != nil {
			return
		}
		for _, e := range res.Equations {
			if e.Line < 1 {
				t.Fatalf("equation without a line: %+v", e)
			}
		}
	})
}

// FuzzFromPDF: no panic and no hang on mutated PDFs (the work is bounded by a deadline
// that every read of the input checks, and by the byte budget).
func FuzzFromPDF(f *testing.F) {
	f.Add(onePage("BT /F1 10 Tf 72 700 Td (a + b = c) Tj 450 0 Td ((1)) Tj ET", helv))
	f.Add(onePage("BT /F1 12 Tf 1 0 0 1 100 600 Tm [(x)-250(=)-250(y)] TJ T* (\\(2.1a\\)) ' ET", helv))
	f.Add(buildPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [2 0 R] /Count 1 >>"))
	f.Add([]byte("%PDF-1.5\n1 0 obj << /Type /XRef /Size 3 /W [1 2 1] /Index [0 3] /Length 0 >> stream\nendstream endobj\nstartxref\n9\n%%EOF\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<18 {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		start := time.Now()
		res, err := FromPDFContext(ctx, bytes.NewReader(data), int64(len(data)), nil)
		if d := time.Since(start); d > 8*time.Second {
			t.Fatalf("FromPDF took %v", d)
		}
		if err != nil {
			return
		}
		for _, e := range res.Equations {
			if e.Page < 1 || e.Page > res.Pages {
				t.Fatalf("page %d of %d", e.Page, res.Pages)
			}
		}
	})
}
