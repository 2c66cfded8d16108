package eqextract

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/ledongthuc/pdf"
)

// A small interpreter of page content streams for text: it tracks the text and graphics
// state (BT/ET, Tf, Td, TD, Tm, T*, TL, Tc, Tw, Tz, Ts, cm, q/Q) and emits one glyph per
// character code with its position and advance width. It uses the reader's tokenizer
// (pdf.Interpret) and font encodings, and caches each font's decoding and widths per page.

// maxGlyphsPerPage bounds the glyphs kept for one page; maxCodesPerFont bounds the
// distinct character codes decoded per font and page (each decode searches the font's
// ToUnicode map).
const (
	maxGlyphsPerPage = 200000
	maxCodesPerFont  = 8192
	// maxRulesPerPage bounds the thin horizontal rules kept for one page (fraction bars,
	// radical overlines); maxPathSegments the segments of one path that are examined.
	maxRulesPerPage = 20000
	maxPathSegments = 256
)

type mat [6]float64 // a b c d e f

func (m mat) mul(n mat) mat {
	return mat{
		m[0]*n[0] + m[1]*n[2],
		m[0]*n[1] + m[1]*n[3],
		m[2]*n[0] + m[3]*n[2],
		m[2]*n[1] + m[3]*n[3],
		m[4]*n[0] + m[5]*n[2] + n[4],
		m[4]*n[1] + m[5]*n[3] + n[5],
	}
}

var identity = mat{1, 0, 0, 1, 0, 0}

type fontInfo struct {
	name     string
	twoByte  bool
	first    int
	widths   []float64
	defWidth float64
	cidW     map[int]float64
	enc      pdf.TextEncoding // the reader's encodings, for fonts without a ToUnicode CMap
	cmap     *toUnicode       // the font's ToUnicode CMap, read by parseToUnicode
	cache    map[int]string
}

func (f *fontInfo) width(code int) float64 {
	if f.twoByte {
		if w, ok := f.cidW[code]; ok {
			return w
		}
		return f.defWidth
	}
	i := code - f.first
	if i >= 0 && i < len(f.widths) {
		return f.widths[i]
	}
	return 0
}

func (f *fontInfo) decode(code int) string {
	if s, ok := f.cache[code]; ok {
		return s
	}
	if len(f.cache) >= maxCodesPerFont {
		return "" // counted as unmappable
	}
	var raw string
	if f.twoByte {
		raw = string([]byte{byte(code >> 8), byte(code)})
	} else {
		raw = string([]byte{byte(code)})
	}
	s := ""
	switch {
	case f.cmap != nil:
		s = f.cmap.lookup(uint32(code), len(raw))
	case f.enc != nil:
		s = f.enc.Decode(raw)
	}
	f.cache[code] = s
	return s
}

// loadFont reads a font dictionary. Its text mapping follows the reader's choice (the
// /Encoding, else the ToUnicode CMap), but a ToUnicode CMap is read by parseToUnicode,
// within its budgets, and never by the reader.
func loadFont(v pdf.Value) (*fontInfo, error) {
	f := &fontInfo{cache: map[int]string{}, defWidth: 1000}
	name := v.Key("BaseFont").Name()
	if i := strings.IndexByte(name, '+'); i >= 0 {
		name = name[i+1:]
	}
	f.name = name
	enc := v.Key("Encoding")
	if tu := v.Key("ToUnicode"); tu.Kind() == pdf.Stream && (enc.Kind() == pdf.Null || enc.Kind() == pdf.Name && enc.Name() == "Identity-H") {
		rc := tu.Reader()
		m, err := parseToUnicode(rc)
		rc.Close()
		if err != nil {
			return nil, fmt.Errorf("font %s: %w", name, err)
		}
		f.cmap = m
	} else {
		font := pdf.Font{V: v}
		f.enc = font.Encoder()
	}
	if v.Key("Subtype").Name() == "Type0" {
		f.twoByte = true
		f.cidW = map[int]float64{}
		d := v.Key("DescendantFonts").Index(0)
		if dw := d.Key("DW"); dw.Kind() == pdf.Integer || dw.Kind() == pdf.Real {
			f.defWidth = dw.Float64()
		}
		w := d.Key("W")
		n := w.Len()
		if n > 100000 {
			n = 100000
		}
		const maxOps = 1 << 18 // a CID font has at most 65536 glyphs
		ops := 0
		for i := 0; i+1 < n && ops < maxOps; {
			c := int(w.Index(i).Int64())
			nx := w.Index(i + 1)
			if nx.Kind() == pdf.Array {
				for j := 0; j < nx.Len() && j < 65536 && ops < maxOps; j++ {
					f.cidW[c+j] = nx.Index(j).Float64()
					ops++
				}
				i += 2
				ops++
				continue
			}
			if i+2 >= n {
				break
			}
			c2 := int(nx.Int64())
			wv := w.Index(i + 2).Float64()
			for c3 := c; c3 <= c2 && c3-c < 65536 && ops < maxOps; c3++ {
				f.cidW[c3] = wv
				ops++
			}
			i += 3
			ops++
		}
		return f, nil
	}
	f.first = int(v.Key("FirstChar").Int64())
	ws := v.Key("Widths")
	n := ws.Len()
	if n > 256 {
		n = 256
	}
	f.widths = make([]float64, n)
	for i := 0; i < n; i++ {
		f.widths[i] = ws.Index(i).Float64()
	}
	return f, nil
}

