package eqextract

import (
	"strings"
	"unicode"
)

// Fonts and glyphs of formulas: which family a PDF font belongs to, and the LaTeX of a
// glyph given its text (or, for the math extension fonts, its character code).

// fontKind is the role of a font in a formula.
type fontKind int

const (
	fontText       fontKind = iota // upright text (cmr, Times-Roman, ...)
	fontItalic                     // math italic or an italic text font used for math letters
	fontSymbol                     // math symbols (cmsy); capitals are calligraphic
	fontExt                        // math extension (cmex): big operators, delimiters, radicals
	fontBB                         // blackboard bold (msbm)
	fontFrak                       // Fraktur (eufm)
	fontScript                     // script (rsfs)
	fontBold                       // bold upright (cmbx)
	fontBoldItalic                 // bold math italic (cmmib)
	fontSans                       // sans serif (cmss)
	fontMono                       // typewriter (cmtt)
)

// classifyFont maps a PDF base font name (subset prefix removed) to its role.
func classifyFont(name string) fontKind {
	u := strings.ToUpper(name)
	has := func(ps ...string) bool {
		for _, p := range ps {
			if strings.Contains(u, p) {
				return true
			}
		}
		return false
	}
	switch {
	case has("CMEX", "MATHEXTENSION", "TXEX", "PXEX", "EUEX", "MTEX", "ESINT"):
		return fontExt
	case has("MSBM"):
		return fontBB
	case has("EUFM", "EUFB"):
		return fontFrak
	case has("RSFS", "EUSM"):
		return fontScript
	case has("CMBSY", "CMSY", "MATHSYMBOLS", "TXSY", "PXSY", "MTSY", "MSAM", "SYMBOL", "ZPZCCMRY"):
		return fontSymbol
	case has("CMMIB", "BOLDITALIC", "BOLDITAL", "-BOLDIT"):
		return fontBoldItalic
	case has("CMMI", "MATHITALIC", "RTXMI", "TXMI", "PXMI", "ZPZCMMI", "MTMI", "LMMATH"):
		return fontItalic
	case has("CMBX", "CMB10", "-BOLD", "BOLD", "MEDI"):
		return fontBold
	case has("CMSS", "SANS"):
		return fontSans
	case has("CMTT", "MONO", "COURIER"):
		return fontMono
	case italicFont(name):
		return fontItalic
	}
	return fontText
}

// extGlyph describes a character of a math extension font (cmex10 layout, shared by
// txex, pxex and Latin Modern's extension font).
type extGlyph struct {
	tex   string  // the LaTeX of the symbol
	cls   mclass  // open, close, bigop, radical, piece, accent
	depth float64 // extent below the origin, in units of the font size
}

