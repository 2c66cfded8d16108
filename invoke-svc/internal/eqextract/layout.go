package eqextract

import (
	"context"
	"fmt"
	"math"
	"regexp"
	"slices"
	"sort"
	"strings"
	"unicode"
)

// The PDF path: the glyphs of a page are split into columns, each column into bands
// (groups of glyphs whose vertical extents overlap: a text line, or one row of a display
// with its fractions, scripts and big operators). Bands are classified as prose or
// display by where they start and end relative to the column's text edges, their share of
// math glyphs and the spacing between their words; an equation number is a parenthesised
// token at the column's right (or left) edge, separated from the formula by a wide gap.
// Consecutive display bands form one display; a display with several numbers is split so
// that each number owns the rows nearest to it.

// band is one horizontal strip of a column.
type band struct {
	rows        []*row
	gs          []glyph
	top, bottom float64 // y extent (top > bottom)
	left, right float64
	size        float64 // dominant glyph size
	number      string  // equation number found in the band ("" if none)
	numBox      [4]float64
	numLeft     bool // the number is on the left
	loneNumber  bool // the band holds nothing but the number
	kind        int
}

const (
	kindText = iota
	kindDisplay
	kindNumberOnly // a band that holds only an equation number (dropped below a wide display)
)

type column struct {
	hidden      []glyph // the page's glyphs without Unicode mapping, by y (formula reconstruction)
	rules       []rule  // the page's rules, by y
	x0, x1      float64
	left, right float64 // text edges found from the prose lines
	parindent   float64 // paragraph indentation relative to left
	bands       []*band
}

// findEquations finds the displays of one page. It fails when the page has more than
// MaxLayoutRows baselines, and when ctx is done.
func findEquations(ctx context.Context, p *pageText) ([]Equation, error) {
	if len(p.glyphs) == 0 {
		return nil, nil
	}
	if n := countRows(p.glyphs, MaxLayoutRows); n > MaxLayoutRows {
		return nil, fmt.Errorf("%w: layout budget of %d baselines a page exceeded", ErrTooComplex, MaxLayoutRows)
	}
	body := bodySize(p.glyphs)
	cols := splitColumns(p, body)
	// Number finding looks, for each row of a band, at every glyph of the band: rows ×
	// glyphs, summed over the bands, is the page's layout work.
	work := 0
	for _, c := range cols {
		for _, b := range c.bands {
			work += len(b.rows) * len(b.gs)
		}
	}
	if work > MaxLayoutWork {
		return nil, fmt.Errorf("%w: layout budget of %d row-glyph comparisons a page exceeded (%d)", ErrTooComplex, MaxLayoutWork, work)
	}
	// Hidden glyphs and rules sorted by height, so that each display and band looks only at
	// those level with it (a page may hold many of both).
	hidden := slices.Clone(p.hidden)
	sort.Slice(hidden, func(i, j int) bool { return hidden[i].y < hidden[j].y })
	rules := slices.Clone(p.rules)
	sort.Slice(rules, func(i, j int) bool { return rules[i].y < rules[j].y })
	var out []Equation
	for _, c := range cols {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c.hidden, c.rules = hidden, rules
		out = append(out, c.equations(p.num, body)...)
	}
	return out, nil
}

// countRows counts the baselines of gs the way makeRows groups them, stopping past limit.
func countRows(gs []glyph, limit int) int {
	ys := make([]float64, len(gs))
	for i, g := range gs {
		ys[i] = g.y
	}
	sort.Sort(sort.Reverse(sort.Float64Slice(ys)))
	n, top := 0, 0.0
	for i, y := range ys {
		if i == 0 || top-y > 0.3 { // as makeRows: more than 0.3 below the row's first baseline
			top = y
			if n++; n > limit {
				break
			}
		}
	}
	return n
}

// bodySize is the most common glyph size (by glyph count), the size of the running text.
func bodySize(gs []glyph) float64 {
	count := map[float64]int{}
	for _, g := range gs {
		count[math.Round(g.size*2)/2]++
	}
	best, bestN := 10.0, 0
	for s, n := range count {
		if n > bestN || n == bestN && s < best {
			best, bestN = s, n
		}
	}
	if best < 4 || best > 40 {
		return 10
	}
	return best
}

