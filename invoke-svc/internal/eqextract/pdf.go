package eqextract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/ledongthuc/pdf"
)

// DefaultPDFTimeout bounds one FromPDF call; FromPDFContext takes the caller's context instead.
var DefaultPDFTimeout = 2 * time.Minute

// FromPDF finds the display equations of a PDF. pages lists the 1-based pages to look at;
// nil means all. See the package documentation for what is and is not recognised.
func FromPDF(r io.ReaderAt, size int64, pages []int) (Result, error) {
	ctx, cancel := context.WithTimeout(context.Background(), DefaultPDFTimeout)
	defer cancel()
	return FromPDFContext(ctx, r, size, pages)
}

// FromPDFContext is FromPDF bounded by ctx: when ctx is done the extraction stops with
// ctx's error.
func FromPDFContext(ctx context.Context, r io.ReaderAt, size int64, pages []int) (Result, error) {
	doc, err := openPDF(ctx, r, size)
	if err != nil {
		return Result{}, err
	}
	n := doc.numPages()
	res := Result{Pages: n, Equations: []Equation{}}
	want := pages
	if want == nil {
		want = make([]int, 0, n)
		for i := 1; i <= n; i++ {
			want = append(want, i)
		}
	}
	if len(want) > MaxPDFPages {
		return Result{}, fmt.Errorf("%w: %d pages requested, limit %d", ErrTooLarge, len(want), MaxPDFPages)
	}
	seen := map[int]bool{}
	for _, pn := range want {
		if pn < 1 || pn > n {
			return Result{}, fmt.Errorf("%w: page %d, the PDF has pages 1..%d", ErrPageRange, pn, n)
		}
		if seen[pn] {
			continue
		}
		seen[pn] = true
		if err := ctx.Err(); err != nil {
			return Result{}, fmt.Errorf("eqextract: page %d: %w", pn, err)
		}
		pg, err := doc.page(ctx, pn)
		if err != nil {
			if ctx.Err() != nil {
				return Result{}, fmt.Errorf("eqextract: page %d: %w", pn, ctx.Err())
			}
			if errors.Is(err, errDocContent) {
				return Result{}, err
			}
			res.UncertainPages = append(res.UncertainPages, pn)
			res.Warnings = appendWarning(res.Warnings, fmt.Sprintf("page %d: %v", pn, err))
			continue
		}
		if pg.garbled() {
			res.UncertainPages = append(res.UncertainPages, pn)
			continue
		}
		eqs, err := findEquations(ctx, pg)
		if err != nil {
			if ctx.Err() != nil {
				return Result{}, fmt.Errorf("eqextract: page %d: %w", pn, ctx.Err())
			}
			res.UncertainPages = append(res.UncertainPages, pn)
			res.Warnings = appendWarning(res.Warnings, fmt.Sprintf("page %d: %v", pn, err))
			continue
		}
		if len(res.Equations)+len(eqs) > MaxEquations {
			return Result{}, fmt.Errorf("%w: equation budget of %d exceeded on page %d", ErrTooLarge, MaxEquations, pn)
		}
		res.Equations = append(res.Equations, eqs...)
	}
	sort.Ints(res.UncertainPages)
	return res, nil
}

func appendWarning(w []string, s string) []string {
	if len(w) < maxWarnings {
		w = append(w, s)
	}
	return w
}

// errAbort is raised (as a panic, from inside the PDF reader's calls into our ReaderAt)
// when the time or byte budget is used up. It claims to be a runtime error so that the
// reader's own recovery of parse errors does not swallow it.
type errAbort struct{ err error }

func (e errAbort) Error() string { return e.err.Error() }
func (e errAbort) Unwrap() error { return e.err }
func (e errAbort) RuntimeError() {}

var _ runtime.Error = errAbort{}

// guardedReader wraps the PDF bytes: every read checks the context and a byte budget, so
// that loops inside the PDF reader that keep re-reading (reference cycles, decompression
// bombs) stop.
type guardedReader struct {
	r      *bytes.Reader
	ctx    context.Context
	budget int64
}