// cmexGlyphs is the cmex10 encoding: the sizes of delimiters and operators are not told
// apart here (the formula gets \left/\right or \big from the layout).
var cmexGlyphs = func() map[int]extGlyph {
	m := map[int]extGlyph{}
	pairs := []string{"(", ")", "[", "]", `\lfloor`, `\rfloor`, `\lceil`, `\rceil`, `\{`, `\}`, `\langle`, `\rangle`}
	set := func(code int, tex string, cls mclass, depth float64) { m[code] = extGlyph{tex, cls, depth} }
	cls := func(i int) mclass {
		if i%2 == 1 {
			return mClose
		}
		return mOpen
	}
	for i, t := range pairs {
		set(0x00+i, t, cls(i), 1.16) // \big
	}
	set(0x10, "(", mOpen, 1.76) // \Big
	set(0x11, ")", mClose, 1.76)
	set(0x12, "(", mOpen, 2.36) // \bigg
	set(0x13, ")", mClose, 2.36)
	set(0x20, "(", mOpen, 2.96) // \Bigg
	set(0x21, ")", mClose, 2.96)
	for i, t := range pairs[2:] {
		set(0x14+i, t, cls(i), 2.36)
		set(0x22+i, t, cls(i), 2.96)
		if i < 8 {
			set(0x68+i, t, cls(i), 1.76)
		}
	}
	set(0x0C, "|", mDelim, 0.6)
	set(0x0D, `\|`, mDelim, 0.6)
	set(0x0E, "/", mOrd, 1.16)
	set(0x0F, `\backslash`, mOrd, 1.16)
	set(0x1E, "/", mOrd, 2.36)
	set(0x1F, `\backslash`, mOrd, 2.36)
	set(0x2C, "/", mOrd, 2.96)
	set(0x2D, `\backslash`, mOrd, 2.96)
	set(0x2E, "/", mOrd, 1.76)
	set(0x2F, `\backslash`, mOrd, 1.76)
	set(0x44, `\langle`, mOpen, 1.76)
	set(0x45, `\rangle`, mClose, 1.76)
	// pieces of extensible delimiters: "(" top, bottom, extension; "[" ...; "{" ...
	for code, t := range map[int]string{0x30: "(", 0x40: "(", 0x42: "(", 0x31: ")", 0x41: ")", 0x43: ")",
		0x32: "[", 0x34: "[", 0x36: "[", 0x33: "]", 0x35: "]", 0x37: "]",
		0x38: `\{`, 0x3A: `\{`, 0x3C: `\{`, 0x3E: `\{`, 0x39: `\}`, 0x3B: `\}`, 0x3D: `\}`,
		0x3F: "|", 0x77: `\|`} {
		d := 1.76
		switch code {
		case 0x42, 0x43, 0x36, 0x37, 0x3F, 0x77:
			d = 0.6
		case 0x32, 0x33, 0x34, 0x35:
			d = 1.76
		case 0x38, 0x39, 0x3A, 0x3B:
			d = 0.9
		case 0x3C, 0x3D:
			d = 1.8
		case 0x3E:
			d = 0.3
		}
		set(code, t, mPiece, d)
	}
	ops := []string{`\bigsqcup`, `\oint`, `\bigodot`, `\bigoplus`, `\bigotimes`}
	for i, t := range ops {
		set(0x46+2*i, t, mBigOp, 1.0)
		set(0x47+2*i, t, mBigOp, 1.4)
	}
	set(0x49, `\oint`, mBigOp, 2.22)
	ops = []string{`\sum`, `\prod`, `\int`, `\bigcup`, `\bigcap`, `\biguplus`, `\bigwedge`, `\bigvee`}
	for i, t := range ops {
		set(0x50+i, t, mBigOp, 1.0)
		set(0x58+i, t, mBigOp, 1.4)
	}
	set(0x52, `\int`, mBigOp, 1.11)
	set(0x5A, `\int`, mBigOp, 2.22)
	set(0x60, `\coprod`, mBigOp, 1.0)
	set(0x61, `\coprod`, mBigOp, 1.4)
	for code := 0x62; code <= 0x64; code++ {
		set(code, `\widehat`, mAccent, 0)
	}
	for code := 0x65; code <= 0x67; code++ {
		set(code, `\widetilde`, mAccent, 0)
	}
	set(0x70, `\sqrt`, mRadical, 1.2)
	set(0x71, `\sqrt`, mRadical, 1.8)
	set(0x72, `\sqrt`, mRadical, 2.4)
	set(0x73, `\sqrt`, mRadical, 3.0)
	set(0x74, `\sqrt`, mRadical, 1.8)
	set(0x75, `\sqrt`, mPiece, 0.6)
	set(0x76, `\sqrt`, mPiece, 0.6)
	return m
}()

// mclass is the TeX atom class of a node, as far as reconstruction needs it.
type mclass int

const (
	mOrd mclass = iota
	mBigOp
	mRel
	mBin
	mOpen
	mClose
	mDelim // | and \| whose side is decided by pairing
	mPunct
	mRadical
	mPiece // piece of an extensible delimiter
	mAccent
	mText
	mOpName // \sin, \lim, ...
)

