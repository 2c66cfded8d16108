package eqextract

import (
	"fmt"
	"math"
	"sort"
	"strings"
)

// Formula reconstruction: LaTeX from the glyphs and rules of one display row, the way
// TeX's layout can be read backwards. Every glyph becomes a node with a bounding box, a
// baseline, a size and its LaTeX (mathfonts.go); every thin horizontal rule becomes a node
// too. Structures are then found from the outside in, each consuming its nodes into one
// compound node:
//
//  1. radicals: a radical sign with the rule that starts at its top right; the nodes under
//     the rule are the radicand, a small group over the sign's left half the index;
//  2. fractions: a rule with a row of nodes directly above and below it, narrowest first
//     (a fraction in a numerator is one node when the outer bar is read); a rule with
//     nodes only below it is an \overline, only above it an \underline;
//  3. accents over the node under them; upright letter runs become operator names (\lim,
//     \sin) or \text;
//  4. big operators (and \lim, \max, ...) with the groups centred above and below them as
//     limits;
//  5. tall delimiters whose content has several rows: matrices (a pair of delimiters) and
//     cases (a left brace alone); columns are split at wide gaps;
//  6. the main baseline (the most common baseline of the largest glyphs): nodes on it, or
//     tall nodes crossing its axis, are read left to right; the others are scripts of the
//     baseline node before them, split into superscripts and subscripts by height, and
//     read recursively. Big delimiters are paired into \left ... \right.
//
// What cannot be read is said in the notes (and lowers the confidence) instead of being
// guessed: a glyph without a mapping, a radical without its rule, scripts without a base,
// delimiters that do not pair.

// maxFormulaNodes bounds the glyphs and rules of one formula (a display of a paper has a
// few hundred; the passes are quadratic in the worst case, about 0.1 s at this bound);
// maxFormulaDepth the nesting of the reconstruction.
const (
	maxFormulaNodes = 1500
	maxFormulaDepth = 24
)

// mnode is a glyph, a rule or a reconstructed structure.
type mnode struct {
	x0, x1, lo, hi float64 // bounding box
	base, size     float64 // baseline and font size
	tex            string
	cls            mclass
	ext            bool // a glyph of a math extension font (or a structure): placed by its extent
	rule           bool
	compound       bool
	limits         bool // a big operator that already has its limits
	text           bool // upright letters of a text font
}

func (n *mnode) cx() float64     { return (n.x0 + n.x1) / 2 }
func (n *mnode) cy() float64     { return (n.lo + n.hi) / 2 }
func (n *mnode) height() float64 { return n.hi - n.lo }

// recon holds the notes of one reconstruction.
type recon struct {
	notes    []string
	unknown  int
	glyphs   int
	problems int
}

func (r *recon) note(format string, args ...any) {
	s := fmt.Sprintf(format, args...)
	for _, n := range r.notes {
		if n == s {
			return
		}
	}
	if len(r.notes) < 16 {
		r.notes = append(r.notes, s)
	}
	r.problems++
}

// formula is the result of one reconstruction.
type formula struct {
	rows  [][]item // the rows of the formula, each its top-level items left to right
	notes []string
	conf  float64
}

// item is one top-level piece of a formula line: a node with its scripts.
type item struct {
	x0, x1 float64
	size   float64
	tex    string
	cls    mclass
}

// reconstruct reads the glyphs (visible and hidden) and rules of one display row.
func reconstruct(gs []glyph, rules []rule) formula {
	r := &recon{}
	var nodes []*mnode
	if len(gs)+len(rules) > maxFormulaNodes {
		return formula{notes: []string{fmt.Sprintf("formula of %d glyphs and rules is over the budget of %d", len(gs)+len(rules), maxFormulaNodes)}}
	}
	for _, g := range gs {
		if n := r.glyphNode(g); n != nil {
			nodes = append(nodes, n)
		}
	}
	nodes = mergePieces(nodes)
	nodes = dots(nodes)
	for _, ru := range rules {
		nodes = append(nodes, &mnode{x0: ru.x0, x1: ru.x1, lo: ru.y - ru.thick/2, hi: ru.y + ru.thick/2,
			base: ru.y, size: 0, rule: true})
	}
	nodes = angles(nodes)
	rows := r.top(nodes)
	conf := 1.0
	if r.glyphs > 0 {
		conf -= 0.6 * float64(r.unknown) / float64(r.glyphs)
	}
	conf -= 0.1 * float64(r.problems)
	if len(rows) == 0 {
		conf = 0
	}
	return formula{rows: rows, notes: r.notes, conf: math.Max(0, math.Min(1, conf))}
}

// latex joins the rows of a formula.
func (f formula) latex() string {
	var out []string
	for _, r := range f.rows {
		if t := joinItems(r); t != "" {
			out = append(out, t)
		}
	}
	return strings.Join(out, ` \\ `)
}

