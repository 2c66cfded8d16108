package ollama

import (
	"bytes"
	"context"
	"errors"
	"image"
	"image/color"
	"image/png"
	"math"
	"os"
	"slices"
	"sync"
	"testing"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/eqextract"
)

// pageRenderer is a Renderer for tests: it "renders" a page as a white PNG of a Letter
// page at RenderDPI, crops it with cropPNG as Poppler does, and records what it was asked.
type pageRenderer struct {
	mu    sync.Mutex
	asked [][4]float64
	fail  bool
}

func (p *pageRenderer) RenderRegion(_ context.Context, pdf []byte, page int, box [4]float64) ([]byte, error) {
	p.mu.Lock()
	p.asked = append(p.asked, box)
	p.mu.Unlock()
	if p.fail {
		return nil, errors.New("renderer broken")
	}
	const w, h = 612 * RenderDPI / 72, 792 * RenderDPI / 72
	img := image.NewGray(image.Rect(0, 0, w, h))
	for i := range img.Pix {
		img.Pix[i] = 0xff
	}
	var b bytes.Buffer
	if err := png.Encode(&b, img); err != nil {
		return nil, err
	}
	return cropPNG(b.Bytes(), box, RenderDPI)
}

func boxed() eqextract.Result {
	r := sample()
	r.Equations[0].BBox = &[4]float64{100, 600, 300, 630}
	r.Equations[0].LaTeX = `E = mc^{2}`
	r.Equations[2].BBox = &[4]float64{150, 400, 450, 460}
	return r
}

// With a renderer, every equation with a bounding box is shown to the model as a PNG of
// its region (with the margin), beside its text and reconstructed LaTeX.
func TestRefineSendsRegionImages(t *testing.T) {
	t.Parallel()
	f := newRecorder(t)
	rd := &pageRenderer{}
	got, note, err := NewRefiner(newClient(t, f.fakeOllama, Options{}, nil)).WithRenderer(rd).Refine(t.Context(), []byte("%PDF-1.7"), boxed())
	if err != nil || note != "ollama refined 2 of 2 pages (3 equations)" {
		t.Fatalf("Refine: %v, note %q", err, note)
	}
	if got.Equations[0].LaTeX != latexFor("1") {
		t.Errorf("equation 1: %q", got.Equations[0].LaTeX)
	}
	seen := f.asked()
	if len(seen) != 2 {
		t.Fatalf("%d requests", len(seen))
	}
	// page 1: equation "1" has a box (image 1), the unnumbered one none
	if !slices.Equal(seen[0].image, []int{1, 0}) || len(seen[0].images) != 1 || seen[0].latex[0] != `E = mc^{2}` {
		t.Errorf("page 1: images %v (%d sent), latex %q", seen[0].image, len(seen[0].images), seen[0].latex)
	}
	if !slices.Equal(seen[1].image, []int{1}) || len(seen[1].images) != 1 {
		t.Errorf("page 3: images %v (%d sent)", seen[1].image, len(seen[1].images))
	}
	check := func(b []byte, box [4]float64) {
		t.Helper()
		cfg, err := png.DecodeConfig(bytes.NewReader(b))
		if err != nil {
			t.Fatalf("image is not a PNG: %v", err)
		}
		s := float64(RenderDPI) / 72
		w := int(math.Ceil((box[2]+renderPad)*s)) - int(math.Floor((box[0]-renderPad)*s))
		h := int(math.Ceil((box[3]+renderPad)*s)) - int(math.Floor((box[1]-renderPad)*s))
		if cfg.Width < w-1 || cfg.Width > w+1 || cfg.Height < h-1 || cfg.Height > h+1 {
			t.Errorf("image %dx%d for region %v, want %dx%d", cfg.Width, cfg.Height, box, w, h)
		}
	}
	check(seen[0].images[0], [4]float64{100, 600, 300, 630})
	check(seen[1].images[0], [4]float64{150, 400, 450, 460})
}

// A region that cannot be rendered is asked about by its text alone; without the PDF's
// bytes nothing is rendered.
func TestRefineRenderFailure(t *testing.T) {
	t.Parallel()
	f := newRecorder(t)
	rd := &pageRenderer{fail: true}
	r := NewRefiner(newClient(t, f.fakeOllama, Options{}, nil)).WithRenderer(rd)
	if _, _, err := r.Refine(t.Context(), []byte("%PDF-1.7"), boxed()); err != nil {
		t.Fatal(err)
	}
	if _, _, err := r.Refine(t.Context(), nil, boxed()); err != nil {
		t.Fatal(err)
	}
	for _, a := range f.asked() {
		if len(a.images) != 0 || slices.ContainsFunc(a.image, func(i int) bool { return i != 0 }) {
			t.Errorf("page %d sent images %v", a.page, a.image)
		}
	}
	rd.mu.Lock()
	defer rd.mu.Unlock()
	if len(rd.asked) != 2 {
		t.Errorf("renderer asked %d times, want 2 (once per box, first run only)", len(rd.asked))
	}
}

// Poppler renders the region of a real display: a PNG of the region's size with ink in it.
// Skipped when pdftoppm (poppler-utils) is not installed.
func TestPopplerRegion(t *testing.T) {
	t.Parallel()
	p, err := NewPoppler()
	if err != nil {
		t.Skipf("%v: apt-get install poppler-utils", err)
	}
	pdf, err := os.ReadFile("../../testdata/corpus/01-heat-article.pdf")
	if err != nil {
		t.Fatal(err)
	}
	res, err := eqextract.FromPDF(bytes.NewReader(pdf), int64(len(pdf)), []int{1})
	if err != nil || len(res.Equations) == 0 || res.Equations[0].BBox == nil {
		t.Fatalf("FromPDF: %v, %d equations", err, len(res.Equations))
	}
	box := *res.Equations[0].BBox
	b, err := p.RenderRegion(t.Context(), pdf, 1, box)
	if err != nil {
		t.Fatal(err)
	}
	img, err := png.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("not a PNG: %v", err)
	}
	s := float64(RenderDPI) / 72
	if w := (box[2] - box[0] + 2*renderPad) * s; math.Abs(float64(img.Bounds().Dx())-w) > 2 {
		t.Errorf("width %d, want %.0f", img.Bounds().Dx(), w)
	}
	if h := (box[3] - box[1] + 2*renderPad) * s; math.Abs(float64(img.Bounds().Dy())-h) > 2 {
		t.Errorf("height %d, want %.0f", img.Bounds().Dy(), h)
	}
	dark := 0
	bd := img.Bounds()
	for y := bd.Min.Y; y < bd.Max.Y; y++ {
		for x := bd.Min.X; x < bd.Max.X; x++ {
			if g := color.GrayModel.Convert(img.At(x, y)).(color.Gray); g.Y < 128 {
				dark++
			}
		}
	}
	if share := float64(dark) / float64(bd.Dx()*bd.Dy()); share < 0.02 || share > 0.5 {
		t.Errorf("%.3f of the region is ink; want a formula (between 2%% and 50%%)", share)
	}
	if _, err := p.RenderRegion(t.Context(), []byte("not a pdf"), 1, box); err == nil {
		t.Error("rendering garbage succeeded")
	}
	if _, err := p.RenderRegion(t.Context(), pdf, 1, [4]float64{10, 10, 5, 5}); err == nil {
		t.Error("an empty region was rendered")
	}
}
