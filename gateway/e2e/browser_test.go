package e2e_test

import (
	"bytes"
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/chromedp"
)

// chromium finds the browser: Debian's chromium, else another Chromium or Chrome. Without
// one the test is skipped, and fails when CI is set (CI installs Debian's chromium).
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("no Chromium found: install Debian's chromium package (make tools does)")
	}
	t.Skip("no Chromium found: install Debian's chromium package to run the browser tests")
	return ""
}

// newBrowser starts a fresh headless Chromium with a new profile, offline, trusting the
// test gateway's self-signed certificate. On failure the test saves a screenshot of the page.
func newBrowser(t *testing.T) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("ignore-certificate-errors", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	}
	// Not t.Context(): it ends before the clean-up that takes the failure screenshot.
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	t.Cleanup(func() {
		if t.Failed() {
			screenshot(t, ctx, "failure")
		}
		cancel()
		cancelA()
	})
	if _, err := chromedp.Run(ctx, chromedp.Title()); err != nil { // start the browser now, under its own error
		t.Fatalf("starting the browser: %v", err)
	}
	return ctx
}

// screenshot saves the page as a PNG and logs where: in the test's artifact directory under
// go test -artifacts -outputdir DIR, else in doip-e2e-screenshots of the temporary folder
// (t.ArtifactDir's own would be removed with the test).
func screenshot(t *testing.T, ctx context.Context, name string) string {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	png, err := chromedp.Run(sctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Logf("no screenshot: %v", err)
		return ""
	}
	dir := t.ArtifactDir()
	if f := flag.Lookup("test.artifacts"); f == nil || f.Value.String() != "true" {
		dir = filepath.Join(os.TempDir(), "doip-e2e-screenshots")
		name = strings.ReplaceAll(t.Name(), "/", "_") + "-" + name
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Logf("screenshot not saved: %v", err)
			return ""
		}
	}
	path := filepath.Join(dir, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		t.Logf("screenshot not saved: %v", err)
		return ""
	}
	t.Logf("screenshot: %s", path)
	return path
}

// The pages in a real browser: on the object page the workflow button runs
// equation_extraction and shows its progress and result, the equations then render as KaTeX
// with MathML (not raw TeX), and a component link downloads the stored bytes; the pages fit
// a phone's screen.
func TestBrowserPages(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	u := s.httpURL(t)
	ctx := newBrowser(t)
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()

	run := "button.run[data-workflow=\"equation_extraction\"]"
	err := chromedp.Do(ctx,
		chromedp.Navigate(u+"/objects/Q123"),
		chromedp.WaitVisible(chromedp.CSS(run)),
		// Keyboard: the button takes focus and Enter runs it.
		chromedp.Focus(chromedp.CSS(run)),
		chromedp.KeyEvent("\r"),
		chromedp.WaitVisible(chromedp.CSS(`#run-message[data-state]`)),
	)
	if err != nil {
		t.Fatalf("object page: %v", err)
	}
	title, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("h1")))
	if err != nil {
		t.Fatal(err)
	}
	message, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("#run-message")))
	if err != nil || !strings.Contains(message, "equation_extraction done") {
		t.Fatalf("run message %q: %v", message, err)
	}
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(`#equation-list .katex`))); err != nil {
		t.Fatal(err)
	}
	numbers, err := chromedp.Run(ctx, chromedp.Evaluate[[]string](`Array.from(document.querySelectorAll('#equation-list .eq-number')).map(e => e.textContent).filter(s => s)`))
	if err != nil {
		t.Fatal(err)
	}
	mathNodes, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#equation-list .katex .katex-mathml math').length`))
	if err != nil {
		t.Fatal(err)
	}
	rawTeX, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#equation-list .tex[data-tex]:not(.rendered)').length`))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(title, "Richardson") {
		t.Errorf("title %q", title)
	}
	if len(numbers) != 9 || numbers[0] != "(1)" {
		t.Errorf("numbered equations %v, want (1)…(9)", numbers)
	}
	if mathNodes < 9 || rawTeX != 0 {
		t.Errorf("%d MathML nodes, %d equations left as TeX", mathNodes, rawTeX)
	}
	screenshot(t, ctx, "object-page")

	// A reload shows the stored equations, rendered, without running anything.
	if err := chromedp.Do(ctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`#equation-list .katex`))); err != nil {
		t.Fatal(err)
	}
	afterReload, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#equation-list .katex-mathml math').length`))
	if err != nil || afterReload < 9 {
		t.Errorf("after reload: %d MathML nodes, %v", afterReload, err)
	}

	// The component link downloads the stored bytes.
	dir := t.TempDir()
	if _, err := chromedp.CallBrowser(ctx, browser.SetDownloadBehavior, browser.SetDownloadBehaviorParams{
		Behavior: browser.SetDownloadBehaviorBehaviorAllow, DownloadPath: dir}); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(ctx, chromedp.Click(chromedp.CSS(`a[href="/doip/retrieve/Q123/source.tex"]`))); err != nil {
		t.Fatal(err)
	}
	want := s.component(t, "00/01/23", "Q123", "source.tex")
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, err := os.ReadFile(filepath.Join(dir, "source.tex"))
		if err == nil && bytes.Equal(got, want) {
			break
		}
		if time.Now().After(deadline) {
			entries, _ := os.ReadDir(dir)
			t.Fatalf("download: %d bytes (want %d), %v; folder holds %v", len(got), len(want), err, entries)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// On a phone-sized screen nothing is wider than the screen.
	for _, page := range []string{"/", "/objects/Q123"} {
		if err := chromedp.Do(ctx,
			chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(3), chromedp.EmulateMobile),
			chromedp.Navigate(u+page),
			chromedp.WaitVisible(chromedp.CSS("main")),
		); err != nil {
			t.Fatal(err)
		}
		scrollWidth, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.documentElement.scrollWidth`))
		if err != nil {
			t.Fatal(err)
		}
		innerWidth, err := chromedp.Run(ctx, chromedp.Evaluate[int](`window.innerWidth`))
		if err != nil {
			t.Fatal(err)
		}
		if scrollWidth > innerWidth {
			t.Errorf("%s is %d px wide on a %d px screen", page, scrollWidth, innerWidth)
		}
	}
	screenshot(t, ctx, "phone")
}