// splitColumns detects a two-column layout from an empty vertical strip near the middle of
// the page and assigns every glyph to a column by its centre.
func splitColumns(p *pageText, body float64) []*column {
	minX, maxX := math.Inf(1), math.Inf(-1)
	for _, g := range p.glyphs {
		minX = math.Min(minX, g.x)
		maxX = math.Max(maxX, g.x+g.w)
	}
	const bin = 2.0
	nb := int((maxX-minX)/bin) + 1
	if nb < 10 || nb > 20000 {
		return []*column{{x0: minX, x1: maxX, bands: makeBands(p.glyphs, body)}}
	}
	// Coverage by rows: glyphs on one baseline, with the gaps between words filled, so
	// that a gutter shows as bins crossed by few rows (a title spanning both columns).
	rows := map[int][]glyph{}
	for _, g := range p.glyphs {
		k := int(math.Round(g.y))
		rows[k] = append(rows[k], g)
	}
	lo, hi := int(float64(nb)*0.35), int(float64(nb)*0.65)
	marks := make([][]bool, 0, len(rows))
	crossing := make([]bool, 0, len(rows))
	for _, row := range rows {
		sort.Slice(row, func(i, j int) bool { return row[i].x < row[j].x })
		mark := make([]bool, nb)
		reach := math.Inf(-1)
		for _, g := range row {
			a := int((g.x - minX) / bin)
			if g.x-reach < 0.8*body && !math.IsInf(reach, -1) {
				a = int((reach - minX) / bin)
			}
			b := int((g.x + g.w - minX) / bin)
			for i := max(a, 0); i <= b && i < nb; i++ {
				mark[i] = true
			}
			reach = math.Max(reach, g.x+g.w)
		}
		full := true
		for i := lo; i < hi; i++ {
			full = full && mark[i]
		}
		marks = append(marks, mark)
		crossing = append(crossing, full)
	}
	// The gutter is the widest low-coverage run in the middle fifth of the text area.
	// When full-width rows (a title and an abstract above both columns) hide it, it is
	// looked for again among the other rows, provided the full-width rows are few (in a
	// one-column paper nearly every row crosses the middle).
	gutter := func(skipCrossing bool) (int, int) {
		cover := make([]int, nb)
		for k, mark := range marks {
			if skipCrossing && crossing[k] {
				continue
			}
			for i, m := range mark {
				if m {
					cover[i]++
				}
			}
		}
		peak := 0
		for _, c := range cover {
			peak = max(peak, c)
		}
		bestStart, bestLen := -1, 0
		for i := lo; i < hi; {
			if float64(cover[i]) > 0.1*float64(peak) {
				i++
				continue
			}
			j := i
			for j < nb && float64(cover[j]) <= 0.1*float64(peak) {
				j++
			}
			if j-i > bestLen {
				bestStart, bestLen = i, j-i
			}
			i = j
		}
		return bestStart, bestLen
	}
	bestStart, bestLen := gutter(false)
	if bestStart < 0 || float64(bestLen)*bin < 0.5*body {
		n := 0
		for _, c := range crossing {
			if c {
				n++
			}
		}
		if n > 0 && n*10 <= 3*len(crossing) {
			bestStart, bestLen = gutter(true)
			// and each side holds its own rows: a quarter of the other rows lie wholly
			// left of the gutter, a quarter wholly right of it
			left, right := 0, 0
			for k, mark := range marks {
				if crossing[k] || bestStart < 0 {
					continue
				}
				if first := slices.Index(mark, true); first >= bestStart+bestLen {
					right++
				}
				if l := lastTrue(mark); l >= 0 && l < bestStart {
					left++
				}
			}
			if other := len(marks) - n; left*4 < other || right*4 < other {
				bestStart = -1
			}
		}
	}
	if bestStart < 0 || float64(bestLen)*bin < 0.5*body {
		return []*column{{x0: minX, x1: maxX, bands: makeBands(p.glyphs, body)}}
	}
	split := minX + (float64(bestStart)+float64(bestLen)/2)*bin
	var a, b []glyph
	for _, g := range p.glyphs {
		if g.x+g.w/2 < split {
			a = append(a, g)
		} else {
			b = append(b, g)
		}
	}
	// Both sides must hold a real share of the text.
	if len(a) < len(p.glyphs)/8 || len(b) < len(p.glyphs)/8 {
		return []*column{{x0: minX, x1: maxX, bands: makeBands(p.glyphs, body)}}
	}
	return []*column{
		{x0: minX, x1: split, bands: makeBands(a, body)},
		{x0: split, x1: maxX, bands: makeBands(b, body)},
	}
}

// extent is the vertical extent given to a glyph: from a little below the baseline to a
// little under the cap height, so that consecutive text lines do not touch. Radicals and
// the glyphs of math extension fonts hang below their origin.
func extent(g glyph) (float64, float64) {
	if hangs(g) {
		return g.y - 0.9*g.size, g.y + 0.1*g.size
	}
	return g.y - 0.18*g.size, g.y + 0.62*g.size
}

func hangs(g glyph) bool {
	if strings.ContainsRune(g.s, '√') {
		return true
	}
	f := strings.ToUpper(g.font)
	for _, p := range []string{"CMEX", "MATHEXTENSION", "TXEX", "PXEX", "ESINT", "EUEX", "MTEX"} {
		if strings.Contains(f, p) {
			return true
		}
	}
	return false
}

// row is the glyphs of one baseline.
type row struct {
	gs          []glyph // sorted by x
	y           float64
	lo, hi      float64
	left, right float64
	parent      int
}

// makeRows groups glyphs by baseline.
func makeRows(gs []glyph) []*row {
	sorted := make([]glyph, len(gs))
	copy(sorted, gs)
	sort.Slice(sorted, func(i, j int) bool {
		if sorted[i].y != sorted[j].y {
			return sorted[i].y > sorted[j].y
		}
		return sorted[i].x < sorted[j].x
	})
	var rows []*row
	var cur *row
	for _, g := range sorted {
		if cur == nil || cur.y-g.y > 0.3 {
			cur = &row{y: g.y, lo: math.Inf(1), hi: math.Inf(-1), left: math.Inf(1), right: math.Inf(-1)}
			rows = append(rows, cur)
		}
		cur.gs = append(cur.gs, g)
		lo, hi := extent(g)
		cur.lo, cur.hi = math.Min(cur.lo, lo), math.Max(cur.hi, hi)
		cur.left, cur.right = math.Min(cur.left, g.x), math.Max(cur.right, g.x+g.w)
	}
	for _, r := range rows {
		sort.Slice(r.gs, func(i, j int) bool { return r.gs[i].x < r.gs[j].x })
	}
	return rows
}

// makeBands joins rows whose extents overlap vertically and whose x ranges overlap (or
// nearly touch): a text line with its scripts, a display row with its fractions.
func makeBands(gs []glyph, body float64) []*band {
	if len(gs) == 0 {
		return nil
	}
	rows := makeRows(gs)
	for i := range rows {
		rows[i].parent = i
	}
	var find func(i int) int
	find = func(i int) int {
		for rows[i].parent != i {
			rows[i].parent = rows[rows[i].parent].parent
			i = rows[i].parent
		}
		return i
	}
	slack := 0.8 * body
	for i, a := range rows {
		for j := i + 1; j < len(rows) && a.y-rows[j].y < 4*body; j++ {
			b := rows[j]
			if a.lo < b.hi && b.lo < a.hi && a.left < b.right+slack && b.left < a.right+slack {
				ri, rj := find(i), find(j)
				if ri != rj {
					rows[max(ri, rj)].parent = min(ri, rj)
				}
			}
		}
	}
	groups := map[int]*band{}
	var bands []*band
	for i, r := range rows {
		root := find(i)
		b := groups[root]
		if b == nil {
			b = &band{top: math.Inf(-1), bottom: math.Inf(1)}
			groups[root] = b
			bands = append(bands, b)
		}
		b.rows = append(b.rows, r)
		b.gs = append(b.gs, r.gs...)
		b.top, b.bottom = math.Max(b.top, r.hi), math.Min(b.bottom, r.lo)
	}
	sort.SliceStable(bands, func(i, j int) bool { return bands[i].top > bands[j].top })
	for _, b := range bands {
		b.finish()
	}
	return bands
}

