package searchindex

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/blevesearch/bleve/v2/search/query"
)

// The query language is Lucene's classic syntax, as Cordra takes it:
//
//	term              any field ("_all")
//	field:term        one field; field may be a JSON pointer into the record ("/profile/name")
//	"a phrase"        words in order
//	+must -mustnot    required and excluded clauses; plain clauses are optional (OR)
//	a AND b, a OR b, NOT a, && || !
//	( … )             groups
//	field:[a TO b]    inclusive range ({a TO b} exclusive, * open); numbers, dates or terms
//	field:>=n         comparisons (> >= < <=)
//	te?m*  /re.*/     wildcards and regular expressions, with at least 2 literal leading characters
//	term~ term~1      fuzzy
//	term^2            boost
//	formula:"\int_a^b f(x)\,dx"   formula search (see FormulaTokens)
//
// ParseError reports where a query went wrong.

// ParseError is a query that does not parse: what was wrong and at which byte.
type ParseError struct {
	Pos    int
	Reason string
}

func (e *ParseError) Error() string { return fmt.Sprintf("%s at offset %d", e.Reason, e.Pos) }

// ErrTooBroad is a query that would read the whole index: a wildcard or regular expression
// without two literal leading characters, or a range open at both ends. It is wrapped with
// detail.
var ErrTooBroad = errors.New("query would scan the whole index")

// Limits of one query.
const (
	maxQueryLen     = 4096
	maxClauses      = 256
	maxDepth        = 16
	minLiteralStart = 2
)

// parsed is a query ready for bleve, and the formula it asks for, if any.
type parsed struct {
	q query.Query
	// formulas are the token streams of the formula: clauses, for naming the equation that
	// matched each hit.
	formulas [][]string
}

type parser struct {
	s        string
	pos      int
	clauses  int
	formulas [][]string
}

// parseQuery parses a query string.
func parseQuery(s string) (*parsed, error) {
	if len(s) > maxQueryLen {
		return nil, &ParseError{Pos: maxQueryLen, Reason: fmt.Sprintf("query is %d bytes, more than %d", len(s), maxQueryLen)}
	}
	if !utf8.ValidString(s) {
		return nil, &ParseError{Reason: "query is not valid UTF-8"}
	}
	p := &parser{s: s}
	q, err := p.list(0)
	if err != nil {
		return nil, err
	}
	p.space()
	if p.pos < len(p.s) {
		return nil, p.errorf("unexpected %q", p.s[p.pos:p.pos+1])
	}
	if q == nil {
		return nil, &ParseError{Reason: "query is empty"}
	}
	return &parsed{q: q, formulas: p.formulas}, nil
}

func (p *parser) errorf(format string, args ...any) error {
	return &ParseError{Pos: p.pos, Reason: fmt.Sprintf(format, args...)}
}

func (p *parser) space() {
	for p.pos < len(p.s) && strings.IndexByte(" \t\r\n", p.s[p.pos]) >= 0 {
		p.pos++
	}
}

// keyword reports (and consumes) one of the operator words at the current position.
func (p *parser) keyword(words ...string) bool {
	for _, w := range words {
		if strings.HasPrefix(p.s[p.pos:], w) {
			end := p.pos + len(w)
			if w[0] >= 'A' && w[0] <= 'Z' && end < len(p.s) && !strings.ContainsRune(" \t\r\n(", rune(p.s[end])) {
				continue
			}
			p.pos = end
			return true
		}
	}
	return false
}

type occur int

const (
	should occur = iota
	must
	mustNot
)

type clause struct {
	q     query.Query
	occur occur
}

