package eqextract

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"unicode/utf16"
)

// A bounded reader of ToUnicode CMaps (PDF 32000-1 §9.10.3). The PDF reader's own one
// trusts the entry counts a CMap announces ("2000000000 beginbfchar" loops that often),
// keeps every operand of a stream on a stack, and decodes streams without limit; this one
// reads at most MaxCMapBytes decoded bytes, keeps at most maxCMapOperands operands and
// MaxCMapEntries mappings, and counts the entries that are there instead of those
// announced. Only the operators that map codes to text are interpreted (codespace ranges,
// bfchar, bfrange); everything else in the PostScript wrapper is skipped.

// maxCMapOperands bounds the operands kept between two operators: a section holds at most
// 100 entries by the specification, and 3 operands an entry.
const maxCMapOperands = 1 << 14

// errCMapBudget is wrapped by the errors of a CMap that exceeds a budget.
var errCMapBudget = fmt.Errorf("%w: ToUnicode CMap", ErrTooComplex)

// cmapRange maps the codes lo..hi (same length) to text: base with its last UTF-16 unit
// advanced by code-lo, or the element code-lo of list.
type cmapRange struct {
	lo, hi uint32
	n      int // code length in bytes
	base   []uint16
	list   [][]uint16
}

// toUnicode is a parsed ToUnicode CMap.
type toUnicode struct {
	single map[uint32]string // n<<24 | code → text
	ranges []cmapRange       // sorted by n, lo
}

// cmapOperand is one operand of the CMap interpreter: a string (hex or literal), a number,
// or an array of strings.
type cmapOperand struct {
	s     []byte
	isStr bool
	list  [][]byte
	isArr bool
}

// parseToUnicode reads a decoded ToUnicode CMap from r, at most MaxCMapBytes of it.
func parseToUnicode(r io.Reader) (*toUnicode, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxCMapBytes+1))
	if err != nil {
		return nil, fmt.Errorf("ToUnicode CMap: %v", err)
	}
	if int64(len(data)) > MaxCMapBytes {
		return nil, fmt.Errorf("%w: decoded-bytes budget of %d bytes exceeded", errCMapBudget, MaxCMapBytes)
	}
	m := &toUnicode{single: map[uint32]string{}}
	lx := cmapLexer{data: data}
	var ops []cmapOperand
	entries := 0
	for {
		tok, kind := lx.next()
		switch kind {
		case tokEOF:
			sort.Slice(m.ranges, func(i, j int) bool {
				a, b := m.ranges[i], m.ranges[j]
				return a.n < b.n || a.n == b.n && a.lo < b.lo
			})
			return m, nil
		case tokString, tokNumber, tokArray:
			if len(ops) >= maxCMapOperands {
				return nil, fmt.Errorf("%w: operand budget of %d exceeded", errCMapBudget, maxCMapOperands)
			}
			ops = append(ops, tok)
			continue
		case tokError:
			return nil, fmt.Errorf("%w: ToUnicode CMap: %s", ErrNotPDF, tok.s)
		}
		switch string(tok.s) {
		case "endbfchar":
			for i := 0; i+1 < len(ops); i += 2 {
				if entries++; entries > MaxCMapEntries {
					return nil, fmt.Errorf("%w: entry budget of %d exceeded", errCMapBudget, MaxCMapEntries)
				}
				if k, ok := codeKey(ops[i]); ok && ops[i+1].isStr {
					m.single[k] = string(utf16.Decode(units(ops[i+1].s)))
				}
			}
		case "endbfrange":
			for i := 0; i+2 < len(ops); i += 3 {
				if entries++; entries > MaxCMapEntries {
					return nil, fmt.Errorf("%w: entry budget of %d exceeded", errCMapBudget, MaxCMapEntries)
				}
				m.addRange(ops[i], ops[i+1], ops[i+2])
			}
		}
		// Every operator consumes the operands before it: those of begin…/end… sections, of
		// codespace ranges (which need no checking: the font's code length decides), and of
		// the PostScript wrapper (findresource, def, dict, begincmap, …).
		ops = ops[:0]
	}
}

