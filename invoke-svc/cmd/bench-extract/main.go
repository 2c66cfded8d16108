// Command bench-extract measures the equation extractor (internal/eqextract) on the corpus
// in testdata/corpus: for every paper it runs the LaTeX path on the .tex and the PDF path on
// the .pdf and compares both with the paper's ground truth (NN-name.truth.json).
//
//	bench-extract [-corpus DIR] [-rounds N] [-v] [-check]
//	bench-extract -write-truth -eqt-dir DIR [-corpus DIR] [NN-name.tex ...]
//
// The LaTeX path is scored by exact match of the displays (count, order, number, label,
// environment and whitespace-normalised body); the PDF path by precision and recall of the
// numbered equations matched by (page, number), the number of displays found against the
// truth, and the pages per second of the PDF path alone (best of -rounds rounds).
//
// With -check the exit status is 1 when a target is missed: LaTeX path 100% exact, PDF
// precision and recall >= 0.97, display count within 5% of the truth, >= 20 pages/s.
//
// -write-truth is the ground-truth step of make-corpus.sh: it reads the .eqt files that
// eqtruth-hook.tex wrote while compiling (the numbers TeX printed, with pages), checks that
// the LaTeX path numbers every paper exactly as TeX did, and writes NN-name.truth.json.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/eqextract"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/eqextract/corpus"
	"github.com/fdo-doip/doip-gateway/shared/katex"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("bench-extract", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dir := fs.String("corpus", "testdata/corpus", "corpus directory")
	rounds := fs.Int("rounds", 5, "timing rounds of the PDF path (the best is reported)")
	verbose := fs.Bool("v", false, "list the misses and spurious numbers per paper")
	check := fs.Bool("check", false, "exit 1 when a target is missed")
	writeTruth := fs.Bool("write-truth", false, "write NN-name.truth.json from the .eqt files in -eqt-dir")
	eqtDir := fs.String("eqt-dir", "", "directory with the NN-name.eqt files (for -write-truth)")
	katexDir := fs.String("katex", katex.Dir(), "folder with check.js and katex.min.js for the parse check (shared/katex: the KaTeX the web pages serve)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *writeTruth {
		if err := writeTruths(*dir, *eqtDir, fs.Args(), stdout); err != nil {
			fmt.Fprintln(stderr, "bench-extract:", err)
			return 1
		}
		return 0
	}
	papers, err := corpus.Load(*dir)
	if err != nil {
		fmt.Fprintln(stderr, "bench-extract:", err)
		return 1
	}
	ok, err := bench(papers, *rounds, *verbose, *katexDir, stdout)
	if err != nil {
		fmt.Fprintln(stderr, "bench-extract:", err)
		return 1
	}
	if *check && !ok {
		fmt.Fprintln(stderr, "bench-extract: targets missed")
		return 1
	}
	return 0
}

func writeTruths(dir, eqtDir string, files []string, stdout io.Writer) error {
	if eqtDir == "" {
		return fmt.Errorf("-write-truth needs -eqt-dir")
	}
	if len(files) == 0 {
		var err error
		files, err = filepath.Glob(filepath.Join(dir, "[0-9][0-9]-*.tex"))
		if err != nil {
			return err
		}
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".tex")
		tex, err := os.ReadFile(filepath.Join(dir, name+".tex"))
		if err != nil {
			return err
		}
		printed, err := corpus.ReadEqt(filepath.Join(eqtDir, name+".eqt"))
		if err != nil {
			return err
		}
		pdfBytes, err := os.ReadFile(filepath.Join(dir, name+".pdf"))
		if err != nil {
			return err
		}
		res, err := eqextract.FromPDF(bytes.NewReader(pdfBytes), int64(len(pdfBytes)), []int{1})
		if err != nil {
			return fmt.Errorf("%s.pdf: %w", name, err)
		}
		t, err := corpus.BuildTruth(name, tex, printed, res.Pages)
		if err != nil {
			return err
		}
		out, err := json.MarshalIndent(t, "", "  ")
		if err != nil {
			return err
		}
		out = append(out, '\n')
		if err := os.WriteFile(filepath.Join(dir, name+".truth.json"), out, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %d displays, %d numbered, %d pages\n", name, t.Displays, len(t.Numbered), t.Pages)
	}
	return nil
}

// Targets of the product issue.
const (
	targetPR         = 0.97
	targetCountRatio = 0.05
	targetPagesPerS  = 20
	targetSimilarity = 0.85
	targetExact      = 0.50
)