// list parses clauses up to the end or a closing parenthesis, as Lucene's classic parser
// combines them: AND makes its neighbours required, NOT excludes the next, OR (or nothing)
// leaves them optional.
func (p *parser) list(depth int) (query.Query, error) {
	if depth > maxDepth {
		return nil, p.errorf("groups nested deeper than %d", maxDepth)
	}
	var cs []clause
	conj := false // the last operator was AND
	for {
		p.space()
		if p.pos >= len(p.s) || p.s[p.pos] == ')' {
			break
		}
		if len(cs) > 0 {
			switch {
			case p.keyword("AND", "&&"):
				conj = true
				if cs[len(cs)-1].occur == should {
					cs[len(cs)-1].occur = must
				}
				continue
			case p.keyword("OR", "||"):
				conj = false
				continue
			}
		}
		oc := should
		if conj {
			oc = must
		}
		conj = false
		switch {
		case p.keyword("NOT", "!"):
			oc = mustNot
		case p.pos < len(p.s) && p.s[p.pos] == '+':
			p.pos++
			oc = must
		case p.pos < len(p.s) && p.s[p.pos] == '-':
			p.pos++
			oc = mustNot
		}
		q, err := p.clause(depth)
		if err != nil {
			return nil, err
		}
		p.clauses++
		if p.clauses > maxClauses {
			return nil, p.errorf("more than %d clauses", maxClauses)
		}
		cs = append(cs, clause{q, oc})
	}
	if len(cs) == 0 {
		return nil, nil
	}
	if len(cs) == 1 && cs[0].occur != mustNot {
		return cs[0].q, nil
	}
	var m, sh, mn []query.Query
	for _, c := range cs {
		switch c.occur {
		case must:
			m = append(m, c.q)
		case mustNot:
			mn = append(mn, c.q)
		default:
			sh = append(sh, c.q)
		}
	}
	if len(m) == 0 && len(sh) == 0 {
		// Only exclusions: everything else, bounded by the time limit of the search.
		m = []query.Query{query.NewMatchAllQuery()}
	}
	return query.NewBooleanQuery(m, sh, mn), nil
}

// clause parses one [field:] value, group, phrase or range with its boost.
func (p *parser) clause(depth int) (query.Query, error) {
	p.space()
	if p.pos >= len(p.s) {
		return nil, p.errorf("a term is missing")
	}
	field := ""
	if f, ok := p.fieldName(); ok {
		field = f
		if p.pos >= len(p.s) || strings.IndexByte(" \t\r\n)", p.s[p.pos]) >= 0 {
			return nil, p.errorf("the value of %s is missing", field)
		}
	}
	var (
		q   query.Query
		err error
	)
	switch c := p.s[p.pos]; {
	case c == '(':
		p.pos++
		start := p.pos
		q, err = p.list(depth + 1)
		if err != nil {
			return nil, err
		}
		if p.pos >= len(p.s) || p.s[p.pos] != ')' {
			return nil, p.errorf("the group opened at offset %d is not closed", start-1)
		}
		p.pos++
		if q == nil {
			return nil, &ParseError{Pos: start, Reason: "empty group"}
		}
		if field != "" {
			return nil, &ParseError{Pos: start, Reason: "a field before a group is not supported; name the field in each clause"}
		}
	case c == '"':
		var phrase string
		if phrase, err = p.quoted(field == "formula"); err != nil {
			return nil, err
		}
		q, err = p.value(field, phrase, true)
	case c == '[' || c == '{':
		q, err = p.rangeClause(field)
	case c == '>' || c == '<':
		q, err = p.comparison(field)
	case c == '/' && field != "formula":
		q, err = p.regexp(field)
	default:
		var term string
		if term, err = p.term(field == "formula"); err != nil {
			return nil, err
		}
		if field == "" && (term == "AND" || term == "OR" || term == "NOT") {
			return nil, p.errorf("%s needs a clause on each side", term)
		}
		q, err = p.value(field, term, false)
	}
	if err != nil {
		return nil, err
	}
	return p.suffix(q)
}

// fieldName reads "name:" if it is there. A leading "/" (a JSON pointer, Cordra's form)
// becomes the dotted field of the record's attribute: "/profile/name" is "profile.name".
func (p *parser) fieldName() (string, bool) {
	i := p.pos
	for i < len(p.s) {
		c := p.s[i]
		if isASCIILetter(c) || c >= '0' && c <= '9' || c == '_' || c == '.' || c == '/' || c == '@' || c == '-' && i > p.pos {
			i++
			continue
		}
		break
	}
	if i == p.pos || i >= len(p.s) || p.s[i] != ':' {
		return "", false
	}
	name := p.s[p.pos:i]
	if strings.HasPrefix(name, "/") {
		name = strings.ReplaceAll(strings.Trim(name, "/"), "/", ".")
	}
	if name == "" {
		return "", false
	}
	p.pos = i + 1
	return fieldAlias(name), true
}

// fieldAlias maps the friendly names of the documented fields to the indexed ones.
func fieldAlias(f string) string {
	switch f {
	case "name":
		return "title"
	case "authors":
		return "author"
	case "keywords":
		return "keyword"
	}
	return f
}

// quoted reads a "…" string. In a formula, only \" is an escape (LaTeX's backslashes stay);
// elsewhere a backslash escapes the next character.
func (p *parser) quoted(formula bool) (string, error) {
	start := p.pos
	p.pos++
	var b strings.Builder
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		switch {
		case c == '"':
			p.pos++
			return b.String(), nil
		case c == '\\' && p.pos+1 < len(p.s) && (!formula || p.s[p.pos+1] == '"'):
			b.WriteByte(p.s[p.pos+1])
			p.pos += 2
		default:
			b.WriteByte(c)
			p.pos++
		}
	}
	return "", &ParseError{Pos: start, Reason: "the phrase is not closed with \""}
}

