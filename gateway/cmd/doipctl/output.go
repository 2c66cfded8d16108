package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/fdo-doip/doip-gateway/gateway/internal/bytesize"
)

// outputFiles are the files a download writes: each under a temporary name in its final
// folder, renamed into place by finish when the answer was complete, removed otherwise.
type outputFiles struct {
	tmp   []*os.File
	final []string
}

func (o *outputFiles) create(target string) (*os.File, error) {
	f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".part-*")
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err // the temporary name means nothing to the user
		}
		return nil, fmt.Errorf("cannot write %s: %w", target, err)
	}
	o.tmp, o.final = append(o.tmp, f), append(o.final, target)
	return f, nil
}

// finish closes the files and renames them into place, or removes them when err is set.
func (o *outputFiles) finish(err error) error {
	var errs []error
	for i, f := range o.tmp {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = cerr
		}
		if err != nil {
			_ = os.Remove(f.Name())
			continue
		}
		errs = append(errs, os.Rename(f.Name(), o.final[i]))
	}
	return errors.Join(errs...)
}

// stdoutFor returns the writer for component bytes without -o: stdout, guarded against
// binary bytes when stdout is a terminal. -o - writes to stdout regardless.
func (a *app) stdoutFor(c call, id, mediaType string) io.Writer {
	if c.output == "-" || !a.isTerminal(a.stdout) {
		return a.stdout
	}
	return &terminalGuard{w: a.stdout, id: id, mediaType: mediaType}
}

// binaryToTerminalError is returned when component bytes that look binary would go to a
// terminal.
type binaryToTerminalError struct{ id, mediaType string }

func (e *binaryToTerminalError) Error() string {
	what := e.id
	if e.mediaType != "" {
		what += " (" + e.mediaType + ")"
	}
	return fmt.Sprintf("%s looks binary and stdout is a terminal: save it with -o FILE, or pipe it into a program; -o - writes it here regardless", what)
}

// terminalGuard passes text to a terminal but refuses bytes that look binary, as curl does:
// it judges the first write, which holds the first chunk of the component.
type terminalGuard struct {
	w             io.Writer
	id, mediaType string
	checked       bool
}

func (g *terminalGuard) Write(p []byte) (int, error) {
	if !g.checked {
		if looksBinary(p) {
			return 0, &binaryToTerminalError{id: g.id, mediaType: g.mediaType}
		}
		g.checked = true
	}
	return g.w.Write(p)
}

// looksBinary reports whether the first KiB of p has a NUL or other control byte that text
// does not use, or is not UTF-8 (a character cut at the end of the sample is allowed).
func looksBinary(p []byte) bool {
	p = p[:min(len(p), 1024)]
	for len(p) > 0 {
		r, n := utf8.DecodeRune(p)
		if r == utf8.RuneError && n == 1 {
			return utf8.FullRune(p)
		}
		if r < 0x20 && !strings.ContainsRune("\t\n\r\f\x1b", r) || r == 0x7f {
			return true
		}
		p = p[n:]
	}
	return false
}

func printJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	if raw, ok := v.(json.RawMessage); ok {
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return fmt.Errorf("answer is not JSON: %w", err)
		}
	} else {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

// progressBar draws one line on a terminal: bytes done, total, percent and rate.
type progressBar struct {
	w     io.Writer
	start time.Time
	last  time.Time
}

func (p *progressBar) update(done, total int64) {
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = now
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 1e-3)
	const width = 30
	fill := int(pct / 100 * width)
	fmt.Fprintf(p.w, "\r[%s%s] %6.1f%% %s / %s  %s/s ", strings.Repeat("=", fill), strings.Repeat(" ", width-fill),
		pct, bytesize.Format(done), bytesize.Format(total), bytesize.Format(int64(rate)))
}

func (p *progressBar) done() { fmt.Fprintln(p.w) }

// progressWriter reports bytes written to a progress bar (total unknown in this framing).
type progressWriter struct {
	w    io.Writer
	bar  *progressBar
	done int64
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.bar.update(p.done, 0)
	return n, err
}