func (b *band) finish() {
	sort.Slice(b.gs, func(i, j int) bool {
		if b.gs[i].x != b.gs[j].x {
			return b.gs[i].x < b.gs[j].x
		}
		return b.gs[i].y > b.gs[j].y
	})
	b.left, b.right = math.Inf(1), math.Inf(-1)
	count := map[float64]int{}
	for _, g := range b.gs {
		b.left = math.Min(b.left, g.x)
		b.right = math.Max(b.right, g.x+g.w)
		count[math.Round(g.size*2)/2]++
	}
	bestN := 0
	for s, n := range count {
		if n > bestN || n == bestN && s > b.size {
			b.size, bestN = s, n
		}
	}
}

func (b *band) text(from, to int) string {
	var sb strings.Builder
	reach := math.Inf(-1)
	for i := from; i < to; i++ {
		g := b.gs[i]
		if i > from && g.x-reach > 0.18*g.size {
			sb.WriteByte(' ')
		}
		sb.WriteString(g.s)
		reach = math.Max(reach, g.x+g.w)
	}
	return sb.String()
}

var numberRE = regexp.MustCompile(`^[(\[]([0-9A-Za-z][0-9A-Za-z.\-–′'’*∗⋆†‡]{0,9}|[*∗⋆†‡][′'’*∗⋆†‡]{0,3})[)\]]$`)

// numberToken checks whether the glyphs b.gs[from:to] form an equation number.
func (b *band) numberToken(from, to int) (string, bool) {
	if to-from < 3 || to-from > 14 {
		return "", false
	}
	s := strings.ReplaceAll(b.text(from, to), " ", "")
	m := numberRE.FindStringSubmatch(s)
	if m == nil {
		return "", false
	}
	inner := m[1]
	hasDigit := strings.IndexFunc(inner, unicode.IsDigit) >= 0
	if !hasDigit && len([]rune(inner)) > 3 {
		return "", false
	}
	// The parentheses must be upright text, at one baseline with the first glyph.
	y := b.gs[from].y
	for i := from; i < to; i++ {
		if math.Abs(b.gs[i].y-y) > 0.45*b.gs[from].size && !strings.ContainsAny(b.gs[i].s, "′'’*∗") {
			return "", false
		}
	}
	return NormalizeNumber(s), true
}

// isMathGlyph reports whether a glyph looks like mathematics: a math font, or a symbol.
func isMathGlyph(g glyph) bool {
	f := strings.ToUpper(g.font)
	for _, p := range mathFontPrefixes {
		if strings.HasPrefix(f, p) || strings.Contains(f, p) {
			return true
		}
	}
	for _, r := range g.s {
		switch {
		case strings.ContainsRune("=+<>−∑∏∫∮√∞∂∇≤≥≠≈≡∈∉⊂⊆∪∩→←↔⇒⇐⇔⟨⟩∥±×÷·⋅∘∗′″‖|^", r):
			return true
		case r >= 0x391 && r <= 0x3C9, r >= 0x1D400 && r <= 0x1D7FF, r >= 0x2200 && r <= 0x22FF,
			r >= 0x2A00 && r <= 0x2AFF, r >= 0x27E6 && r <= 0x27EF, r >= 0x2190 && r <= 0x21FF:
			return true
		}
	}
	return false
}

var mathFontPrefixes = []string{
	"CMMI", "CMSY", "CMEX", "MSAM", "MSBM", "EUFM", "EUSM", "EUEX", "RSFS", "CMBSY", "CMMIB",
	"LMMATH", "MATH", "RTXMI", "TXSY", "TXEX", "PXSY", "PXEX", "ZPZCCMRY", "ZPZCMMI", "RZPLCM", "PAZOMATH",
	"SYMBOL", "STIX", "ESINT", "TXMI", "PXMI", "MTSY", "MTEX", "MTMI", "CMSY10",
}

// italicFont reports whether a font is an italic text font (used for math letters by
// mathptmx, mathpazo and similar).
func italicFont(f string) bool {
	u := strings.ToUpper(f)
	return strings.Contains(u, "ITAL") || strings.HasSuffix(u, "-ITALIC") || strings.Contains(u, "OBLIQUE") ||
		strings.HasPrefix(u, "CMTI") || strings.Contains(u, "-ITAL")
}

func (b *band) mathShare() float64 {
	if len(b.gs) == 0 {
		return 0
	}
	n := 0.0
	for _, g := range b.gs {
		if isMathGlyph(g) {
			n++
		} else if italicFont(g.font) {
			n += 0.5
		}
	}
	return n / float64(len(b.gs))
}

func mode(vals []float64, step float64) (float64, int) {
	count := map[float64]int{}
	for _, v := range vals {
		count[math.Round(v/step)*step]++
	}
	best, bestN := 0.0, 0
	for v, n := range count {
		if n > bestN || n == bestN && v < best {
			best, bestN = v, n
		}
	}
	return best, bestN
}

// edges finds the left and right text edges of the column from its prose lines.
func (c *column) edges(body float64) {
	var lefts, rights []float64
	minL, maxR := math.Inf(1), math.Inf(-1)
	for _, b := range c.bands {
		minL = math.Min(minL, b.left)
		maxR = math.Max(maxR, b.right)
		if len(b.gs) >= 25 && math.Abs(b.size-body) < 0.6 {
			lefts = append(lefts, b.left)
			rights = append(rights, b.right)
		}
	}
	c.left, c.right = minL, maxR
	if len(lefts) >= 2 {
		l, nl := mode(lefts, 1)
		r, nr := mode(rights, 1)
		if nl >= 2 {
			c.left = l
			for _, v := range lefts {
				if math.Abs(v-l) <= 1 && v < c.left {
					c.left = v
				}
			}
		}
		if nr >= 2 {
			c.right = r
			for _, v := range rights {
				if math.Abs(v-r) <= 1 && v > c.right {
					c.right = v
				}
			}
		}
	}
	// Paragraph indentation: the most common indent of long lines that end at the right
	// edge (first lines of paragraphs).
	c.parindent = 1.5 * body
	var ind []float64
	for _, b := range c.bands {
		d := b.left - c.left
		if len(b.gs) >= 30 && d > 0.3*body && d < 4*body && math.Abs(b.right-c.right) < 1 && b.mathShare() < 0.2 {
			ind = append(ind, d)
		}
	}
	if v, n := mode(ind, 0.5); n >= 1 {
		c.parindent = v
	}
}