// symbolTeX maps Unicode characters of math fonts to LaTeX and class.
var symbolTeX = map[rune]struct {
	tex string
	cls mclass
}{
	'α': {`\alpha`, mOrd}, 'β': {`\beta`, mOrd}, 'γ': {`\gamma`, mOrd}, 'δ': {`\delta`, mOrd},
	'ϵ': {`\epsilon`, mOrd}, 'ε': {`\varepsilon`, mOrd}, 'ζ': {`\zeta`, mOrd}, 'η': {`\eta`, mOrd},
	'θ': {`\theta`, mOrd}, 'ϑ': {`\vartheta`, mOrd}, 'ι': {`\iota`, mOrd}, 'κ': {`\kappa`, mOrd},
	'λ': {`\lambda`, mOrd}, 'μ': {`\mu`, mOrd}, 'ν': {`\nu`, mOrd}, 'ξ': {`\xi`, mOrd},
	'π': {`\pi`, mOrd}, 'ϖ': {`\varpi`, mOrd}, 'ρ': {`\rho`, mOrd}, 'ϱ': {`\varrho`, mOrd},
	'σ': {`\sigma`, mOrd}, 'ς': {`\varsigma`, mOrd}, 'τ': {`\tau`, mOrd}, 'υ': {`\upsilon`, mOrd},
	'ϕ': {`\phi`, mOrd}, 'φ': {`\varphi`, mOrd}, 'χ': {`\chi`, mOrd}, 'ψ': {`\psi`, mOrd},
	'ω': {`\omega`, mOrd}, 'Γ': {`\Gamma`, mOrd}, 'Δ': {`\Delta`, mOrd}, 'Θ': {`\Theta`, mOrd},
	'Λ': {`\Lambda`, mOrd}, 'Ξ': {`\Xi`, mOrd}, 'Π': {`\Pi`, mOrd}, 'Σ': {`\Sigma`, mOrd},
	'Υ': {`\Upsilon`, mOrd}, 'Φ': {`\Phi`, mOrd}, 'Ψ': {`\Psi`, mOrd}, 'Ω': {`\Omega`, mOrd},
	'∂': {`\partial`, mOrd}, '∇': {`\nabla`, mOrd}, '∞': {`\infty`, mOrd}, 'ℓ': {`\ell`, mOrd},
	'ℏ': {`\hbar`, mOrd}, 'ℜ': {`\Re`, mOrd}, 'ℑ': {`\Im`, mOrd}, 'ℵ': {`\aleph`, mOrd},
	'∅': {`\emptyset`, mOrd}, '∀': {`\forall`, mOrd}, '∃': {`\exists`, mOrd}, '¬': {`\neg`, mOrd},
	'′': {`\prime`, mOrd}, '″': {`\prime\prime`, mOrd}, '…': {`\dots`, mOrd}, '⋯': {`\cdots`, mOrd},
	'⋮': {`\vdots`, mOrd}, '⋱': {`\ddots`, mOrd}, '⊤': {`\top`, mOrd}, '⊥': {`\perp`, mRel},
	'∠': {`\angle`, mOrd}, '\u0338': {`\not`, mRel}, '⊘': {`\oslash`, mBin}, '⋄': {`\diamond`, mBin}, '†': {`\dagger`, mBin},
	'‡': {`\ddagger`, mBin}, '⟵': {`\longleftarrow`, mRel},
	'⟷': {`\longleftrightarrow`, mRel}, '⟸': {`\Longleftarrow`, mRel}, '↪': {`\hookrightarrow`, mRel},
	'⇀': {`\rightharpoonup`, mRel}, '⊊': {`\subsetneq`, mRel}, '⊲': {`\lhd`, mBin}, '∤': {`\nmid`, mRel},
	'♯': {`\sharp`, mOrd}, '♭': {`\flat`, mOrd}, '△': {`\triangle`, mOrd}, '□': {`\square`, mOrd},
	'+': {"+", mBin}, '−': {"-", mBin}, '-': {"-", mBin}, '±': {`\pm`, mBin}, '∓': {`\mp`, mBin},
	'×': {`\times`, mBin}, '÷': {`\div`, mBin}, '·': {`\cdot`, mBin}, '⋅': {`\cdot`, mBin},
	'∘': {`\circ`, mBin}, '∗': {`\ast`, mBin}, '⋆': {`\star`, mBin}, '∧': {`\wedge`, mBin},
	'∨': {`\vee`, mBin}, '∩': {`\cap`, mBin}, '∪': {`\cup`, mBin}, '⊕': {`\oplus`, mBin},
	'⊗': {`\otimes`, mBin}, '⊙': {`\odot`, mBin}, '⊖': {`\ominus`, mBin}, '∖': {`\setminus`, mBin},
	'•': {`\bullet`, mBin}, '⊎': {`\uplus`, mBin}, '⊓': {`\sqcap`, mBin}, '⊔': {`\sqcup`, mBin},
	'=': {"=", mRel}, '<': {"<", mRel}, '>': {">", mRel}, '≤': {`\le`, mRel}, '≥': {`\ge`, mRel},
	'≠': {`\ne`, mRel}, '≈': {`\approx`, mRel}, '≡': {`\equiv`, mRel}, '∼': {`\sim`, mRel},
	'≃': {`\simeq`, mRel}, '≅': {`\cong`, mRel}, '∝': {`\propto`, mRel}, '≪': {`\ll`, mRel},
	'≫': {`\gg`, mRel}, '⊂': {`\subset`, mRel}, '⊃': {`\supset`, mRel}, '⊆': {`\subseteq`, mRel},
	'⊇': {`\supseteq`, mRel}, '∈': {`\in`, mRel}, '∉': {`\notin`, mRel}, '∋': {`\ni`, mRel},
	'→': {`\to`, mRel}, '←': {`\leftarrow`, mRel}, '↔': {`\leftrightarrow`, mRel},
	'⇒': {`\Rightarrow`, mRel}, '⇐': {`\Leftarrow`, mRel}, '⇔': {`\Leftrightarrow`, mRel},
	'↦': {`\mapsto`, mRel}, '⟶': {`\longrightarrow`, mRel}, '⟹': {`\Longrightarrow`, mRel},
	'⟺': {`\Longleftrightarrow`, mRel}, '↑': {`\uparrow`, mRel}, '↓': {`\downarrow`, mRel},
	'⊢': {`\vdash`, mRel}, '⊨': {`\models`, mRel}, '≺': {`\prec`, mRel}, '≻': {`\succ`, mRel},
	'⪯': {`\preceq`, mRel}, '⪰': {`\succeq`, mRel}, '≲': {`\lesssim`, mRel}, '≳': {`\gtrsim`, mRel},
	'⩽': {`\leqslant`, mRel}, '⩾': {`\geqslant`, mRel}, '≍': {`\asymp`, mRel}, '≐': {`\doteq`, mRel},
	'∣': {`\mid`, mRel}, ':': {":", mRel}, '≔': {`\coloneqq`, mRel},
	'(': {"(", mOpen}, ')': {")", mClose}, '[': {"[", mOpen}, ']': {"]", mClose},
	'{': {`\{`, mOpen}, '}': {`\}`, mClose}, '⟨': {`\langle`, mOpen}, '⟩': {`\rangle`, mClose},
	'⌊': {`\lfloor`, mOpen}, '⌋': {`\rfloor`, mClose}, '⌈': {`\lceil`, mOpen}, '⌉': {`\rceil`, mClose},
	'|': {"|", mDelim}, '‖': {`\|`, mDelim}, '∥': {`\|`, mDelim}, '\u2126': {`\Omega`, mOrd}, '\u2206': {`\Delta`, mOrd}, 'µ': {`\mu`, mOrd}, ',': {",", mPunct}, ';': {";", mPunct},
	'.': {".", mOrd}, '!': {"!", mClose}, '?': {"?", mClose}, '/': {"/", mOrd}, '\\': {`\backslash`, mOrd},
	'∑': {`\sum`, mBigOp}, '∏': {`\prod`, mBigOp}, '∫': {`\int`, mBigOp}, '∮': {`\oint`, mBigOp},
	'⋃': {`\bigcup`, mBigOp}, '⋂': {`\bigcap`, mBigOp}, '∐': {`\coprod`, mBigOp},
	'⨁': {`\bigoplus`, mBigOp}, '⨂': {`\bigotimes`, mBigOp}, '⋁': {`\bigvee`, mBigOp}, '⋀': {`\bigwedge`, mBigOp},
	'√': {`\sqrt`, mRadical},
	'#': {`\#`, mOrd}, '%': {`\%`, mOrd}, '&': {`\&`, mOrd}, '$': {`\$`, mOrd}, '_': {`\_`, mOrd},
	'\'': {`\prime`, mOrd}, '*': {`\ast`, mBin}, '~': {`\sim`, mRel}, '^': {`\wedge`, mBin},
}

