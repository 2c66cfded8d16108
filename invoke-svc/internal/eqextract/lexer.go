package eqextract

import (
	"bytes"
	"context"
	"fmt"
	"sort"
)

// The LaTeX path works in two passes. The lexer (this file) reads the source the way TeX's
// input stage would for our purposes: it drops comments (with the end of line and the
// leading blanks of the next line, as TeX does), skips verbatim-like and comment
// environments and \verb, and, for archives, inlines \input and \include. It produces one
// clean text plus checkpoints that map offsets of the clean text back to (file, line).
// The parser (latex.go) then finds the displays in the clean text.

// verbatimEnvs are skipped whole: their bodies are not TeX.
var verbatimEnvs = map[string]bool{
	"verbatim": true, "verbatim*": true, "Verbatim": true, "Verbatim*": true,
	"lstlisting": true, "minted": true, "comment": true, "filecontents": true,
	"filecontents*": true,
}

type checkpoint struct {
	off  int // offset in the clean text
	file int // index into lexer.files
	line int // 1-based line in that file at off
}

type lexer struct {
	ctx      context.Context // never nil
	steps    int
	out      []byte
	cps      []checkpoint
	files    []string
	max      int
	warnings []string
	err      error
	// resolve finds an \input/\include target (archive path); nil disables inlining.
	resolve  func(from, name string) (string, []byte, bool)
	depth    int
	included int
}

const (
	maxIncludeDepth = 16
	maxIncludes     = 2000
	maxWarnings     = 50
)

func (l *lexer) warnf(format string, args ...any) {
	if len(l.warnings) < maxWarnings {
		l.warnings = append(l.warnings, fmt.Sprintf(format, args...))
	}
}

func (l *lexer) cp(file, line int) {
	off := len(l.out)
	if n := len(l.cps); n > 0 && l.cps[n-1].off == off {
		l.cps[n-1] = checkpoint{off, file, line}
		return
	}
	l.cps = append(l.cps, checkpoint{off, file, line})
}

// pos maps an offset of the clean text to (file index, line).
func (l *lexer) pos(off int) (int, int) {
	i := sort.Search(len(l.cps), func(i int) bool { return l.cps[i].off > off }) - 1
	if i < 0 {
		return 0, 1
	}
	// A checkpoint is written after every source newline, so the last one at or before off
	// is exact.
	c := l.cps[i]
	return c.file, c.line
}

func isLetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '@' }

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\r' || c == '\n' }

