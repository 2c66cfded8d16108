package eqextract

import (
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
)

// displayEnvs maps the display-math environments to whether they hold several lines that
// are numbered one by one (true) or one equation (false).
var displayEnvs = map[string]bool{
	"equation": false, "equation*": false,
	"multline": false, "multline*": false,
	"displaymath": false,
	"align":       true, "align*": true,
	"gather": true, "gather*": true,
	"eqnarray": true, "eqnarray*": true,
	"flalign": true, "flalign*": true,
	"alignat": true, "alignat*": true,
	"xalignat": true, "xxalignat": true,
}

// FromLaTeX extracts the display equations of one LaTeX file. \input and \include are not
// followed (use FromArchive for a whole source tree).
func FromLaTeX(src []byte) (Result, error) {
	return FromLaTeXContext(context.Background(), src)
}

// FromLaTeXContext is FromLaTeX bounded by ctx: when ctx is done the scan stops with ctx's
// error.
func FromLaTeXContext(ctx context.Context, src []byte) (Result, error) {
	l := &lexer{ctx: ctx, max: MaxLaTeXBytes, files: []string{""}}
	if len(src) > MaxLaTeXBytes {
		return Result{}, fmt.Errorf("%w: LaTeX source has %d bytes, limit %d", ErrTooLarge, len(src), MaxLaTeXBytes)
	}
	l.lex(0, src)
	return parseClean(l)
}

// ctxCheckEvery is how many steps of the LaTeX lexer or parser pass between two looks at
// the context.
const ctxCheckEvery = 1 << 16

func parseClean(l *lexer) (Result, error) {
	if l.err != nil {
		return Result{}, l.err
	}
	p := &parser{ctx: l.ctx, t: l.out, lx: l, budget: 64*len(l.out) + 1<<20}
	p.run()
	if p.err != nil {
		return Result{}, p.err
	}
	res := Result{Equations: p.eqs, Warnings: append(l.warnings, p.warnings...)}
	if res.Equations == nil {
		res.Equations = []Equation{}
	}
	return res, nil
}

type parser struct {
	ctx      context.Context
	steps    int
	t        []byte
	lx       *lexer
	eqs      []Equation
	warnings []string
	err      error
	budget   int

	inline   bool
	eq       int
	chap     int
	sec      int
	subsec   int
	appendix bool
	within   string // counter equation is numbered within: "", "chapter", "section", "subsection"
	report   bool   // report/book class: chapters exist, equations within chapter by default
	subs     []subState
	noEnd    map[string]bool // environments known to have no closing \end after some point
	// \[ and $$ searches that failed stopped at these offsets (a blank line or the end):
	// openers before them cannot be closed either.
	bracketFail, dollarFail int
}

type subState struct {
	parent string
	n      int
}

func (p *parser) warnf(format string, args ...any) {
	if len(p.warnings) < maxWarnings {
		p.warnings = append(p.warnings, fmt.Sprintf(format, args...))
	}
}

func (p *parser) spend(n int) bool {
	p.budget -= n
	if p.budget < 0 && p.err == nil {
		p.err = fmt.Errorf("%w: LaTeX scan budget exhausted", ErrTooComplex)
	}
	if p.steps++; p.steps%ctxCheckEvery == 0 && p.err == nil {
		if err := p.ctx.Err(); err != nil {
			p.err = fmt.Errorf("eqextract: LaTeX scan: %w", err)
		}
	}
	return p.err == nil
}

func (p *parser) line(off int) (string, int) {
	fi, ln := p.lx.pos(off)
	name := ""
	if fi < len(p.lx.files) {
		name = p.lx.files[fi]
	}
	return name, ln
}

var beginDocument = []byte(`\begin{document}`)

