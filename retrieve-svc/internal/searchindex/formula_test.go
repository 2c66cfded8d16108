package searchindex

import (
	"slices"
	"strings"
	"testing"
)

func TestFormulaTokensNormalise(t *testing.T) {
	t.Parallel()
	same := [][]string{
		{`\int_a^b f(x)\,dx`, `\int_{a}^{b} f ( x ) \; d x`, `\displaystyle\int\limits_a^b f(x)dx .`},
		{`\left( \frac{a}{b} \right)`, `\bigl(\dfrac ab\bigr)`, `(\tfrac{a}{b})`},
		{`x \le y`, `x\leq y`},
		{`\|u\|_{L^2}`, `\lVert u\rVert_{L^2}`, `\Vert u \Vert _ {L ^ 2}`},
		{`a = b \label{eq:x}`, `a=b\tag{3}`, `a = b,`},
		{`\mathrm{d}x`, `dx`, `\text{d}x`},
	}
	for _, group := range same {
		want := FormulaTokens(group[0])
		for _, s := range group[1:] {
			if got := FormulaTokens(s); !slices.Equal(got, want) {
				t.Errorf("FormulaTokens(%q) = %q, want %q (as for %q)", s, got, want, group[0])
			}
		}
	}
	if got := FormulaTokens(`12.5x + \alpha`); !slices.Equal(got, []string{"12.5", "x", "+", `\alpha`}) {
		t.Errorf("numbers and commands: %q", got)
	}
	if got := FormulaTokens(""); len(got) != 0 {
		t.Errorf("empty: %q", got)
	}
}

func TestFormulaTokensBounded(t *testing.T) {
	t.Parallel()
	if got := FormulaTokens(strings.Repeat("x+", 10000)); len(got) > maxFormulaTokens {
		t.Fatalf("%d tokens, cap %d", len(got), maxFormulaTokens)
	}
	// Unclosed groups and lone backslashes do not hang or panic.
	for _, s := range []string{`\`, `\label{`, `\label{{{`, "\\\xff", `\tag`} {
		FormulaTokens(s)
	}
}

func TestShapeGramsRenameVariables(t *testing.T) {
	t.Parallel()
	a, b := map[string]struct{}{}, map[string]struct{}{}
	shapeGrams(FormulaTokens(`\int_a^b f(x)\,dx`), a)
	shapeGrams(FormulaTokens(`\int_s^t g(y)\,dy`), b)
	if !slices.Equal(keys(a), keys(b)) {
		t.Fatalf("renamed variables give other grams:\n%q\n%q", keys(a), keys(b))
	}
	ex, sh := queryGrams(FormulaTokens(`\int_s^t g(y)\,dy`))
	if o := overlap(ex, sh, FormulaTokens(`\int_a^b f(x)\,dx`)); o < 0.26 || o > 0.31 {
		t.Fatalf("overlap of a renamed formula = %v, want about 0.27 (shape only)", o)
	}
	self := overlap(ex, sh, FormulaTokens(`\int_s^t g(y)\,dy`))
	contains := overlap(ex, sh, FormulaTokens(`\int_s^t g(y)\,dy + 1`))
	if contains < 0.9 || contains >= self {
		t.Fatalf("overlap of a containing formula = %v, want 0.9 or more, less than the formula itself's %v", contains, self)
	}
	if more := overlap(ex, sh, FormulaTokens(`\int_s^t g(y)\,dy + \sum_k a_k b_k`)); more >= contains {
		t.Fatalf("overlap of a formula with more besides the query = %v, want less than %v", more, contains)
	}
}

func FuzzFormulaTokens(f *testing.F) {
	for _, s := range []string{`\int_a^b f(x)\,dx`, `\label{x}`, `\frac{1}{2}`, "é\\", `{{}}`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		toks := FormulaTokens(s)
		if len(toks) > maxFormulaTokens {
			t.Fatalf("%d tokens", len(toks))
		}
		for _, tk := range toks {
			if tk == "" || strings.Contains(tk, gramSep) {
				t.Fatalf("bad token %q", tk)
			}
		}
	})
}