func (g *guardedReader) ReadAt(b []byte, off int64) (int, error) {
	if err := g.ctx.Err(); err != nil {
		panic(errAbort{err})
	}
	g.budget -= int64(len(b))
	if g.budget < 0 {
		panic(errAbort{fmt.Errorf("%w: PDF read budget exhausted", ErrTooComplex)})
	}
	return g.r.ReadAt(b, off)
}

type pdfDoc struct {
	g       *guardedReader
	rd      *pdf.Reader
	pages   []pdf.Value
	size    int64
	perPage int64
	content int64 // decoded content bytes of the pages read so far
}

// errDocContent is wrapped when the pages of one document decode to more content than
// MaxPDFContentBytes: the whole call fails, since every further page would add to it.
var errDocContent = fmt.Errorf("%w: content budget", ErrTooComplex)

// protect runs f and turns a panic into an error.
func protect(f func()) (err error) {
	defer func() {
		if x := recover(); x != nil {
			switch v := x.(type) {
			case errAbort:
				err = v
			case error:
				err = fmt.Errorf("malformed PDF: %w", v)
			default:
				err = fmt.Errorf("malformed PDF: %v", v)
			}
		}
	}()
	f()
	return nil
}

func openPDF(ctx context.Context, r io.ReaderAt, size int64) (*pdfDoc, error) {
	if size <= 0 {
		return nil, fmt.Errorf("%w: empty input", ErrNotPDF)
	}
	if size > MaxPDFBytes {
		return nil, fmt.Errorf("%w: PDF has %d bytes, limit %d", ErrTooLarge, size, MaxPDFBytes)
	}
	data := make([]byte, size)
	if n, err := r.ReadAt(data, 0); int64(n) != size {
		return nil, fmt.Errorf("eqextract: reading PDF: %v", err)
	}
	if err := prescan(data); err != nil {
		return nil, err
	}
	perPage := 64<<20 + 16*size
	g := &guardedReader{r: bytes.NewReader(data), ctx: ctx, budget: perPage}
	doc := &pdfDoc{g: g, size: size, perPage: perPage}
	var rd *pdf.Reader
	err := protect(func() {
		var e error
		rd, e = pdf.NewReader(g, size)
		if e != nil {
			panic(e)
		}
	})
	if err != nil {
		var ab errAbort
		if errors.As(err, &ab) {
			return nil, ab.err
		}
		return nil, fmt.Errorf("%w: %v", ErrNotPDF, err)
	}
	doc.rd = rd
	g.budget = perPage
	err = protect(func() { doc.pages = collectPages(rd) })
	if err != nil {
		var ab errAbort
		if errors.As(err, &ab) {
			return nil, ab.err
		}
		return nil, fmt.Errorf("%w: page tree: %v", ErrNotPDF, err)
	}
	if len(doc.pages) == 0 {
		return nil, fmt.Errorf("%w: no pages", ErrNotPDF)
	}
	return doc, nil
}

func (d *pdfDoc) numPages() int { return len(d.pages) }

const (
	maxPageTreeDepth = 64
	maxInheritDepth  = 64
)

// collectPages walks the page tree with depth and count limits (the reader's own walk has
// none and loops on a cyclic tree).
func collectPages(rd *pdf.Reader) []pdf.Value {
	var out []pdf.Value
	visits := 0
	var walk func(v pdf.Value, depth int)
	walk = func(v pdf.Value, depth int) {
		visits++
		if depth > maxPageTreeDepth || visits > 4*MaxPDFPages+1000 || len(out) > MaxPDFPages*4 {
			return
		}
		switch v.Key("Type").Name() {
		case "Pages":
			kids := v.Key("Kids")
			for i := 0; i < kids.Len(); i++ {
				walk(kids.Index(i), depth+1)
			}
		case "Page":
			out = append(out, v)
		default:
			// A node without /Type: a page if it has contents, a tree node if it has kids.
			if v.Key("Kids").Kind() == pdf.Array {
				kids := v.Key("Kids")
				for i := 0; i < kids.Len(); i++ {
					walk(kids.Index(i), depth+1)
				}
			} else if v.Key("Contents").Kind() != pdf.Null {
				out = append(out, v)
			}
		}
	}
	walk(rd.Trailer().Key("Root").Key("Pages"), 0)
	return out
}