func (p *parser) run() {
	t := p.t
	n := len(t)
	p.noEnd = map[string]bool{}
	inDoc := !bytes.Contains(t, beginDocument)
	for i := 0; i < n; {
		if !p.spend(1) {
			return
		}
		c := t[i]
		switch {
		case c == '\\' && i+1 < n && isLetter(t[i+1]):
			j := i + 1
			for j < n && isLetter(t[j]) {
				j++
			}
			name := string(t[i+1 : j])
			i = p.command(name, i, j, &inDoc)
		case c == '\\' && i+1 < n:
			switch t[i+1] {
			case '[':
				if inDoc && !p.inline {
					i = p.bracketDisplay(i)
					continue
				}
			case '(':
				p.inline = true
			case ')':
				p.inline = false
			}
			i += 2
		case c == '$':
			if i+1 < n && t[i+1] == '$' && !p.inline {
				if inDoc {
					i = p.dollarDisplay(i)
				} else {
					i += 2
				}
				continue
			}
			p.inline = !p.inline
			i++
		case c == '\n':
			// A blank line ends a paragraph, and with it any (unclosed) inline math.
			k := i + 1
			for k < n && (t[k] == ' ' || t[k] == '\t' || t[k] == '\r') {
				k++
			}
			if k < n && t[k] == '\n' {
				p.inline = false
			}
			i++
		default:
			i++
		}
	}
}

// command handles the control word t[i:j] (name without backslash) and returns where to
// continue.
func (p *parser) command(name string, i, j int, inDoc *bool) int {
	t := p.t
	switch name {
	case "begin":
		env, k, ok := readBraceArg(t, j, 200)
		if !ok {
			return j
		}
		e := string(env)
		switch {
		case e == "document":
			*inDoc = true
			return k
		case e == "subequations":
			if *inDoc {
				p.eq++
				p.subs = append(p.subs, subState{parent: p.theEquation(p.eq)})
			}
			return k
		}
		if _, ok := displayEnvs[e]; ok && *inDoc && !p.inline {
			return p.envDisplay(e, i, k)
		}
		return k
	case "end":
		env, k, ok := readBraceArg(t, j, 200)
		if !ok {
			return j
		}
		if string(env) == "subequations" && len(p.subs) > 0 {
			p.subs = p.subs[:len(p.subs)-1]
		}
		return k
	case "chapter", "section", "subsection":
		k := skipBlanks(t, j)
		if k < len(t) && t[k] == '*' {
			return k + 1
		}
		p.stepSection(name)
		return j
	case "appendix":
		p.appendix = true
		if p.report {
			p.chap = 0
		} else {
			p.sec = 0
		}
		p.subsec = 0
		return j
	case "numberwithin", "counterwithin", "counterwithin*":
		k := skipOptArg(t, j)
		a, k, ok := readBraceArg(t, k, 100)
		if !ok {
			return j
		}
		b, k2, ok := readBraceArg(t, k, 100)
		if !ok {
			return k
		}
		if strings.TrimSpace(string(a)) == "equation" {
			switch w := strings.TrimSpace(string(b)); w {
			case "chapter", "section", "subsection":
				p.within = w
			}
		}
		return k2
	case "counterwithout":
		a, k, ok := readBraceArg(t, j, 100)
		if ok && strings.TrimSpace(string(a)) == "equation" {
			p.within = ""
		}
		return k
	case "setcounter", "addtocounter":
		a, k, ok := readBraceArg(t, j, 100)
		if !ok {
			return j
		}
		b, k2, ok := readBraceArg(t, k, 100)
		if !ok {
			return k
		}
		v, err := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || v < -1e6 || v > 1e6 {
			return k2
		}
		var ctr *int
		switch strings.TrimSpace(string(a)) {
		case "equation":
			ctr = &p.eq
			if len(p.subs) > 0 {
				ctr = &p.subs[len(p.subs)-1].n
			}
		case "section":
			ctr = &p.sec
		case "subsection":
			ctr = &p.subsec
		case "chapter":
			ctr = &p.chap
		}
		if ctr != nil {
			if name == "setcounter" {
				*ctr = v
			} else {
				*ctr += v
			}
		}
		return k2
	case "documentclass":
		k := skipOptArg(t, j)
		cls, k2, ok := readBraceArg(t, k, 100)
		if ok {
			switch strings.TrimSpace(string(cls)) {
			case "report", "book", "memoir", "scrreprt", "scrbook":
				p.report = true
				if p.within == "" {
					p.within = "chapter?"
				}
			}
			return k2
		}
		return k
	}
	return j
}

