package eqextract

import (
	"errors"
	"strings"
	"testing"
	"time"
)

type wantEq struct {
	number, label, latex, env string
	line                      int
}

func doc(body string) string {
	return "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n" + body + "\n\\end{document}\n"
}

func checkEqs(t *testing.T, src string, want []wantEq) Result {
	t.Helper()
	res, err := FromLaTeX([]byte(src))
	if err != nil {
		t.Fatalf("FromLaTeX: %v", err)
	}
	if len(res.Equations) != len(want) {
		for _, e := range res.Equations {
			t.Logf("got (%s) %s %q label=%q line=%d", e.Number, e.Env, e.LaTeX, e.Label, e.Line)
		}
		t.Fatalf("got %d equations, want %d", len(res.Equations), len(want))
	}
	for i, w := range want {
		e := res.Equations[i]
		if e.Number != w.number || e.LaTeX != w.latex || e.Label != w.label || (w.env != "" && e.Env != w.env) || (w.line != 0 && e.Line != w.line) {
			t.Errorf("#%d: got number %q label %q env %q line %d latex %q\nwant number %q label %q env %q line %d latex %q",
				i, e.Number, e.Label, e.Env, e.Line, e.LaTeX, w.number, w.label, w.env, w.line, w.latex)
		}
	}
	return res
}

func TestEnvironments(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		body string
		want []wantEq
	}{
		{"equation", `\begin{equation} a = b \label{e1} \end{equation}`,
			[]wantEq{{"1", "e1", "a = b", "equation", 0}}},
		{"equation*", `\begin{equation*} a = b \end{equation*}`,
			[]wantEq{{"", "", "a = b", "equation*", 0}}},
		{"brackets", `text \[ x^2 \] more`, []wantEq{{"", "", "x^2", "displaymath", 0}}},
		{"dollars", "text $$ \\int_0^1 f $$ more", []wantEq{{"", "", `\int_0^1 f`, "$$", 0}}},
		{"displaymath", `\begin{displaymath}y\end{displaymath}`, []wantEq{{"", "", "y", "displaymath", 0}}},
		{"align", "\\begin{align}\n a &= b \\label{x} \\\\\n c &= d\n\\end{align}",
			[]wantEq{{"1", "x", "a &= b", "align", 4}, {"2", "", "c &= d", "align", 6}}},
		{"align nonumber continuation", "\\begin{align}\n a &= b \\nonumber \\\\\n &= c \\notag\\\\\n &= d \\label{y}\n\\end{align}",
			[]wantEq{{"1", "y", `a &= b \\ &= c \\ &= d`, "align", 4}}},
		{"align trailing unnumbered", "\\begin{align}\n a &= b \\\\\n &= c \\nonumber\n\\end{align}",
			[]wantEq{{"1", "", `a &= b \\ &= c`, "align", 0}}},
		{"align*", "\\begin{align*} a &= b \\\\ c &= d \\end{align*}",
			[]wantEq{{"", "", `a &= b \\ c &= d`, "align*", 0}}},
		{"gather", "\\begin{gather} a \\\\[2pt] b \\end{gather}",
			[]wantEq{{"1", "", "a", "gather", 0}, {"2", "", "b", "gather", 0}}},
		{"gather*", "\\begin{gather*} a \\\\ b \\end{gather*}",
			[]wantEq{{"", "", `a \\ b`, "gather*", 0}}},
		{"multline", "\\begin{multline} a + b \\\\ + c \\label{m} \\end{multline}",
			[]wantEq{{"1", "m", `a + b \\ + c`, "multline", 0}}},
		{"multline*", "\\begin{multline*} a \\\\ b \\end{multline*}",
			[]wantEq{{"", "", `a \\ b`, "multline*", 0}}},
		{"eqnarray", "\\begin{eqnarray} a &=& b \\\\ c &=& d \\nonumber \\\\ e &=& f \\end{eqnarray}",
			[]wantEq{{"1", "", "a &=& b", "eqnarray", 0}, {"2", "", `c &=& d \\ e &=& f`, "eqnarray", 0}}},
		{"eqnarray*", "\\begin{eqnarray*} a &=& b \\\\ c &=& d \\end{eqnarray*}",
			[]wantEq{{"", "", `a &=& b \\ c &=& d`, "eqnarray*", 0}}},
		{"flalign", "\\begin{flalign} && a &= b & \\end{flalign}",
			[]wantEq{{"1", "", "&& a &= b &", "flalign", 0}}},
		{"alignat", "\\begin{alignat}{2} a &= b &\\quad c &= d \\\\ e &= f & g &= h \\end{alignat}",
			[]wantEq{{"1", "", `a &= b &\quad c &= d`, "alignat", 0}, {"2", "", "e &= f & g &= h", "alignat", 0}}},
		{"alignat*", "\\begin{alignat*}{1} a &= b \\end{alignat*}",
			[]wantEq{{"", "", "a &= b", "alignat*", 0}}},
		{"nested environments are not split", "\\begin{equation} f = \\begin{cases} 1 & x \\\\ 0 & y \\end{cases} \\end{equation}",
			[]wantEq{{"1", "", `f = \begin{cases} 1 & x \\ 0 & y \end{cases}`, "equation", 0}}},
		{"matrix in align", "\\begin{align} A &= \\begin{pmatrix} 1 & 2 \\\\ 3 & 4 \\end{pmatrix} \\\\ B &= \\begin{bmatrix} a \\\\ b \\end{bmatrix} \\end{align}",
			[]wantEq{{"1", "", `A &= \begin{pmatrix} 1 & 2 \\ 3 & 4 \end{pmatrix}`, "align", 0}, {"2", "", `B &= \begin{bmatrix} a \\ b \end{bmatrix}`, "align", 0}}},
		{"braces protect \\\\", "\\begin{gather} \\text{a \\\\ b} \\\\ c \\end{gather}",
			[]wantEq{{"1", "", `\text{a \\ b}`, "gather", 0}, {"2", "", "c", "gather", 0}}},
		{"nested braces in label", `\begin{equation} x \label{a{b}c} \end{equation}`,
			[]wantEq{{"1", "a{b}c", "x", "equation", 0}}},
		{"split inside equation", "\\begin{equation}\\begin{split} a &= b \\\\ &= c \\end{split}\\label{s}\\end{equation}",
			[]wantEq{{"1", "s", `\begin{split} a &= b \\ &= c \end{split}`, "equation", 0}}},
		{"inline math is not display", `$a$$b$ and \(c\) and $x$`, nil},
		{"whitespace normalised", "\\begin{equation}\n  a   +\n\tb\n\\end{equation}", []wantEq{{"1", "", "a + b", "equation", 0}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			checkEqs(t, doc(tt.body), tt.want)
		})
	}
}