func (c *column) equations(page int, body float64) []Equation {
	if len(c.bands) == 0 {
		return nil
	}
	c.edges(body)
	if c.right-c.left <= 0 {
		return nil
	}
	// Numbers first; a band with several numbers (rows of an align joined by tall
	// fractions) is split between them.
	var bands []*band
	for _, b := range c.bands {
		bands = append(bands, b.splitByNumbers(c, body)...)
	}
	c.bands = bands
	for _, b := range c.bands {
		b.classify(c, body)
	}
	// Small fragments right next to a display (a numerator or a limit that did not join
	// its row) belong to it.
	for changed, iter := true, 0; changed && iter < 4; iter++ {
		changed = false
		for i, b := range c.bands {
			if b.kind != kindText || len(b.gs) > 12 || b.right-b.left > 0.35*(c.right-c.left) || b.left-c.left < 0.6*body {
				continue
			}
			near := func(o *band) bool {
				return o.kind != kindText && math.Max(o.bottom-b.top, b.bottom-o.top) < 0.6*body
			}
			if i > 0 && near(c.bands[i-1]) || i+1 < len(c.bands) && near(c.bands[i+1]) {
				b.kind = kindDisplay
				changed = true
			}
		}
	}
	var out []Equation
	var block []*band
	flush := func() {
		if len(block) > 0 {
			out = append(out, c.makeEquations(page, block)...)
		}
		block = nil
	}
	for i, b := range c.bands {
		switch b.kind {
		case kindDisplay:
			if len(block) > 0 {
				prev := block[len(block)-1]
				if prev.bottom-b.top > 1.6*body {
					flush()
				}
			}
			block = append(block, b)
		case kindNumberOnly:
			if len(block) > 0 && block[len(block)-1].bottom-b.top < 1.6*body {
				block = append(block, b)
			} else if i > 0 && c.bands[i-1].kind == kindText && c.bands[i-1].bottom-b.top < 1.6*body {
				// a lone number under a text-looking band: take that band as the display
				flush()
				block = []*band{c.bands[i-1], b}
			}
		default:
			flush()
		}
	}
	flush()
	return out
}

// numCand is an equation number found in one row of a band.
type numCand struct {
	row     *row
	text    string
	box     [4]float64
	left    bool
	overlap bool    // the formula runs under the number (an over-wide row)
	gap     float64 // free space between the number and the formula (+Inf: nothing beside it)
	others  int     // glyphs of the band beside the number token
}

// numberCandidates finds, row by row, parenthesised tokens at the column edge.
func (b *band) numberCandidates(c *column, body float64) []numCand {
	tol := math.Max(1.5, 0.15*body)
	var out []numCand
	for _, r := range b.rows {
		if nc, ok := b.edgeToken(r, c, body, false); ok && math.Abs(nc.box[2]-c.right) <= tol {
			if b.acceptNumber(nc, c, body) {
				out = append(out, nc)
				continue
			}
		}
		if nc, ok := b.edgeToken(r, c, body, true); ok && math.Abs(nc.box[0]-c.left) <= tol {
			if b.acceptNumber(nc, c, body) {
				out = append(out, nc)
			}
		}
	}
	return out
}

// edgeToken collects the token that ends (left: starts) row r: the row's last glyph and
// the band's glyphs at the same height that follow each other without a word gap.
func (b *band) edgeToken(r *row, c *column, body float64, left bool) (numCand, bool) {
	var e glyph
	if left {
		e = r.gs[0]
	} else {
		e = r.gs[len(r.gs)-1]
	}
	var beside []glyph
	for _, g := range b.gs {
		lo, hi := extent(g)
		if lo < r.hi && r.lo < hi {
			beside = append(beside, g)
		}
	}
	sort.Slice(beside, func(i, j int) bool { return beside[i].x < beside[j].x })
	idx := -1
	for i, g := range beside {
		if g == e {
			idx = i
			break
		}
	}
	if idx < 0 {
		return numCand{}, false
	}
	maxGap := 0.3 * body
	from, to := idx, idx+1
	if left {
		reach := e.x + e.w
		for to < len(beside) && beside[to].x-reach < maxGap && to-from < 16 {
			reach = math.Max(reach, beside[to].x+beside[to].w)
			to++
		}
	} else {
		start := e.x
		for from > 0 && start-(beside[from-1].x+beside[from-1].w) < maxGap && to-from < 16 {
			from--
			start = math.Min(start, beside[from].x)
		}
	}
	tok := band{gs: beside[from:to]}
	text, ok := tok.numberToken(0, to-from)
	if !ok && !left {
		// An over-wide row (eqnarray) runs under its number at the right margin: the
		// number's glyphs interleave with the formula's. Read the token from the glyphs
		// of the closing bracket's font alone.
		if nc, ok := b.overlappedToken(r, beside, idx, e, maxGap); ok {
			return nc, true
		}
	}
	if !ok {
		return numCand{}, false
	}
	nc := numCand{row: r, text: text, left: left, gap: math.Inf(1), others: len(b.gs) - (to - from)}
	x0, x1, y0, y1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, g := range beside[from:to] {
		lo, hi := extent(g)
		x0, x1 = math.Min(x0, g.x), math.Max(x1, g.x+g.w)
		y0, y1 = math.Min(y0, lo), math.Max(y1, hi)
	}
	nc.box = [4]float64{x0, y0, x1, y1}
	if left && to < len(beside) {
		nc.gap = beside[to].x - x1
	}
	if !left && from > 0 {
		reach := math.Inf(-1)
		for _, g := range beside[:from] {
			reach = math.Max(reach, g.x+g.w)
		}
		nc.gap = x0 - reach
	}
	return nc, true
}

