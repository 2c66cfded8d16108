package searchindex

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Formula search works on a normalised token stream of LaTeX, not on its characters: two
// spellings of one formula give the same tokens. [FormulaTokens] drops what only changes the
// look (spacing commands, \left and \right, \big…, \displaystyle, braces, alignment marks,
// labels and tags, the punctuation that ends a displayed sentence) and folds synonyms (\le
// and \leq, \dfrac and \frac, \lvert and |). Letters are tokens of their own, digit runs one
// token.
//
// The index holds the n-grams of those tokens (n = 1…3, field "formula") and, for tolerance
// of renamed variables, 4-grams in which the variables (single letters and lower-case Greek
// letters) are renamed in order of appearance within each gram (field "formula_shape"): the
// grams of \int_a^b f(x)\,dx and \int_s^t g(y)\,dy are the same.

// maxFormulaTokens bounds the tokens read from one formula (index and query alike).
const maxFormulaTokens = 2000

// dropCommands change how a formula looks, not what it says.
var dropCommands = map[string]bool{
	"left": true, "right": true, "middle": true,
	"big": true, "Big": true, "bigg": true, "Bigg": true,
	"bigl": true, "bigr": true, "Bigl": true, "Bigr": true, "biggl": true, "biggr": true, "Biggl": true, "Biggr": true,
	"bigm": true, "Bigm": true,
	"displaystyle": true, "textstyle": true, "scriptstyle": true, "scriptscriptstyle": true,
	"limits": true, "nolimits": true, "nonumber": true, "notag": true,
	"quad": true, "qquad": true, "enspace": true, "thinspace": true, "medspace": true, "thickspace": true,
	"negthinspace": true, "hfill": true, "hspace": true, "vspace": true, "phantom": true, "hphantom": true, "vphantom": true,
	"mathrm": true, "mathit": true, "mathbf": true, "mathsf": true, "mathtt": true, "mathnormal": true,
	"boldsymbol": true, "bm": true, "text": true, "textrm": true, "textit": true, "textbf": true, "mbox": true,
	"operatorname": true, "mathop": true, "mathrel": true, "mathbin": true, "mathord": true,
	"allowbreak": true, "relax": true, "strut": true, "mathstrut": true,
}

// argCommands are dropped with their braced argument.
var argCommands = map[string]bool{"label": true, "tag": true, "hspace": true, "vspace": true, "phantom": true, "hphantom": true, "vphantom": true}

// synonyms fold commands that print the same thing.
var synonyms = map[string]string{
	"le": "leq", "ge": "geq", "ne": "neq", "to": "rightarrow", "gets": "leftarrow",
	"dfrac": "frac", "tfrac": "frac", "cfrac": "frac",
	"lvert": "|", "rvert": "|", "vert": "|", "mid": "|",
	"lVert": `\|`, "rVert": `\|`, "Vert": `\|`,
	"ldots": "dots", "cdots": "dots", "dotsc": "dots", "dotsb": "dots", "dotsm": "dots", "dotsi": "dots", "dotso": "dots",
	"varepsilon": "epsilon", "varphi": "phi", "vartheta": "theta", "varrho": "rho", "varsigma": "sigma", "varpi": "pi",
	"land": "wedge", "lor": "vee", "lnot": "neg", "iff": "Leftrightarrow", "implies": "Rightarrow",
	"lbrace": `\{`, "rbrace": `\}`, "lbrack": "[", "rbrack": "]", "langle": "langle", "rangle": "rangle",
}

// greek are the lower-case Greek letters, which name variables like Latin letters do.
var greek = map[string]bool{
	`\alpha`: true, `\beta`: true, `\gamma`: true, `\delta`: true, `\epsilon`: true, `\zeta`: true, `\eta`: true,
	`\theta`: true, `\iota`: true, `\kappa`: true, `\lambda`: true, `\mu`: true, `\nu`: true, `\xi`: true,
	`\rho`: true, `\sigma`: true, `\tau`: true, `\upsilon`: true, `\phi`: true, `\chi`: true, `\psi`: true, `\omega`: true,
}