func bench(papers []corpus.Paper, rounds int, verbose bool, katexDir string, w io.Writer) (bool, error) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "paper\tpages\tlatex found\tlatex exact\tpdf P\tpdf R\tnumbered tp/truth\tdisplays/truth\tuncertain\t")
	var lt, lf, le, pages int
	var tot corpus.PDFScore
	type loaded struct {
		pdf []byte
		pgs int
	}
	var docs []loaded
	var notes []string
	var pairs []corpus.FormulaPair
	for _, p := range papers {
		tex, err := os.ReadFile(p.TeX)
		if err != nil {
			return false, err
		}
		lr, err := eqextract.FromLaTeX(tex)
		if err != nil {
			return false, fmt.Errorf("%s: %w", p.Name, err)
		}
		ls := corpus.ScoreLaTeX(p.Truth, lr)
		lt += ls.Total
		lf += ls.Found
		le += ls.Exact
		pdfBytes, err := os.ReadFile(p.PDF)
		if err != nil {
			return false, err
		}
		pr, err := eqextract.FromPDF(bytes.NewReader(pdfBytes), int64(len(pdfBytes)), nil)
		if err != nil {
			return false, fmt.Errorf("%s: %w", p.Name, err)
		}
		docs = append(docs, loaded{pdfBytes, pr.Pages})
		pages += pr.Pages
		ps := corpus.ScorePDF(p.Truth, pr)
		tot.Add(ps)
		fp := corpus.PairFormulas(p.Truth, pr)
		pairs = append(pairs, fp...)
		if verbose {
			for _, f := range fp {
				if !f.Exact {
					notes = append(notes, fmt.Sprintf("%s formula (%s) %.2f:\n  got  %s\n  want %s", p.Name, f.Number, f.Similarity, f.Got, f.Want))
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%d\t%d/%d\t%d\t%.3f\t%.3f\t%d/%d\t%d/%d\t%d\t\n", p.Name, pr.Pages,
			ls.Found, ls.Total, ls.Exact, ps.Precision(), ps.Recall(), ps.TP, len(p.Truth.Numbered),
			ps.Displays, ps.Truth, ps.Uncertain)
		if verbose {
			for _, m := range ls.Mismatches {
				notes = append(notes, fmt.Sprintf("%s latex: %s", p.Name, m))
			}
			for _, m := range ps.Misses {
				notes = append(notes, fmt.Sprintf("%s pdf miss (page|number): %s", p.Name, m))
			}
			for _, m := range ps.Spurious {
				notes = append(notes, fmt.Sprintf("%s pdf spurious (page|number): %s", p.Name, m))
			}
		}
	}
	// Timing: the PDF path only, whole corpus per round, best round.
	best := time.Duration(1<<63 - 1)
	for r := 0; r < max(1, rounds); r++ {
		start := time.Now()
		for _, d := range docs {
			if _, err := eqextract.FromPDF(bytes.NewReader(d.pdf), int64(len(d.pdf)), nil); err != nil {
				return false, err
			}
		}
		best = min(best, time.Since(start))
	}
	pps := float64(pages) / best.Seconds()
	ratio := float64(tot.Displays) / float64(max(1, tot.Truth))
	fmt.Fprintf(tw, "TOTAL\t%d\t%d/%d\t%d\t%.3f\t%.3f\t%d/%d\t%d/%d\t%d\t\n", pages, lf, lt, le,
		tot.Precision(), tot.Recall(), tot.TP, tot.TP+tot.FN, tot.Displays, tot.Truth, tot.Uncertain)
	tw.Flush()
	sort.Strings(notes)
	for _, n := range notes {
		fmt.Fprintln(w, n)
	}
	// Formulas: similarity and exact share over the truth's displays; the parse check over
	// the reconstructed formulas.
	fs := corpus.SummarizeFormulas(pairs)
	meanSim, exactShare, exact, found, formulas := fs.Mean, fs.ExactShare, fs.Exact, len(fs.Got), fs.Got
	simOK := meanSim >= targetSimilarity
	exactOK := exactShare >= targetExact
	parseOK := false
	parseNote := ""
	if errs, err := corpus.ParseCheck(context.Background(), katexDir, formulas); err != nil {
		parseNote = err.Error()
	} else {
		bad := 0
		for i, e := range errs {
			if e != "" {
				bad++
				if verbose {
					fmt.Fprintf(w, "does not parse: %s\n  %s\n", e, formulas[i])
				}
			}
		}
		share := 1 - float64(bad)/float64(max(1, len(formulas)))
		parseOK = bad == 0
		parseNote = fmt.Sprintf("%d/%d formulas parse with KaTeX (%.1f%%)", len(formulas)-bad, len(formulas), 100*share)
	}
	latexOK := lf == lt && le == lt
	prOK := tot.Precision() >= targetPR && tot.Recall() >= targetPR
	countOK := ratio >= 1-targetCountRatio && ratio <= 1+targetCountRatio
	speedOK := pps >= targetPagesPerS
	fmt.Fprintf(w, "\nLaTeX path: %d/%d displays found, %d exact (%.1f%%)  [target 100%%: %s]\n", lf, lt, le,
		100*float64(le)/float64(max(1, lt)), verdict(latexOK))
	fmt.Fprintf(w, "PDF path: precision %.3f, recall %.3f on numbered equations (%d tp, %d fp, %d fn)  [target >= %.2f: %s]\n",
		tot.Precision(), tot.Recall(), tot.TP, tot.FP, tot.FN, targetPR, verdict(prOK))
	fmt.Fprintf(w, "PDF path: %d displays found for %d in the truth, ratio %.3f  [target within 5%%: %s]\n",
		tot.Displays, tot.Truth, ratio, verdict(countOK))
	fmt.Fprintf(w, "PDF path: %d uncertain pages\n", tot.Uncertain)
	fmt.Fprintf(w, "PDF path: %d pages in %v (best of %d rounds), %.1f pages/s  [target >= %d: %s]\n",
		pages, best.Round(time.Microsecond), max(1, rounds), pps, targetPagesPerS, verdict(speedOK))
	fmt.Fprintf(w, "PDF path formulas: mean similarity %.3f over %d displays (%d paired)  [target >= %.2f: %s]\n",
		meanSim, len(pairs), found, targetSimilarity, verdict(simOK))
	fmt.Fprintf(w, "PDF path formulas: %d exact after normalisation (%.1f%%)  [target >= %.0f%%: %s]\n",
		exact, 100*exactShare, 100*targetExact, verdict(exactOK))
	fmt.Fprintf(w, "PDF path formulas: %s  [target 100%%: %s]\n", parseNote, verdict(parseOK))
	return latexOK && prOK && countOK && speedOK && simOK && exactOK && parseOK, nil
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "MISSED"
}