type textState struct {
	ctm            mat
	tc, tw, th, tl float64
	tfs, rise      float64
	lw             float64 // line width
	font           *fontInfo
}

// rule is a thin horizontal rule drawn on the page (a filled rectangle or a stroked line):
// fraction bars, radical overlines, \hline. Coordinates are page points.
type rule struct {
	x0, x1 float64
	y      float64 // middle of the rule
	thick  float64
}

// seg is a rectangle or a line segment of a path, in page space.
type seg struct{ x0, y0, x1, y1 float64 }

// pageContent is what the interpreter keeps of a page.
type pageContent struct {
	glyphs []glyph
	// hidden are the glyphs without a Unicode mapping, with their character codes (the
	// math extension fonts of TeX have none); layout ignores them, formula reconstruction
	// maps them by font and code.
	hidden []glyph
	rules  []rule
	bad    int
}

// pageGlyphs interprets the content of the page dictionary v.
func pageGlyphs(ctx context.Context, v pdf.Value) (pageContent, error) {
	fontsDict := inherited(v, "Resources").Key("Font")
	fonts := map[string]*fontInfo{}
	var out, hidden []glyph
	var rules []rule
	bad := 0
	gs := textState{ctm: identity, th: 1, lw: 1}
	// the current path: its rectangles and line segments, in page space
	var rects, lines []seg
	var cx, cy float64
	addRule := func(x0, x1, y, thick float64) {
		if len(rules) >= maxRulesPerPage || x1-x0 < 0.5 || thick <= 0 || thick > 3 || x1-x0 < 2*thick {
			return
		}
		rules = append(rules, rule{x0: x0, x1: x1, y: y, thick: thick})
	}
	pt := func(x, y float64) (float64, float64) {
		m := gs.ctm
		return x*m[0] + y*m[2] + m[4], x*m[1] + y*m[3] + m[5]
	}
	var stack []textState
	tm, tlm := identity, identity
	var err error
	shown := 0

	show := func(raw string) {
		f := gs.font
		if f == nil {
			return
		}
		step := 1
		if f.twoByte {
			step = 2
		}
		for i := 0; i+step <= len(raw); i += step {
			if shown++; shown&0xfff == 0 {
				if err := ctx.Err(); err != nil {
					panic(errAbort{err})
				}
			}
			code := int(raw[i])
			if step == 2 {
				code = code<<8 | int(raw[i+1])
			}
			w0 := f.width(code) / 1000
			trm := mat{gs.tfs * gs.th, 0, 0, gs.tfs, 0, gs.rise}.mul(tm).mul(gs.ctm)
			s := f.decode(code)
			size := math.Hypot(trm[2], trm[3])
			wd := w0 * math.Hypot(trm[0], trm[1])
			switch {
			case s == "" || !mappable(s):
				bad++
				if len(hidden) < maxGlyphsPerPage {
					hidden = append(hidden, glyph{x: trm[4], y: trm[5], w: wd, size: size, font: f.name, code: code})
				}
			case s == " " || len(out) >= maxGlyphsPerPage:
			default:
				out = append(out, glyph{x: trm[4], y: trm[5], w: wd, size: size, font: f.name, s: s, code: code})
			}
			tx := w0*gs.tfs + gs.tc
			if step == 1 && code == 32 {
				tx += gs.tw
			}
			tm = mat{1, 0, 0, 1, tx * gs.th, 0}.mul(tm)
		}
	}
	nums := func(args []pdf.Value, n int) ([]float64, bool) {
		if len(args) < n {
			return nil, false
		}
		args = args[len(args)-n:]
		out := make([]float64, n)
		for i, a := range args {
			if a.Kind() != pdf.Integer && a.Kind() != pdf.Real {
				return nil, false
			}
			out[i] = a.Float64()
			if math.IsNaN(out[i]) || math.IsInf(out[i], 0) {
				return nil, false
			}
		}
		return out, true
	}
	pdf.Interpret(v.Key("Contents"), func(stk *pdf.Stack, op string) {
		n := stk.Len()
		if n > 64 {
			n = 64
		}
		args := make([]pdf.Value, n)
		for i := n - 1; i >= 0; i-- {
			args[i] = stk.Pop()
		}
		for stk.Len() > 0 {
			stk.Pop()
		}
		switch op {
		case "q":
			if len(stack) < 256 {
				stack = append(stack, gs)
			}
		case "Q":
			if k := len(stack); k > 0 {
				gs = stack[k-1]
				stack = stack[:k-1]
			}
		case "cm":
			if a, ok := nums(args, 6); ok {
				gs.ctm = mat{a[0], a[1], a[2], a[3], a[4], a[5]}.mul(gs.ctm)
			}
		case "BT":
			tm, tlm = identity, identity
		case "w":
			if a, ok := nums(args, 1); ok {
				gs.lw = a[0]
			}
		case "re":
			if a, ok := nums(args, 4); ok && len(rects) < maxPathSegments {
				x0, y0 := pt(a[0], a[1])
				x1, y1 := pt(a[0]+a[2], a[1]+a[3])
				rects = append(rects, seg{math.Min(x0, x1), math.Min(y0, y1), math.Max(x0, x1), math.Max(y0, y1)})
			}
		case "m":
			if a, ok := nums(args, 2); ok {
				cx, cy = pt(a[0], a[1])
			}
		case "l":
			if a, ok := nums(args, 2); ok {
				x, y := pt(a[0], a[1])
				if len(lines) < maxPathSegments {
					lines = append(lines, seg{cx, cy, x, y})
				}
				cx, cy = x, y
			}
		case "f", "F", "f*", "B", "B*", "b", "b*":
			for _, r := range rects {
				addRule(r.x0, r.x1, (r.y0+r.y1)/2, r.y1-r.y0)
			}
			if op != "f" && op != "F" && op != "f*" {
				strokeLines(lines, gs.lw*math.Hypot(gs.ctm[2], gs.ctm[3]), addRule)
			}
			rects, lines = rects[:0], lines[:0]
		case "S", "s":
			strokeLines(lines, gs.lw*math.Hypot(gs.ctm[2], gs.ctm[3]), addRule)
			rects, lines = rects[:0], lines[:0]
		case "n":
			rects, lines = rects[:0], lines[:0]
		case "Tf":
			if len(args) >= 2 {
				name := args[len(args)-2].Name()
				f, ok := fonts[name]
				if !ok {
					fv := fontsDict.Key(name)
					if fv.IsNull() {
						f = nil
					} else if f, err = loadFont(fv); err != nil {
						panic(errAbort{err})
					}
					fonts[name] = f
				}
				gs.font = f
				gs.tfs = args[len(args)-1].Float64()
			}
		case "Tc":
			if a, ok := nums(args, 1); ok {
				gs.tc = a[0]
			}
		case "Tw":
			if a, ok := nums(args, 1); ok {
				gs.tw = a[0]
			}
		case "Tz":
			if a, ok := nums(args, 1); ok {
				gs.th = a[0] / 100
			}
		case "TL":
			if a, ok := nums(args, 1); ok {
				gs.tl = a[0]
			}
		case "Ts":
			if a, ok := nums(args, 1); ok {
				gs.rise = a[0]
			}
		case "Td", "TD":
			if a, ok := nums(args, 2); ok {
				if op == "TD" {
					gs.tl = -a[1]
				}
				tlm = mat{1, 0, 0, 1, a[0], a[1]}.mul(tlm)
				tm = tlm
			}
		case "Tm":
			if a, ok := nums(args, 6); ok {
				tlm = mat{a[0], a[1], a[2], a[3], a[4], a[5]}
				tm = tlm
			}
		case "T*":
			tlm = mat{1, 0, 0, 1, 0, -gs.tl}.mul(tlm)
			tm = tlm
		case "Tj":
			if len(args) >= 1 {
				show(args[len(args)-1].RawString())
			}
		case "'":
			tlm = mat{1, 0, 0, 1, 0, -gs.tl}.mul(tlm)
			tm = tlm
			if len(args) >= 1 {
				show(args[len(args)-1].RawString())
			}
		case "\"":
			if len(args) >= 3 {
				gs.tw = args[len(args)-3].Float64()
				gs.tc = args[len(args)-2].Float64()
				tlm = mat{1, 0, 0, 1, 0, -gs.tl}.mul(tlm)
				tm = tlm
				show(args[len(args)-1].RawString())
			}
		case "TJ":
			if len(args) < 1 {
				return
			}
			arr := args[len(args)-1]
			for i := 0; i < arr.Len() && i < 1<<16; i++ {
				x := arr.Index(i)
				switch x.Kind() {
				case pdf.String:
					show(x.RawString())
				case pdf.Integer, pdf.Real:
					tx := -x.Float64() / 1000 * gs.tfs * gs.th
					if !math.IsNaN(tx) && !math.IsInf(tx, 0) {
						tm = mat{1, 0, 0, 1, tx, 0}.mul(tm)
					}
				}
			}
		}
	})
	if len(out) >= maxGlyphsPerPage {
		err = errors.New("too many glyphs on the page")
	}
	return pageContent{glyphs: out, hidden: hidden, rules: rules, bad: bad}, err
}

// strokeLines records the horizontal segments of a stroked path as rules of thickness lw.
func strokeLines(lines []seg, lw float64, add func(x0, x1, y, thick float64)) {
	for _, l := range lines {
		if math.Abs(l.y1-l.y0) < 0.05 {
			add(math.Min(l.x0, l.x1), math.Max(l.x0, l.x1), l.y0, lw)
		}
	}
}