// glyph is one character on a page.
type glyph struct {
	x, y, w, size float64
	font          string
	s             string
	code          int // character code in the font
}

type pageText struct {
	num    int
	glyphs []glyph
	hidden []glyph // glyphs without a Unicode mapping (see pageContent)
	rules  []rule
	width  float64
	height float64
	bad    int // glyphs whose text is unmappable
}

// garbled reports whether the page's text cannot be trusted: no text at all, or mostly
// glyphs without a Unicode mapping.
func (p *pageText) garbled() bool {
	if len(p.glyphs) == 0 {
		return true
	}
	return p.bad*2 > len(p.glyphs)+p.bad
}

func (d *pdfDoc) page(ctx context.Context, num int) (*pageText, error) {
	d.g.budget = d.perPage
	v := d.pages[num-1]
	pt := &pageText{num: num, width: 612, height: 792}
	var pc pageContent
	var gerr error
	err := protect(func() {
		// The inherited attributes are looked up through /Parent without a limit; check
		// the chain first.
		ok := false
		p := v
		for i := 0; i < maxInheritDepth; i++ {
			if p.IsNull() || !p.Key("Resources").IsNull() {
				ok = true
				break
			}
			p = p.Key("Parent")
		}
		if !ok {
			panic(errors.New("page resources: /Parent chain too deep"))
		}
		if mb := inherited(v, "MediaBox"); mb.Len() == 4 {
			w := mb.Index(2).Float64() - mb.Index(0).Float64()
			h := mb.Index(3).Float64() - mb.Index(1).Float64()
			if w > 10 && h > 10 && w < 20000 && h < 20000 {
				pt.width, pt.height = w, h
			}
		}
		n, err := checkContentSize(v.Key("Contents"))
		if d.content += n; d.content > MaxPDFContentBytes {
			panic(errAbort{fmt.Errorf("%w of %d decoded bytes for the document exceeded at page %d", errDocContent, MaxPDFContentBytes, num)})
		}
		switch {
		case errors.Is(err, ErrTooLarge), errors.Is(err, ErrTooComplex):
			panic(errAbort{err}) // a budget, not a malformed page
		case err != nil:
			panic(err)
		}
		pc, gerr = pageGlyphs(ctx, v)
	})
	if err != nil {
		return nil, err
	}
	if gerr != nil {
		return nil, gerr
	}
	pt.glyphs, pt.hidden, pt.rules, pt.bad = pc.glyphs, pc.hidden, pc.rules, pc.bad
	return pt, nil
}
func inherited(v pdf.Value, key string) pdf.Value {
	for i := 0; i < maxInheritDepth && !v.IsNull(); i++ {
		if r := v.Key(key); !r.IsNull() {
			return r
		}
		v = v.Key("Parent")
	}
	return pdf.Value{}
}

// checkContentSize decodes the page's content streams once with a cap, so that the reader
// is never handed a decompression bomb, and returns their decoded size.
func checkContentSize(c pdf.Value) (int64, error) {
	var streams []pdf.Value
	switch c.Kind() {
	case pdf.Stream:
		streams = []pdf.Value{c}
	case pdf.Array:
		if c.Len() > 10000 {
			return 0, fmt.Errorf("%w: %d content streams", ErrTooLarge, c.Len())
		}
		for i := 0; i < c.Len(); i++ {
			streams = append(streams, c.Index(i))
		}
	case pdf.Null:
		return 0, nil
	default:
		return 0, errors.New("page contents are not a stream")
	}
	var total int64
	ops := &contentScan{}
	for _, s := range streams {
		rc := s.Reader()
		n, err := io.Copy(ops, io.LimitReader(rc, MaxPageContentBytes-total+1))
		rc.Close()
		total += n
		if total > MaxPageContentBytes {
			return total, fmt.Errorf("%w: page content over %d bytes", ErrTooLarge, MaxPageContentBytes)
		}
		if err != nil {
			return total, fmt.Errorf("page content: %v", err)
		}
		ops.endToken()
		if ops.longest > maxOperandRun {
			return total, fmt.Errorf("%w: operand budget: a run of more than %d operands without an operator", ErrTooComplex, maxOperandRun)
		}
	}
	if ops.unterminatedHex() {
		return total, errors.New("page content ends inside a hex string")
	}
	return total, nil
}

