package searchindex

import (
	"fmt"
	"io/fs"
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/search"
)

// benchObjects is how many objects the query benchmarks search.
const benchObjects = 10000

var benchWords = strings.Fields(`numerical analysis quadrature trapezoidal rule extrapolation heat equation finite element
stochastic differential equations Markov chain graph theory spectral method boundary layer Navier Stokes turbulence
optimal control convex optimisation sparse regression Bayesian inference Galerkin multigrid preconditioner eigenvalue
wavelet Fourier transform Monte Carlo lattice Boltzmann elliptic parabolic hyperbolic conservation law`)

var benchFormulas = []string{
	`\int_a^b f(x)\,dx = \frac{h}{2}\left(f(a)+f(b)\right)`,
	`\partial_t u - \Delta u = f`,
	`\|u(t)\|_{L^2} \le e^{-t/C_P^2} \|u_0\|_{L^2}`,
	`\sum_{k=1}^{n} k^2 = \frac{n(n+1)(2n+1)}{6}`,
	`A x = \lambda x`,
	`\nabla \cdot u = 0`,
	`dX_t = \mu X_t\,dt + \sigma X_t\,dW_t`,
	`\min_{x} \frac12 \|Ax-b\|^2 + \lambda\|x\|_1`,
}

// benchFixture fills an index with n synthetic objects: records with a title, two authors
// and keywords, and, for every third, an equations.json of five equations.
func benchFixture(tb testing.TB, n int) (*fixture, time.Duration) {
	f := newFixture(tb, Options{})
	rnd := rand.New(rand.NewPCG(1, 2))
	word := func() string { return benchWords[rnd.IntN(len(benchWords))] }
	for i := range n {
		qid := fmt.Sprintf("Q%d", 100000+i)
		title := fmt.Sprintf("On %s and %s %d", word(), word(), i)
		f.recs.set(qid, record(qid, "ScholarlyArticle", title, []string{"Author " + word(), "Author " + word()},
			[]string{word(), word()}, map[string]any{"numberOfPages": rnd.IntN(50) + 1}))
		if i%3 == 0 {
			var eqs []eq
			for k := range 5 {
				eqs = append(eqs, eq{Number: fmt.Sprint(k + 1), Page: k + 1,
					LaTeX: benchFormulas[rnd.IntN(len(benchFormulas))] + fmt.Sprintf(" + c_{%d}", rnd.IntN(1000))})
			}
			f.putEquations(tb, qid, eqs)
		}
	}
	start := time.Now()
	if got, err := f.idx.Rebuild(tb.Context()); err != nil || got != n {
		tb.Fatalf("Rebuild = %d, %v", got, err)
	}
	return f, time.Since(start)
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// BenchmarkIndexBuild indexes 2,000 objects per iteration: objects/s, index bytes per object.
func BenchmarkIndexBuild(b *testing.B) {
	const n = 2000
	var took time.Duration
	var size int64
	for b.Loop() {
		f, d := benchFixture(b, n)
		took += d
		size = dirSize(f.idx.path)
	}
	b.ReportMetric(float64(n*b.N)/took.Seconds(), "objects/s")
	b.ReportMetric(float64(size)/n, "disk-B/object")
}

// BenchmarkQuery runs queries against 10,000 indexed objects and reports the p50 and p99
// latency of each kind, the heap the index holds and its size on disk.
// A benchmark with sub-benchmarks runs once, so the index is built once.
func BenchmarkQuery(b *testing.B) {
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	big, took := benchFixture(b, benchObjects)
	runtime.GC()
	runtime.ReadMemStats(&after)
	b.Logf("%d objects indexed in %v (%.0f objects/s); index %d KiB on disk; heap +%d KiB",
		benchObjects, took.Round(time.Millisecond), benchObjects/took.Seconds(), dirSize(big.idx.path)>>10,
		(int64(after.HeapInuse)-int64(before.HeapInuse))>>10)
	for _, q := range []struct{ name, query string }{
		{"term", "title:extrapolation"},
		{"phrase", `author:"author quadrature"`},
		{"boolean", "(quadrature OR wavelet) AND type:ScholarlyArticle AND NOT keyword:markov"},
		{"range", "profile.numberOfPages:[10 TO 20]"},
		{"formula", `formula:"\int_a^b f(x)\,dx"`},
		{"formula-renamed", `formula:"dY_s = \mu Y_s\,ds + \sigma Y_s\,dW_s"`},
	} {
		b.Run(q.name, func(b *testing.B) {
			var lat []time.Duration
			for b.Loop() {
				start := time.Now()
				p, err := big.idx.Search(b.Context(), search.Request{Query: q.query, PageSize: 10})
				lat = append(lat, time.Since(start))
				if err != nil || len(p.Hits) == 0 {
					b.Fatalf("%s: %d hits, %v", q.query, len(p.Hits), err)
				}
			}
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}
