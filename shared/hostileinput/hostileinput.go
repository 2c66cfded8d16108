// Package hostileinput makes the hostile inputs of the test suites at test time: small PDFs
// and source archives that announce or expand to far more than their size, or that make
// naive layout quadratic. Nothing here is committed as a binary file, and nothing here is
// used by a service at run time.
//
// Each maker returns the bytes of one file. The PDFs are well formed (a correct
// cross-reference table, one page, one font), so a reader gets past the parsing of the file
// to the part each one attacks.
package hostileinput

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"strings"
)

// CMapCountBomb is a PDF whose font's ToUnicode CMap announces n bfchar entries and then
// ends: a reader that trusts the count loops n times (and allocates n entries).
func CMapCountBomb(n int64) []byte {
	cmap := fmt.Sprintf("/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n"+
		"1 begincodespacerange <00> <FF> endcodespacerange\n%d beginbfchar\nendbfchar\nendcmap end end\n", n)
	return onePage(content("(Hello) Tj"), stream(cmap, ""))
}

// CMapDeflateBomb is a PDF whose ToUnicode CMap is n bytes of numeric operands ("1 1 1 …"),
// compressed twice with FlateDecode, so that the file stays a few KiB: a reader that
// budgets only the compressed bytes decodes all of them, and one that keeps every
// operand on a stack keeps n/2 of them.
func CMapDeflateBomb(n int64) []byte {
	return onePage(content("(Hello) Tj"), doubleFlate("1 ", n/2))
}

// ContentDeflateBomb is a PDF whose page content is n bytes of numeric operands with no
// operator, compressed twice.
func ContentDeflateBomb(n int64) []byte {
	return onePage(doubleFlate("1 ", n/2), stream(plainCMap, ""))
}

// GlyphColumn is a PDF with one page of n glyphs, each on a baseline of its own 0.5 pt
// below the last, at font size 1000: every glyph's extent overlaps every other's, so
// layout that compares rows pairwise is quadratic.
func GlyphColumn(n int) []byte { return GlyphGrid(n, 1) }

// SlowPages is a PDF of n pages that all draw one content stream of size bytes of path
// operators ("0 0 m", compressed twice): every page costs the interpreter the whole stream
// again, so the file stays a few KiB while the work grows with n.
func SlowPages(n int, size int64) []byte {
	kids := make([]string, n)
	for i := range kids {
		kids[i] = fmt.Sprintf("%d 0 R", 4+i)
	}
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		fmt.Sprintf("<< /Type /Pages /Kids [%s] /Count %d >>", strings.Join(kids, " "), n),
	}
	content := doubleFlate("0 0 m\n", size/6)
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	var offs []int
	add := func(body string) {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", len(offs), body)
	}
	for _, o := range objs {
		add(o)
	}
	offs = append(offs, b.Len())
	fmt.Fprintf(&b, "3 0 obj\n<< /Length %d %s >>\nstream\n", len(content.data), content.dict)
	b.Write(content.data)
	b.WriteString("\nendstream\nendobj\n")
	for range n {
		add("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 3 0 R >>")
	}
	return finish(&b, offs)
}

// GlyphGrid is a PDF with one page of rows baselines 0.5 pt apart, each of perRow glyphs,
// at font size 1000: a page just under a cap on baselines can still hold many glyphs per
// baseline.
func GlyphGrid(rows, perRow int) []byte {
	var b strings.Builder
	b.WriteString("BT /F1 1000 Tf 100 700 Td\n")
	line := "(" + strings.Repeat("x", perRow) + ") Tj 0 -0.5 Td\n"
	for range rows {
		b.WriteString(line)
	}
	b.WriteString("ET\n")
	return onePage(flate(b.String()), stream(plainCMap, ""))
}

// ExpandingArchive is a .tar.gz LaTeX source whose main file holds n one-character display
// equations ($$a$$): a few KiB compressed, n equations to report.
func ExpandingArchive(n int) []byte {
	var tex bytes.Buffer
	tex.WriteString("\\documentclass{article}\n\\begin{document}\n")
	for range n {
		tex.WriteString("$$a$$\n")
	}
	tex.WriteString("\\end{document}\n")
	var out bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&out, gzip.BestCompression)
	tw := tar.NewWriter(zw)
	_ = tw.WriteHeader(&tar.Header{Name: "main.tex", Mode: 0o644, Size: int64(tex.Len()), Typeflag: tar.TypeReg})
	_, _ = tw.Write(tex.Bytes())
	_ = tw.Close()
	_ = zw.Close()
	return out.Bytes()
}

// plainCMap maps the byte codes to themselves, as a well-behaved ToUnicode CMap does.
const plainCMap = "/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n" +
	"1 begincodespacerange <00> <FF> endcodespacerange\n" +
	"1 beginbfrange <20> <7E> <0020> endbfrange\nendcmap end end\n"

// A pdfStream is the dictionary entries (beyond /Length) and the bytes of one stream.
type pdfStream struct {
	dict string
	data []byte
}

func stream(data, dict string) pdfStream { return pdfStream{dict: dict, data: []byte(data)} }

func content(ops string) pdfStream { return stream("BT /F1 12 Tf 72 700 Td "+ops+" ET\n", "") }

func flate(s string) pdfStream {
	return pdfStream{dict: "/Filter /FlateDecode", data: deflate([]byte(s))}
}

// doubleFlate is s repeated n times, compressed twice, without holding the repetition.
func doubleFlate(s string, n int64) pdfStream {
	var inner bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&inner, zlib.BestCompression)
	chunk := []byte(strings.Repeat(s, 32<<10/len(s)))
	per := int64(32 << 10 / len(s))
	for ; n >= per; n -= per {
		_, _ = zw.Write(chunk)
	}
	_, _ = zw.Write([]byte(strings.Repeat(s, int(n))))
	_ = zw.Close()
	return pdfStream{dict: "/Filter [/FlateDecode /FlateDecode]", data: deflate(inner.Bytes())}
}

func deflate(b []byte) []byte {
	var out bytes.Buffer
	zw, _ := zlib.NewWriterLevel(&out, zlib.BestCompression)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return out.Bytes()
}

// onePage writes a one-page PDF: catalog, page tree, page, a simple font with the given
// ToUnicode stream, and the page content, with a correct cross-reference table.
func onePage(contents, toUnicode pdfStream) []byte {
	objs := []string{
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
		"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /FirstChar 32 /LastChar 126 /Widths [" +
			strings.TrimSpace(strings.Repeat("500 ", 95)) + "] /ToUnicode 6 0 R >>",
	}
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	var offs []int
	for i, o := range objs {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	for i, s := range []pdfStream{contents, toUnicode} {
		offs = append(offs, b.Len())
		fmt.Fprintf(&b, "%d 0 obj\n<< /Length %d %s >>\nstream\n", len(objs)+i+1, len(s.data), s.dict)
		b.Write(s.data)
		b.WriteString("\nendstream\nendobj\n")
	}
	return finish(&b, offs)
}

// finish appends the cross-reference table of the objects at offs, and the trailer.
func finish(b *bytes.Buffer, offs []int) []byte {
	xref := b.Len()
	fmt.Fprintf(b, "xref\n0 %d\n0000000000 65535 f \n", len(offs)+1)
	for _, o := range offs {
		fmt.Fprintf(b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(offs)+1, xref)
	return b.Bytes()
}
