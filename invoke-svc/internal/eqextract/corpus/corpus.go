// Package corpus loads the equation-extraction corpus (testdata/corpus: LaTeX papers, their
// PDFs and ground truth), writes its ground truth, and scores extraction results against it.
package corpus

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/eqextract"
)

// Truth is the ground truth of one paper (NN-name.truth.json).
type Truth struct {
	Paper string `json:"paper"`
	Pages int    `json:"pages"`
	// Displays counts all display equations: one per numbered line of a multi-line
	// environment (with its unnumbered continuation lines) and one per unnumbered display.
	Displays int `json:"displays"`
	// Numbered are the equation numbers TeX printed, in order, with their page and the
	// position of the end of the number (PDF points from the lower left corner).
	Numbered []Numbered `json:"numbered"`
	// Equations are all displays with their exact LaTeX bodies.
	Equations []eqextract.Equation `json:"equations"`
}

// Numbered is one printed equation number.
type Numbered struct {
	Number string  `json:"number"`
	Label  string  `json:"label,omitempty"`
	Page   int     `json:"page"`
	X      float64 `json:"x"`
	Y      float64 `json:"y"`
}

// Paper is one corpus entry.
type Paper struct {
	Name  string // NN-name
	TeX   string // path of the .tex
	PDF   string // path of the .pdf
	Truth Truth
}

// Load reads every NN-name.truth.json of dir with its .tex and .pdf paths.
func Load(dir string) ([]Paper, error) {
	files, err := filepath.Glob(filepath.Join(dir, "[0-9][0-9]-*.truth.json"))
	if err != nil {
		return nil, err
	}
	sort.Strings(files)
	var out []Paper
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		var t Truth
		if err := json.Unmarshal(b, &t); err != nil {
			return nil, fmt.Errorf("%s: %w", f, err)
		}
		name := strings.TrimSuffix(filepath.Base(f), ".truth.json")
		out = append(out, Paper{
			Name:  name,
			TeX:   filepath.Join(dir, name+".tex"),
			PDF:   filepath.Join(dir, name+".pdf"),
			Truth: t,
		})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no *.truth.json in %s", dir)
	}
	return out, nil
}

// LaTeXScore compares a LaTeX-path result with the truth.
type LaTeXScore struct {
	Total, Found, Exact int
	Mismatches          []string
}

// ScoreLaTeX matches equations in order: same count, number, label, environment and body.
func ScoreLaTeX(t Truth, r eqextract.Result) LaTeXScore {
	s := LaTeXScore{Total: len(t.Equations), Found: min(len(r.Equations), len(t.Equations))}
	if len(r.Equations) != len(t.Equations) {
		s.Mismatches = append(s.Mismatches, fmt.Sprintf("found %d displays, truth has %d", len(r.Equations), len(t.Equations)))
	}
	for i := 0; i < s.Found; i++ {
		a, b := r.Equations[i], t.Equations[i]
		if a.LaTeX == b.LaTeX && a.Number == b.Number && a.Label == b.Label && a.Env == b.Env {
			s.Exact++
		} else {
			s.Mismatches = append(s.Mismatches, fmt.Sprintf("#%d: got (%s) %q, want (%s) %q", i+1, a.Number, a.LaTeX, b.Number, b.LaTeX))
		}
	}
	return s
}

// PDFScore compares a PDF-path result with the truth.
type PDFScore struct {
	TP, FP, FN       int // numbered equations matched by (page, number)
	Displays, Truth  int // displays found, displays in the truth
	Uncertain        int
	Misses, Spurious []string
}

// Precision of numbered equations (1 when nothing was reported).
func (s PDFScore) Precision() float64 {
	if s.TP+s.FP == 0 {
		return 1
	}
	return float64(s.TP) / float64(s.TP+s.FP)
}

// Recall of numbered equations (1 when the truth has none).
func (s PDFScore) Recall() float64 {
	if s.TP+s.FN == 0 {
		return 1
	}
	return float64(s.TP) / float64(s.TP+s.FN)
}