// top reads the nodes of a display band: the structures first, then the rows (a band
// may hold several rows of an alignment whose extents touch), each along its baseline.
// A row of small glyphs only (a limit or script that did not join its row) goes with the
// nearest full row.
func (r *recon) top(nodes []*mnode) [][]item {
	if len(nodes) == 0 {
		return nil
	}
	nodes = r.structures(nodes, 0)
	s := typical(nodes)
	var solid []*mnode
	for _, n := range nodes {
		if !n.rule {
			solid = append(solid, n)
		}
	}
	rs := rows(solid, s)
	full := func(row []*mnode) bool {
		for _, n := range row {
			if n.size >= 0.9*s && (!n.ext || n.compound) {
				return true
			}
		}
		return false
	}
	var fulls [][]*mnode
	var small [][]*mnode
	for _, row := range rs {
		if full(row) {
			fulls = append(fulls, row)
		} else {
			small = append(small, row)
		}
	}
	if len(fulls) < 2 {
		if it := r.baseline(nodes, 0); len(it) > 0 {
			return [][]item{it}
		}
		return nil
	}
	for _, row := range small {
		k, bestD := 0, math.Inf(1)
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, n := range row {
			lo, hi = math.Min(lo, n.lo), math.Max(hi, n.hi)
		}
		for i, f := range fulls {
			flo, fhi := math.Inf(1), math.Inf(-1)
			for _, n := range f {
				flo, fhi = math.Min(flo, n.lo), math.Max(fhi, n.hi)
			}
			if d := math.Max(flo-hi, lo-fhi); d < bestD {
				k, bestD = i, d
			}
		}
		fulls[k] = append(fulls[k], row...)
	}
	var out [][]item
	for _, row := range fulls {
		if it := r.baseline(row, 0); len(it) > 0 {
			out = append(out, it)
		}
	}
	return out
}

func (r *recon) glyphNode(g glyph) *mnode {
	kind := classifyFont(g.font)
	r.glyphs++
	tex, cls, ok := glyphTeX(g, kind)
	if !ok {
		r.unknown++
		if g.s == "" {
			r.note("glyph %#x of font %s has no mapping", g.code, g.font)
		} else {
			r.note("glyph %q of font %s has no mapping", g.s, g.font)
		}
		return nil
	}
	n := &mnode{x0: g.x, x1: g.x + math.Max(g.w, 0.1), base: g.y, size: g.size, tex: tex, cls: cls,
		lo: g.y - 0.2*g.size, hi: g.y + 0.7*g.size}
	switch {
	case kind == fontExt:
		e := cmexGlyphs[g.code]
		n.ext = true
		if e.cls == mAccent {
			n.lo, n.hi = g.y+0.6*g.size, g.y+0.75*g.size
		} else {
			n.lo, n.hi = g.y-e.depth*g.size, g.y+0.04*g.size
		}
	case cls == mRadical:
		n.lo, n.hi = g.y-0.96*g.size, g.y+0.04*g.size
		n.ext = true
	case cls == mBigOp:
		// a big operator of a text or symbol font (Times' Symbol): placed by its extent,
		// not by its baseline, and not setting the size of the row
		n.lo, n.hi = g.y-0.25*g.size, g.y+0.8*g.size
		n.ext = true
	case cls == mText:
		n.text = true
	case cls == mAccent:
		n.lo, n.hi = g.y+0.5*g.size, g.y+0.72*g.size
	}
	return n
}

// dots reads three periods set in a column (\vdots) or on a diagonal (\ddots) as one
// symbol; TeX builds both from the text font's period.
func dots(nodes []*mnode) []*mnode {
	nodes = longArrows(ellipses(nodes))
	var ps []*mnode
	for _, n := range nodes {
		if n.tex == "." && !n.ext {
			ps = append(ps, n)
		}
	}
	if len(ps) < 3 {
		return nodes
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].base > ps[j].base })
	gone := map[*mnode]bool{}
	var add []*mnode
	for i := 0; i+2 < len(ps); i++ {
		a := ps[i]
		if gone[a] {
			continue
		}
		for j := i + 1; j+1 < len(ps); j++ {
			b := ps[j]
			dy := a.base - b.base
			if gone[b] || dy < 0.15*a.size || dy > 0.5*a.size {
				continue
			}
			dx := b.x0 - a.x0
			var c *mnode
			for _, m := range ps[j+1:] {
				if !gone[m] && math.Abs(b.base-m.base-dy) < 0.05*a.size && math.Abs(m.x0-b.x0-dx) < 0.05*a.size {
					c = m
					break
				}
			}
			if c == nil {
				continue
			}
			tex := `\vdots`
			switch {
			case math.Abs(dx) < 0.1*a.size:
			case dx > 0:
				tex = `\ddots`
			default:
				continue
			}
			n := &mnode{x0: math.Min(a.x0, c.x0), x1: math.Max(a.x1, c.x1), lo: c.base, hi: a.base + 0.1*a.size,
				size: a.size, tex: tex, compound: true, ext: true}
			n.base = c.base
			gone[a], gone[b], gone[c] = true, true, true
			add = append(add, n)
			break
		}
	}
	if len(add) == 0 {
		return nodes
	}
	return append(remove(nodes, gone), add...)
}

// ellipses reads three periods (or three centred dots) on one baseline at equal
// distances as \dots (\cdots); other nodes (a denominator below) may lie between them.
func ellipses(nodes []*mnode) []*mnode {
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].x0 < nodes[j].x0 })
	used := make([]bool, len(nodes))
	next := func(i int) int { // the next node after i with its symbol on its baseline
		a := nodes[i]
		for j := i + 1; j < len(nodes) && nodes[j].x0 < a.x1+0.5*a.size; j++ {
			if !used[j] && nodes[j].tex == a.tex && math.Abs(nodes[j].base-a.base) < 0.05*a.size {
				return j
			}
		}
		return -1
	}
	var out []*mnode
	for i, a := range nodes {
		if used[i] {
			continue
		}
		if (a.tex == "." || a.tex == `\cdot`) && !a.ext {
			if j := next(i); j > 0 {
				if k := next(j); k > 0 {
					d1, d2 := nodes[j].x0-a.x0, nodes[k].x0-nodes[j].x0
					if d1 < 0.5*a.size && math.Abs(d1-d2) < 0.05*a.size {
						tex := `\dots`
						if a.tex == `\cdot` {
							tex = `\cdots`
						}
						n := *a
						n.x1, n.tex, n.cls, n.compound = nodes[k].x1, tex, mOrd, true
						out = append(out, &n)
						used[i], used[j], used[k] = true, true, true
						continue
					}
				}
			}
		}
		used[i] = true
		out = append(out, a)
	}
	return out
}

