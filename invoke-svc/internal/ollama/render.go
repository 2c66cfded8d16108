package ollama

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/png"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"time"
)

// Renderer renders a region of a PDF page as a PNG image, for a vision model to see the
// display whose LaTeX it is asked for.
type Renderer interface {
	// RenderRegion renders box (x0, y0, x1, y1 in PDF points, origin at the lower left of
	// the page, as eqextract reports bounding boxes) of the 1-based page of pdf.
	RenderRegion(ctx context.Context, pdf []byte, page int, box [4]float64) ([]byte, error)
}

// Limits of the rendering.
const (
	// RenderDPI is the resolution of the rendered regions: formula glyphs of 7 pt are
	// about 14 pixels high, enough for a vision model.
	RenderDPI = 144
	// renderPad is the margin added around a region, in points.
	renderPad = 4.0
	// maxRenderPixels caps the pixels of one rendered page (an A4 page at RenderDPI has
	// 2.0 million; a page size that asks for more is refused).
	maxRenderPixels = 16 << 20
	// maxRenderBytes caps the PNG that pdftoppm writes for one page.
	maxRenderBytes = 64 << 20
	// renderTimeout caps one run of pdftoppm.
	renderTimeout = 30 * time.Second
)

// Poppler renders pages with poppler's pdftoppm (Debian: poppler-utils) and crops the
// region from the page image. Each call writes the PDF to a temporary folder, renders the
// one page at [RenderDPI] and reads the image back; the page is not cached.
type Poppler struct {
	path string
}

// ErrNoRenderer means pdftoppm is not installed.
var ErrNoRenderer = errors.New("ollama: pdftoppm (poppler-utils) not found")

// NewPoppler finds pdftoppm on the PATH.
func NewPoppler() (*Poppler, error) {
	p, err := exec.LookPath("pdftoppm")
	if err != nil {
		return nil, ErrNoRenderer
	}
	return &Poppler{path: p}, nil
}

// RenderRegion implements [Renderer].
func (p *Poppler) RenderRegion(ctx context.Context, pdf []byte, page int, box [4]float64) ([]byte, error) {
	if page < 1 {
		return nil, fmt.Errorf("ollama: render: page %d", page)
	}
	for _, v := range box {
		if math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e5 {
			return nil, fmt.Errorf("ollama: render: bad region %v", box)
		}
	}
	if box[2] <= box[0] || box[3] <= box[1] {
		return nil, fmt.Errorf("ollama: render: empty region %v", box)
	}
	dir, err := os.MkdirTemp("", "render-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	in := filepath.Join(dir, "in.pdf")
	if err := os.WriteFile(in, pdf, 0o600); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, renderTimeout)
	defer cancel()
	n := strconv.Itoa(page)
	cmd := exec.CommandContext(ctx, p.path, "-png", "-singlefile", "-r", strconv.Itoa(RenderDPI),
		"-f", n, "-l", n, in, filepath.Join(dir, "page"))
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("ollama: render page %d: %v: %s", page, err, shorten(stderr.String(), 200))
	}
	out := filepath.Join(dir, "page.png")
	st, err := os.Stat(out)
	if err != nil {
		return nil, fmt.Errorf("ollama: render page %d: no image: %w", page, err)
	}
	if st.Size() > maxRenderBytes {
		return nil, fmt.Errorf("ollama: render page %d: image of %d bytes", page, st.Size())
	}
	data, err := os.ReadFile(out)
	if err != nil {
		return nil, err
	}
	return cropPNG(data, box, RenderDPI)
}

// cropPNG cuts box (PDF points, origin lower left) out of the PNG of a whole page rendered
// at dpi, with a margin of renderPad points, and encodes it as PNG.
func cropPNG(page []byte, box [4]float64, dpi float64) ([]byte, error) {
	cfg, err := png.DecodeConfig(bytes.NewReader(page))
	if err != nil {
		return nil, fmt.Errorf("ollama: render: %w", err)
	}
	if cfg.Width <= 0 || cfg.Height <= 0 || cfg.Width*cfg.Height > maxRenderPixels {
		return nil, fmt.Errorf("ollama: render: page image of %dx%d pixels", cfg.Width, cfg.Height)
	}
	img, err := png.Decode(bytes.NewReader(page))
	if err != nil {
		return nil, fmt.Errorf("ollama: render: %w", err)
	}
	r := regionPixels(box, dpi, img.Bounds())
	if r.Empty() {
		return nil, fmt.Errorf("ollama: render: region %v is off the page", box)
	}
	sub, ok := img.(interface {
		SubImage(image.Rectangle) image.Image
	})
	if !ok {
		return nil, errors.New("ollama: render: image cannot be cropped")
	}
	var b bytes.Buffer
	if err := png.Encode(&b, sub.SubImage(r)); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// regionPixels converts box (points, origin lower left, plus renderPad) to the pixel
// rectangle of a page image (origin upper left) at dpi, clipped to the image.
func regionPixels(box [4]float64, dpi float64, page image.Rectangle) image.Rectangle {
	s := dpi / 72
	h := float64(page.Dy())
	r := image.Rect(
		int(math.Floor((box[0]-renderPad)*s)), int(math.Floor(h-(box[3]+renderPad)*s)),
		int(math.Ceil((box[2]+renderPad)*s)), int(math.Ceil(h-(box[1]-renderPad)*s)),
	).Add(page.Min)
	return r.Intersect(page)
}
