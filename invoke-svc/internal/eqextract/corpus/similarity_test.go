package corpus

import (
	"math"
	"testing"
)

func TestSimilarity(t *testing.T) {
	t.Parallel()
	tests := []struct {
		got, want string
		exact     bool
	}{
		{`x^2_i`, `x_{i}^{2}`, true},
		{`\frac12 + \tfrac{1}{4}`, `\frac{1}{2}+\frac{1}{4}`, true},
		{`\left( a \right) \quad \le b`, `(a)\leq b`, true},
		{`f''(x)`, `f^{\prime\prime}(x)`, true},
		{`\text{ for all } x \label{eq:1}`, `\mathrm{for all}x`, true},
		{`\|u\|_{L^2}`, `\Vert u\Vert_{L^{2}}`, true},
		{`\sqrt[3]{x}`, `\sqrt{x}`, false},
		{`a \\[2pt] b`, `a \\ b`, true},
		{`x+y`, `x-y`, false},
	}
	for _, tc := range tests {
		sim, exact := Similarity(tc.got, tc.want)
		if exact != tc.exact || exact && sim != 1 || !exact && (sim >= 1 || sim <= 0) {
			t.Errorf("Similarity(%q, %q) = %.3f, %v; want exact %v (%q vs %q)", tc.got, tc.want, sim, exact, tc.exact,
				NormalizeLaTeX(tc.got), NormalizeLaTeX(tc.want))
		}
	}
	if s, _ := Similarity("a+b+c+d", "a+b+c+e"); math.Abs(s-(1-1.0/7)) > 1e-9 {
		t.Errorf("one token of seven differs: %.4f", s)
	}
}

// FuzzNormalizeLaTeX: the normaliser ends on any input, without a panic.
func FuzzNormalizeLaTeX(f *testing.F) {
	f.Add(`\frac{a}{b}^{'}_\text{x} \sqrt[3]{\left(x\right)} \\[2pt] {{{`)
	f.Add(`}}}^^__''\begin{array}{cc} a & b \end{array}`)
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 4096 {
			return
		}
		NormalizeLaTeX(s)
		Similarity(s, "x")
	})
}