// term reads a bare term up to a space, a parenthesis or a modifier; a backslash escapes
// the next character (in a formula it is kept, as LaTeX needs it).
func (p *parser) term(formula bool) (string, error) {
	var b strings.Builder
	start := p.pos
	for p.pos < len(p.s) {
		c := p.s[p.pos]
		if strings.IndexByte(" \t\r\n()^", c) >= 0 || c == '~' && !formula {
			break
		}
		if c == ':' && !formula {
			return "", p.errorf("unexpected ':' (escape it as \\: inside a term)")
		}
		if c == '\\' && !formula {
			if p.pos+1 >= len(p.s) {
				return "", p.errorf("a backslash ends the query")
			}
			b.WriteByte(p.s[p.pos+1])
			p.pos += 2
			continue
		}
		b.WriteByte(c)
		p.pos++
	}
	if p.pos == start {
		return "", p.errorf("a term is missing")
	}
	return b.String(), nil
}

// value builds the query of one field and text.
func (p *parser) value(field, text string, phrase bool) (query.Query, error) {
	if field == "formula" {
		return p.formula(text)
	}
	if phrase {
		q := query.NewMatchPhraseQuery(text)
		setField(q, field)
		return q, nil
	}
	if strings.ContainsAny(text, "*?") {
		if err := literalStart(text, "*?"); err != nil {
			return nil, err
		}
		q := query.NewWildcardQuery(text)
		setField(q, field)
		return q, nil
	}
	if f, err := strconv.ParseFloat(text, 64); err == nil && field != "" {
		m := query.NewMatchQuery(text)
		setField(m, field)
		inc := true
		n := query.NewNumericRangeInclusiveQuery(&f, &f, &inc, &inc)
		setField(n, field)
		return query.NewDisjunctionQuery([]query.Query{m, n}), nil
	}
	q := query.NewMatchQuery(text)
	setField(q, field)
	return q, nil
}

// formula builds the query for formula:"…": any of its grams, ranked later by overlap.
func (p *parser) formula(latex string) (query.Query, error) {
	toks := FormulaTokens(latex)
	if len(toks) == 0 {
		return nil, p.errorf("the formula %q has nothing to search for", latex)
	}
	p.formulas = append(p.formulas, toks)
	exact, shape := queryGrams(toks)
	var qs []query.Query
	for i, g := range exact {
		if i >= maxClauses {
			break
		}
		t := query.NewTermQuery(g)
		t.SetField(fieldFormula)
		qs = append(qs, t)
	}
	for i, g := range shape {
		if i >= maxClauses {
			break
		}
		t := query.NewTermQuery(g)
		t.SetField(fieldFormulaShape)
		t.SetBoost(0.3)
		qs = append(qs, t)
	}
	return query.NewDisjunctionQuery(qs), nil
}

// literalStart refuses patterns that do not start with minLiteralStart literal characters:
// they would enumerate the whole term dictionary.
func literalStart(pattern, meta string) error {
	i := strings.IndexAny(pattern, meta)
	if i >= 0 && i < minLiteralStart {
		return fmt.Errorf("%w: the pattern %q needs at least %d literal characters before its first wildcard", ErrTooBroad, pattern, minLiteralStart)
	}
	return nil
}

func (p *parser) regexp(field string) (query.Query, error) {
	start := p.pos
	end := strings.IndexByte(p.s[p.pos+1:], '/')
	if end < 0 {
		return nil, p.errorf("the regular expression is not closed with /")
	}
	re := p.s[p.pos+1 : p.pos+1+end]
	p.pos += end + 2
	if err := literalStart(re, `.*+?[](){}|\^$`); err != nil {
		return nil, err
	}
	if re == "" {
		return nil, &ParseError{Pos: start, Reason: "empty regular expression"}
	}
	q := query.NewRegexpQuery(re)
	setField(q, field)
	return q, nil
}