// angles reads TeX's \angle: a small negation slash over a short rule.
func angles(nodes []*mnode) []*mnode {
	gone := map[*mnode]bool{}
	for _, n := range nodes {
		if n.tex != `\not` || gone[n] {
			continue
		}
		for _, ru := range nodes {
			if ru.rule && !gone[ru] && ru.x0 < n.x0+0.5*n.size && ru.x1 > n.x1-0.3*n.size &&
				ru.x1-ru.x0 < 2*n.size && ru.base < n.base+0.3*n.size && ru.base > n.base-0.6*n.size {
				n.tex, n.cls = `\angle`, mOrd
				n.size = n.size / 0.7
				n.x0, n.x1 = math.Min(n.x0, ru.x0), math.Max(n.x1, ru.x1)
				gone[ru] = true
				break
			}
		}
	}
	if len(gone) == 0 {
		return nodes
	}
	return remove(nodes, gone)
}

// arrowPairs are the long arrows that TeX builds from two glyphs joined by a negative
// kern (\joinrel).
var arrowPairs = map[[2]string]string{
	{"=", `\Rightarrow`}:          `\Longrightarrow`,
	{`\Leftarrow`, "="}:           `\Longleftarrow`,
	{`\Leftarrow`, `\Rightarrow`}: `\Longleftrightarrow`,
	{"-", `\to`}:                  `\longrightarrow`,
	{`\leftarrow`, "-"}:           `\longleftarrow`,
	{`\leftarrow`, `\to`}:         `\longleftrightarrow`,
}

// longArrows joins the two glyphs of a long arrow.
func longArrows(nodes []*mnode) []*mnode {
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].x0 < nodes[j].x0 })
	var out []*mnode
	for i := 0; i < len(nodes); i++ {
		a := nodes[i]
		if i+1 < len(nodes) && !a.compound {
			b := nodes[i+1]
			if tex, ok := arrowPairs[[2]string{a.tex, b.tex}]; ok && !b.compound &&
				math.Abs(a.base-b.base) < 0.05*a.size && b.x0 < a.x1+0.02*a.size {
				n := *a
				n.x1, n.tex, n.cls = b.x1, tex, mRel
				out = append(out, &n)
				i++
				continue
			}
		}
		out = append(out, a)
	}
	return out
}

// mergePieces joins the pieces of an extensible delimiter (stacked at one x) into one node.
func mergePieces(nodes []*mnode) []*mnode {
	var out, pieces []*mnode
	for _, n := range nodes {
		if n.cls == mPiece || n.ext && n.cls == mDelim {
			pieces = append(pieces, n)
		} else {
			out = append(out, n)
		}
	}
	// clusters of pieces at one x, each read top to bottom
	sort.Slice(pieces, func(i, j int) bool { return pieces[i].x0 < pieces[j].x0 })
	for start := 0; start < len(pieces); {
		end := start + 1
		for end < len(pieces) && pieces[end].x0-pieces[start].x0 < 0.5 {
			end++
		}
		col := pieces[start:end]
		sort.Slice(col, func(i, j int) bool { return col[i].hi > col[j].hi })
		for i := 0; i < len(col); {
			p := *col[i]
			j := i + 1
			for j < len(col) && col[j].tex == p.tex && col[j].hi >= p.lo-1.0*p.size {
				p.lo = math.Min(p.lo, col[j].lo)
				p.x1 = math.Max(p.x1, col[j].x1)
				j++
			}
			switch p.tex {
			case "(", "[", `\{`, `\lfloor`, `\lceil`, `\langle`:
				p.cls = mOpen
			case ")", "]", `\}`, `\rfloor`, `\rceil`, `\rangle`:
				p.cls = mClose
			case `\sqrt`:
				p.cls = mRadical
			default:
				p.cls = mDelim
			}
			out = append(out, &p)
			i = j
		}
		start = end
	}
	return out
}

// line reads a list of nodes into its top-level items.
func (r *recon) line(nodes []*mnode, depth int) []item {
	if len(nodes) == 0 {
		return nil
	}
	if depth > maxFormulaDepth {
		r.note("nesting deeper than %d levels", maxFormulaDepth)
		return nil
	}
	return r.baseline(r.structures(nodes, depth), depth)
}

// structures replaces the structures among nodes by compound nodes.
func (r *recon) structures(nodes []*mnode, depth int) []*mnode {
	nodes = r.radicals(nodes, depth)
	nodes = r.fractions(nodes, depth)
	nodes = r.accents(nodes, depth)
	nodes = words(nodes)
	nodes = r.limits(nodes, depth)
	return r.grids(nodes, depth)
}

// group reads nodes into one LaTeX string.
func (r *recon) group(nodes []*mnode, depth int) string {
	return joinItems(r.line(nodes, depth+1))
}

// typical is the largest glyph size of nodes (10 when there is none).
func typical(nodes []*mnode) float64 {
	s := 0.0
	for _, n := range nodes {
		if !n.rule && !n.ext {
			s = math.Max(s, n.size)
		}
	}
	if s == 0 {
		for _, n := range nodes {
			s = math.Max(s, n.size)
		}
	}
	if s == 0 {
		s = 10
	}
	return s
}

func union(n *mnode, ms []*mnode) {
	for _, m := range ms {
		n.x0, n.x1 = math.Min(n.x0, m.x0), math.Max(n.x1, m.x1)
		n.lo, n.hi = math.Min(n.lo, m.lo), math.Max(n.hi, m.hi)
	}
}