// codeKey is the key of a code string of 1 or 2 bytes.
func codeKey(o cmapOperand) (uint32, bool) {
	if !o.isStr || len(o.s) < 1 || len(o.s) > 2 {
		return 0, false
	}
	return uint32(len(o.s))<<24 | codeValue(o.s), true
}

func codeValue(b []byte) uint32 {
	var v uint32
	for _, c := range b {
		v = v<<8 | uint32(c)
	}
	return v
}

func (m *toUnicode) addRange(lo, hi, dst cmapOperand) {
	if !lo.isStr || !hi.isStr || len(lo.s) != len(hi.s) || len(lo.s) < 1 || len(lo.s) > 2 {
		return
	}
	r := cmapRange{lo: codeValue(lo.s), hi: codeValue(hi.s), n: len(lo.s)}
	if r.hi < r.lo {
		return
	}
	switch {
	case dst.isStr:
		r.base = units(dst.s)
		if len(r.base) == 0 {
			return
		}
	case dst.isArr:
		if len(dst.list) == 0 {
			return
		}
		for _, s := range dst.list {
			r.list = append(r.list, units(s))
		}
	default:
		return
	}
	m.ranges = append(m.ranges, r)
}

// units reads UTF-16BE code units.
func units(b []byte) []uint16 {
	u := make([]uint16, 0, len(b)/2)
	for i := 0; i+1 < len(b); i += 2 {
		u = append(u, uint16(b[i])<<8|uint16(b[i+1]))
	}
	return u
}

// lookup returns the text of a code of n bytes, or "" when the CMap does not map it.
func (m *toUnicode) lookup(code uint32, n int) string {
	if s, ok := m.single[uint32(n)<<24|code]; ok {
		return s
	}
	// The last range of length n that starts at or below code.
	i := sort.Search(len(m.ranges), func(i int) bool {
		r := m.ranges[i]
		return r.n > n || r.n == n && r.lo > code
	}) - 1
	if i < 0 || m.ranges[i].n != n || code > m.ranges[i].hi {
		return ""
	}
	r := m.ranges[i]
	off := code - r.lo
	if r.list != nil {
		if int(off) >= len(r.list) {
			return ""
		}
		return string(utf16.Decode(r.list[off]))
	}
	u := append([]uint16(nil), r.base...)
	u[len(u)-1] += uint16(off)
	return string(utf16.Decode(u))
}

// cmapLexer splits a CMap into tokens. It never allocates more than the input's size.
type cmapLexer struct {
	data  []byte
	pos   int
	depth int // arrays open
}

// maxCMapNesting bounds nested arrays (a mapping uses one level).
const maxCMapNesting = 8

const (
	tokEOF = iota
	tokString
	tokNumber
	tokArray
	tokKeyword
	tokError
)

func (lx *cmapLexer) next() (cmapOperand, int) {
	for {
		lx.skipSpace()
		if lx.pos >= len(lx.data) {
			return cmapOperand{}, tokEOF
		}
		c := lx.data[lx.pos]
		switch {
		case c == '<' && lx.pos+1 < len(lx.data) && lx.data[lx.pos+1] == '<',
			c == '>' && lx.pos+1 < len(lx.data) && lx.data[lx.pos+1] == '>':
			lx.pos += 2 // dictionary brackets: the wrapper's, skipped
		case c == '<':
			s, err := lx.hex()
			if err != nil {
				return cmapOperand{s: []byte(err.Error())}, tokError
			}
			return cmapOperand{s: s, isStr: true}, tokString
		case c == '(':
			s, err := lx.literal()
			if err != nil {
				return cmapOperand{s: []byte(err.Error())}, tokError
			}
			return cmapOperand{s: s, isStr: true}, tokString
		case c == '[':
			lx.pos++
			if lx.depth++; lx.depth > maxCMapNesting {
				return cmapOperand{s: []byte("arrays nested too deeply")}, tokError
			}
			defer func() { lx.depth-- }()
			var list [][]byte
			for {
				tok, kind := lx.next()
				if kind == tokKeyword && string(tok.s) == "]" {
					return cmapOperand{list: list, isArr: true}, tokArray
				}
				switch kind {
				case tokString:
					list = append(list, tok.s)
				case tokEOF:
					return cmapOperand{s: []byte("array not closed")}, tokError
				case tokError:
					return tok, kind
				}
			}
		case c == ']' || c == '{' || c == '}':
			lx.pos++
			return cmapOperand{s: []byte{c}}, tokKeyword
		case c == '/':
			lx.pos++
			lx.word() // a name: an operand of the wrapper, never of a mapping
			return cmapOperand{}, tokNumber
		default:
			w := lx.word()
			if len(w) == 0 {
				lx.pos++ // a stray delimiter
				continue
			}
			if _, err := strconv.ParseFloat(string(w), 64); err == nil {
				return cmapOperand{}, tokNumber
			}
			return cmapOperand{s: w}, tokKeyword
		}
	}
}

