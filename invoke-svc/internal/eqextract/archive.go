package eqextract

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strings"
)

// FromArchive extracts the display equations of a LaTeX source archive (.tar.gz, .tgz,
// .tar, .zip, or a gzip-compressed single .tex as arXiv serves it). The format is taken from
// the bytes; name is a hint used in messages. The main file is the .tex that has both
// \documentclass and \begin{document} (if several, the shallowest, then main.tex or
// ms.tex, then the largest); its \input and \include are inlined from the archive.
func FromArchive(r io.ReaderAt, size int64, name string) (Result, error) {
	return FromArchiveContext(context.Background(), r, size, name)
}

// FromArchiveContext is FromArchive bounded by ctx: when ctx is done the scan stops with
// ctx's error.
func FromArchiveContext(ctx context.Context, r io.ReaderAt, size int64, name string) (Result, error) {
	if size <= 0 {
		return Result{}, fmt.Errorf("%w: %s is empty", ErrBadArchive, name)
	}
	if size > MaxArchiveBytes {
		return Result{}, fmt.Errorf("%w: %s has %d bytes, limit %d", ErrTooLarge, name, size, MaxArchiveBytes)
	}
	head := make([]byte, 4)
	if _, err := r.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		return Result{}, fmt.Errorf("%w: reading %s: %v", ErrBadArchive, name, err)
	}
	var files map[string][]byte
	var err error
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")), bytes.HasPrefix(head, []byte("PK\x05\x06")):
		files, err = readZip(r, size)
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		files, err = readGzip(io.NewSectionReader(r, 0, size), name)
	default:
		files, err = readTar(io.NewSectionReader(r, 0, size))
	}
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", name, err)
	}
	main, err := mainFile(files)
	if err != nil {
		return Result{}, fmt.Errorf("%s: %w", name, err)
	}
	l := &lexer{ctx: ctx, max: MaxLaTeXBytes, files: []string{main}}
	dir := path.Dir(main)
	l.resolve = func(_, target string) (string, []byte, bool) {
		target = strings.Trim(strings.TrimSpace(target), `"`)
		for _, base := range []string{path.Join(dir, target), path.Clean(target)} {
			for _, cand := range []string{base, base + ".tex"} {
				if b, ok := files[cand]; ok {
					return cand, b, true
				}
			}
		}
		return "", nil, false
	}
	l.lex(0, files[main])
	return parseClean(l)
}

// keepFile reports whether an archive member may be LaTeX input.
func keepFile(name string) bool {
	ext := strings.ToLower(path.Ext(name))
	switch ext {
	case ".tex", ".ltx", ".inc", ".txt", ".tikz", ".pgf", ".sty", ".cls", ".def", ".bbl", "":
		return true
	}
	return false
}