func remove(nodes []*mnode, gone map[*mnode]bool) []*mnode {
	out := nodes[:0:0]
	for _, n := range nodes {
		if !gone[n] {
			out = append(out, n)
		}
	}
	return out
}

// radicals finds each radical sign with its overline rule.
func (r *recon) radicals(nodes []*mnode, depth int) []*mnode {
	var rads []*mnode
	for _, n := range nodes {
		if n.cls == mRadical {
			rads = append(rads, n)
		}
	}
	if len(rads) == 0 {
		return nodes
	}
	sort.Slice(rads, func(i, j int) bool { return rads[i].height() > rads[j].height() })
	gone := map[*mnode]bool{}
	for _, rad := range rads {
		if gone[rad] {
			continue
		}
		var bar *mnode
		for _, n := range nodes {
			if n.rule && !gone[n] && math.Abs(n.x0-rad.x1) < 1.5 && math.Abs(n.base-rad.hi) < 0.15*rad.size+1 {
				if bar == nil || n.x1-n.x0 > bar.x1-bar.x0 {
					bar = n
				}
			}
		}
		if bar == nil {
			r.note("radical sign without its overline")
			rad.tex, rad.cls = `\surd`, mOrd
			continue
		}
		var body, index []*mnode
		for _, n := range nodes {
			if n == rad || n == bar || gone[n] {
				continue
			}
			switch {
			case n.rule && (n.x0 < bar.x0-1 || n.x1 > bar.x1+1):
				// a longer rule (the bar of a fraction around the radical) is not inside it
			case n.cx() > bar.x0 && n.cx() < bar.x1 && n.hi <= bar.base+0.3 && n.lo >= rad.lo-0.3*rad.size:
				body = append(body, n)
			case n.x1 <= bar.x0+0.5 && n.cx() >= rad.x0-0.6*rad.size && n.lo >= rad.cy()-0.1*rad.size &&
				n.lo <= bar.base+0.2*rad.size && !n.rule:
				index = append(index, n)
			}
		}
		c := &mnode{x0: rad.x0, x1: bar.x1, lo: rad.lo, hi: bar.hi, size: rad.size, compound: true, ext: true}
		union(c, body)
		union(c, index)
		c.base = rad.hi - 0.04*rad.size - 0.7*typical(body)
		if len(body) > 0 {
			c.base = mainBaseline(body)
			c.size = typical(body)
		}
		tex := `\sqrt`
		if len(index) > 0 {
			tex += "[" + r.group(index, depth) + "]"
		}
		c.tex = tex + "{" + r.group(body, depth) + "}"
		gone[rad], gone[bar] = true, true
		for _, n := range append(body, index...) {
			gone[n] = true
		}
		nodes = append(remove(nodes, gone), c)
		gone = map[*mnode]bool{}
	}
	return nodes
}

// fractions reads each rule with nodes stacked on it, narrowest rule first: a fraction
// inside a numerator is one node by the time the outer bar is read.
func (r *recon) fractions(nodes []*mnode, depth int) []*mnode {
	level := typical(nodes) // the size of this level's glyphs
	for {
		var bar *mnode
		for _, n := range nodes {
			if n.rule && (bar == nil || n.x1-n.x0 < bar.x1-bar.x0) {
				bar = n
			}
		}
		if bar == nil {
			return nodes
		}
		var inside []*mnode
		for _, n := range nodes {
			if n != bar && n.cx() >= bar.x0-0.5 && n.cx() <= bar.x1+0.5 && n.x0 >= bar.x0-1.5 && n.x1 <= bar.x1+1.5 {
				inside = append(inside, n)
			}
		}
		s := typical(inside)
		num := stack(inside, bar, s, true)
		den := stack(inside, bar, s, false)
		gone := map[*mnode]bool{bar: true}
		c := &mnode{x0: bar.x0, x1: bar.x1, lo: bar.lo, hi: bar.hi, compound: true, ext: true}
		switch {
		case len(num) > 0 && len(den) > 0:
			c.size = math.Max(typical(num), typical(den))
			c.base = bar.base - 0.25*c.size
			// a display fraction has the size of its line, a text-style one the size of
			// scripts (inside cases and matrices, text style, grids() makes a full-size
			// one \dfrac)
			cmd := `\frac`
			if c.size < 0.8*level {
				cmd = `\tfrac`
			}
			c.tex = cmd + "{" + r.group(num, depth) + "}{" + r.group(den, depth) + "}"
		case len(den) > 0 && bar.x1-bar.x0 < 8*s:
			c.tex = `\overline{` + r.group(den, depth) + "}"
			c.size = typical(den)
			c.base = mainBaseline(den)
			c.ext = false
		case len(num) > 0 && bar.x1-bar.x0 < 8*s:
			c.tex = `\underline{` + r.group(num, depth) + "}"
			c.size = typical(num)
			c.base = mainBaseline(num)
			c.ext = false
		default:
			// a rule that is no part of the formula (a table rule, a frame): dropped
			nodes = remove(nodes, gone)
			continue
		}
		union(c, num)
		union(c, den)
		for _, n := range append(num, den...) {
			gone[n] = true
		}
		nodes = append(remove(nodes, gone), c)
	}
}

