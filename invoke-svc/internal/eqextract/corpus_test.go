package eqextract_test

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/eqextract"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/eqextract/corpus"
	"github.com/fdo-doip/doip-gateway/shared/katex"
)

const corpusDir = "../../testdata/corpus"

// TestCorpus runs both paths over the committed corpus and checks the targets of the
// product issue: the LaTeX path finds every display with the exact body, and the PDF path
// reaches precision and recall >= 0.97 on numbered equations (right number on the right
// page) with a display count within 5% of the truth.
func TestCorpus(t *testing.T) {
	t.Parallel()
	papers, err := corpus.Load(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	if len(papers) < 15 {
		t.Fatalf("%d papers in the corpus, want at least 15", len(papers))
	}
	var total corpus.PDFScore
	var pairs []corpus.FormulaPair
	for _, p := range papers {
		tex, err := os.ReadFile(p.TeX)
		if err != nil {
			t.Fatal(err)
		}
		lr, err := eqextract.FromLaTeX(tex)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		ls := corpus.ScoreLaTeX(p.Truth, lr)
		if ls.Exact != ls.Total || ls.Found != ls.Total {
			t.Errorf("%s: LaTeX path %d/%d found, %d exact: %q", p.Name, ls.Found, ls.Total, ls.Exact, ls.Mismatches)
		}
		data, err := os.ReadFile(p.PDF)
		if err != nil {
			t.Fatal(err)
		}
		pr, err := eqextract.FromPDF(bytes.NewReader(data), int64(len(data)), nil)
		if err != nil {
			t.Fatalf("%s: %v", p.Name, err)
		}
		if pr.Pages != p.Truth.Pages {
			t.Errorf("%s: %d pages, truth %d", p.Name, pr.Pages, p.Truth.Pages)
		}
		pairs = append(pairs, corpus.PairFormulas(p.Truth, pr)...)
		ps := corpus.ScorePDF(p.Truth, pr)
		if len(ps.Misses)+len(ps.Spurious) > 0 {
			t.Logf("%s: PDF misses %q, spurious %q", p.Name, ps.Misses, ps.Spurious)
		}
		total.Add(ps)
	}
	ratio := float64(total.Displays) / float64(total.Truth)
	t.Logf("PDF path: precision %.3f recall %.3f (%d tp, %d fp, %d fn), displays %d/%d = %.3f, uncertain pages %d",
		total.Precision(), total.Recall(), total.TP, total.FP, total.FN, total.Displays, total.Truth, ratio, total.Uncertain)
	if total.Precision() < 0.97 || total.Recall() < 0.97 {
		t.Errorf("PDF path precision %.3f recall %.3f, target >= 0.97", total.Precision(), total.Recall())
	}
	if ratio < 0.95 || ratio > 1.05 {
		t.Errorf("PDF path display count ratio %.3f, target within 5%%", ratio)
	}
	checkFormulas(t, pairs)
	if total.Uncertain != 0 {
		t.Errorf("%d uncertain pages in a corpus of clean pdfTeX output", total.Uncertain)
	}
}

// checkFormulas checks the LaTeX that the PDF path reconstructs against the truth: mean
// similarity >= 0.85 and >= 50% exact after normalisation (corpus.Similarity), and every
// formula parses with KaTeX. The parse check needs node (it runs shared/katex's check.js with
// the KaTeX the web pages serve); without node it is skipped with a message, except under
// CI, where it fails.
func checkFormulas(t *testing.T, pairs []corpus.FormulaPair) {
	t.Helper()
	fs := corpus.SummarizeFormulas(pairs)
	t.Logf("PDF formulas: mean similarity %.3f, exact %.1f%% of %d displays", fs.Mean, 100*fs.ExactShare, fs.Displays)
	if fs.Mean < 0.85 || fs.ExactShare < 0.5 {
		t.Errorf("PDF formulas: mean similarity %.3f (target >= 0.85), exact %.1f%% (target >= 50%%)", fs.Mean, 100*fs.ExactShare)
	}
	got := fs.Got
	errs, err := corpus.ParseCheck(t.Context(), katex.Dir(), got)
	if errors.Is(err, corpus.ErrNoKaTeX) && os.Getenv("CI") == "" {
		t.Logf("KaTeX parse check skipped: %v", err)
		return
	}
	if err != nil {
		t.Fatal(err)
	}
	for i, e := range errs {
		if e != "" {
			t.Errorf("does not parse with KaTeX: %s\n  %s", e, got[i])
		}
	}
}

// A cases display whose rows hold \left( … \right) around fractions (30-aastex, (5)): the
// row's own parentheses are content of the cases, not their end.
func TestCasesWithDelimitedRows(t *testing.T) {
	t.Parallel()
	papers, err := corpus.Load(corpusDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range papers {
		if p.Name != "30-aastex" {
			continue
		}
		pdf, err := os.ReadFile(p.PDF)
		if err != nil {
			t.Fatal(err)
		}
		res, err := eqextract.FromPDF(bytes.NewReader(pdf), int64(len(pdf)), nil)
		if err != nil {
			t.Fatal(err)
		}
		want := ""
		for _, e := range p.Truth.Equations {
			if e.Number == "5" {
				want = e.LaTeX
			}
		}
		for _, e := range res.Equations {
			if e.Number != "5" {
				continue
			}
			if _, exact := corpus.Similarity(e.LaTeX, want); !exact {
				t.Errorf("(5) = %s\nwant %s", e.LaTeX, want)
			}
			return
		}
		t.Fatalf("no equation (5) in %s: %+v", p.Name, res.Equations)
	}
	t.Fatal("30-aastex is not in the corpus")
}