// cleanMember validates and normalises an archive member name.
func cleanMember(name string) (string, error) {
	n := strings.ReplaceAll(name, `\`, "/")
	if strings.HasPrefix(n, "/") || len(n) > 1 && n[1] == ':' {
		return "", fmt.Errorf("%w: absolute path %q", ErrBadArchive, name)
	}
	for _, part := range strings.Split(n, "/") {
		if part == ".." {
			return "", fmt.Errorf("%w: path with .. %q", ErrBadArchive, name)
		}
	}
	return path.Clean(strings.TrimPrefix(n, "./")), nil
}

type budget struct {
	bytes int64
	files int
}

func (b *budget) take(n int64) error {
	b.bytes -= n
	if b.bytes < 0 {
		return fmt.Errorf("%w: more than %d uncompressed bytes", ErrTooLarge, MaxArchiveBytes)
	}
	return nil
}

func (b *budget) file() error {
	b.files--
	if b.files < 0 {
		return fmt.Errorf("%w: more than %d files", ErrTooLarge, MaxArchiveFiles)
	}
	return nil
}

func readAllCapped(rd io.Reader, b *budget) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(rd, b.bytes+1))
	if err != nil {
		return nil, err
	}
	if err := b.take(int64(len(data))); err != nil {
		return nil, err
	}
	return data, nil
}

func readZip(r io.ReaderAt, size int64) (map[string][]byte, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadArchive, err)
	}
	if len(zr.File) > MaxArchiveFiles {
		return nil, fmt.Errorf("%w: %d files, limit %d", ErrTooLarge, len(zr.File), MaxArchiveFiles)
	}
	b := &budget{bytes: MaxArchiveBytes, files: MaxArchiveFiles}
	files := map[string][]byte{}
	for _, f := range zr.File {
		if err := b.file(); err != nil {
			return nil, err
		}
		name, err := cleanMember(f.Name)
		if err != nil {
			return nil, err
		}
		if f.FileInfo().IsDir() || !f.Mode().IsRegular() || !keepFile(name) {
			continue
		}
		if f.UncompressedSize64 > uint64(b.bytes) {
			return nil, fmt.Errorf("%w: %s declares %d bytes", ErrTooLarge, name, f.UncompressedSize64)
		}
		rc, err := f.Open()
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %v", ErrBadArchive, name, err)
		}
		data, err := readAllCapped(rc, b)
		rc.Close()
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s: %v", ErrBadArchive, name, err)
		}
		files[name] = data
	}
	return files, nil
}

func readGzip(r io.Reader, name string) (map[string][]byte, error) {
	zr, err := gzip.NewReader(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadArchive, err)
	}
	defer zr.Close()
	b := &budget{bytes: MaxArchiveBytes, files: MaxArchiveFiles}
	data, err := readAllCapped(zr, b)
	if err != nil {
		if errors.Is(err, ErrTooLarge) {
			return nil, err
		}
		return nil, fmt.Errorf("%w: %v", ErrBadArchive, err)
	}
	if len(data) > 262 && string(data[257:262]) == "ustar" {
		return readTar(bytes.NewReader(data))
	}
	// A single compressed .tex file.
	base := strings.TrimSuffix(strings.TrimSuffix(path.Base(strings.ReplaceAll(name, `\`, "/")), ".gz"), ".tex")
	if base == "" || base == "." {
		base = "main"
	}
	return map[string][]byte{base + ".tex": data}, nil
}

func readTar(r io.Reader) (map[string][]byte, error) {
	tr := tar.NewReader(r)
	b := &budget{bytes: MaxArchiveBytes, files: MaxArchiveFiles}
	files := map[string][]byte{}
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrBadArchive, err)
		}
		if err := b.file(); err != nil {
			return nil, err
		}
		name, err := cleanMember(h.Name)
		if err != nil {
			return nil, err
		}
		if h.Typeflag != tar.TypeReg {
			continue // directories, links, devices
		}
		if h.Size > b.bytes {
			return nil, fmt.Errorf("%w: %s has %d bytes", ErrTooLarge, name, h.Size)
		}
		if !keepFile(name) {
			if err := b.take(h.Size); err != nil {
				return nil, err
			}
			continue
		}
		data, err := readAllCapped(tr, b)
		if err != nil {
			if errors.Is(err, ErrTooLarge) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %s: %v", ErrBadArchive, name, err)
		}
		files[name] = data
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("%w: no files", ErrBadArchive)
	}
	return files, nil
}

var (
	reDocclass = regexp.MustCompile(`(?m)^[^%\n]*\\documentclass`)
	reBeginDoc = regexp.MustCompile(`(?m)^[^%\n]*\\begin\s*\{document\}`)
)

func mainFile(files map[string][]byte) (string, error) {
	var cands []string
	for name, data := range files {
		ext := strings.ToLower(path.Ext(name))
		if ext != ".tex" && ext != ".ltx" {
			continue
		}
		if reDocclass.Match(data) && reBeginDoc.Match(data) {
			cands = append(cands, name)
		}
	}
	if len(cands) == 0 {
		return "", fmt.Errorf("%w: no .tex file with \\documentclass and \\begin{document}", ErrBadArchive)
	}
	preferred := func(n string) bool {
		switch strings.ToLower(path.Base(n)) {
		case "main.tex", "ms.tex", "paper.tex", "article.tex":
			return true
		}
		return false
	}
	sort.Slice(cands, func(i, j int) bool {
		a, b := cands[i], cands[j]
		da, db := strings.Count(a, "/"), strings.Count(b, "/")
		if da != db {
			return da < db
		}
		if preferred(a) != preferred(b) {
			return preferred(a)
		}
		if len(files[a]) != len(files[b]) {
			return len(files[a]) > len(files[b])
		}
		return a < b
	})
	return cands[0], nil
}