// lex appends the clean form of data (file index fi) to l.out.
func (l *lexer) lex(fi int, data []byte) {
	line := 1
	l.cp(fi, line)
	n := len(data)
	for i := 0; i < n; {
		if l.err != nil {
			return
		}
		if l.steps++; l.steps%ctxCheckEvery == 0 {
			if err := l.ctx.Err(); err != nil {
				l.err = fmt.Errorf("eqextract: LaTeX scan: %w", err)
				return
			}
		}
		if len(l.out) > l.max {
			l.err = fmt.Errorf("%w: LaTeX source over %d bytes", ErrTooLarge, l.max)
			return
		}
		c := data[i]
		switch c {
		case '\n':
			l.out = append(l.out, '\n')
			line++
			i++
			l.cp(fi, line)
		case '%':
			j := bytes.IndexByte(data[i:], '\n')
			if j < 0 {
				return
			}
			i += j + 1
			line++
			for i < n && (data[i] == ' ' || data[i] == '\t') {
				i++
			}
			// A comment right before a blank line must not swallow the paragraph break.
			if i < n && data[i] == '\n' {
				l.out = append(l.out, '\n')
			}
			l.cp(fi, line)
		case '\\':
			if i+1 >= n {
				l.out = append(l.out, c)
				i++
				continue
			}
			if !isLetter(data[i+1]) {
				l.out = append(l.out, data[i], data[i+1])
				if data[i+1] == '\n' {
					line++
					l.cp(fi, line)
				}
				i += 2
				continue
			}
			j := i + 1
			for j < n && isLetter(data[j]) {
				j++
			}
			name := string(data[i+1 : j])
			switch name {
			case "verb":
				k := j
				if k < n && data[k] == '*' {
					k++
				}
				if k < n && data[k] != '\n' && !isLetter(data[k]) && data[k] != ' ' {
					d := data[k]
					e := bytes.IndexByte(data[k+1:], d)
					nl := bytes.IndexByte(data[k+1:], '\n')
					if e >= 0 && (nl < 0 || e < nl) {
						l.out = append(l.out, `\verb `...)
						i = k + 1 + e + 1
						continue
					}
				}
			case "begin":
				env, k, ok := readBraceArg(data, j, 200)
				if ok && verbatimEnvs[string(env)] {
					end := []byte(`\end{` + string(env) + `}`)
					e := bytes.Index(data[k:], end)
					if e < 0 {
						l.warnf("environment %s opened on line %d is never closed", env, line)
						return
					}
					line += bytes.Count(data[i:k+e], []byte{'\n'})
					i = k + e + len(end)
					l.out = append(l.out, ' ')
					l.cp(fi, line)
					continue
				}
			case "input", "include", "subfile":
				if l.resolve == nil {
					break
				}
				arg, k, ok := readBraceArg(data, j, 1024)
				if !ok && name == "input" {
					arg, k, ok = readBareName(data, j)
				}
				if !ok {
					break
				}
				target := string(bytes.TrimSpace(arg))
				if l.depth >= maxIncludeDepth || l.included >= maxIncludes {
					l.warnf("\\%s{%s} on line %d not inlined: include depth or count limit", name, target, line)
					break
				}
				path, body, found := l.resolve(l.files[fi], target)
				if !found {
					l.warnf("\\%s{%s} on line %d: no such file in the archive", name, target, line)
					break
				}
				l.included++
				l.depth++
				l.files = append(l.files, path)
				l.out = append(l.out, '\n')
				l.lex(len(l.files)-1, body)
				l.out = append(l.out, '\n')
				l.depth--
				line += bytes.Count(data[i:k], []byte{'\n'})
				i = k
				l.cp(fi, line)
				continue
			case "endinput":
				// TeX stops reading the file at the end of the current line.
				l.out = append(l.out, ' ')
				e := bytes.IndexByte(data[j:], '\n')
				if e < 0 {
					l.out = append(l.out, data[j:]...)
				} else {
					l.out = append(l.out, data[j:j+e]...)
				}
				return
			}
			l.out = append(l.out, data[i:j]...)
			i = j
		default:
			l.out = append(l.out, c)
			i++
		}
	}
}

// readBraceArg reads {arg} after optional blanks at data[i:]; it returns the argument
// (balanced braces, at most max bytes) and the offset after the closing brace.
func readBraceArg(data []byte, i, max int) ([]byte, int, bool) {
	for i < len(data) && (data[i] == ' ' || data[i] == '\t') {
		i++
	}
	if i >= len(data) || data[i] != '{' {
		return nil, i, false
	}
	depth := 0
	for j := i; j < len(data) && j-i <= max+1; j++ {
		switch data[j] {
		case '\\':
			j++
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				return data[i+1 : j], j + 1, true
			}
		}
	}
	return nil, i, false
}

// readBareName reads a TeX-primitive style file name (\input file.tex).
func readBareName(data []byte, i int) ([]byte, int, bool) {
	if i >= len(data) || data[i] != ' ' {
		return nil, i, false
	}
	for i < len(data) && data[i] == ' ' {
		i++
	}
	j := i
	for j < len(data) && !isSpace(data[j]) && data[j] != '\\' && data[j] != '%' && data[j] != '{' && data[j] != '}' && j-i < 1024 {
		j++
	}
	if j == i {
		return nil, i, false
	}
	return data[i:j], j, true
}