func TestNumbering(t *testing.T) {
	t.Parallel()
	src := doc(`
\begin{equation} a \end{equation}
\begin{equation} b \tag{A} \end{equation}
\begin{equation*} b2 \tag{$\ast$} \end{equation*}
\begin{equation} c \nonumber \end{equation}
\begin{equation} d \notag \end{equation}
\begin{equation} e \end{equation}
\begin{align} x &= 1 \tag*{T} \\ y &= 2 \nonumber \\ z &= 3 \\ w &= 4 \tag{2$'$} \end{align}
\[ u \tag{B} \]
`)
	checkEqs(t, src, []wantEq{
		{"1", "", "a", "", 0}, {"A", "", "b", "", 0}, {"*", "", "b2", "", 0},
		{"", "", "c", "", 0}, {"", "", "d", "", 0}, {"2", "", "e", "", 0},
		{"T", "", "x &= 1", "", 0}, {"3", "", `y &= 2 \\ z &= 3`, "", 0}, {"2'", "", "w &= 4", "", 0},
		{"B", "", "u", "displaymath", 0},
	})
}

func TestNumberWithinAppendixSubequations(t *testing.T) {
	t.Parallel()
	src := "\\documentclass{article}\n\\usepackage{amsmath}\n\\numberwithin{equation}{section}\n\\begin{document}\n" + `
\section{One}
\begin{equation} a \end{equation}
\begin{equation} b \end{equation}
\section*{Unnumbered}
\begin{equation} c \end{equation}
\section{Two}
\begin{equation} d \end{equation}
\begin{subequations}\label{sys}
\begin{align} e &= 1 \label{e1} \\ f &= 2 \end{align}
\begin{equation} g \end{equation}
\end{subequations}
\begin{equation} h \end{equation}
\appendix
\begin{equation} i \end{equation}
\section{Proofs}
\begin{equation} j \end{equation}
\subsection{Detail}
\begin{equation} k \end{equation}
\section{More}
\begin{equation} l \end{equation}
\end{document}`
	checkEqs(t, src, []wantEq{
		{"1.1", "", "a", "", 0}, {"1.2", "", "b", "", 0}, {"1.3", "", "c", "", 0},
		{"2.1", "", "d", "", 0}, {"2.2a", "e1", "e &= 1", "", 0}, {"2.2b", "", "f &= 2", "", 0},
		{"2.2c", "", "g", "", 0}, {"2.3", "", "h", "", 0},
		{".4", "", "i", "", 0}, // \appendix alone resets the section counter: \Alph{0} prints nothing
		{"A.1", "", "j", "", 0}, {"A.2", "", "k", "", 0}, {"B.1", "", "l", "", 0},
	})
}

func TestSubequationsPlain(t *testing.T) {
	t.Parallel()
	src := doc(`\begin{equation}a\end{equation}
\begin{subequations}\begin{gather} b \\ c \end{gather}\end{subequations}
\begin{equation}d\end{equation}`)
	checkEqs(t, src, []wantEq{{"1", "", "a", "", 0}, {"2a", "", "b", "", 0}, {"2b", "", "c", "", 0}, {"3", "", "d", "", 0}})
}