func (p *parser) stepSection(name string) {
	switch name {
	case "chapter":
		p.chap++
		p.sec, p.subsec = 0, 0
		if p.within != "" {
			p.eq = 0
		}
	case "section":
		p.sec++
		p.subsec = 0
		if p.within == "section" || p.within == "subsection" {
			p.eq = 0
		}
	case "subsection":
		p.subsec++
		if p.within == "subsection" {
			p.eq = 0
		}
	}
}

func skipBlanks(t []byte, i int) int {
	for i < len(t) && isSpace(t[i]) {
		i++
	}
	return i
}

// skipOptArg skips blanks and one [..] optional argument.
func skipOptArg(t []byte, i int) int {
	k := skipBlanks(t, i)
	if k < len(t) && t[k] == '[' {
		if e := bytes.IndexByte(t[k:], ']'); e >= 0 && e < 500 {
			return k + e + 1
		}
	}
	return i
}

// alph is LaTeX's \alph/\Alph: empty for 0, as LaTeX prints it.
func alph(n int, upper bool) string {
	if n < 1 {
		return ""
	}
	if n > 26 {
		return strconv.Itoa(n)
	}
	if upper {
		return string(rune('A' + n - 1))
	}
	return string(rune('a' + n - 1))
}

func (p *parser) theChapter() string {
	if p.appendix && p.report {
		return alph(p.chap, true)
	}
	return strconv.Itoa(p.chap)
}

func (p *parser) theSection() string {
	if p.report {
		return p.theChapter() + "." + strconv.Itoa(p.sec)
	}
	if p.appendix {
		return alph(p.sec, true)
	}
	return strconv.Itoa(p.sec)
}

func (p *parser) theEquation(n int) string {
	s := strconv.Itoa(n)
	switch p.within {
	case "chapter":
		return p.theChapter() + "." + s
	case "chapter?":
		if p.chap > 0 {
			return p.theChapter() + "." + s
		}
	case "section":
		return p.theSection() + "." + s
	case "subsection":
		return p.theSection() + "." + strconv.Itoa(p.subsec) + "." + s
	}
	return s
}

// nextNumber steps the equation counter and returns the printed number.
func (p *parser) nextNumber() string {
	if k := len(p.subs); k > 0 {
		p.subs[k-1].n++
		return p.subs[k-1].parent + alph(p.subs[k-1].n, false)
	}
	p.eq++
	return p.theEquation(p.eq)
}

// envDisplay handles \begin{env} at i whose argument ends at k.
func (p *parser) envDisplay(env string, i, k int) int {
	if p.noEnd[env] {
		return k
	}
	end := []byte(`\end{` + env + `}`)
	bodyStart := k
	if strings.HasPrefix(env, "alignat") || strings.HasPrefix(env, "xalignat") || strings.HasPrefix(env, "xxalignat") {
		if _, k2, ok := readBraceArg(p.t, k, 20); ok {
			bodyStart = k2
		}
	}
	e := findEnd(p.t, bodyStart, end)
	p.spend(e - bodyStart)
	if e < 0 {
		p.noEnd[env] = true
		p.spend(len(p.t) - bodyStart)
		_, ln := p.line(i)
		p.warnf("\\begin{%s} on line %d is never closed", env, ln)
		return k
	}
	p.display(env, i, bodyStart, e)
	return e + len(end)
}

// findEnd returns the offset of the first \end{...} token (end holds the whole token) at or
// after from, skipping control symbols, or -1.
func findEnd(t []byte, from int, end []byte) int {
	for i := from; i < len(t); {
		e := bytes.Index(t[i:], end)
		if e < 0 {
			return -1
		}
		pos := i + e
		// The backslash must start a control sequence: count the backslashes before it.
		bs := 0
		for q := pos - 1; q >= from && t[q] == '\\'; q-- {
			bs++
		}
		if bs%2 == 0 {
			return pos
		}
		i = pos + 1
	}
	return -1
}

