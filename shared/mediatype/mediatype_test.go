package mediatype

import (
	"slices"
	"testing"
)

func TestExtension(t *testing.T) {
	t.Parallel()
	for mt, want := range map[string]string{
		"application/pdf": ".pdf", "text/csv; charset=utf-8": ".csv", "application/x-latex": ".tex",
		"application/x-tar": ".bin", "": ".bin", "not a type": ".bin",
	} {
		if got := Extension(mt); got != want {
			t.Errorf("Extension(%q) = %q, want %q", mt, got, want)
		}
	}
}

func TestForName(t *testing.T) {
	t.Parallel()
	for name, want := range map[string]string{
		"equations.json": "application/json", "Paper.PDF": PDF, "source.tex": "application/x-tex",
		"data.gz": "application/gzip", "noext": Default, "x.unknown": Default,
	} {
		if got := ForName(name, Default); got != want {
			t.Errorf("ForName(%q) = %q, want %q", name, got, want)
		}
	}
}

func TestFamilyOf(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		id, mt string
		want   Family
	}{
		{"main-pdf", "application/pdf", FamilyPDF},
		{"paper.pdf", "application/octet-stream", FamilyPDF},
		{"source.tex", "", FamilyTeX},
		{"src", "text/x-tex", FamilyTeX},
		{"source.tar.gz", "application/x-tar", FamilyArchive},
		{"src", "application/x-gzip", FamilyArchive},
		{"paper.tar", "application/octet-stream", FamilyArchive},
		{"SRC.TGZ", "", FamilyArchive},
		{"data.csv", "text/csv", FamilyNone},
	} {
		if got := FamilyOf(c.id, c.mt); got != c.want {
			t.Errorf("FamilyOf(%q, %q) = %v, want %v", c.id, c.mt, got, c.want)
		}
	}
	for _, mt := range PaperSources() {
		if FamilyOf("x", mt) == FamilyNone {
			t.Errorf("%s is a paper source of no family", mt)
		}
	}
	if !slices.Contains(PaperSources(), "application/x-tar") {
		t.Error("the façade's archive type is not a paper source")
	}
}