// stack collects the row of nodes stacked directly above (or below) the bar: the nodes
// touching it (the largest of them set the row's size) and those that overlap their
// extent (scripts), never a wider rule (the bar of an enclosing fraction) or the rows
// beyond (the next row of cases or of a matrix).
func stack(inside []*mnode, bar *mnode, s float64, above bool) []*mnode {
	y := bar.base
	var cands []*mnode
	for _, n := range inside {
		if n.rule && n.x1-n.x0 > bar.x1-bar.x0 {
			continue
		}
		// a node belongs to the side its centre is on, unless it reaches far across the
		// bar (a radical sign of the numerator hangs a little below the bar's level)
		if above && n.cy() > y && n.lo >= y-0.5*s && !(n.rule && n.base <= y) ||
			!above && n.cy() < y && n.hi <= y+0.5*s && !(n.rule && n.base >= y) {
			cands = append(cands, n)
		}
	}
	touch := func(n *mnode) bool {
		if above {
			return n.lo <= y+0.5*s
		}
		return n.hi >= y-0.5*s
	}
	first := 0.0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, n := range cands {
		if touch(n) && !n.rule {
			first = math.Max(first, n.size)
		}
	}
	taken := map[*mnode]bool{}
	var out []*mnode
	for _, n := range cands {
		if touch(n) && !(first > 0 && n.size > 1.25*first && !n.compound) {
			taken[n] = true
			out = append(out, n)
			lo, hi = math.Min(lo, n.lo), math.Max(hi, n.hi)
		}
	}
	for grew := true; grew && len(out) > 0; {
		grew = false
		for _, n := range cands {
			if taken[n] || first > 0 && n.size > 1.25*first && !n.compound && !n.rule {
				continue
			}
			if n.lo < hi+0.15*s && n.hi > lo-0.15*s {
				taken[n] = true
				out = append(out, n)
				lo, hi = math.Min(lo, n.lo), math.Max(hi, n.hi)
				grew = true
			}
		}
	}
	return out
}

// mainBaseline is the most common baseline of the largest glyphs of nodes.
func mainBaseline(nodes []*mnode) float64 {
	s := typical(nodes)
	count := map[float64]int{}
	var first float64
	found := false
	for _, n := range nodes {
		if n.rule || n.ext || n.size < 0.9*s || n.size == 0 {
			continue
		}
		k := math.Round(n.base*2) / 2
		count[k]++
		if !found {
			first, found = k, true
		}
	}
	if !found {
		// only structures and extension glyphs: their axis is a quarter of the size
		// above the baseline
		for _, n := range nodes {
			if !n.rule {
				return n.cy() - 0.25*s
			}
		}
		return 0
	}
	best, bestN := first, 0
	for k, c := range count {
		if c > bestN || c == bestN && k > best {
			best, bestN = k, c
		}
	}
	// the exact baseline of one of the glyphs on it
	for _, n := range nodes {
		if !n.rule && !n.ext && math.Round(n.base*2)/2 == best {
			return n.base
		}
	}
	return best
}

// rows splits nodes into rows separated by empty horizontal strips.
func rows(nodes []*mnode, s float64) [][]*mnode {
	sorted := append([]*mnode(nil), nodes...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].hi > sorted[j].hi })
	var out [][]*mnode
	var cur []*mnode
	lo := math.Inf(1)
	for _, n := range sorted {
		if len(cur) > 0 && n.hi < lo-0.05*s {
			out = append(out, cur)
			cur = nil
			lo = math.Inf(1)
		}
		cur = append(cur, n)
		lo = math.Min(lo, n.lo)
	}
	if len(cur) > 0 {
		out = append(out, cur)
	}
	return out
}

// grids reads matrices (a pair of tall delimiters around rows) and cases (a tall left
// brace before rows).
func (r *recon) grids(nodes []*mnode, depth int) []*mnode {
	s := typical(nodes)
	var opens []*mnode
	for _, n := range nodes {
		if n.ext && !n.compound && (n.cls == mOpen || n.cls == mDelim) && n.height() > 1.7*s {
			opens = append(opens, n)
		}
	}
	sort.Slice(opens, func(i, j int) bool { return opens[i].x0 < opens[j].x0 })
	for _, open := range opens {
		// its partner: the first delimiter to the right with the same extent
		var closer *mnode
		for _, n := range nodes {
			if n != open && n.ext && !n.compound && (n.cls == mClose || n.cls == mDelim && n.tex == open.tex) &&
				n.x0 > open.x1 && math.Abs(n.hi-open.hi) < 0.3*s && math.Abs(n.lo-open.lo) < 0.3*s &&
				(closer == nil || n.x0 < closer.x0) {
				closer = n
			}
		}
		right := math.Inf(1)
		if closer != nil {
			right = closer.x0
		} else if open.tex != `\{` {
			continue
		}
		var content []*mnode
		for _, n := range nodes {
			if n != open && n != closer && n.x0 >= open.x1-0.5 && n.x1 <= right+0.5 && n.cy() > open.lo && n.cy() < open.hi {
				content = append(content, n)
			}
		}
		if closer == nil {
			// cases end at a gap wider than the one between their columns, or at the
			// next delimiter about as tall as the brace (a \left( around a fraction
			// within one row is content)
			sort.Slice(content, func(i, j int) bool { return content[i].x0 < content[j].x0 })
			reach := open.x1
			for k, n := range content {
				if n.x0-reach > 1.5*s || n.ext && !n.compound && n.height() > math.Max(1.7*s, 0.75*open.height()) && n.cls != mClose {
					content = content[:k]
					break
				}
				reach = math.Max(reach, n.x1)
			}
		}
		rs := rows(content, s)
		if len(rs) < 2 {
			continue
		}
		env := "matrix"
		switch {
		case closer == nil:
			env = "cases"
		case open.tex == "(":
			env = "pmatrix"
		case open.tex == "[":
			env = "bmatrix"
		case open.tex == "|":
			env = "vmatrix"
		case open.tex == `\|`:
			env = "Vmatrix"
		case open.tex == `\{`:
			env = "Bmatrix"
		}
		if env == "pmatrix" && len(rs) == 2 && len(columnStarts(rs, s, false)) == 1 &&
			mainBaseline(rs[0])-mainBaseline(rs[1]) > 1.28*s {
			// two entries, further apart than matrix rows: a binomial coefficient
			c := &mnode{x0: open.x0, x1: closer.x1, lo: open.lo, hi: open.hi, size: s, compound: true, ext: true,
				base: (open.lo+open.hi)/2 - 0.25*s}
			c.tex = `\binom{` + r.group(rs[0], depth) + "}{" + r.group(rs[1], depth) + "}"
			gone := map[*mnode]bool{open: true, closer: true}
			for _, n := range content {
				gone[n] = true
			}
			return r.grids(append(remove(nodes, gone), c), depth)
		}
		cols := columnStarts(rs, s, env == "cases")
		var rowTex []string
		for _, row := range rs {
			cells := make([][]*mnode, len(cols))
			for _, n := range row {
				k := 0
				for k+1 < len(cols) && n.x0 >= cols[k+1]-0.5 {
					k++
				}
				cells[k] = append(cells[k], n)
			}
			var ct []string
			for _, c := range cells {
				for _, n := range c {
					// cells are set in text style: a fraction of full size was a \dfrac
					if n.compound && strings.HasPrefix(n.tex, `\frac{`) && n.size >= 0.95*s {
						n.tex = `\dfrac` + strings.TrimPrefix(n.tex, `\frac`)
					}
				}
				ct = append(ct, r.group(c, depth))
			}
			for len(ct) > 1 && ct[len(ct)-1] == "" {
				ct = ct[:len(ct)-1]
			}
			rowTex = append(rowTex, strings.Join(ct, " & "))
		}
		c := &mnode{x0: open.x0, x1: open.x1, lo: open.lo, hi: open.hi, size: s, compound: true, ext: true,
			base: (open.lo+open.hi)/2 - 0.25*s}
		gone := map[*mnode]bool{open: true}
		if closer != nil {
			gone[closer] = true
			union(c, []*mnode{closer})
		}
		union(c, content)
		for _, n := range content {
			gone[n] = true
		}
		c.tex = `\begin{` + env + "} " + strings.Join(rowTex, ` \\ `) + ` \end{` + env + "}"
		return r.grids(append(remove(nodes, gone), c), depth)
	}
	return nodes
}