// accentTeX maps spacing accent characters (as the text fonts' encodings give them) to
// accent commands.
var accentTeX = map[rune]string{
	'ˆ': `\hat`, '^': `\hat`, '˜': `\tilde`, '~': `\tilde`, '¯': `\bar`, 'ˉ': `\bar`, '˙': `\dot`,
	'¨': `\ddot`, 'ˇ': `\check`, '˘': `\breve`, '´': `\acute`, '`': `\grave`, '⃗': `\vec`, '→': `\vec`,
}

// opNames are the upright words that are operator names; limOps take limits in displays.
var opNames = map[string]bool{
	"sin": true, "cos": true, "tan": true, "cot": true, "sec": true, "csc": true, "sinh": true,
	"cosh": true, "tanh": true, "coth": true, "arcsin": true, "arccos": true, "arctan": true,
	"log": true, "ln": true, "lg": true, "exp": true, "det": true, "dim": true, "ker": true,
	"deg": true, "arg": true, "gcd": true, "hom": true, "Pr": true,
	"lim": true, "liminf": true, "limsup": true, "max": true, "min": true, "sup": true, "inf": true,
}

var limOps = map[string]bool{"lim": true, "liminf": true, "limsup": true, "max": true, "min": true,
	"sup": true, "inf": true, "det": true, "gcd": true, "Pr": true}