func TestCountersAndClasses(t *testing.T) {
	t.Parallel()
	src := "\\documentclass{report}\n\\begin{document}\n\\begin{equation}a\\end{equation}\n\\chapter{X}\n\\begin{equation}b\\end{equation}\n\\setcounter{equation}{6}\n\\begin{equation}c\\end{equation}\n\\end{document}"
	checkEqs(t, src, []wantEq{{"1", "", "a", "", 0}, {"1.1", "", "b", "", 0}, {"1.7", "", "c", "", 0}})
}

func TestCommentsAndVerbatim(t *testing.T) {
	t.Parallel()
	src := doc(`% \begin{equation} commented \end{equation}
50\% of $x$ % a comment with $$ in it
\begin{equation}
  a + b % trailing comment \\ \label{no}
  + c \label{yes}
\end{equation}
\begin{verbatim}
\begin{equation} verbatim \end{equation}
\end{verbatim}
\begin{comment}
\[ hidden \]
\end{comment}
\verb|$$| and \verb+\[+
\begin{equation} d \end{equation}`)
	checkEqs(t, src, []wantEq{{"1", "yes", "a + b + c", "", 0}, {"2", "", "d", "", 0}})
}

func TestPreambleAndFragments(t *testing.T) {
	t.Parallel()
	// Displays in the preamble (macro bodies) are not equations.
	src := "\\documentclass{article}\n\\newcommand{\\be}{\\begin{equation}}\n\\begin{document}\n\\[ x \\]\n\\end{document}\n"
	checkEqs(t, src, []wantEq{{"", "", "x", "", 4}})
	// A fragment without \begin{document} is scanned whole.
	checkEqs(t, "\\begin{equation} y \\end{equation}", []wantEq{{"1", "", "y", "", 1}})
}

func TestLineNumbers(t *testing.T) {
	t.Parallel()
	src := "\\documentclass{article}\n\\begin{document}\n% c1\n% c2\ntext %\nmore\n\\begin{align}\na \\\\\nb\n\\end{align}\n\\end{document}\n"
	checkEqs(t, src, []wantEq{{"1", "", "a", "", 7}, {"2", "", "b", "", 9}})
}

func TestHostileLaTeX(t *testing.T) {
	t.Parallel()
	t.Run("unclosed environment", func(t *testing.T) {
		t.Parallel()
		res := checkEqs(t, doc("\\begin{align} x \\\\ y\n\n\\begin{equation} z \\end{equation}"), []wantEq{{"1", "", "z", "", 0}})
		if len(res.Warnings) == 0 || !strings.Contains(res.Warnings[0], "never closed") {
			t.Errorf("warnings = %q", res.Warnings)
		}
	})
	t.Run("stray ends and openers", func(t *testing.T) {
		t.Parallel()
		checkEqs(t, doc("\\end{equation} \\] $$ a \n\n b \\[ c \n\n \\begin{gather*} d \\end{gather*} \\end{subequations}"), []wantEq{{"", "", "d", "", 0}})
	})
	t.Run("unclosed verbatim", func(t *testing.T) {
		t.Parallel()
		checkEqs(t, doc("\\[a\\]\\begin{verbatim} \\[b\\]"), []wantEq{{"", "", "a", "", 0}})
	})
	t.Run("unbalanced braces", func(t *testing.T) {
		t.Parallel()
		checkEqs(t, doc("\\begin{equation} {{{ a \\label{x \\end{equation} \\[ }}} \\]"), []wantEq{{"1", "", "{{{ a \\label{x", "", 0}, {"", "", "}}}", "", 0}})
	})
	t.Run("many unclosed openers stay linear", func(t *testing.T) {
		t.Parallel()
		src := []byte(strings.Repeat(`\begin{equation} $$ \[ x `, 200000))
		start := time.Now()
		// The displays the openers make exceed the equation budget, which ends the scan.
		if _, err := FromLaTeX(src); err != nil && !errors.Is(err, ErrTooLarge) {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 10*time.Second {
			t.Errorf("took %v", d)
		}
	})
	t.Run("huge input", func(t *testing.T) {
		t.Parallel()
		_, err := FromLaTeX(make([]byte, MaxLaTeXBytes+1))
		if !errors.Is(err, ErrTooLarge) {
			t.Errorf("err = %v, want ErrTooLarge", err)
		}
	})
	t.Run("binary garbage", func(t *testing.T) {
		t.Parallel()
		b := make([]byte, 1<<16)
		for i := range b {
			b[i] = byte(i * 7919 >> 3)
		}
		if _, err := FromLaTeX(b); err != nil {
			t.Fatal(err)
		}
	})
}

func TestNormalizeNumber(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"(3)": "3", " 2.2a ": "2.2a", "($\\ast$)": "*", "(2′ )": "2'", "2$'$": "2'", "(∗)": "*", "[C]": "[C]", "((A.1))": "A.1",
	} {
		if got := NormalizeNumber(in); got != want {
			t.Errorf("NormalizeNumber(%q) = %q, want %q", in, got, want)
		}
	}
}