// bracketDisplay handles \[ at i.
func (p *parser) bracketDisplay(i int) int {
	return p.delimitedDisplay(i, `\[`, "displaymath", false, &p.bracketFail)
}

// dollarDisplay handles $$ at i.
func (p *parser) dollarDisplay(i int) int {
	return p.delimitedDisplay(i, "$$", "$$", true, &p.dollarFail)
}

// delimitedDisplay reads the display opened at i by open (\[ or $$, two bytes) up to its
// closer (\] or $$) and returns where to go on. A display not closed before the end of its
// paragraph is warned about and skipped; *fail remembers where the scan gave up, so that
// later openers before it do not scan the same text again (which keeps many unclosed
// openers linear). braces says the closer counts only outside braces ($$ inside {…} is not
// one).
func (p *parser) delimitedDisplay(i int, open, env string, braces bool, fail *int) int {
	t := p.t
	if i < *fail {
		return i + 2
	}
	closer := byte(']')
	if open == "$$" {
		closer = '$'
	}
	depth := 0
	for j := i + 2; j < len(t); j++ {
		if !p.spend(1) {
			return len(t)
		}
		switch t[j] {
		case '\\':
			if closer == ']' && j+1 < len(t) && t[j+1] == ']' {
				p.display(env, i, i+2, j)
				return j + 2
			}
			j++
		case '{':
			depth++
		case '}':
			depth--
		case '$':
			if closer == '$' && (!braces || depth <= 0) && j+1 < len(t) && t[j+1] == '$' {
				p.display(env, i, i+2, j)
				return j + 2
			}
		case '\n':
			if isBlankLineAfter(t, j) {
				*fail = j
				_, ln := p.line(i)
				p.warnf("%s on line %d is not closed before the end of its paragraph", open, ln)
				return i + 2
			}
		}
	}
	*fail = len(t)
	_, ln := p.line(i)
	p.warnf("%s on line %d is never closed", open, ln)
	return i + 2
}

// isBlankLineAfter reports whether the line after the newline at j is blank.
func isBlankLineAfter(t []byte, j int) bool {
	k := j + 1
	for k < len(t) && (t[k] == ' ' || t[k] == '\t' || t[k] == '\r') {
		k++
	}
	return k < len(t) && t[k] == '\n'
}

// eqLine is one line (between top-level \\) of a display body.
type eqLine struct {
	start    int // offset of the line in the clean text
	body     string
	label    string
	tag      string
	hasTag   bool
	nonumber bool
}

// display records the equations of one display environment with body t[bs:be]; begin is
// the offset of the opening command.
func (p *parser) display(env string, begin, bs, be int) {
	multi := displayEnvs[env]
	starred := strings.HasSuffix(env, "*") || env == "displaymath" || env == "$$"
	var segs [][2]int
	if multi {
		segs = splitLines(p.t, bs, be)
	} else {
		segs = [][2]int{{bs, be}}
	}
	var lines []eqLine
	for _, s := range segs {
		ln := parseLine(p.t[s[0]:s[1]])
		ln.start = s[0]
		if ln.body == "" && ln.label == "" && !ln.hasTag {
			continue
		}
		lines = append(lines, ln)
	}
	if len(lines) == 0 {
		lines = []eqLine{{start: bs}}
	}
	file, _ := p.line(begin)
	emitted := 0
	var pending []eqLine
	flush := func(group []eqLine, number string) {
		eq := Equation{Env: env, Number: number, File: file}
		var bodies []string
		for _, g := range group {
			if g.body != "" {
				bodies = append(bodies, g.body)
			}
		}
		eq.LaTeX = strings.Join(bodies, ` \\ `)
		last := group[len(group)-1]
		eq.Label = last.label
		for _, g := range group {
			if eq.Label == "" && g.label != "" {
				eq.Label = g.label
			}
		}
		if emitted == 0 {
			_, eq.Line = p.line(begin)
		} else {
			_, eq.Line = p.line(skipBlanks(p.t, group[0].start))
		}
		if len(p.eqs) >= MaxEquations {
			if p.err == nil {
				p.err = fmt.Errorf("%w: equation budget of %d exceeded at line %d", ErrTooLarge, MaxEquations, eq.Line)
			}
			return
		}
		p.eqs = append(p.eqs, eq)
		emitted++
	}
	for _, ln := range lines {
		numbered := ln.hasTag || (!starred && !ln.nonumber)
		if !numbered {
			pending = append(pending, ln)
			continue
		}
		var number string
		if ln.hasTag {
			number = NormalizeNumber(ln.tag)
			if number == "" {
				number = ln.tag
			}
		} else {
			number = p.nextNumber()
		}
		group := append(pending, ln)
		pending = nil
		flush(group, number)
	}
	if len(pending) > 0 {
		if emitted > 0 {
			// Trailing unnumbered lines continue the last numbered one.
			last := &p.eqs[len(p.eqs)-1]
			for _, g := range pending {
				if g.body != "" {
					last.LaTeX += ` \\ ` + g.body
				}
				if last.Label == "" {
					last.Label = g.label
				}
			}
		} else {
			flush(pending, "")
		}
	}
}