func isCMapSpace(c byte) bool {
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == 0
}

func isCMapDelim(c byte) bool {
	return bytes.IndexByte([]byte("()<>[]{}/%"), c) >= 0
}

func (lx *cmapLexer) skipSpace() {
	for lx.pos < len(lx.data) {
		c := lx.data[lx.pos]
		switch {
		case isCMapSpace(c):
			lx.pos++
		case c == '%':
			for lx.pos < len(lx.data) && lx.data[lx.pos] != '\n' && lx.data[lx.pos] != '\r' {
				lx.pos++
			}
		default:
			return
		}
	}
}

func (lx *cmapLexer) word() []byte {
	start := lx.pos
	for lx.pos < len(lx.data) && !isCMapSpace(lx.data[lx.pos]) && !isCMapDelim(lx.data[lx.pos]) {
		lx.pos++
	}
	return lx.data[start:lx.pos]
}

func (lx *cmapLexer) hex() ([]byte, error) {
	lx.pos++ // <
	var out []byte
	var hi byte
	half := false
	for ; lx.pos < len(lx.data); lx.pos++ {
		c := lx.data[lx.pos]
		var v byte
		switch {
		case c == '>':
			lx.pos++
			if half {
				out = append(out, hi<<4)
			}
			return out, nil
		case isCMapSpace(c):
			continue
		case c >= '0' && c <= '9':
			v = c - '0'
		case c >= 'a' && c <= 'f':
			v = c - 'a' + 10
		case c >= 'A' && c <= 'F':
			v = c - 'A' + 10
		default:
			return nil, fmt.Errorf("bad hex string byte %q at offset %d", c, lx.pos)
		}
		if half {
			out = append(out, hi<<4|v)
		} else {
			hi = v
		}
		half = !half
	}
	return nil, errors.New("hex string not closed")
}

func (lx *cmapLexer) literal() ([]byte, error) {
	lx.pos++ // (
	var out []byte
	depth := 1
	for ; lx.pos < len(lx.data); lx.pos++ {
		c := lx.data[lx.pos]
		switch c {
		case '(':
			depth++
		case ')':
			if depth--; depth == 0 {
				lx.pos++
				return out, nil
			}
		case '\\':
			lx.pos++
			if lx.pos >= len(lx.data) {
				return nil, errors.New("string not closed")
			}
			c = lx.data[lx.pos]
			switch c {
			case 'n':
				c = '\n'
			case 'r':
				c = '\r'
			case 't':
				c = '\t'
			case 'b':
				c = '\b'
			case 'f':
				c = '\f'
			case '\r', '\n':
				continue
			default:
				if c >= '0' && c <= '7' {
					v := 0
					for k := 0; k < 3 && lx.pos < len(lx.data) && lx.data[lx.pos] >= '0' && lx.data[lx.pos] <= '7'; k++ {
						v = v*8 + int(lx.data[lx.pos]-'0')
						lx.pos++
					}
					lx.pos--
					c = byte(v)
				}
			}
		}
		out = append(out, c)
	}
	return nil, errors.New("string not closed")
}