// acceptNumber tells an equation number from a parenthesised word at the end (start) of
// a prose line.
func (b *band) acceptNumber(nc numCand, c *column, body float64) bool {
	if nc.others == 0 {
		return true // a band holding only the number
	}
	if nc.overlap {
		// a number at the right text edge with a formula running under it
		return math.Abs(nc.box[2]-c.right) < 1 && b.mathShareExcept(nc.box) >= 0.45
	}
	if nc.gap < 0.3*body {
		return false
	}
	r := nc.row
	// the row without the number
	var rest []glyph
	for _, g := range r.gs {
		if g.x >= nc.box[0]-0.01 && g.x+g.w <= nc.box[2]+0.01 {
			continue
		}
		rest = append(rest, g)
	}
	ms := b.mathShareExcept(nc.box)
	if math.IsInf(nc.gap, 1) {
		// nothing beside it: a number dropped below (or above) a wide display
		return ms >= 0.3
	}
	maxGap := 0.0
	for i := 1; i < len(rest); i++ {
		maxGap = math.Max(maxGap, rest[i].x-(rest[i-1].x+rest[i-1].w))
	}
	var proseLike bool
	if len(rest) > 0 {
		if nc.left {
			proseLike = c.right-rest[len(rest)-1].x-rest[len(rest)-1].w < 0.6*body
		} else {
			ind := rest[0].x - c.left
			proseLike = math.Abs(ind) < 1 || math.Abs(ind-c.parindent) < 1
		}
	}
	// Prose has no wide gaps between its words; displays usually do (\quad, alignment).
	if maxGap > 1.0*body {
		proseLike = false
	}
	if proseLike {
		return nc.gap > 1.4*body && nc.gap > 2.5*maxGap && ms >= 0.3
	}
	switch {
	case nc.gap >= 0.9*body:
		return true
	case ms >= 0.45:
		return true
	default:
		return nc.gap > 2*maxGap && ms >= 0.3
	}
}

func (b *band) mathShareExcept(box [4]float64) float64 {
	n, t := 0.0, 0
	for _, g := range b.gs {
		if inBox(g, box) {
			continue
		}
		t++
		if isMathGlyph(g) {
			n++
		} else if italicFont(g.font) {
			n += 0.5
		}
	}
	if t == 0 {
		return 0
	}
	return n / float64(t)
}

func inBox(g glyph, box [4]float64) bool {
	lo, hi := extent(g)
	return g.x >= box[0]-0.01 && g.x+g.w <= box[2]+0.01 && lo >= box[1]-0.01 && hi <= box[3]+0.01
}

// splitByNumbers sets the band's number, or splits a band with several numbers so that
// each row goes with the number nearest to it.
func (b *band) splitByNumbers(c *column, body float64) []*band {
	cands := b.numberCandidates(c, body)
	switch len(cands) {
	case 0:
		return []*band{b}
	case 1:
		b.number, b.numBox, b.numLeft = cands[0].text, cands[0].box, cands[0].left
		b.loneNumber = cands[0].others == 0
		return []*band{b}
	}
	parts := make([]*band, len(cands))
	for i := range parts {
		parts[i] = &band{top: math.Inf(-1), bottom: math.Inf(1), number: cands[i].text, numBox: cands[i].box, numLeft: cands[i].left}
	}
	for _, r := range b.rows {
		best, bestD := 0, math.Inf(1)
		for i, nc := range cands {
			if d := math.Abs(r.y - nc.row.y); d < bestD {
				best, bestD = i, d
			}
		}
		p := parts[best]
		p.rows = append(p.rows, r)
		p.gs = append(p.gs, r.gs...)
		p.top, p.bottom = math.Max(p.top, r.hi), math.Min(p.bottom, r.lo)
	}
	var out []*band
	for _, p := range parts {
		if len(p.gs) > 0 {
			p.finish()
			out = append(out, p)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].top > out[j].top })
	return out
}

// classify decides whether b is prose, (part of) a display, or a lone equation number.
func (b *band) classify(c *column, body float64) {
	b.kind = kindText
	if b.number != "" {
		b.kind = kindDisplay
		if b.loneNumber {
			b.kind = kindNumberOnly
		}
		return
	}
	width := c.right - c.left
	ms := b.mathShare()
	indentL := b.left - c.left
	indentR := c.right - b.right
	short := b.right-b.left < 0.92*width
	switch {
	case ms < 0.25:
		return // prose, headings, captions, centred text
	case b.proseWords() >= 3:
		return // words of a text font: an affiliation, a caption, a table row of words
	case lineLabel.MatchString(b.text(0, len(b.gs))):
		return // an algorithm line ("3: for k = 0, 1, ...")
	case c.ruledRow(b, body):
		return // a table row between rules
	case indentL < 0.25*body && short:
		return // the last line of a paragraph, flush with the text edge
	case indentL < 0.6*body && indentR < 0.6*body:
		return // a full line: prose with inline math
	case !short:
		return
	case indentL < 0.6*body && ms < 0.6:
		return // the end of a paragraph
	case math.Abs(indentL-c.parindent) < 1 && indentR < 0.6*body:
		return // the first line of a paragraph
	}
	b.kind = kindDisplay
}

// formulaEdges are the band's left and right edges without the equation number.
func (b *band) formulaEdges() (float64, float64) {
	if b.number == "" {
		return b.left, b.right
	}
	l, r := math.Inf(1), math.Inf(-1)
	for _, g := range b.gs {
		if g.x >= b.numBox[0]-0.01 && g.x+g.w <= b.numBox[2]+0.01 {
			continue
		}
		l = math.Min(l, g.x)
		r = math.Max(r, g.x+g.w)
	}
	if math.IsInf(l, 0) {
		return b.left, b.right
	}
	return l, r
}

// makeEquations turns one display block (consecutive display bands of a column) into
// equations: one per number, each owning the unnumbered rows closest to it.
func (c *column) makeEquations(page int, block []*band) []Equation {
	lines := c.formulas(block)
	var numbered []int
	for i, b := range block {
		if b.number != "" {
			numbered = append(numbered, i)
		}
	}
	owner := make([]int, len(block))
	if len(numbered) == 0 {
		for i := range owner {
			owner[i] = 0
		}
		return []Equation{buildEquation(page, block, lines, owner, 0, "")}
	}
	for i, b := range block {
		if b.number != "" {
			owner[i] = i
			continue
		}
		best, bestD := numbered[0], math.Inf(1)
		for _, j := range numbered {
			mid := (block[j].top + block[j].bottom) / 2
			d := math.Abs((b.top+b.bottom)/2 - mid)
			// an unnumbered row above a numbered one usually belongs to it (align with
			// \nonumber on the first lines), so break ties downwards
			if j > i {
				d -= 0.01
			}
			if d < bestD {
				best, bestD = j, d
			}
		}
		owner[i] = best
	}
	var out []Equation
	for _, j := range numbered {
		out = append(out, buildEquation(page, block, lines, owner, j, block[j].number))
	}
	return out
}

