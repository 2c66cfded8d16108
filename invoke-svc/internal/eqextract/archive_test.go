package eqextract

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"strings"
	"testing"
)

type member struct {
	name string
	body string
	size int64 // for tar: declared size when body is empty
}

func makeTarGz(t *testing.T, files []member, gz bool) []byte {
	t.Helper()
	var buf bytes.Buffer
	var tw *tar.Writer
	var zw *gzip.Writer
	if gz {
		zw = gzip.NewWriter(&buf)
		tw = tar.NewWriter(zw)
	} else {
		tw = tar.NewWriter(&buf)
	}
	for _, f := range files {
		if err := tw.WriteHeader(&tar.Header{Name: f.name, Mode: 0o644, Size: int64(len(f.body)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if gz {
		if err := zw.Close(); err != nil {
			t.Fatal(err)
		}
	}
	return buf.Bytes()
}

func makeZip(t *testing.T, files []member) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range files {
		w, err := zw.Create(f.name)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(f.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var mainTeX = "\\documentclass{article}\n\\usepackage{amsmath}\n\\begin{document}\n\\input{sections/intro}\n% \\input{sections/skipped}\n\\include{app}\n\\begin{equation} z \\label{z} \\end{equation}\n\\input{missing}\n\\end{document}\n"

var archiveFiles = []member{
	{name: "paper/main.tex", body: mainTeX},
	{name: "paper/sections/intro.tex", body: "Intro.\n\\begin{equation} x \\label{x} \\end{equation}\n"},
	{name: "paper/sections/skipped.tex", body: "\\begin{equation} never \\end{equation}\n"},
	{name: "paper/app.tex", body: "\\begin{align} y &= 1 \\\\ w &= 2 \\end{align}\n"},
	{name: "paper/figure.pdf", body: "%PDF-1.5 not read"},
	{name: "paper/old/draft.tex", body: "\\documentclass{article}\\begin{document}\\[ old \\]\\end{document}"},
}

func TestFromArchive(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		data []byte
	}{
		{"src.tar.gz", makeTarGz(t, archiveFiles, true)},
		{"src.tar", makeTarGz(t, archiveFiles, false)},
		{"src.zip", makeZip(t, archiveFiles)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			res, err := FromArchive(bytes.NewReader(tc.data), int64(len(tc.data)), tc.name)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range res.Equations {
				got = append(got, e.Number+":"+e.LaTeX+"@"+e.File)
			}
			want := []string{"1:x@paper/sections/intro.tex", "2:y &= 1@paper/app.tex", "3:w &= 2@paper/app.tex", "4:z@paper/main.tex"}
			if strings.Join(got, "|") != strings.Join(want, "|") {
				t.Errorf("got %q\nwant %q", got, want)
			}
			if res.Equations[0].Line != 2 || res.Equations[3].Line != 7 {
				t.Errorf("lines %d %d, want 2 7", res.Equations[0].Line, res.Equations[3].Line)
			}
			if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "missing") {
				t.Errorf("warnings %q", res.Warnings)
			}
		})
	}
}

func TestFromArchiveSingleGzip(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write([]byte("\\documentclass{article}\\begin{document}\\[ a \\]\\end{document}"))
	zw.Close()
	res, err := FromArchive(bytes.NewReader(buf.Bytes()), int64(buf.Len()), "2401.00001.gz")
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Equations) != 1 || res.Equations[0].LaTeX != "a" {
		t.Errorf("got %+v", res.Equations)
	}
}

func TestFromArchiveHostile(t *testing.T) {
	// Not parallel: changes the archive limits.
	zeros := strings.Repeat("\x00", 1<<20)
	cases := []struct {
		name  string
		data  []byte
		limit func() func()
		want  error
	}{
		{"dotdot tar", makeTarGz(t, []member{{name: "../evil.tex", body: "x"}}, true), nil, ErrBadArchive},
		{"dotdot zip", makeZip(t, []member{{name: "a/../../evil.tex", body: "x"}}), nil, ErrBadArchive},
		{"absolute", makeTarGz(t, []member{{name: "/etc/x.tex", body: "x"}}, false), nil, ErrBadArchive},
		{"no main file", makeZip(t, []member{{name: "a.tex", body: "\\section{x}"}}), nil, ErrBadArchive},
		{"not an archive", []byte("hello world, this is not a tar file at all........"), nil, ErrBadArchive},
		{"too many files", makeZip(t, []member{{name: "a.tex"}, {name: "b.tex"}, {name: "c.tex"}}), func() func() {
			old := MaxArchiveFiles
			MaxArchiveFiles = 2
			return func() { MaxArchiveFiles = old }
		}, ErrTooLarge},
		{"zip bomb", makeZip(t, []member{{name: "main.tex", body: zeros}}), func() func() {
			old := MaxArchiveBytes
			MaxArchiveBytes = 1 << 16
			return func() { MaxArchiveBytes = old }
		}, ErrTooLarge},
		{"tar bomb", makeTarGz(t, []member{{name: "main.tex", body: zeros}, {name: "x.bin", body: zeros}}, true), func() func() {
			old := MaxArchiveBytes
			MaxArchiveBytes = 1 << 16
			return func() { MaxArchiveBytes = old }
		}, ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if tc.limit != nil {
				defer tc.limit()()
			}
			_, err := FromArchive(bytes.NewReader(tc.data), int64(len(tc.data)), tc.name)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
}