// rangeClause reads [a TO b] or {a TO b} (either bracket on either side).
func (p *parser) rangeClause(field string) (query.Query, error) {
	if field == "" {
		return nil, p.errorf("a range needs a field (field:[a TO b])")
	}
	start := p.pos
	minInc := p.s[p.pos] == '['
	p.pos++
	close := strings.IndexAny(p.s[p.pos:], "]}")
	if close < 0 {
		return nil, &ParseError{Pos: start, Reason: "the range is not closed with ] or }"}
	}
	body := p.s[p.pos : p.pos+close]
	maxInc := p.s[p.pos+close] == ']'
	p.pos += close + 1
	lo, hi, ok := strings.Cut(body, " TO ")
	if !ok {
		return nil, &ParseError{Pos: start, Reason: "a range is written [from TO to]"}
	}
	lo, hi = unquote(strings.TrimSpace(lo)), unquote(strings.TrimSpace(hi))
	if lo == "*" {
		lo = ""
	}
	if hi == "*" {
		hi = ""
	}
	if lo == "" && hi == "" {
		return nil, fmt.Errorf("%w: the range on %s is open at both ends", ErrTooBroad, field)
	}
	return rangeQuery(field, lo, hi, minInc, maxInc)
}

func unquote(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		return s[1 : len(s)-1]
	}
	return s
}

// rangeQuery makes a numeric range where both ends are numbers, a date range where both
// are dates, else a term range.
func rangeQuery(field, lo, hi string, minInc, maxInc bool) (query.Query, error) {
	num := func(s string) (*float64, bool) {
		if s == "" {
			return nil, true
		}
		f, err := strconv.ParseFloat(s, 64)
		return &f, err == nil
	}
	if a, ok1 := num(lo); ok1 {
		if b, ok2 := num(hi); ok2 {
			q := query.NewNumericRangeInclusiveQuery(a, b, &minInc, &maxInc)
			q.SetField(field)
			return q, nil
		}
	}
	if isDate(lo) && isDate(hi) {
		q := query.NewDateRangeStringInclusiveQuery(lo, hi, &minInc, &maxInc)
		q.SetField(field)
		return q, nil
	}
	q := query.NewTermRangeInclusiveQuery(lo, hi, &minInc, &maxInc)
	q.SetField(field)
	return q, nil
}

func isDate(s string) bool {
	if s == "" {
		return true
	}
	for _, layout := range []string{time.RFC3339, "2006-01-02T15:04:05", "2006-01-02"} {
		if _, err := time.Parse(layout, s); err == nil {
			return true
		}
	}
	return false
}

// comparison reads >n, >=n, <n, <=n after a field.
func (p *parser) comparison(field string) (query.Query, error) {
	if field == "" {
		return nil, p.errorf("a comparison needs a field (field:>=n)")
	}
	gt := p.s[p.pos] == '>'
	p.pos++
	inc := false
	if p.pos < len(p.s) && p.s[p.pos] == '=' {
		inc = true
		p.pos++
	}
	var v string
	var err error
	if p.pos < len(p.s) && p.s[p.pos] == '"' {
		v, err = p.quoted(false)
	} else {
		v, err = p.term(false)
	}
	if err != nil {
		return nil, err
	}
	if gt {
		return rangeQuery(field, v, "", inc, false)
	}
	return rangeQuery(field, "", v, false, inc)
}

// suffix reads ^boost and ~fuzziness after a clause.
func (p *parser) suffix(q query.Query) (query.Query, error) {
	for p.pos < len(p.s) {
		switch p.s[p.pos] {
		case '^':
			p.pos++
			n, err := p.number()
			if err != nil {
				return nil, err
			}
			if b, ok := q.(query.BoostableQuery); ok {
				b.SetBoost(n)
			}
		case '~':
			p.pos++
			n := 2.0
			if p.pos < len(p.s) && p.s[p.pos] >= '0' && p.s[p.pos] <= '9' {
				var err error
				if n, err = p.number(); err != nil {
					return nil, err
				}
			}
			if n > 2 {
				return nil, p.errorf("fuzziness %g is more than 2", n)
			}
			switch m := q.(type) {
			case *query.MatchQuery:
				m.SetFuzziness(int(n))
			case *query.MatchPhraseQuery:
				m.SetFuzziness(int(n))
			default:
				return nil, p.errorf("~ applies to terms and phrases only")
			}
		default:
			return q, nil
		}
	}
	return q, nil
}

func (p *parser) number() (float64, error) {
	start := p.pos
	for p.pos < len(p.s) && (p.s[p.pos] >= '0' && p.s[p.pos] <= '9' || p.s[p.pos] == '.') {
		p.pos++
	}
	f, err := strconv.ParseFloat(p.s[start:p.pos], 64)
	if err != nil {
		return 0, &ParseError{Pos: start, Reason: "a number is missing"}
	}
	return f, nil
}

func setField(q query.Query, field string) {
	if field == "" {
		return
	}
	if f, ok := q.(query.FieldableQuery); ok {
		f.SetField(field)
	}
}
