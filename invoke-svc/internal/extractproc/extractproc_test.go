package extractproc_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/eqextract"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/extractproc"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
	"github.com/fdo-doip/doip-gateway/shared/hostileinput"
)

// The test binary is its own child: started with childEnv set, it serves one extraction.
const childEnv = "EXTRACTPROC_TEST_CHILD"

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		os.Exit(extractproc.Serve(os.Stdin, os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

const samplePDF = "../../../retrieve-svc/internal/sampledata/objects/main/00/01/23/Q123/components/main-pdf"

func newExtractor(t testing.TB, l extractproc.Limits) *extractproc.Extractor {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return &extractproc.Extractor{Exe: exe, Env: append(os.Environ(), childEnv+"=1"), Limits: l}
}

var roomy = extractproc.Limits{Memory: 512 << 20, CPU: 30 * time.Second, Wall: 60 * time.Second}

// The child finds what the extractor finds in this process.
func TestExtractMatchesInProcess(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(samplePDF)
	if err != nil {
		t.Fatal(err)
	}
	want, err := eqextract.FromPDF(bytes.NewReader(src), int64(len(src)), nil)
	if err != nil {
		t.Fatal(err)
	}
	var rss int64
	x := newExtractor(t, roomy)
	x.Stats = func(_ extractproc.Kind, maxRSS int64, _ time.Duration) { rss = maxRSS }
	got, err := x.Extract(t.Context(), extractproc.KindPDF, "main-pdf", nil, src)
	if err != nil {
		t.Fatal(err)
	}
	if got.Pages != want.Pages || len(got.Equations) != len(want.Equations) || len(got.Equations) == 0 {
		t.Fatalf("child: %d pages, %d equations; in process: %d pages, %d equations", got.Pages, len(got.Equations), want.Pages, len(want.Equations))
	}
	for i := range got.Equations {
		if got.Equations[i].Number != want.Equations[i].Number || got.Equations[i].Text != want.Equations[i].Text {
			t.Errorf("equation %d: child %+v, in process %+v", i, got.Equations[i], want.Equations[i])
		}
	}
	if rss <= 0 {
		t.Errorf("Stats reported a peak RSS of %d", rss)
	}
	tex := []byte("\\begin{document}\\begin{equation}a=b\\label{x}\\end{equation}\\end{document}")
	if res, err := x.Extract(t.Context(), extractproc.KindLaTeX, "a.tex", nil, tex); err != nil || len(res.Equations) != 1 || res.Equations[0].Label != "x" {
		t.Errorf("LaTeX in the child: %+v, %v", res, err)
	}
}

// The sentinel of an extraction error crosses the process boundary.
func TestExtractErrors(t *testing.T) {
	t.Parallel()
	x := newExtractor(t, roomy)
	_, err := x.Extract(t.Context(), extractproc.KindPDF, "x.pdf", nil, []byte("not a pdf"))
	if !errors.Is(err, eqextract.ErrNotPDF) || !strings.Contains(err.Error(), "no %PDF- header") {
		t.Errorf("not a PDF: %v", err)
	}
	a := hostileinput.ExpandingArchive(30_000)
	_, err = x.Extract(t.Context(), extractproc.KindArchive, "src.tar.gz", nil, a)
	if !errors.Is(err, eqextract.ErrTooLarge) || !strings.Contains(err.Error(), "equation budget") {
		t.Errorf("expanding archive: %v", err)
	}
}

// A child that allocates past its budget dies of it; the run fails naming the budget.
// A 16 MiB LaTeX source of one-character displays (within the LaTeX size cap) takes about
// 250 MiB to scan: far more than 64 MiB.
func TestExtractMemoryBudget(t *testing.T) {
	t.Parallel()
	if raceEnabled {
		t.Skip("the race detector's shadow memory does not fit the child's address-space limit")
	}
	a := hostileinput.ExpandingArchive(2_600_000)
	x := newExtractor(t, extractproc.Limits{Memory: 64 << 20, CPU: 30 * time.Second, Wall: 60 * time.Second})
	_, err := x.Extract(t.Context(), extractproc.KindArchive, "src.tar.gz", nil, a)
	if !errors.Is(err, workflow.ErrBudget) || !strings.Contains(err.Error(), "memory budget of 64 MiB") {
		t.Errorf("err = %v, want the memory budget", err)
	}
}

// A child that runs past its wall time is killed; so is one whose caller leaves.
func TestExtractWallTimeAndCancel(t *testing.T) {
	t.Parallel()
	slow := hostileinput.SlowPages(40, 8<<20-64) // seconds of work
	x := newExtractor(t, extractproc.Limits{Memory: 512 << 20, CPU: 30 * time.Second, Wall: 50 * time.Millisecond})
	_, err := x.Extract(t.Context(), extractproc.KindPDF, "slow.pdf", nil, slow)
	if !errors.Is(err, workflow.ErrBudget) || !strings.Contains(err.Error(), "wall-time budget of 50ms") {
		t.Errorf("err = %v, want the wall-time budget", err)
	}

	ctx, cancel := context.WithCancel(t.Context())
	x = newExtractor(t, roomy)
	started := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		close(started)
		_, err := x.Extract(ctx, extractproc.KindPDF, "slow.pdf", nil, slow)
		done <- err
	}()
	<-started
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("after cancel: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Extract did not return within 10 s of its context ending")
	}
}

// A child that uses up its CPU time is killed by its rlimit.
func TestExtractCPUBudget(t *testing.T) {
	t.Parallel()
	src := hostileinput.SlowPages(40, 8<<20-64) // 64 MiB of content to interpret: seconds of CPU
	var cpu time.Duration
	x := newExtractor(t, extractproc.Limits{Memory: 1 << 30, CPU: time.Second, Wall: 60 * time.Second})
	x.Stats = func(_ extractproc.Kind, _ int64, c time.Duration) { cpu = c }
	_, err := x.Extract(t.Context(), extractproc.KindPDF, "bomb.pdf", nil, src)
	if err == nil {
		t.Skipf("the child finished within its CPU budget on this machine (%v)", cpu)
	}
	if !errors.Is(err, workflow.ErrBudget) || !strings.Contains(err.Error(), "CPU-time budget of 1s") {
		t.Errorf("err = %v (CPU %v), want the CPU-time budget", err, cpu)
	}
}

func BenchmarkExtractSamplePDF(b *testing.B) {
	src, err := os.ReadFile(samplePDF)
	if err != nil {
		b.Fatal(err)
	}
	b.Run("in-process", func(b *testing.B) {
		for b.Loop() {
			if _, err := eqextract.FromPDF(bytes.NewReader(src), int64(len(src)), nil); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("child-empty-latex", func(b *testing.B) {
		x := newExtractor(b, roomy)
		for b.Loop() {
			if _, err := x.Extract(context.Background(), extractproc.KindLaTeX, "a.tex", nil, []byte("x")); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("child", func(b *testing.B) {
		x := newExtractor(b, roomy)
		for b.Loop() {
			if _, err := x.Extract(context.Background(), extractproc.KindPDF, "main-pdf", nil, src); err != nil {
				b.Fatal(err)
			}
		}
	})
}