func buildEquation(page int, block []*band, lines []formulaLine, owner []int, id int, number string) Equation {
	x0, y0 := math.Inf(1), math.Inf(1)
	x1, y1 := math.Inf(-1), math.Inf(-1)
	var parts, tex, notes []string
	conf := 1.0
	for i, b := range block {
		if owner[i] != id {
			continue
		}
		for _, g := range b.gs {
			if b.number != "" && g.x >= b.numBox[0]-0.01 && g.x+g.w <= b.numBox[2]+0.01 && g.y >= b.numBox[1] && g.y <= b.numBox[3] {
				continue
			}
			lo, hi := extent(g)
			x0, x1 = math.Min(x0, g.x), math.Max(x1, g.x+g.w)
			y0, y1 = math.Min(y0, lo), math.Max(y1, hi)
		}
		if t := b.formulaText(); t != "" {
			parts = append(parts, t)
		}
		if l := lines[i]; l.tex != "" {
			tex = append(tex, l.tex)
			conf = math.Min(conf, l.conf)
			for _, n := range l.notes {
				if !slices.Contains(notes, n) {
					notes = append(notes, n)
				}
			}
		}
	}
	eq := Equation{Page: page, Number: number, Text: strings.Join(parts, "\n"), LaTeX: strings.Join(tex, ` \\ `), Notes: notes}
	if eq.LaTeX != "" {
		eq.Confidence = math.Round(conf*100) / 100
	}
	if !math.IsInf(x0, 0) {
		bb := [4]float64{round2(x0), round2(y0), round2(x1), round2(y1)}
		eq.BBox = &bb
	}
	return eq
}

func round2(v float64) float64 { return math.Round(v*100) / 100 }

// formulaText is the band's text in reading order (rows top to bottom), without the number.
func (b *band) formulaText() string {
	var gs []glyph
	for _, g := range b.gs {
		if b.number != "" && g.x >= b.numBox[0]-0.01 && g.x+g.w <= b.numBox[2]+0.01 && g.y >= b.numBox[1] && g.y <= b.numBox[3] {
			continue
		}
		gs = append(gs, g)
	}
	if len(gs) == 0 {
		return ""
	}
	// rows by baseline
	sort.SliceStable(gs, func(i, j int) bool {
		yi, yj := math.Round(gs[i].y), math.Round(gs[j].y)
		if yi != yj {
			return yi > yj
		}
		return gs[i].x < gs[j].x
	})
	var rows []string
	start := 0
	for i := 1; i <= len(gs); i++ {
		if i == len(gs) || math.Round(gs[i].y) != math.Round(gs[start].y) {
			tmp := band{gs: gs[start:i]}
			rows = append(rows, tmp.text(0, i-start))
			start = i
		}
	}
	return strings.Join(rows, " ")
}

// bandPart is what one band of a display gives its formula: its glyphs (without the
// number), and the hidden glyphs and rules assigned to it.
type bandPart struct {
	gs    []glyph
	rules []rule
}

// formulaLine is the reconstructed LaTeX of one band of a display.
type formulaLine struct {
	tex   string
	conf  float64
	notes []string
}

