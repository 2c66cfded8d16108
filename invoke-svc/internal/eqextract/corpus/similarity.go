package corpus

import (
	"strings"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/eqextract"
)

// Similarity of reconstructed and true LaTeX.
//
// Both sides are normalised to a token list, then compared by token edit distance:
// similarity = 1 - distance / max(len(a), len(b)) (1 for two empty lists), and a pair is
// exact when the lists are equal. The normalisation removes what changes the spacing or
// the presentation of a formula but not its content:
//
//   - whitespace, comments-free spacing commands (\, \; \: \! \  \quad \qquad \hspace{..}),
//     sizing (\left \right \middle \big.. \Bigg.. with their l/r forms, \displaystyle and
//     the other style switches, \limits \nolimits), \label{..}, \nonumber, \notag, and the
//     optional spacing argument of a row break (\\[2pt]);
//   - synonyms to one spelling: \leq→\le, \geq→\ge, \neq→\ne, \rightarrow→\to,
//     \dfrac \tfrac→\frac, \ldots→\dots, \vert \lvert \rvert→|, \Vert \lVert \rVert→\|,
//     \lbrace→\{, \rbrace→\}, \ast→*, \colon→:;
//   - upright text in one form: \text, \textrm, \mathrm, \operatorname and \mbox become
//     \text, and their argument is compared letter by letter without spaces;
//   - \bmod becomes \text{mod};
//   - a prime ' becomes ^{\prime} (so f'' and f^{\prime\prime} agree);
//   - grouping: every argument of a command and every script is written in braces
//     (x^2 and x^{2}, \frac12 and \frac{1}{2} agree), braces that group nothing for a
//     command or script are dropped, and a base with both scripts writes the subscript
//     first (x^a_b and x_b^a agree).
//
// Anything else counts: a wrong symbol, a missing script, a different environment.

// Similarity compares two LaTeX bodies after normalisation.
func Similarity(got, want string) (sim float64, exact bool) {
	a, b := NormalizeLaTeX(got), NormalizeLaTeX(want)
	if len(a) == 0 && len(b) == 0 {
		return 1, true
	}
	d := editDistance(a, b)
	return 1 - float64(d)/float64(max(len(a), len(b))), d == 0
}

// NormalizeLaTeX returns the normalised token list of a LaTeX body (see Similarity).
func NormalizeLaTeX(s string) []string {
	toks := tokenize(s)
	p := &normParser{toks: toks}
	var out []string
	p.seq(&out, "")
	return out
}

var dropCommands = map[string]bool{
	`\,`: true, `\;`: true, `\:`: true, `\!`: true, `\ `: true, `\quad`: true, `\qquad`: true,
	`\left`: true, `\right`: true, `\middle`: true, `\big`: true, `\Big`: true, `\bigg`: true, `\Bigg`: true,
	`\bigl`: true, `\bigr`: true, `\Bigl`: true, `\Bigr`: true, `\biggl`: true, `\biggr`: true,
	`\Biggl`: true, `\Biggr`: true, `\bigm`: true, `\Bigm`: true, `\displaystyle`: true, `\textstyle`: true,
	`\scriptstyle`: true, `\scriptscriptstyle`: true, `\limits`: true, `\nolimits`: true,
	`\nonumber`: true, `\notag`: true, `\relax`: true, `\strut`: true, `\mathstrut`: true,
	`\allowbreak`: true, `\enspace`: true, `\thinspace`: true, `\medspace`: true, `\thickspace`: true,
	`\negthinspace`: true, `\/`: true,
}

// dropWithArg are dropped together with their argument.
var dropWithArg = map[string]bool{`\label`: true, `\hspace`: true, `\hspace*`: true, `\vspace`: true,
	`\phantom`: true, `\vphantom`: true, `\hphantom`: true, `\kern`: false}

var synonyms = map[string]string{
	`\leq`: `\le`, `\geq`: `\ge`, `\neq`: `\ne`, `\rightarrow`: `\to`, `\dfrac`: `\frac`, `\tfrac`: `\frac`,
	`\ldots`: `\dots`, `\vert`: "|", `\lvert`: "|", `\rvert`: "|", `\Vert`: `\|`, `\lVert`: `\|`,
	`\rVert`: `\|`, `\lbrace`: `\{`, `\rbrace`: `\}`, `\ast`: "*", `\colon`: ":", `\textrm`: `\text`,
	`\mathrm`: `\text`, `\operatorname`: `\text`, `\mbox`: `\text`, `\dotsc`: `\dots`, `\dotsb`: `\dots`,
	`\gets`: `\leftarrow`, `\land`: `\wedge`, `\lor`: `\vee`, `\lnot`: `\neg`, `\owns`: `\ni`,
	`\implies`: `\Longrightarrow`, `\iff`: `\Longleftrightarrow`, `\bm`: `\boldsymbol`,
}