// columnStarts finds the x where the columns of a grid start: after gaps wider than a
// quad that all rows share (for cases) or, for matrices, gaps in the projection of all rows.
func columnStarts(rs [][]*mnode, s float64, cases bool) []float64 {
	var all []*mnode
	for _, row := range rs {
		all = append(all, row...)
	}
	sort.Slice(all, func(i, j int) bool { return all[i].x0 < all[j].x0 })
	starts := []float64{math.Inf(-1)}
	reach := math.Inf(-1)
	gap := 0.7 * s
	if cases {
		gap = 0.8 * s
	}
	for _, n := range all {
		if !math.IsInf(reach, -1) && n.x0-reach > gap {
			starts = append(starts, n.x0)
		}
		reach = math.Max(reach, n.x1)
	}
	if cases && len(starts) > 2 {
		starts = starts[:2]
	}
	return starts
}

// accents puts each accent over the node under it.
func (r *recon) accents(nodes []*mnode, depth int) []*mnode {
	for i := 0; i < len(nodes); i++ {
		a := nodes[i]
		if a.cls != mAccent {
			continue
		}
		var under []*mnode
		for _, n := range nodes {
			if n != a && !n.rule && n.cls != mAccent && n.x1 > a.x0 && n.x0 < a.x1 && n.cy() < a.lo &&
				a.lo-n.hi < 0.6*math.Max(a.size, n.size) {
				under = append(under, n)
			}
		}
		if !a.ext { // a glyph accent covers one node: the one whose centre is nearest
			var best *mnode
			for _, n := range under {
				if best == nil || math.Abs(n.cx()-a.cx()) < math.Abs(best.cx()-a.cx()) {
					best = n
				}
			}
			under = under[:0]
			if best != nil {
				under = append(under, best)
			}
		}
		if len(under) == 0 {
			r.note("accent %s without a base", a.tex)
			a.cls = mOrd
			a.tex = "{}" // dropped from the output
			continue
		}
		c := &mnode{x0: a.x0, x1: a.x1, lo: a.lo, hi: a.hi, compound: true}
		union(c, under)
		c.base, c.size = mainBaseline(under), typical(under)
		c.tex = a.tex + "{" + r.group(under, depth) + "}"
		gone := map[*mnode]bool{a: true}
		for _, n := range under {
			gone[n] = true
		}
		nodes = append(remove(nodes, gone), c)
		i = -1
	}
	return nodes
}