// maxOperandRun bounds the numeric operands in a row that page content may hold: the
// reader's interpreter keeps them all on its stack until the next operator (an operator
// takes at most 6; a run of millions costs hundreds of MiB and seconds).
const maxOperandRun = 1 << 16

// contentScan is a writer that reads page content as the reader's lexer will, across
// writes: it measures the longest run of numeric tokens (outside strings and comments), and
// whether the content ends inside a hex string, on which the reader's lexer loops forever.
type contentScan struct {
	state        int  // scanNormal, scanComment, scanLiteral, scanHex
	lt           bool // a '<' was the last byte in scanNormal: a hex string or "<<"
	depth        int  // parentheses open in scanLiteral
	escape       bool // a backslash was the last byte in scanLiteral
	inToken      bool
	numeric      bool
	run, longest int
}

const (
	scanNormal = iota
	scanComment
	scanLiteral
	scanHex
)

func (o *contentScan) Write(p []byte) (int, error) {
	for _, c := range p {
		switch o.state {
		case scanComment:
			if c == '\n' || c == '\r' {
				o.state = scanNormal
			}
			continue
		case scanLiteral:
			switch {
			case o.escape:
				o.escape = false
			case c == '\\':
				o.escape = true
			case c == '(':
				o.depth++
			case c == ')':
				if o.depth--; o.depth == 0 {
					o.state = scanNormal
				}
			}
			continue
		case scanHex:
			if c == '>' {
				o.state = scanNormal
			}
			continue
		}
		if o.lt {
			o.lt = false
			if c != '<' { // "<<" opens a dictionary; anything else a hex string
				o.state = scanHex
				if c == '>' {
					o.state = scanNormal
				}
			}
			continue
		}
		switch {
		case c == ' ' || c == '\n' || c == '\r' || c == '\t' || c == '\f' || c == 0:
			o.endToken()
		case c >= '0' && c <= '9' || c == '.' || c == '-' || c == '+':
			if !o.inToken {
				o.inToken, o.numeric = true, true
			}
		case c == '%', c == '(', c == '<':
			o.endToken()
			o.other()
			switch c {
			case '%':
				o.state = scanComment
			case '(':
				o.state, o.depth = scanLiteral, 1
			default:
				o.lt = true
			}
		default:
			o.inToken, o.numeric = true, false
		}
	}
	return len(p), nil
}

// endToken ends the token being read, if any.
func (o *contentScan) endToken() {
	if o.inToken {
		if o.numeric {
			o.run++
			o.longest = max(o.longest, o.run)
		} else {
			o.run = 0
		}
	}
	o.inToken, o.numeric = false, false
}

// other counts a token that is not a number (a string, a dictionary).
func (o *contentScan) other() { o.run = 0 }

// unterminatedHex reports content that ends inside a hex string.
func (o *contentScan) unterminatedHex() bool { return o.lt || o.state == scanHex }

// mappable reports whether s is real text: not the replacement character, not a control
// or private-use code point.
func mappable(s string) bool {
	for _, r := range s {
		switch {
		case r == '\uFFFD', r < 0x20, r >= 0x7f && r < 0xa0, r >= 0xE000 && r <= 0xF8FF:
			return false
		}
	}
	return true
}

// prescan rejects PDFs whose cross-reference data would make the reader allocate huge
// tables or loop for a long time: it checks /Size, /W, /Index of xref streams, the
// subsections of xref tables, /N of object streams and /Columns of predictors.
var (
	reSizeKey  = regexp.MustCompile(`/(Size|N|Columns|First)\s*([0-9+\-.]+)(\s+[0-9]+\s+R)?`)
	reWArray   = regexp.MustCompile(`/W\s*\[\s*([0-9]+)\s+([0-9]+)\s+([0-9]+)\s*\]`)
	reIndexArr = regexp.MustCompile(`/Index\s*\[([0-9\s]*)\]`)
	reXref     = regexp.MustCompile(`(^|[\r\n\s])xref\s`)
)