// arity of commands whose arguments are grouped (1 unless listed).
var argCommands = map[string]int{
	`\frac`: 2, `\binom`: 2, `\sqrt`: 1, `\text`: 1, `\mathbb`: 1, `\mathcal`: 1, `\mathfrak`: 1,
	`\mathscr`: 1, `\mathbf`: 1, `\mathsf`: 1, `\mathtt`: 1, `\mathit`: 1, `\boldsymbol`: 1,
	`\hat`: 1, `\widehat`: 1, `\tilde`: 1, `\widetilde`: 1, `\bar`: 1, `\overline`: 1, `\underline`: 1,
	`\dot`: 1, `\ddot`: 1, `\vec`: 1, `\check`: 1, `\breve`: 1, `\acute`: 1, `\grave`: 1,
	`\overbrace`: 1, `\underbrace`: 1, `\begin`: 1, `\end`: 1, `\pmod`: 1, `\textbf`: 1, `\textit`: 1,
	`\emph`: 1, `\mathring`: 1,
}

func tokenize(s string) []string {
	var out []string
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '~':
			i++
		case c == '%':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		case c == '\\':
			j := i + 1
			for j < len(s) && (s[j] >= 'a' && s[j] <= 'z' || s[j] >= 'A' && s[j] <= 'Z') {
				j++
			}
			if j == i+1 && j < len(s) {
				j++
			}
			tok := s[i:j]
			if j < len(s) && s[j] == '*' && (tok == `\hspace` || tok == `\\`) {
				j++
			}
			out = append(out, tok)
			i = j
		default:
			r := []rune(s[i:min(len(s), i+4)])[0]
			n := len(string(r))
			out = append(out, s[i:i+n])
			i += n
		}
	}
	return out
}

type normParser struct {
	toks []string
	pos  int
	deep int
	bare bool // reading a one-token argument: its scripts are not its own
}

func (p *normParser) peek() string {
	if p.pos < len(p.toks) {
		return p.toks[p.pos]
	}
	return ""
}

// seq reads tokens until the closing token (or the end) and appends the normal form.
func (p *normParser) seq(out *[]string, closing string) {
	p.deep++
	defer func() { p.deep-- }()
	if p.deep > 200 {
		p.pos = len(p.toks)
		return
	}
	for p.pos < len(p.toks) {
		t := p.peek()
		if t == closing && closing != "" {
			p.pos++
			return
		}
		if t == "}" {
			p.pos++
			continue
		}
		p.atom(out)
	}
}

// arg reads one argument (a braced group or one token) in normal form.
func (p *normParser) arg() []string {
	var out []string
	if p.pos >= len(p.toks) {
		return out
	}
	if p.peek() == "{" {
		p.pos++
		p.seq(&out, "}")
		return out
	}
	p.bare = true
	p.atom(&out)
	p.bare = false
	return out
}

func braced(out *[]string, in []string) {
	*out = append(*out, "{")
	*out = append(*out, in...)
	*out = append(*out, "}")
}

// atom reads one atom with its scripts.
func (p *normParser) atom(out *[]string) {
	t := p.toks[p.pos]
	p.pos++
	if s, ok := synonyms[t]; ok {
		t = s
	}
	switch {
	case dropCommands[t]:
		return
	case dropWithArg[t]:
		p.arg()
		return
	case t == `\\`:
		*out = append(*out, t)
		if p.peek() == "[" { // \\[2pt]
			for p.pos < len(p.toks) && p.toks[p.pos] != "]" {
				p.pos++
			}
			p.pos++
		}
		return
	case t == "{":
		p.seq(out, "}") // a group that is no argument: its braces are dropped
		p.scripts(out)
		return
	case t == "'":
		n := 1
		for p.peek() == "'" {
			p.pos++
			n++
		}
		var sup []string
		for ; n > 0; n-- {
			sup = append(sup, `\prime`)
		}
		if p.peek() == "^" {
			p.pos++
			sup = append(sup, p.arg()...)
		}
		if p.peek() == "_" {
			p.pos++
			*out = append(*out, "_")
			braced(out, p.arg())
		}
		*out = append(*out, "^")
		braced(out, sup)
		return
	case t == "^" || t == "_":
		// a script without a base in this position
		*out = append(*out, t)
		braced(out, p.arg())
		return
	case t == `\bmod`:
		*out = append(*out, `\text`, "{", "m", "o", "d", "}")
		return
	case t == `\text`:
		a := p.arg()
		*out = append(*out, t, "{")
		for _, x := range a {
			if x == "{" || x == "}" {
				continue
			}
			*out = append(*out, strings.Split(x, "")...)
		}
		*out = append(*out, "}")
		p.scripts(out)
		return
	}
	*out = append(*out, t)
	if n, ok := argCommands[t]; ok {
		if t == `\sqrt` && p.peek() == "[" {
			p.pos++
			var idx []string
			p.seq(&idx, "]")
			*out = append(*out, "[")
			*out = append(*out, idx...)
			*out = append(*out, "]")
		}
		for i := 0; i < n; i++ {
			braced(out, p.arg())
		}
		if t == `\begin` && p.peek() == "{" { // array column spec
			p.arg()
		}
	}
	p.scripts(out)
}