// words joins runs of upright letters on one baseline into operator names (\lim, \sin)
// or \text; nodes on other baselines (limits under \lim) between them are skipped.
func words(nodes []*mnode) []*mnode {
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].x0 < nodes[j].x0 })
	used := make([]bool, len(nodes))
	var out []*mnode
	for i, n := range nodes {
		if used[i] {
			continue
		}
		if !n.text {
			out = append(out, n)
			continue
		}
		var parts []string
		w := *n
		word := n.tex
		used[i] = true
		for j := i + 1; j < len(nodes); j++ {
			m := nodes[j]
			if used[j] || math.Abs(m.base-w.base) > 0.1*w.size || m.size < 0.9*w.size || m.size > 1.1*w.size {
				if m.x0 > w.x1+0.6*w.size {
					break
				}
				continue
			}
			gap := m.x0 - w.x1
			if !(m.text || m.tex == "." && !m.compound) || gap > 0.6*w.size {
				break
			}
			if gap > 0.15*w.size {
				parts = append(parts, word)
				word = ""
			}
			word += m.tex
			used[j] = true
			w.x1 = math.Max(w.x1, m.x1)
			w.hi = math.Max(w.hi, m.hi)
			w.lo = math.Min(w.lo, m.lo)
		}
		parts = append(parts, word)
		w.text = false
		w.compound = true
		switch {
		case len(parts) == 1 && opNames[parts[0]]:
			w.tex = `\` + parts[0]
			w.cls = mOpName
			if limOps[parts[0]] {
				w.cls = mBigOp
			}
		case len(parts) == 1 && len(parts[0]) == 1:
			w.tex = `\mathrm{` + parts[0] + `}`
			w.cls = mOrd
		default:
			w.tex = `\text{` + strings.Join(parts, " ") + `}`
			w.cls = mOrd
		}
		out = append(out, &w)
	}
	return out
}

// limits attaches the groups centred above and below a big operator.
func (r *recon) limits(nodes []*mnode, depth int) []*mnode {
	for i := 0; i < len(nodes); i++ {
		op := nodes[i]
		if op.cls != mBigOp || op.limits {
			continue
		}
		above := limitGroup(nodes, op, true)
		below := limitGroup(nodes, op, false)
		if len(above)+len(below) == 0 {
			continue
		}
		c := *op
		c.compound, c.limits = true, true
		if op.ext {
			c.base = mainBaselineOr(nodes, op)
		}
		c.tex = op.tex
		if len(below) > 0 {
			c.tex += "_{" + r.group(below, depth) + "}"
		}
		if len(above) > 0 {
			c.tex += "^{" + r.group(above, depth) + "}"
		}
		union(&c, above)
		union(&c, below)
		gone := map[*mnode]bool{op: true}
		for _, n := range append(above, below...) {
			gone[n] = true
		}
		nodes = append(remove(nodes, gone), &c)
		sort.Slice(nodes, func(a, b int) bool { return nodes[a].x0 < nodes[b].x0 })
		i = -1
	}
	return nodes
}

func mainBaselineOr(nodes []*mnode, op *mnode) float64 {
	return op.base
}

// limitGroup is the connected group of smaller nodes right above (or below) op, centred on it.
func limitGroup(nodes []*mnode, op *mnode, above bool) []*mnode {
	s := op.size
	if op.ext {
		s = op.size
	}
	in := func(n *mnode) bool {
		if n == op || n.rule {
			return false
		}
		if above {
			return n.lo >= op.hi-0.3*s && n.lo <= op.hi+0.6*s
		}
		return n.hi <= op.lo+0.3*s && n.hi >= op.lo-0.6*s
	}
	var group []*mnode
	taken := map[*mnode]bool{}
	for _, n := range nodes {
		if in(n) && n.x1 > op.x0 && n.x0 < op.x1 {
			group = append(group, n)
			taken[n] = true
		}
	}
	if len(group) == 0 {
		return nil
	}
	for grew := true; grew; {
		grew = false
		lo, hi := math.Inf(1), math.Inf(-1)
		for _, g := range group {
			lo, hi = math.Min(lo, g.x0), math.Max(hi, g.x1)
		}
		for _, n := range nodes {
			if !taken[n] && in(n) && n.x0 < hi+0.35*s && n.x1 > lo-0.35*s {
				group = append(group, n)
				taken[n] = true
				grew = true
			}
		}
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, g := range group {
		lo, hi = math.Min(lo, g.x0), math.Max(hi, g.x1)
	}
	if math.Abs((lo+hi)/2-op.cx()) > 0.15*math.Max(hi-lo, op.x1-op.x0)+1 {
		return nil
	}
	return group
}

// baseline reads the nodes left to right along the main baseline, with scripts.
func (r *recon) baseline(nodes []*mnode, depth int) []item {
	if len(nodes) == 0 {
		return nil
	}
	s := typical(nodes)
	b := mainBaseline(nodes)
	axis := b + 0.25*s
	sort.Slice(nodes, func(i, j int) bool { return nodes[i].x0 < nodes[j].x0 })
	type slot struct {
		n        *mnode
		sub, sup []*mnode
		scripts  []*mnode
	}
	var slots []*slot
	for _, n := range nodes {
		on := false
		switch {
		case n.rule:
			continue
		case n.ext || n.compound && n.cls != mOrd && n.cls != mOpName:
			on = n.lo <= axis+0.1*s && n.hi >= axis-0.1*s
		default:
			on = math.Abs(n.base-b) < 0.12*s && n.size >= 0.8*s
		}
		if n.compound && !on && math.Abs(n.base-b) < 0.12*s {
			on = true
		}
		if on {
			slots = append(slots, &slot{n: n})
			continue
		}
		if len(slots) == 0 {
			r.note("scripts before any symbol of their row")
			slots = append(slots, &slot{n: &mnode{x0: n.x0, x1: n.x0, tex: "{}", size: s, base: b}})
		}
		slots[len(slots)-1].scripts = append(slots[len(slots)-1].scripts, n)
	}
	if len(slots) == 1 && slots[0].n.tex == "{}" && len(slots[0].scripts) == len(nodes) {
		// nothing is on the baseline: read the nodes as one flat row rather than as
		// scripts of nothing
		r.note("no baseline found in a group of %d symbols", len(nodes))
		slots = slots[:0]
		for _, n := range nodes {
			if !n.rule {
				slots = append(slots, &slot{n: n})
			}
		}
	}
	var items []item
	for _, sl := range slots {
		it := item{x0: sl.n.x0, x1: sl.n.x1, size: s, tex: sl.n.tex, cls: sl.n.cls}
		if len(sl.scripts) > 0 {
			sub, sup := splitScripts(sl.scripts, b, sl.n)
			if len(sub) > 0 {
				it.tex += "_{" + r.group(sub, depth) + "}"
			}
			if len(sup) > 0 {
				it.tex += "^{" + r.group(sup, depth) + "}"
			}
			for _, n := range sl.scripts {
				it.x1 = math.Max(it.x1, n.x1)
			}
			if it.cls == mRel || it.cls == mBin {
				it.cls = mOrd
			}
		}
		items = append(items, it)
	}
	pairDelimiters(items, nodesBySlot(slots, func(i int) *mnode { return slots[i].n }), s, r)
	return items
}

func nodesBySlot[T any](slots []T, f func(int) *mnode) []*mnode {
	out := make([]*mnode, len(slots))
	for i := range slots {
		out[i] = f(i)
	}
	return out
}

// splitScripts divides the scripts of one base into subscripts and superscripts: the
// largest script glyphs decide by their baseline against the base's, and smaller ones go
// with the nearest of those to their left.
func splitScripts(scripts []*mnode, b float64, base *mnode) (sub, sup []*mnode) {
	ps := 0.0
	for _, n := range scripts {
		if !n.rule {
			ps = math.Max(ps, n.size)
		}
	}
	type prim struct {
		n   *mnode
		up  bool
		cen float64
	}
	var prims []prim
	var rest []*mnode
	for _, n := range scripts {
		if n.size >= 0.9*ps && !n.ext || n.compound {
			up := n.base > b+0.02*base.size
			if base.ext && !base.compound || base.compound && base.cls != mOrd {
				up = n.cy() > base.cy()
			}
			prims = append(prims, prim{n, up, n.cy()})
			if up {
				sup = append(sup, n)
			} else {
				sub = append(sub, n)
			}
		} else {
			rest = append(rest, n)
		}
	}
	for _, n := range rest {
		var best *prim
		bestD := math.Inf(1)
		for i := range prims {
			p := &prims[i]
			if p.n.x0 > n.x0+0.5 {
				continue
			}
			d := math.Max(0, n.x0-p.n.x1)/ps + math.Abs(n.cy()-p.cen)/ps
			if d < bestD {
				best, bestD = p, d
			}
		}
		up := n.cy() > base.cy()
		if best != nil {
			up = best.up
		}
		if up {
			sup = append(sup, n)
		} else {
			sub = append(sub, n)
		}
	}
	return sub, sup
}

// pairDelimiters turns big delimiters that pair into \left ... \right.
func pairDelimiters(items []item, ns []*mnode, s float64, r *recon) {
	var stack []int
	big := func(i int) bool { return ns[i].ext && !ns[i].compound && ns[i].height() > 1.1*s }
	for i := range items {
		if !big(i) {
			continue
		}
		switch ns[i].cls {
		case mOpen:
			stack = append(stack, i)
		case mClose:
			if k := len(stack); k > 0 {
				j := stack[k-1]
				stack = stack[:k-1]
				items[j].tex = `\left` + items[j].tex
				items[i].tex = `\right` + items[i].tex
			}
		case mDelim:
			if k := len(stack); k > 0 && ns[stack[k-1]].tex == ns[i].tex && ns[stack[k-1]].cls == mDelim {
				j := stack[k-1]
				stack = stack[:k-1]
				items[j].tex = `\left` + items[j].tex
				items[i].tex = `\right` + items[i].tex
				items[j].cls, items[i].cls = mOpen, mClose
			} else {
				stack = append(stack, i)
			}
		}
	}
	for _, j := range stack {
		if ns[j].cls == mOpen {
			r.note("big delimiter %s without its partner", items[j].tex)
		}
	}
}

// joinItems writes items with the spacing a reader expects: a space around relations and
// binary operators, \quad and \qquad for wide gaps between other items, and a space after a
// command name that a letter follows.
func joinItems(items []item) string {
	var b strings.Builder
	for i, it := range items {
		if it.tex == "" {
			continue
		}
		if strings.HasPrefix(it.tex, `\text{`) && strings.HasSuffix(it.tex, "}") && !strings.ContainsAny(it.tex, "_^") {
			// the spaces around words of text are part of the text
			size := it.size
			if size <= 0 {
				size = 10
			}
			// (a gap wide enough for \quad gets \quad instead)
			if i > 0 && it.x0-items[i-1].x1 > 0.15*size && it.x0-items[i-1].x1 <= 0.85*size {
				it.tex = `\text{ ` + it.tex[len(`\text{`):]
			}
			if i+1 < len(items) && items[i+1].x0-it.x1 > 0.15*size && items[i+1].x0-it.x1 <= 0.85*size {
				it.tex = it.tex[:len(it.tex)-1] + " }"
			}
		}
		if i > 0 {
			prev := items[i-1]
			gap := it.x0 - prev.x1
			size := it.size
			if size <= 0 {
				size = 10
			}
			switch {
			case it.cls == mRel || it.cls == mBin || prev.cls == mRel || prev.cls == mBin:
				b.WriteByte(' ')
			case gap > 1.8*size:
				b.WriteString(` \qquad `)
			case gap > 0.85*size:
				b.WriteString(` \quad `)
			case prev.cls == mPunct:
				b.WriteByte(' ')
			case needsSpace(b.String(), it.tex):
				b.WriteByte(' ')
			}
		}
		b.WriteString(it.tex)
	}
	return strings.TrimSpace(b.String())
}

// needsSpace reports whether text ending in a command name would run into next.
func needsSpace(prev, next string) bool {
	if next == "" || prev == "" {
		return false
	}
	c := next[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
		return false
	}
	i := len(prev) - 1
	for i >= 0 && (prev[i] >= 'a' && prev[i] <= 'z' || prev[i] >= 'A' && prev[i] <= 'Z') {
		i--
	}
	return i >= 0 && i < len(prev)-1 && prev[i] == '\\'
}