// formulas reconstructs the LaTeX of every band of a display block. The hidden glyphs
// (big operators, delimiters) and rules of the page go to the band they overlap most.
// When the bands are rows of one alignment (each has a relation at the same x), an & is
// put before that relation.
func (c *column) formulas(block []*band) []formulaLine {
	parts := make([]bandPart, len(block))
	edges := make([][2]float64, len(block))
	for i, b := range block {
		l, r := b.formulaEdges()
		edges[i] = [2]float64{l, r}
		for _, g := range b.gs {
			if b.number != "" && g.x >= b.numBox[0]-0.01 && g.x+g.w <= b.numBox[2]+0.01 && g.y >= b.numBox[1] && g.y <= b.numBox[3] {
				continue
			}
			parts[i].gs = append(parts[i].gs, g)
		}
	}
	overlap := func(lo, hi float64, b *band) float64 {
		return math.Min(hi, b.top) - math.Max(lo, b.bottom)
	}
	// A hidden glyph or rule belongs to the block when it lies within the block's
	// horizontal extent (a big delimiter may stand left of every row it encloses), and to
	// the band it overlaps most.
	bl, br, bs := math.Inf(1), math.Inf(-1), 0.0
	for i, b := range block {
		bl, br, bs = math.Min(bl, edges[i][0]), math.Max(br, edges[i][1]), math.Max(bs, b.size)
	}
	best := func(x0, x1, lo, hi float64) int {
		if x0 < math.Max(bl-2*bs, c.x0) || x1 > math.Min(br+2*bs, c.x1) {
			return -1
		}
		k, bestO := -1, math.Inf(-1)
		for i, b := range block {
			if o := overlap(lo, hi, b); o > bestO {
				k, bestO = i, o
			}
		}
		if bestO < -bs {
			return -1
		}
		return k
	}
	btop, bbottom := math.Inf(-1), math.Inf(1)
	for _, b := range block {
		btop, bbottom = math.Max(btop, b.top), math.Min(bbottom, b.bottom)
	}
	// an extension glyph hangs below its origin by at most 3 sizes (\Bigg)
	for _, g := range between(c.hidden, bbottom-bs, btop+3*bs+bs, func(g glyph) float64 { return g.y }) {
		lo, hi := g.y-2*g.size, g.y+0.2*g.size
		if e, ok := cmexGlyphs[g.code]; ok && classifyFont(g.font) == fontExt {
			lo, hi = g.y-e.depth*g.size, g.y+0.04*g.size
		}
		if k := best(g.x, g.x+g.w, lo, hi); k >= 0 {
			parts[k].gs = append(parts[k].gs, g)
		}
	}
	for _, r := range between(c.rules, bbottom-bs, btop+bs, func(r rule) float64 { return r.y }) {
		if k := best(r.x0, r.x1, r.y-0.01, r.y+0.01); k >= 0 {
			parts[k].rules = append(parts[k].rules, r)
		}
	}
	// A band of small glyphs only (limits, a script that did not join its row) belongs
	// to the nearest band of the block.
	largest := make([]float64, len(block)) // the largest glyph of each band
	maxSize := 0.0
	for i, b := range block {
		for _, g := range b.gs {
			largest[i] = math.Max(largest[i], g.size)
		}
		maxSize = math.Max(maxSize, largest[i])
	}
	for i, b := range block {
		if largest[i] >= 0.85*maxSize || b.number != "" {
			continue
		}
		k, bestD := -1, math.Inf(1)
		for j, o := range block {
			if j == i || largest[j] < 0.85*maxSize {
				continue
			}
			if d := math.Max(o.bottom-b.top, b.bottom-o.top); d < bestD {
				k, bestD = j, d
			}
		}
		// limits go with the band of their big operator, even when another band is nearer
		if j := limitsOwner(parts, i, b); j >= 0 {
			k, bestD = j, 0
		}
		if k >= 0 && bestD < 1.5*maxSize {
			parts[k].gs = append(parts[k].gs, parts[i].gs...)
			parts[k].rules = append(parts[k].rules, parts[i].rules...)
			parts[i] = bandPart{}
		}
	}
	// Bands spanned by one tall delimiter (the rows of a matrix or of cases, which layout
	// splits into bands) are read as one formula, in the first of them.
	unit := make([]int, len(block))
	for i := range unit {
		unit[i] = i
	}
	var root func(i int) int
	root = func(i int) int {
		for unit[i] != i {
			i = unit[i]
		}
		return i
	}
	numbered := make([]bool, len(block)) // per unit root: holds a numbered band
	for i, b := range block {
		numbered[i] = b.number != ""
	}
	// join puts two bands into one unit, unless both units hold a number (two
	// equations are never read as one formula)
	join := func(i, j int) {
		a, c := root(i), root(j)
		if a == c || numbered[a] && numbered[c] {
			return
		}
		lo, hi := min(a, c), max(a, c)
		unit[hi] = lo
		numbered[lo] = numbered[lo] || numbered[hi]
	}
	type span struct{ x, lo, hi, size float64 }
	var spans []span // the extents of the block's extension glyphs, pieces joined
	for i := range parts {
		for _, g := range parts[i].gs {
			if classifyFont(g.font) != fontExt {
				continue
			}
			e := cmexGlyphs[g.code]
			spans = append(spans, span{g.x, g.y - e.depth*g.size, g.y + 0.04*g.size, g.size})
		}
	}
	sort.Slice(spans, func(i, j int) bool {
		if spans[i].x != spans[j].x {
			return spans[i].x < spans[j].x
		}
		return spans[i].hi > spans[j].hi
	})
	for i := 0; i < len(spans); {
		sp := spans[i]
		j := i + 1
		for j < len(spans) && spans[j].x-sp.x < 0.5 && spans[j].hi >= sp.lo-sp.size {
			sp.lo = math.Min(sp.lo, spans[j].lo)
			j++
		}
		first := -1
		for k, b := range block {
			if math.Min(sp.hi, b.top)-math.Max(sp.lo, b.bottom) > 0.2*sp.size {
				if first < 0 {
					first = k
					continue
				}
				join(first, k)
			}
		}
		i = j
	}
	// A rule with the rows of another band right above or below it (a fraction whose
	// numerator or denominator layout put apart) joins them too.
	for k := range parts {
		for _, ru := range parts[k].rules {
			for j, b := range block {
				if j == k || b.right < ru.x0 || b.left > ru.x1 {
					continue
				}
				if b.bottom > ru.y && b.bottom-ru.y < 0.8*bs || b.top < ru.y && ru.y-b.top < 0.8*bs {
					join(k, j)
				}
			}
		}
	}
	for i := range parts {
		if r := root(i); r != i {
			parts[r].gs = append(parts[r].gs, parts[i].gs...)
			parts[r].rules = append(parts[r].rules, parts[i].rules...)
			parts[i] = bandPart{}
		}
	}
	fs := make([]formula, len(block))
	for i, p := range parts {
		if len(p.gs) > 0 {
			fs[i] = reconstruct(p.gs, p.rules)
		}
	}
	// alignment over all rows of the block
	var all [][]item
	var owner []int
	for i, f := range fs {
		for _, row := range f.rows {
			all = append(all, row)
			owner = append(owner, i)
		}
	}
	amps := alignColumns(all)
	texts := make([][]string, len(block))
	for k, row := range all {
		if tex := alignRow(row, amps[k]); tex != "" {
			texts[owner[k]] = append(texts[owner[k]], tex)
		}
	}
	out := make([]formulaLine, len(block))
	for i, f := range fs {
		out[i] = formulaLine{tex: strings.Join(texts[i], ` \\ `), conf: f.conf, notes: f.notes}
	}
	return out
}

// amp is an alignment point of a row: an & before item at (and after it too when the
// relation is a column of its own, as in eqnarray).
type amp struct {
	at       int
	eqnarray bool
}

// alignRow writes a row with its alignment points.
func alignRow(row []item, amps []amp) string {
	var b strings.Builder
	last := 0
	for _, a := range amps {
		b.WriteString(joinItems(row[last:a.at]))
		if a.eqnarray {
			// eqnarray: the relation is a column of its own, "& = &"
			b.WriteString(" & " + joinItems(row[a.at:a.at+1]) + " & ")
			last = a.at + 1
			continue
		}
		b.WriteString(" &")
		last = a.at
	}
	b.WriteString(joinItems(row[last:]))
	return strings.TrimSpace(b.String())
}

