package eqextract

import (
	"slices"
	"testing"
)

func TestReconstruct(t *testing.T) {
	t.Parallel()
	g := func(x, y, w, size float64, font, s string) glyph {
		return glyph{x: x, y: y, w: w, size: size, font: font, s: s}
	}
	ext := func(x, y, w float64, code int) glyph {
		return glyph{x: x, y: y, w: w, size: 10, font: "CMEX10", code: code}
	}
	tests := []struct {
		name  string
		gs    []glyph
		rules []rule
		want  string
	}{
		{"scripts", []glyph{
			g(100, 100, 5, 10, "CMMI10", "x"), g(105.5, 98.5, 3, 7, "CMMI7", "i"), g(105.5, 104, 3.5, 7, "CMR7", "2"),
			g(112, 100, 7.7, 10, "CMR10", "="), g(122, 100, 5, 10, "CMMI10", "α"),
		}, nil, `x_{i}^{2} = \alpha`},
		{"fraction", []glyph{
			g(100, 107, 5, 10, "CMR10", "1"), g(100, 93, 5, 10, "CMMI10", "n"),
		}, []rule{{x0: 99, x1: 106, y: 102.5, thick: 0.4}}, `\frac{1}{n}`},
		{"nested fraction", []glyph{
			g(102, 118, 5, 10, "CMMI10", "a"), g(102, 106, 5, 10, "CMMI10", "b"), g(102, 88, 5, 10, "CMMI10", "c"),
		}, []rule{{x0: 101, x1: 108, y: 114, thick: 0.4}, {x0: 99, x1: 111, y: 100, thick: 0.4}}, `\frac{\frac{a}{b}}{c}`},
		{"sum with limits", []glyph{
			ext(100, 107, 14, 0x58), g(102, 110, 5, 7, "CMMI7", "n"),
			g(101, 89, 3, 7, "CMMI7", "i"), g(104, 89, 6, 7, "CMR7", "="), g(110, 89, 4, 7, "CMR7", "1"),
			g(117, 100, 5, 10, "CMMI10", "a"), g(122, 98.5, 3, 7, "CMMI7", "i"),
		}, nil, `\sum_{i = 1}^{n}a_{i}`},
		{"radical", []glyph{
			ext(100, 108, 8, 0x70), g(109, 100, 5, 10, "CMMI10", "x"),
		}, []rule{{x0: 108, x1: 115, y: 108.2, thick: 0.4}}, `\sqrt{x}`},
		{"operator name and text", []glyph{
			g(100, 100, 5, 10, "CMR10", "s"), g(104, 100, 3, 10, "CMR10", "i"), g(107, 100, 5, 10, "CMR10", "n"),
			g(113, 100, 5, 10, "CMMI10", "x"), g(130, 100, 3, 10, "CMR10", "i"), g(133, 100, 5, 10, "CMR10", "n"),
			g(142, 100, 5, 10, "CMSY10", "Ω"),
		}, nil, `\sin x \quad \text{in }\Omega`},
		{"text first", []glyph{
			g(100, 100, 5, 10, "CMR10", "i"), g(103, 100, 5, 10, "CMR10", "f"), g(112, 100, 5, 10, "CMMI10", "x"),
		}, nil, `\text{if }x`},
		{"long arrow and cdots", []glyph{
			g(100, 100, 5, 10, "CMMI10", "a"), g(110, 100, 7.7, 10, "CMR10", "="), g(116, 100, 9.9, 10, "CMSY10", "⇒"),
			g(130, 100, 5, 10, "CMMI10", "b"), g(136, 100, 2.8, 10, "CMSY10", "·"), g(140.4, 100, 2.8, 10, "CMSY10", "·"),
			g(144.8, 100, 2.8, 10, "CMSY10", "·"),
		}, nil, `a \Longrightarrow b\cdots`},
		{"blackboard and calligraphic", []glyph{
			g(100, 100, 6, 10, "CMSY10", "L"), g(108, 100, 7, 10, "CMSY10", "∈"), g(117, 100, 7, 10, "MSBM10", "R"),
		}, nil, `\mathcal{L} \in \mathbb{R}`},
	}
	for _, tc := range tests {
		f := reconstruct(tc.gs, tc.rules)
		if got := f.latex(); got != tc.want {
			t.Errorf("%s: got %s, want %s (notes %v)", tc.name, got, tc.want, f.notes)
		}
		if f.conf < 0.99 {
			t.Errorf("%s: confidence %.2f, notes %v", tc.name, f.conf, f.notes)
		}
	}
}