// glyphTeX is the LaTeX of one glyph of a formula and its class; ok is false for a glyph
// that cannot be mapped (the formula then carries a note).
func glyphTeX(g glyph, kind fontKind) (tex string, cls mclass, ok bool) {
	// The extension fonts are read by code: their text, where they have one, is that of
	// a standard encoding's letters (Latin Modern's ∫ arrives as "Z").
	if kind == fontExt {
		e, found := cmexGlyphs[g.code]
		if !found || e.tex == "" {
			return "", mOrd, false
		}
		return e.tex, e.cls, true
	}
	if g.s == "" {
		// fonts of TeX without a Unicode mapping: capital Greek at codes 0-10 of the
		// text (OT1) and math italic fonts, lower-case Greek at 11-39 of math italic
		if (kind == fontText || kind == fontItalic || kind == fontBold) && g.code >= 0 && g.code <= 10 {
			return greekTeX(upperGreek[g.code]), mOrd, true
		}
		if kind == fontItalic && g.code >= 11 && g.code < 11+len(lowerGreek) {
			return greekTeX(lowerGreek[g.code-11]), mOrd, true
		}
		return "", mOrd, false
	}
	rs := []rune(g.s)
	if len(rs) > 1 {
		// ligatures of text fonts (ﬁ arrives as "fi") and composed glyphs
		return escapeText(g.s), mOrd, true
	}
	r := rs[0]
	if r >= 0x1D400 && r <= 0x1D7FF { // mathematical alphanumerics (Unicode math fonts)
		return mathAlnum(r), mOrd, true
	}
	if r >= 0xFB00 && r <= 0xFB06 { // ligatures
		return string([]rune{r}), mOrd, true
	}
	if kind == fontText && (r == '^' || r == '~') && g.code != 0 && g.code == int(r) {
		return accentTeX[r], mAccent, true // OT1 puts the circumflex and tilde accents there
	}
	if kind == fontText && (r == '˜' || r == 'ˆ' || r == '¯' || r == '˙' || r == '¨' || r == 'ˇ' || r == '˘') {
		return accentTeX[r], mAccent, true
	}
	if (kind == fontItalic || kind == fontText) && (r == '⃗') {
		return `\vec`, mAccent, true
	}
	if unicode.IsLetter(r) && r < 0x80 {
		l := string(r)
		switch kind {
		case fontBB:
			return `\mathbb{` + l + `}`, mOrd, true
		case fontFrak:
			return `\mathfrak{` + l + `}`, mOrd, true
		case fontScript:
			return `\mathscr{` + l + `}`, mOrd, true
		case fontSymbol:
			if unicode.IsUpper(r) {
				return `\mathcal{` + l + `}`, mOrd, true
			}
		case fontBold:
			return `\mathbf{` + l + `}`, mOrd, true
		case fontBoldItalic:
			return `\boldsymbol{` + l + `}`, mOrd, true
		case fontSans:
			return `\mathsf{` + l + `}`, mOrd, true
		case fontMono:
			return `\mathtt{` + l + `}`, mOrd, true
		case fontText:
			return l, mText, true
		}
		return l, mOrd, true
	}
	if unicode.IsDigit(r) && r < 0x80 {
		if kind == fontBold {
			return `\mathbf{` + string(r) + `}`, mOrd, true
		}
		return string(r), mOrd, true
	}
	if kind == fontBB {
		switch r {
		case 'ℝ', 'ℕ', 'ℤ', 'ℚ', 'ℂ', 'ℙ', 'ℍ':
			return `\mathbb{` + string("RNZQCPH"[strings.IndexRune("ℝℕℤℚℂℙℍ", r)/3]) + `}`, mOrd, true
		case 'k':
			return `\Bbbk`, mOrd, true
		}
	}
	switch r {
	case 'ℝ':
		return `\mathbb{R}`, mOrd, true
	case 'ℕ':
		return `\mathbb{N}`, mOrd, true
	case 'ℤ':
		return `\mathbb{Z}`, mOrd, true
	case 'ℚ':
		return `\mathbb{Q}`, mOrd, true
	case 'ℂ':
		return `\mathbb{C}`, mOrd, true
	}
	if s, found := symbolTeX[r]; found {
		return s.tex, s.cls, true
	}
	if r < 0x80 && unicode.IsPrint(r) {
		return string(r), mOrd, true
	}
	if unicode.IsLetter(r) {
		return string(r), mOrd, true
	}
	return "", mOrd, false
}