// alignColumns finds the alignment points of the rows of a multi-row display: every x
// where each row has a relation (align's &=), and between two such columns the widest gap
// of each row (the & that starts the next pair of align columns). A relation set apart by
// wide gaps on both sides in every row is an eqnarray column.
func alignColumns(rows [][]item) [][]amp {
	out := make([][]amp, len(rows))
	if len(rows) < 2 {
		return out
	}
	at := func(row []item, x float64) int {
		for k, it := range row {
			if it.cls == mRel && math.Abs(it.x0-x) < 1.0 {
				return k
			}
		}
		return -1
	}
	var cols [][]int // per relation column, the item index in each row
	for _, it := range rows[0] {
		if it.cls != mRel {
			continue
		}
		ks := make([]int, len(rows))
		ok := true
		for i, row := range rows {
			if ks[i] = at(row, it.x0); ks[i] < 0 {
				ok = false
				break
			}
		}
		if ok {
			cols = append(cols, ks)
		}
	}
	if len(cols) == 0 {
		return out
	}
	// eqnarray: wide gaps on both sides of the first column's relation in every row
	eqn := true
	for i, row := range rows {
		k := cols[0][i]
		size := row[k].size
		if size <= 0 {
			size = 10
		}
		if k == 0 || k+1 >= len(row) || row[k].x0-row[k-1].x1 < 0.42*size || row[k+1].x0-row[k].x1 < 0.42*size {
			eqn = false
			break
		}
	}
	for i, row := range rows {
		prev := -1
		for c, ks := range cols {
			k := ks[i]
			if k <= prev {
				continue
			}
			if c > 0 {
				// the widest gap between the previous column and this one starts a pair
				best, bestGap := -1, 0.0
				for m := prev + 2; m < k; m++ {
					if g := row[m].x0 - row[m-1].x1; g > bestGap {
						best, bestGap = m, g
					}
				}
				size := row[k].size
				if size <= 0 {
					size = 10
				}
				if best < 0 || bestGap < 0.8*size {
					continue // two relations of one formula, not two columns
				}
				out[i] = append(out[i], amp{at: best})
			}
			out[i] = append(out[i], amp{at: k, eqnarray: eqn && c == 0})
			prev = k
		}
	}
	return out
}

func lastTrue(m []bool) int {
	for i := len(m) - 1; i >= 0; i-- {
		if m[i] {
			return i
		}
	}
	return -1
}

// lineLabel is the label of a numbered algorithm line.
var lineLabel = regexp.MustCompile(`^[0-9]{1,3}:`)

// proseWords counts the words of four or more letters set in text fonts (not math fonts)
// in one row of the band: a display has at most a word or two of \text.
func (b *band) proseWords() int {
	best := 0
	for _, r := range b.rows {
		n, run := 0, 0
		var prev glyph
		for i, g := range r.gs {
			letter := len(g.s) > 0 && unicode.IsLetter([]rune(g.s)[0]) && !isMathGlyph(g)
			if letter && i > 0 && run > 0 && g.x-(prev.x+prev.w) < 0.1*g.size {
				run += len([]rune(g.s))
			} else {
				if run >= 4 {
					n++
				}
				run = 0
				if letter {
					run = len([]rune(g.s))
				}
			}
			prev = g
		}
		if run >= 4 {
			n++
		}
		best = max(best, n)
	}
	return best
}

// ruledRow reports whether a rule of the page runs right above or below the band across
// its whole width (\hline around a table row); a fraction bar lies inside its band.
func (c *column) ruledRow(b *band, body float64) bool {
	for _, r := range between(c.rules, b.bottom-body, b.top+body, func(r rule) float64 { return r.y }) {
		if r.x0 > b.left+1 || r.x1 < b.right-1 || r.x1-r.x0 > 3*(b.right-b.left)+body {
			continue
		}
		if r.y > b.top && r.y-b.top < 0.8*body || r.y < b.bottom && b.bottom-r.y < 0.8*body {
			return true
		}
	}
	return false
}

// overlappedToken reads a right-edge number whose glyphs interleave with those of an
// over-wide formula: the glyphs of the closing bracket's font, right to left, that lie
// close together.
func (b *band) overlappedToken(r *row, beside []glyph, idx int, e glyph, maxGap float64) (numCand, bool) {
	tok := []glyph{e}
	start := e.x
	for i := idx - 1; i >= 0 && len(tok) < 16; i-- {
		g := beside[i]
		if g.font != e.font || math.Abs(g.y-e.y) > 0.1*e.size {
			if g.x+g.w < start-maxGap {
				break
			}
			continue
		}
		if start-(g.x+g.w) >= maxGap {
			break
		}
		tok = append(tok, g)
		start = math.Min(start, g.x)
		if g.s == "(" || g.s == "[" {
			break
		}
	}
	slices.Reverse(tok)
	tb := band{gs: tok}
	text, ok := tb.numberToken(0, len(tok))
	if !ok {
		return numCand{}, false
	}
	nc := numCand{row: r, text: text, overlap: true, others: len(b.gs) - len(tok)}
	x0, x1, y0, y1 := math.Inf(1), math.Inf(-1), math.Inf(1), math.Inf(-1)
	for _, g := range tok {
		lo, hi := extent(g)
		x0, x1 = math.Min(x0, g.x), math.Max(x1, g.x+g.w)
		y0, y1 = math.Min(y0, lo), math.Max(y1, hi)
	}
	nc.box = [4]float64{x0, y0, x1, y1}
	reach := math.Inf(-1)
	for _, g := range beside {
		if g.x < x0 {
			reach = math.Max(reach, g.x+g.w)
		}
	}
	nc.gap = x0 - reach
	return nc, true
}

// limitsOwner finds the band (other than i) holding a big operator right above or below
// band b, whose limits b would be; -1 when there is none.
func limitsOwner(parts []bandPart, i int, b *band) int {
	for k, p := range parts {
		if k == i {
			continue
		}
		for _, g := range p.gs {
			kind := classifyFont(g.font)
			_, cls, ok := glyphTeX(g, kind)
			if !ok || cls != mBigOp || g.x+g.w < b.left || g.x > b.right {
				continue
			}
			lo, hi := g.y-0.25*g.size, g.y+0.8*g.size
			if kind == fontExt {
				lo, hi = g.y-cmexGlyphs[g.code].depth*g.size, g.y+0.04*g.size
			}
			if b.top <= lo+0.3*g.size && b.top >= lo-0.8*g.size || b.bottom >= hi-0.3*g.size && b.bottom <= hi+0.8*g.size {
				return k
			}
		}
	}
	return -1
}

// between returns the elements of xs (sorted by key) whose key lies in [lo, hi].
func between[T any](xs []T, lo, hi float64, key func(T) float64) []T {
	i := sort.Search(len(xs), func(i int) bool { return key(xs[i]) >= lo })
	j := sort.Search(len(xs), func(i int) bool { return key(xs[i]) > hi })
	if i >= j {
		return nil
	}
	return xs[i:j]
}