// FormulaTokens returns the normalised tokens of a LaTeX formula (at most 2000).
func FormulaTokens(latex string) []string {
	var toks []string
	s := latex
	for i := 0; i < len(s) && len(toks) < maxFormulaTokens; {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '{' || c == '}' || c == '&' || c == '~':
			i++
		case c == '%': // a comment, to the end of the line
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '\\':
			j := i + 1
			for j < len(s) && isASCIILetter(s[j]) {
				j++
			}
			if j == i+1 { // a control symbol: \, \; \! \\ \{ \| …
				if j >= len(s) {
					i = j
					continue
				}
				switch s[j] {
				case '{', '}', '|':
					toks = append(toks, s[i:j+1])
				case '$', '#', '%', '_':
					toks = append(toks, s[j:j+1])
				}
				i = j + 1
				continue
			}
			name := s[i+1 : j]
			if j < len(s) && s[j] == '*' { // \operatorname*, \tag*
				j++
			}
			i = j
			if argCommands[name] {
				i = skipGroup(s, i)
				continue
			}
			if dropCommands[name] {
				continue
			}
			if syn, ok := synonyms[name]; ok {
				name = syn
			}
			if len(name) == 1 && !isASCIILetter(name[0]) || strings.HasPrefix(name, `\`) {
				toks = append(toks, name)
			} else {
				toks = append(toks, `\`+name)
			}
		case c >= '0' && c <= '9':
			j := i + 1
			for j < len(s) && (s[j] >= '0' && s[j] <= '9' || s[j] == '.' && j+1 < len(s) && s[j+1] >= '0' && s[j+1] <= '9') {
				j++
			}
			toks = append(toks, s[i:j])
			i = j
		case c < utf8.RuneSelf:
			toks = append(toks, s[i:i+1])
			i++
		default:
			r, n := utf8.DecodeRuneInString(s[i:])
			if !unicode.IsSpace(r) {
				toks = append(toks, string(r))
			}
			i += n
		}
	}
	// The punctuation that ends a displayed sentence is not part of the formula.
	for len(toks) > 0 {
		switch toks[len(toks)-1] {
		case ".", ",", ";":
			toks = toks[:len(toks)-1]
			continue
		}
		break
	}
	return toks
}

// skipGroup skips spaces and one braced group at s[i:], returning the index after it.
func skipGroup(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) || s[i] != '{' {
		return i
	}
	depth := 0
	for ; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return i + 1
			}
		}
	}
	return i
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// isVariable reports whether a token names a variable: one Latin letter or a lower-case Greek
// letter.
func isVariable(t string) bool {
	return len(t) == 1 && isASCIILetter(t[0]) || greek[t]
}

// gramSep joins the tokens of a gram; no token contains it.
const gramSep = " "

// exactGrams returns the distinct n-grams of toks for n = 1…3 (index side).
func exactGrams(toks []string, into map[string]struct{}) {
	for n := 1; n <= 3; n++ {
		for i := 0; i+n <= len(toks); i++ {
			into[strings.Join(toks[i:i+n], gramSep)] = struct{}{}
		}
	}
}

// shapeN is the length of the grams with renamed variables.
const shapeN = 4

// shapeGrams returns the distinct 4-grams of toks with their variables renamed in order of
// appearance within each gram ("v0", "v1", …); a stream shorter than 4 gives one gram of all.
func shapeGrams(toks []string, into map[string]struct{}) {
	n := min(shapeN, len(toks))
	if n == 0 {
		return
	}
	gram := make([]string, n)
	for i := 0; i+n <= len(toks); i++ {
		names := map[string]string{}
		for k, t := range toks[i : i+n] {
			if isVariable(t) {
				v, ok := names[t]
				if !ok {
					v = "v" + string(rune('0'+len(names)))
					names[t] = v
				}
				t = v
			}
			gram[k] = t
		}
		into[strings.Join(gram, gramSep)] = struct{}{}
	}
}

// queryGrams returns the grams a formula query looks for: its exact grams of the longest
// length it has (up to 3) and its shape grams.
func queryGrams(toks []string) (exact, shape []string) {
	n := min(3, len(toks))
	seen := map[string]struct{}{}
	for i := 0; n > 0 && i+n <= len(toks); i++ {
		g := strings.Join(toks[i:i+n], gramSep)
		if _, ok := seen[g]; !ok {
			seen[g] = struct{}{}
			exact = append(exact, g)
		}
	}
	sh := map[string]struct{}{}
	shapeGrams(toks, sh)
	for g := range sh {
		shape = append(shape, g)
	}
	return exact, shape
}

// overlap scores how much of a query formula one equation holds: the share of the query's
// exact grams found in the equation's, weighted 0.7, plus the share of its shape grams,
// weighted 0.3; nine tenths of the score. The last tenth is the share of the equation's exact
// grams that the query holds, so that of two equations that contain the query the one with
// less besides it ranks first. An equation that contains the query verbatim (after
// normalising) scores at least 0.9.
func overlap(qExact, qShape []string, eqToks []string) float64 {
	if len(qExact) == 0 {
		return 0
	}
	ex := map[string]struct{}{}
	exactGrams(eqToks, ex)
	sh := map[string]struct{}{}
	shapeGrams(eqToks, sh)
	share := func(q []string, set map[string]struct{}) float64 {
		if len(q) == 0 {
			return 1
		}
		hit := 0
		for _, g := range q {
			if _, ok := set[g]; ok {
				hit++
			}
		}
		return float64(hit) / float64(len(q))
	}
	qset := make(map[string]struct{}, len(qExact))
	for _, g := range qExact {
		qset[g] = struct{}{}
	}
	eqExact := make([]string, 0, len(ex))
	for g := range ex {
		eqExact = append(eqExact, g)
	}
	return 0.9*(0.7*share(qExact, ex)+0.3*share(qShape, sh)) + 0.1*share(eqExact, qset)
}
