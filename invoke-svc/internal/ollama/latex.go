package ollama

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// cleanLaTeX normalises the LaTeX of one answered equation and checks that it can be
// right (see Refiner.Refine for the rules).
func cleanLaTeX(s string) (string, error) {
	if len(s) > 4*MaxLaTeXBytes {
		return "", fmt.Errorf("LaTeX of %d bytes, more than %d", len(s), MaxLaTeXBytes)
	}
	if !utf8.ValidString(s) {
		return "", errors.New("LaTeX is not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' && r != '\t' && r != '\r' {
			return "", fmt.Errorf("LaTeX has the control character %U", r)
		}
	}
	s = stripComments(s)
	s = strings.TrimSpace(s)
	s = stripDelimiters(s)
	s = reNumbering.ReplaceAllString(s, " ")
	s = strings.Join(strings.Fields(s), " ")
	if s == "" {
		return "", errors.New("LaTeX is empty")
	}
	if len(s) > MaxLaTeXBytes {
		return "", fmt.Errorf("LaTeX of %d bytes, more than %d", len(s), MaxLaTeXBytes)
	}
	if err := checkBalance(s); err != nil {
		return "", err
	}
	return s, nil
}

// reNumbering matches what numbers or labels a display, which the builtin extraction
// reports on its own.
var reNumbering = regexp.MustCompile(`\\(?:label|tag\*?)\s*\{[^{}]*\}|\\(?:nonumber|notag)\b`)

// stripComments removes % comments (an unescaped % to the end of its line).
func stripComments(s string) string {
	if !strings.Contains(s, "%") {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\\':
			b.WriteByte(c)
			if i+1 < len(s) {
				i++
				b.WriteByte(s[i])
			}
		case '%':
			nl := strings.IndexByte(s[i:], '\n')
			if nl < 0 {
				return b.String()
			}
			i += nl
			b.WriteByte('\n')
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// stripDelimiters removes one pair of math delimiters or a display environment around s.
func stripDelimiters(s string) string {
	for _, env := range []string{"equation", "equation*", "displaymath", "math"} {
		open, end := `\begin{`+env+`}`, `\end{`+env+`}`
		if strings.HasPrefix(s, open) && strings.HasSuffix(s, end) && len(s) >= len(open)+len(end) {
			inner := s[len(open) : len(s)-len(end)]
			if !strings.Contains(inner, end) {
				return strings.TrimSpace(inner)
			}
		}
	}
	for _, d := range [][2]string{{`$$`, `$$`}, {`\[`, `\]`}, {`\(`, `\)`}, {`$`, `$`}} {
		if len(s) >= len(d[0])+len(d[1]) && strings.HasPrefix(s, d[0]) && strings.HasSuffix(s, d[1]) {
			inner := s[len(d[0]) : len(s)-len(d[1])]
			if d[0] == `$` || d[0] == `$$` {
				if strings.HasSuffix(inner, `\`) || hasUnescapedDollar(inner) {
					continue // "$a$ + $b$", or "\$" closing
				}
			} else if strings.Contains(inner, d[1]) {
				continue
			}
			return strings.TrimSpace(inner)
		}
	}
	return s
}

func hasUnescapedDollar(s string) bool {
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '\\':
			i++
		case '$':
			return true
		}
	}
	return false
}

// checkBalance checks braces, \begin/\end and \left/\right.
func checkBalance(s string) error {
	depth, left := 0, 0
	var envs []string
	for i := 0; i < len(s); {
		switch s[i] {
		case '{':
			depth++
			i++
		case '}':
			if depth == 0 {
				return errors.New("unbalanced braces: a } closes nothing")
			}
			depth--
			i++
		case '\\':
			j := i + 1
			if j >= len(s) {
				return errors.New("LaTeX ends in a lone backslash")
			}
			if !isLetter(s[j]) {
				i = j + 1 // a control symbol: \{ \} \\ \, \$ …
				continue
			}
			for j < len(s) && isLetter(s[j]) {
				j++
			}
			switch name := s[i+1 : j]; name {
			case "left":
				left++
			case "right":
				if left == 0 {
					return errors.New(`a \right without its \left`)
				}
				left--
			case "begin", "end":
				env, next, ok := envName(s, j)
				if !ok {
					return fmt.Errorf(`\%s without an environment name`, name)
				}
				j = next
				if name == "begin" {
					if len(envs) >= 64 {
						return errors.New("environments nested too deeply")
					}
					envs = append(envs, env)
					break
				}
				if len(envs) == 0 {
					return fmt.Errorf(`\end{%s} without its \begin`, env)
				}
				if top := envs[len(envs)-1]; top != env {
					return fmt.Errorf(`\begin{%s} is closed by \end{%s}`, top, env)
				}
				envs = envs[:len(envs)-1]
			}
			i = j
		default:
			i++
		}
	}
	switch {
	case depth > 0:
		return fmt.Errorf("unbalanced braces: %d { never closed", depth)
	case len(envs) > 0:
		return fmt.Errorf(`\begin{%s} is never closed`, envs[len(envs)-1])
	case left > 0:
		return errors.New(`a \left without its \right`)
	}
	return nil
}

// envName reads "{name}" (after optional spaces) at s[i:].
func envName(s string, i int) (name string, next int, ok bool) {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) || s[i] != '{' {
		return "", i, false
	}
	end := strings.IndexByte(s[i+1:], '}')
	if end <= 0 {
		return "", i, false
	}
	name = s[i+1 : i+1+end]
	for k := 0; k < len(name); k++ {
		if c := name[k]; !isLetter(c) && c != '*' {
			return "", i, false
		}
	}
	return name, i + end + 2, true
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }
