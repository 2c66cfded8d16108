package eqextract

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
)

const samplePDF = "../../../retrieve-svc/internal/sampledata/objects/main/00/01/23/Q123/components/main-pdf"

// buildPDF assembles a PDF from object bodies (object i+1 is objs[i]) with a correct
// classic xref table; object 1 must be the catalog.
func buildPDF(objs ...string) []byte {
	var b bytes.Buffer
	b.WriteString("%PDF-1.4\n")
	offs := make([]int, len(objs))
	for i, o := range objs {
		offs[i] = b.Len()
		fmt.Fprintf(&b, "%d 0 obj\n%s\nendobj\n", i+1, o)
	}
	x := b.Len()
	fmt.Fprintf(&b, "xref\n0 %d\n0000000000 65535 f \n", len(objs)+1)
	for _, o := range offs {
		fmt.Fprintf(&b, "%010d 00000 n \n", o)
	}
	fmt.Fprintf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n", len(objs)+1, x)
	return b.Bytes()
}

func stream(s string) string {
	return fmt.Sprintf("<< /Length %d >>\nstream\n%s\nendstream", len(s), s)
}

// onePage is a one-page PDF with the given content stream and font dictionary.
func onePage(content, font string) []byte {
	return buildPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
		"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> >> /Contents 4 0 R >>",
		stream(content),
		font,
	)
}

const helv = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding /FirstChar 32 /LastChar 126 /Widths [" +
	"278 278 355 556 556 889 667 191 333 333 389 584 278 333 278 278 556 556 556 556 556 556 556 556 556 556 278 278 584 584 584 556 " +
	"1015 667 667 722 722 667 611 778 722 278 500 667 556 833 722 778 667 778 722 667 611 722 667 944 667 667 611 278 278 278 469 556 " +
	"333 556 556 500 556 556 278 556 556 222 222 500 222 833 556 556 556 556 333 500 278 556 500 722 500 500 500 334 260 334 584] >>"

func helvWidth(s string) float64 {
	f := strings.Fields(helv[strings.Index(helv, "[")+1 : strings.Index(helv, "]")])
	w := 0.0
	for _, r := range s {
		var v float64
		fmt.Sscan(f[int(r)-32], &v)
		w += v / 1000 * 10
	}
	return w
}

func TestFromPDFSamplePaper(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(samplePDF)
	if err != nil {
		t.Fatal(err)
	}
	res, err := FromPDF(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Pages != 3 || len(res.UncertainPages) != 0 {
		t.Errorf("pages %d, uncertain %v", res.Pages, res.UncertainPages)
	}
	want := map[string]int{"1": 1, "2": 1, "3": 1, "4": 1, "5": 2, "6": 2, "7": 2, "8": 2, "9": 2}
	got := map[string]int{}
	unnumbered := 0
	for _, e := range res.Equations {
		if e.Number == "" {
			unnumbered++
			continue
		}
		if _, dup := got[e.Number]; dup {
			t.Errorf("number %s reported twice", e.Number)
		}
		got[e.Number] = e.Page
		if e.BBox == nil || e.BBox[0] >= e.BBox[2] || e.BBox[1] >= e.BBox[3] || e.Text == "" || e.LaTeX == "" || e.Confidence <= 0 {
			t.Errorf("equation (%s): bbox %v text %q latex %q", e.Number, e.BBox, e.Text, e.LaTeX)
		}
	}
	// The formulas as LaTeX, reconstructed from glyphs, extension-font codes and rules.
	latex := map[string]string{
		"1": `T_{h}(f) = h\left(\frac{f(a)}{2} + \sum_{j = 1}^{n - 1}f(x_{j}) + \frac{f(b)}{2}\right) \approx I(f) = \int_{a}^{b}f(x)dx.`,
		"3": `T_{h}(f) - I(f) &= \sum_{k = 1}^{m}\frac{B_{2k}}{(2k)!}h^{2k}\left(f^{(2k - 1)}(b) - f^{(2k - 1)}(a)\right) + R_{m}(h),`,
		"8": `\left|S_{h/2}(f) - I(f)\right| \le \frac{b - a}{180}\left(\frac{h}{2}\right)^{4}\max_{a \le x \le b}\left|f^{(4)}(x)\right|.`,
		"9": `\lim_{n \to \infty}n^{2}\left(T_{1/n} - I\right) = \frac{e - 1}{12}, \qquad \lim_{n \to \infty}n^{4}(R_{1, 1} - I) = \frac{e - 1}{2880},`,
	}
	for _, e := range res.Equations {
		if w, ok := latex[e.Number]; ok && e.LaTeX != w {
			t.Errorf("equation (%s) as LaTeX:\n got %s\nwant %s", e.Number, e.LaTeX, w)
		}
	}
	for n, p := range want {
		if got[n] != p {
			t.Errorf("equation (%s) on page %d, want page %d", n, got[n], p)
		}
	}
	if len(got) != len(want) {
		t.Errorf("numbers %v, want exactly (1)..(9); prose references such as \"see (3)\" are not equations", got)
	}
	if unnumbered < 1 {
		t.Errorf("the unnumbered \\[..\\] display on page 2 was not found")
	}
	// A page subset.
	res2, err := FromPDF(bytes.NewReader(data), int64(len(data)), []int{2})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range res2.Equations {
		if e.Page != 2 {
			t.Errorf("page subset returned page %d", e.Page)
		}
	}
}

func TestFromPDFSynthetic(t *testing.T) {
	t.Parallel()
	// A prose page with one display and a prose line ending in "(3)".
	var c strings.Builder
	c.WriteString("BT /F1 10 Tf\n")
	line := func(x, y float64, s string) { fmt.Fprintf(&c, "1 0 0 1 %g %g Tm (%s) Tj\n", x, y, s) }
	for i := 0; i < 10; i++ {
		line(72, 700-float64(i)*12, "This is a line of prose that runs across the whole text block of the page")
	}
	line(72, 580, "and this line refers to the equation number (3) at its very end of line (3)")
	// Put the number flush with the right edge of the prose lines.
	right := 72 + helvWidth("This is a line of prose that runs across the whole text block of the page")
	line(250, 550, "a + b = c + d")
	line(right-helvWidth("(3)"), 550, "(3)")
	for i := 0; i < 5; i++ {
		line(72, 520-float64(i)*12, "This is a line of prose that runs across the whole text block of the page")
	}
	c.WriteString("ET\n")
	data := onePage(c.String(), helv)
	res, err := FromPDF(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Equations) != 1 || res.Equations[0].Number != "3" || res.Equations[0].Page != 1 {
		t.Fatalf("got %+v", res.Equations)
	}
	if bb := res.Equations[0].BBox; bb == nil || bb[0] < 249 || bb[0] > 251 {
		t.Errorf("bbox %v", bb)
	}
}

func TestFromPDFUncertainPages(t *testing.T) {
	t.Parallel()
	empty := onePage("", helv)
	res, err := FromPDF(bytes.NewReader(empty), int64(len(empty)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.UncertainPages) != 1 || res.UncertainPages[0] != 1 || len(res.Equations) != 0 {
		t.Errorf("empty page: %+v", res)
	}
	// A composite font without a ToUnicode map: its codes decode to control characters.
	type0 := "<< /Type /Font /Subtype /Type0 /BaseFont /XYZ /Encoding /Identity-H /DescendantFonts [<< /Type /Font /Subtype /CIDFontType2 /BaseFont /XYZ /DW 500 >>] >>"
	garbled := onePage("BT /F1 10 Tf 72 700 Td <0001000200030004000500060007> Tj ET", type0)
	res, err = FromPDF(bytes.NewReader(garbled), int64(len(garbled)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.UncertainPages) != 1 {
		t.Errorf("garbled page: %+v", res)
	}
}

func TestFromPDFErrors(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(samplePDF)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		in   []byte
		want error
	}{
		{"empty", nil, ErrNotPDF},
		{"text", []byte("hello, world"), ErrNotPDF},
		{"truncated", data[:len(data)/2], ErrNotPDF},
		{"huge xref table", []byte("%PDF-1.4\nxref\n0 4000000000\n0000000000 65535 f \ntrailer\n<< /Size 3 >>\nstartxref\n9\n%%EOF\n"), ErrTooLarge},
		{"huge xref stream", []byte("%PDF-1.5\n1 0 obj << /Type /XRef /Size 999999999999 /W [1 2 1] /Length 0 >> stream\nendstream endobj\nstartxref\n9\n%%EOF\n"), ErrTooLarge},
		{"wide xref stream", []byte("%PDF-1.5\n1 0 obj << /Type /XRef /Size 3 /W [1 200000000 1] /Length 0 >> stream\nendstream endobj\nstartxref\n9\n%%EOF\n"), ErrNotPDF},
		{"no pages", buildPDF("<< /Type /Catalog /Pages 2 0 R >>", "<< /Type /Pages /Kids [] /Count 0 >>"), ErrNotPDF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := FromPDF(bytes.NewReader(tc.in), int64(len(tc.in)), nil)
			if !errors.Is(err, tc.want) {
				t.Errorf("err = %v, want %v", err, tc.want)
			}
		})
	}
	if _, err := FromPDF(bytes.NewReader(data), int64(len(data)), []int{4}); err == nil {
		t.Error("page 4 of 3: no error")
	}
}

func TestFromPDFCycles(t *testing.T) {
	t.Parallel()
	// A page tree whose node is its own kid, and a page whose /Parent is itself.
	cyclic := buildPDF(
		"<< /Type /Catalog /Pages 2 0 R >>",
		"<< /Type /Pages /Kids [2 0 R 3 0 R] /Count 2 >>",
		"<< /Type /Page /Parent 3 0 R /Contents 4 0 R >>",
		stream("BT /F1 10 Tf 72 700 Td (x) Tj ET"),
	)
	res, err := FromPDF(bytes.NewReader(cyclic), int64(len(cyclic)), nil)
	if err != nil {
		t.Logf("cyclic: %v", err) // an error is fine; a hang or a panic is not
	} else if len(res.Equations) != 0 {
		t.Errorf("cyclic: %+v", res)
	}
}

func TestFromPDFContextCancelled(t *testing.T) {
	t.Parallel()
	data, err := os.ReadFile(samplePDF)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := FromPDFContext(ctx, bytes.NewReader(data), int64(len(data)), nil); !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestFromPDFContentLimit(t *testing.T) {
	// Not parallel: changes MaxPageContentBytes.
	old := MaxPageContentBytes
	MaxPageContentBytes = 100
	defer func() { MaxPageContentBytes = old }()
	data := onePage("BT /F1 10 Tf 72 700 Td ("+strings.Repeat("x", 200)+") Tj ET", helv)
	res, err := FromPDF(bytes.NewReader(data), int64(len(data)), nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.UncertainPages) != 1 || len(res.Warnings) != 1 {
		t.Errorf("got %+v", res)
	}
}