// scripts reads the scripts after a base: subscript first.
func (p *normParser) scripts(out *[]string) {
	if p.bare {
		p.bare = false
		return
	}
	var sub, sup []string
	hasSub, hasSup := false, false
	for p.pos < len(p.toks) {
		switch p.peek() {
		case "_":
			p.pos++
			sub = append(sub, p.arg()...)
			hasSub = true
			continue
		case "^":
			p.pos++
			sup = append(sup, p.arg()...)
			hasSup = true
			continue
		case "'":
			p.pos++
			sup = append(sup, `\prime`)
			hasSup = true
			continue
		case `\limits`, `\nolimits`:
			p.pos++
			continue
		}
		break
	}
	if hasSub {
		*out = append(*out, "_")
		braced(out, sub)
	}
	if hasSup {
		*out = append(*out, "^")
		braced(out, sup)
	}
}

// editDistance is the Levenshtein distance of two token lists, in one row of len(b)+1
// counts: d[j] is the distance of the tokens of a read so far to b[:j].
func editDistance(a, b []string) int {
	d := make([]int, len(b)+1)
	for j := range d {
		d[j] = j
	}
	for i := range a {
		diag := d[0] // d[i][j] of the row before, for j = 0
		d[0] = i + 1
		for j := range b {
			up := d[j+1]
			if a[i] == b[j] {
				d[j+1] = diag
			} else {
				d[j+1] = 1 + min(diag, up, d[j])
			}
			diag = up
		}
	}
	return d[len(b)]
}

// FormulaPair is one truth display with the detected display it was paired with.
type FormulaPair struct {
	Want, Got  string
	Number     string
	Page       int
	Similarity float64
	Exact      bool
	Found      bool
}

// PairFormulas pairs every display of the truth with a display of the PDF result: a
// numbered one with the detected display of the same number, an unnumbered one with the
// unused unnumbered detected display whose LaTeX is most similar. A truth display without
// a partner scores 0.
func PairFormulas(t Truth, r eqextract.Result) []FormulaPair {
	used := make([]bool, len(r.Equations))
	var out []FormulaPair
	for _, w := range t.Equations {
		p := FormulaPair{Want: w.LaTeX, Number: w.Number}
		best := -1
		bestSim := -1.0
		for i, e := range r.Equations {
			if used[i] || eqextract.NormalizeNumber(e.Number) != eqextract.NormalizeNumber(w.Number) {
				continue
			}
			s, _ := Similarity(e.LaTeX, w.LaTeX)
			if w.Number != "" {
				best = i
				break
			}
			if s > bestSim {
				best, bestSim = i, s
			}
		}
		if best >= 0 {
			used[best] = true
			e := r.Equations[best]
			p.Got, p.Page, p.Found = e.LaTeX, e.Page, true
			p.Similarity, p.Exact = Similarity(e.LaTeX, w.LaTeX)
		}
		out = append(out, p)
	}
	return out
}

// FormulaSummary sums up the pairs of PairFormulas.
type FormulaSummary struct {
	Displays   int      // truth displays
	Mean       float64  // mean similarity over the truth displays (unpaired ones count 0)
	Exact      int      // exact after normalisation
	ExactShare float64  // Exact / Displays
	Got        []string // the LaTeX of the paired detected displays, for the parse check
}

// SummarizeFormulas sums up pairs.
func SummarizeFormulas(pairs []FormulaPair) FormulaSummary {
	s := FormulaSummary{Displays: len(pairs)}
	var sum float64
	for _, p := range pairs {
		sum += p.Similarity
		if p.Exact {
			s.Exact++
		}
		if p.Found {
			s.Got = append(s.Got, p.Got)
		}
	}
	if len(pairs) > 0 {
		s.Mean = sum / float64(len(pairs))
		s.ExactShare = float64(s.Exact) / float64(len(pairs))
	}
	return s
}