func prescan(data []byte) error {
	if !bytes.HasPrefix(data, []byte("%PDF-")) {
		return fmt.Errorf("%w: no %%PDF- header", ErrNotPDF)
	}
	// Dictionaries of xref and object streams are never compressed, so a scan of the raw
	// bytes sees all of them.
	for _, typ := range [][]byte{[]byte("/XRef"), []byte("/ObjStm")} {
		for off := 0; ; {
			i := bytes.Index(data[off:], typ)
			if i < 0 {
				break
			}
			pos := off + i
			off = pos + len(typ)
			lo := max(0, pos-4096)
			hi := min(len(data), pos+4096)
			win := data[lo:hi]
			if s := bytes.Index(win[pos-lo:], []byte("stream")); s >= 0 {
				win = win[:pos-lo+s]
			}
			if k := bytes.LastIndex(win[:pos-lo], []byte("obj")); k >= 0 {
				win = win[k:]
			}
			for _, m := range reSizeKey.FindAllSubmatch(win, -1) {
				if len(m[3]) > 0 {
					return fmt.Errorf("%w: indirect /%s in a %s dictionary", ErrNotPDF, m[1], typ[1:])
				}
				v, err := strconv.ParseFloat(string(m[2]), 64)
				if err != nil || v < 0 || v > float64(MaxPDFObjects) {
					return fmt.Errorf("%w: /%s %s in a %s dictionary", ErrTooLarge, m[1], m[2], typ[1:])
				}
			}
			for _, m := range reWArray.FindAllSubmatch(win, -1) {
				for _, x := range m[1:] {
					if v, err := strconv.Atoi(string(x)); err != nil || v > 8 {
						return fmt.Errorf("%w: xref stream /W entry %s", ErrNotPDF, x)
					}
				}
			}
			for _, m := range reIndexArr.FindAllSubmatch(win, -1) {
				f := strings.Fields(string(m[1]))
				for j := 0; j+1 < len(f); j += 2 {
					a, e1 := strconv.ParseInt(f[j], 10, 64)
					b, e2 := strconv.ParseInt(f[j+1], 10, 64)
					if e1 != nil || e2 != nil || a+b > MaxPDFObjects || a < 0 || b < 0 {
						return fmt.Errorf("%w: xref stream /Index %s %s", ErrTooLarge, f[j], f[j+1])
					}
				}
			}
		}
	}
	for _, m := range reSizeKey.FindAllSubmatch(data, -1) {
		if string(m[1]) == "Columns" {
			if v, err := strconv.ParseFloat(string(m[2]), 64); err == nil && v > 1<<20 {
				return fmt.Errorf("%w: /Columns %s", ErrTooLarge, m[2])
			}
		}
	}
	// Classic xref tables: follow the subsection headers the way the reader does.
	for _, loc := range reXref.FindAllIndex(data, -1) {
		if err := checkXrefTable(data[loc[1]:]); err != nil {
			return err
		}
	}
	return nil
}

func checkXrefTable(b []byte) error {
	pos := 0
	next := func() (string, bool) {
		for pos < len(b) && isSpace(b[pos]) {
			pos++
		}
		if pos >= len(b) {
			return "", false
		}
		s := pos
		for pos < len(b) && !isSpace(b[pos]) && pos-s < 32 {
			pos++
		}
		return string(b[s:pos]), true
	}
	for sub := 0; sub < 100000; sub++ {
		t, ok := next()
		if !ok || t == "trailer" {
			return nil
		}
		start, e1 := strconv.ParseInt(t, 10, 64)
		t2, _ := next()
		n, e2 := strconv.ParseInt(t2, 10, 64)
		if e1 != nil || e2 != nil {
			return nil // the reader reports the malformed table itself
		}
		if start < 0 || n < 0 || start+n > MaxPDFObjects {
			return fmt.Errorf("%w: xref subsection %d %d", ErrTooLarge, start, n)
		}
		// Skip the entries: 3 tokens each, 20 bytes each in a well-formed table.
		if int64(len(b)-pos) < n*6 {
			return nil
		}
		for i := int64(0); i < 3*n; i++ {
			if _, ok := next(); !ok {
				return nil
			}
		}
	}
	return nil
}