// A glyph that cannot be mapped is named in the notes and lowers the confidence.
func TestReconstructUnknownGlyph(t *testing.T) {
	t.Parallel()
	f := reconstruct([]glyph{
		{x: 100, y: 100, w: 5, size: 10, font: "CMMI10", s: "x"},
		{x: 106, y: 100, w: 5, size: 10, font: "CMEX10", code: 0x7b},
	}, nil)
	if f.latex() != "x" || f.conf >= 0.9 || len(f.notes) == 0 {
		t.Errorf("got %q, confidence %.2f, notes %v", f.latex(), f.conf, f.notes)
	}
}

// A formula over the node budget is not reconstructed, and says so.
func TestReconstructBudget(t *testing.T) {
	t.Parallel()
	gs := make([]glyph, maxFormulaNodes+1)
	for i := range gs {
		gs[i] = glyph{x: float64(i), y: 100, w: 1, size: 10, font: "CMR10", s: "1"}
	}
	f := reconstruct(gs, nil)
	if f.latex() != "" || len(f.notes) != 1 || f.conf != 0 {
		t.Errorf("got %q, notes %v, confidence %.2f", f.latex(), f.notes, f.conf)
	}
}

// FuzzReconstruct reads glyphs and rules made from the fuzzer's bytes: any placement of
// any font's glyphs (also nested, overlapping, degenerate) ends without a panic.
func FuzzReconstruct(f *testing.F) {
	f.Add([]byte{10, 20, 5, 10, 0, 'x', 16, 24, 3, 7, 1, '2', 40, 30, 5, 10, 2, 0x58, 0, 0, 30, 9, 0, 0})
	f.Add([]byte{0, 0, 0, 0, 3, 0x70, 1, 1, 1, 1, 3, 0x30, 1, 1, 1, 1, 3, 0x40, 0, 0, 1, 1, 4, 'R'})
	fonts := []string{"CMMI10", "CMR7", "CMEX10", "CMSY10", "MSBM10", "Times-Italic"}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 6*600 {
			return
		}
		var gs []glyph
		var rules []rule
		for i := 0; i+6 <= len(data); i += 6 {
			d := data[i : i+6]
			x, y, w, size := float64(d[0]), float64(d[1]), float64(d[2]%20), float64(d[3]%30)
			font := fonts[int(d[4])%len(fonts)]
			if d[4] >= 200 {
				rules = append(rules, rule{x0: x, x1: x + w*3, y: y, thick: 0.4})
				continue
			}
			g := glyph{x: x, y: y, w: w, size: size, font: font, code: int(d[5])}
			if font != "CMEX10" {
				g.s = string(rune(d[5]))
			}
			gs = append(gs, g)
		}
		fm := reconstruct(gs, rules)
		_ = fm.latex()
		if fm.conf < 0 || fm.conf > 1 {
			t.Fatalf("confidence %v", fm.conf)
		}
	})
}

// Rows that share relation columns get their &: before each shared relation, at the
// widest gap before the second pair of columns, and around eqnarray's relation column.
func TestAlignColumns(t *testing.T) {
	t.Parallel()
	it := func(x0, x1 float64, tex string, cls mclass) item {
		return item{x0: x0, x1: x1, size: 10, tex: tex, cls: cls}
	}
	join := func(rows [][]item) []string {
		amps := alignColumns(rows)
		var out []string
		for k, row := range rows {
			out = append(out, alignRow(row, amps[k]))
		}
		return out
	}
	align := [][]item{
		{it(100, 105, "x", mOrd), it(108, 115, "=", mRel), it(118, 123, "a", mOrd), it(150, 155, "u", mOrd), it(158, 165, `\le`, mRel), it(168, 173, "1", mOrd)},
		{it(102, 105, "y", mOrd), it(108, 115, "=", mRel), it(118, 130, "b", mOrd), it(152, 155, "v", mOrd), it(158, 165, `\le`, mRel), it(168, 173, "2", mOrd)},
	}
	if got, want := join(align), []string{`x &= a &u &\le 1`, `y &= b &v &\le 2`}; !slices.Equal(got, want) {
		t.Errorf("align: %q, want %q", got, want)
	}
	eqn := [][]item{
		{it(100, 105, "x", mOrd), it(110, 117, "=", mRel), it(122, 127, "a", mOrd)},
		{it(100, 105, "y", mOrd), it(110, 117, "=", mRel), it(122, 127, "b", mOrd)},
	}
	if got, want := join(eqn), []string{`x & = & a`, `y & = & b`}; !slices.Equal(got, want) {
		t.Errorf("eqnarray: %q, want %q", got, want)
	}
	gather := [][]item{
		{it(100, 105, "x", mOrd), it(108, 115, "=", mRel), it(118, 123, "a", mOrd)},
		{it(90, 95, "y", mOrd), it(98, 105, "=", mRel), it(108, 113, "b", mOrd)},
	}
	if got, want := join(gather), []string{`x = a`, `y = b`}; !slices.Equal(got, want) {
		t.Errorf("gather: %q, want %q", got, want)
	}
}