// mathAlnum maps a character of the Mathematical Alphanumeric Symbols block to LaTeX.
func mathAlnum(r rune) string {
	type style struct {
		start rune
		wrap  string
	}
	// the 13 Latin alphabets of 52 letters each, in Unicode order
	styles := []string{`\mathbf`, "", `\boldsymbol`, `\mathcal`, `\mathcal`, `\mathfrak`, `\mathbb`,
		`\mathfrak`, `\mathsf`, `\mathsf`, `\mathsf`, `\mathsf`, `\mathtt`}
	off := int(r - 0x1D400)
	if off < 13*52 {
		i, k := off/52, off%52
		var l byte
		if k < 26 {
			l = byte('A' + k)
		} else {
			l = byte('a' + k - 26)
		}
		if styles[i] == "" {
			return string(l)
		}
		return styles[i] + "{" + string(l) + "}"
	}
	if r >= 0x1D7CE && r <= 0x1D7FF { // digits
		return string(rune('0' + (r-0x1D7CE)%10))
	}
	if r >= 0x1D6A8 && r <= 0x1D7CB { // Greek: map through the plain letter
		g := []rune("ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡϴΣΤΥΦΧΨΩ∇αβγδεζηθικλμνξοπρςστυφχψω∂ϵϑϰϕϱϖ")
		k := int(r-0x1D6A8) % 58
		if k < len(g) {
			if s, ok := symbolTeX[g[k]]; ok {
				return s.tex
			}
			return string(g[k])
		}
	}
	return ""
}

// escapeText escapes the characters of text that LaTeX treats specially.
func escapeText(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\backslash `)
		case '{', '}', '#', '%', '&', '$', '_':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '^', '~':
			// not in text; drop
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

var (
	upperGreek = []rune("ΓΔΘΛΞΠΣΥΦΨΩ")
	lowerGreek = []rune("αβγδϵζηθικλμνξπρστυϕχψωεϑϖϱςφ")
)

func greekTeX(r rune) string {
	if s, ok := symbolTeX[r]; ok {
		return s.tex
	}
	return string(r)
}