// splitLines splits t[bs:be] at the \\ that are outside braces and nested environments.
func splitLines(t []byte, bs, be int) [][2]int {
	var segs [][2]int
	depth, envDepth := 0, 0
	start := bs
	for i := bs; i < be; i++ {
		switch t[i] {
		case '{':
			depth++
		case '}':
			if depth > 0 {
				depth--
			}
		case '\\':
			if i+1 >= be {
				continue
			}
			if t[i+1] == '\\' {
				if depth == 0 && envDepth == 0 {
					segs = append(segs, [2]int{start, i})
					k := i + 2
					if k < be && t[k] == '*' {
						k++
					}
					k2 := skipBlanks(t, k)
					if k2 < be && t[k2] == '[' {
						if e := bytes.IndexByte(t[k2:be], ']'); e >= 0 {
							k = k2 + e + 1
						}
					}
					start = k
					i = k - 1
					continue
				}
				i++
				continue
			}
			if !isLetter(t[i+1]) {
				i++
				continue
			}
			j := i + 1
			for j < be && isLetter(t[j]) {
				j++
			}
			switch string(t[i+1 : j]) {
			case "begin":
				envDepth++
			case "end":
				if envDepth > 0 {
					envDepth--
				}
			}
			i = j - 1
		}
	}
	segs = append(segs, [2]int{start, be})
	return segs
}

// parseLine takes \label, \tag, \nonumber and \notag out of one line and normalises the rest.
func parseLine(s []byte) eqLine {
	var ln eqLine
	var b strings.Builder
	for i := 0; i < len(s); {
		if s[i] == '\\' && i+1 < len(s) && isLetter(s[i+1]) {
			j := i + 1
			for j < len(s) && isLetter(s[j]) {
				j++
			}
			switch string(s[i+1 : j]) {
			case "label":
				if arg, k, ok := readBraceArg(s, j, 1<<12); ok {
					if ln.label == "" {
						ln.label = normalizeSpace(string(arg))
					}
					i = k
					continue
				}
			case "tag":
				k := j
				if k < len(s) && s[k] == '*' {
					k++
				}
				if arg, k2, ok := readBraceArg(s, k, 1<<12); ok {
					if !ln.hasTag {
						ln.hasTag = true
						ln.tag = normalizeSpace(string(arg))
					}
					i = k2
					continue
				}
			case "nonumber", "notag":
				ln.nonumber = true
				b.WriteByte(' ')
				i = j
				continue
			}
			b.Write(s[i:j])
			i = j
			continue
		}
		if s[i] == '\\' && i+1 < len(s) {
			b.Write(s[i : i+2])
			i += 2
			continue
		}
		b.WriteByte(s[i])
		i++
	}
	ln.body = normalizeSpace(b.String())
	return ln
}

// normalizeSpace collapses runs of white space to one blank and trims the ends.
func normalizeSpace(s string) string {
	return strings.Join(strings.Fields(s), " ")
}