// Add accumulates o into s.
func (s *PDFScore) Add(o PDFScore) {
	s.TP += o.TP
	s.FP += o.FP
	s.FN += o.FN
	s.Displays += o.Displays
	s.Truth += o.Truth
	s.Uncertain += o.Uncertain
}

// ScorePDF matches the numbered equations of r with the truth by (page, number).
func ScorePDF(t Truth, r eqextract.Result) PDFScore {
	s := PDFScore{Displays: len(r.Equations), Truth: t.Displays, Uncertain: len(r.UncertainPages)}
	want := map[string]int{}
	for _, n := range t.Numbered {
		want[fmt.Sprintf("%d|%s", n.Page, eqextract.NormalizeNumber(n.Number))]++
	}
	for _, e := range r.Equations {
		if e.Number == "" {
			continue
		}
		k := fmt.Sprintf("%d|%s", e.Page, eqextract.NormalizeNumber(e.Number))
		if want[k] > 0 {
			want[k]--
			s.TP++
		} else {
			s.FP++
			s.Spurious = append(s.Spurious, k)
		}
	}
	for k, n := range want {
		for ; n > 0; n-- {
			s.FN++
			s.Misses = append(s.Misses, k)
		}
	}
	sort.Strings(s.Misses)
	sort.Strings(s.Spurious)
	return s
}

// cleanTag turns the printed tag that eqtruth-hook.tex wrote into the number form.
func cleanTag(s string) string {
	for _, cs := range []string{`\ignorespaces`, `\unskip`, `\@@italiccorr`, `\/`, `\relax`} {
		s = strings.ReplaceAll(s, cs, "")
	}
	return eqextract.NormalizeNumber(s)
}

// ReadEqt parses a NN-name.eqt file written by eqtruth-hook.tex.
func ReadEqt(path string) ([]Numbered, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []Numbered
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		parts := strings.SplitN(sc.Text(), "|", 4)
		if len(parts) != 4 {
			continue
		}
		page, e1 := strconv.Atoi(parts[0])
		x, e2 := strconv.ParseFloat(parts[1], 64)
		y, e3 := strconv.ParseFloat(parts[2], 64)
		if e1 != nil || e2 != nil || e3 != nil {
			return nil, fmt.Errorf("%s: bad line %q", path, sc.Text())
		}
		const spPerPt = 65536 * 72.27 / 72 // sp per PDF point
		out = append(out, Numbered{Number: cleanTag(parts[3]), Page: page,
			X: float64(int(x/spPerPt*100)) / 100, Y: float64(int(y/spPerPt*100)) / 100})
	}
	return out, sc.Err()
}

// BuildTruth makes the truth of one paper from its source, the numbers TeX printed (from
// the .eqt file) and its page count; it fails when the LaTeX path numbers the equations
// differently from TeX.
func BuildTruth(name string, tex []byte, printed []Numbered, pages int) (Truth, error) {
	res, err := eqextract.FromLaTeX(tex)
	if err != nil {
		return Truth{}, err
	}
	t := Truth{Paper: name, Pages: pages, Displays: len(res.Equations), Equations: res.Equations}
	var nums []eqextract.Equation
	for _, e := range res.Equations {
		if e.Number != "" {
			nums = append(nums, e)
		}
	}
	if len(nums) != len(printed) {
		return Truth{}, fmt.Errorf("%s: LaTeX path has %d numbered equations, TeX printed %d numbers", name, len(nums), len(printed))
	}
	var diffs bytes.Buffer
	for i, e := range nums {
		p := printed[i]
		if eqextract.NormalizeNumber(e.Number) != p.Number {
			fmt.Fprintf(&diffs, "  #%d: LaTeX path %q, TeX printed %q\n", i+1, e.Number, p.Number)
		}
		p.Label = e.Label
		p.Number = e.Number
		t.Numbered = append(t.Numbered, p)
	}
	if diffs.Len() > 0 {
		return Truth{}, fmt.Errorf("%s: numbering differs from TeX:\n%s", name, diffs.String())
	}
	return t, nil
}
