package deploy_test

import (
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"unicode"
)

// TestDocsLinks reads every Markdown file of the repository and checks each relative link:
// the file or folder it names exists inside the repository, and a #fragment names a heading
// of the target file, slugged as GitHub slugs headings. Links to other sites are not followed.
func TestDocsLinks(t *testing.T) {
	root := repoRoot(t)
	if _, err := os.Stat(filepath.Join(root, "go.work")); err != nil {
		t.Fatalf("repository root %s: %v", root, err)
	}
	files := markdownFiles(t, root)
	if !slices.Contains(files, "README.md") || !slices.Contains(files, "docs/scaling.md") {
		t.Fatalf("found %d Markdown files without README.md and docs/scaling.md: %v", len(files), files)
	}
	anchors := map[string]map[string]bool{} // file (slash path from root) → its heading slugs
	anchorsOf := func(name string) map[string]bool {
		if a, ok := anchors[name]; ok {
			return a
		}
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		a := headingSlugs(string(b))
		anchors[name] = a
		return a
	}
	checked := 0
	for _, name := range files {
		b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(name)))
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range markdownLinks(string(b)) {
			target := l.target
			if isExternal(target) {
				continue
			}
			checked++
			file, frag, _ := strings.Cut(target, "#")
			dest := name
			if file != "" {
				if strings.HasPrefix(file, "/") {
					t.Errorf("%s:%d: link %q: absolute path; use one relative to the file", name, l.line, target)
					continue
				}
				dest = path.Clean(path.Join(path.Dir(name), file))
				if dest == ".." || strings.HasPrefix(dest, "../") {
					t.Errorf("%s:%d: link %q leads out of the repository", name, l.line, target)
					continue
				}
				info, err := os.Stat(filepath.Join(root, filepath.FromSlash(dest)))
				if err != nil {
					t.Errorf("%s:%d: link %q: no file %s", name, l.line, target, dest)
					continue
				}
				if info.IsDir() {
					if frag != "" {
						t.Errorf("%s:%d: link %q: a fragment on a folder", name, l.line, target)
					}
					continue
				}
			}
			if frag == "" || !strings.HasSuffix(dest, ".md") {
				continue
			}
			if !anchorsOf(dest)[frag] {
				t.Errorf("%s:%d: link %q: %s has no heading with the anchor #%s", name, l.line, target, dest, frag)
			}
		}
	}
	if checked == 0 {
		t.Fatal("no relative links found: the parser is broken")
	}
}

func TestHeadingSlug(t *testing.T) {
	for in, want := range map[string]string{
		"Workflows: `equation_extraction`":                                  "workflows-equation_extraction",
		"Port 3568: standard DOIP v2.0 and length-prefixed segments":        "port-3568-standard-doip-v20-and-length-prefixed-segments",
		"Commits and versions (`--storage lakefs`, and the folder backend)": "commits-and-versions---storage-lakefs-and-the-folder-backend",
		"Records from the FDO façade, and type records":                     "records-from-the-fdo-façade-and-type-records",
		"The first five minutes with [`doipctl`](docs/doipctl.md)":          "the-first-five-minutes-with-doipctl",
		"2026-12-06 · real lakeFS v1.84.0 · 2 cores":                        "2026-12-06--real-lakefs-v1840--2-cores",
		"**Bold** and *emphasis*":                                           "bold-and-emphasis",
		"Errors, statuses & kinds":                                          "errors-statuses--kinds",
		"Trailing hashes ##":                                                "trailing-hashes",
		"<b>html</b> heading":                                               "html-heading",
		"snake_case and-dash":                                               "snake_case-and-dash",
	} {
		if got := slug(in); got != want {
			t.Errorf("slug(%q) = %q, want %q", in, got, want)
		}
	}
	// Repeated headings get -1, -2, … as on GitHub.
	got := headingSlugs("# A\n## A\n```\n# not a heading\n```\n### A\n")
	for _, want := range []string{"a", "a-1", "a-2"} {
		if !got[want] {
			t.Errorf("headingSlugs: no %q in %v", want, got)
		}
	}
	if got["not-a-heading"] {
		t.Errorf("headingSlugs took a line of a code block for a heading: %v", got)
	}
}

func TestMarkdownLinks(t *testing.T) {
	doc := "See [a](a.md#x) and [b `c`](../b.md).\n" +
		"`[not](code.md)` and\n" +
		"```sh\n[not](fenced.md)\n```\n" +
		"[ref]: ref.md#y\n" +
		"![img](img.png \"title\") <https://example.org> [ext](https://example.org/x.md)\n" +
		"[ang](<sp ace.md>)\n"
	var got []string
	for _, l := range markdownLinks(doc) {
		got = append(got, l.target)
	}
	want := []string{"a.md#x", "../b.md", "ref.md#y", "img.png", "https://example.org/x.md", "sp ace.md"}
	if !slices.Equal(got, want) {
		t.Errorf("markdownLinks = %q, want %q", got, want)
	}
}

// markdownFiles lists the repository's *.md files as slash paths from root, leaving out
// hidden folders and the folders that builds, tools and make run create (bin, data).
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel != "." && (strings.HasPrefix(d.Name(), ".") || rel == "bin" || rel == "data" || d.Name() == "node_modules") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.HasSuffix(d.Name(), ".md") {
			files = append(files, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func isExternal(target string) bool {
	if i := strings.IndexByte(target, ':'); i > 0 && !strings.ContainsAny(target[:i], "/#.") {
		return true // a scheme: https:, mailto:, …
	}
	return strings.HasPrefix(target, "//")
}

type mdLink struct {
	line   int
	target string
}

var (
	inlineLink = regexp.MustCompile(`!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(\s*(<[^>]*>|[^\s)]+)(?:\s+"[^"]*")?\s*\)`)
	refDef     = regexp.MustCompile(`^ {0,3}\[[^\]]+\]:\s+(<[^>]*>|\S+)`)
	codeSpan   = regexp.MustCompile("(`+)[^`]*?(`+)")
)

// markdownLinks returns the targets of the inline links, images and link reference
// definitions of doc, outside fenced code blocks and code spans.
func markdownLinks(doc string) []mdLink {
	var links []mdLink
	fence := ""
	for i, line := range strings.Split(doc, "\n") {
		if f := fenceOf(line); f != "" {
			switch {
			case fence == "":
				fence = f
			case strings.HasPrefix(f, fence[:1]) && len(f) >= len(fence):
				fence = ""
			}
			continue
		}
		if fence != "" {
			continue
		}
		line = codeSpan.ReplaceAllString(line, "")
		if m := refDef.FindStringSubmatch(line); m != nil {
			links = append(links, mdLink{i + 1, strings.Trim(m[1], "<>")})
			continue
		}
		for _, m := range inlineLink.FindAllStringSubmatch(line, -1) {
			links = append(links, mdLink{i + 1, strings.Trim(m[1], "<>")})
		}
	}
	return links
}

// fenceOf returns the fence (``` or ~~~, or longer) that line opens or closes, or "".
func fenceOf(line string) string {
	s := strings.TrimLeft(line, " ")
	if len(line)-len(s) > 3 {
		return ""
	}
	for _, c := range []string{"`", "~"} {
		n := len(s) - len(strings.TrimLeft(s, c))
		if n >= 3 {
			return s[:n]
		}
	}
	return ""
}

var (
	atxHeading = regexp.MustCompile(`^ {0,3}#{1,6}(?:[ \t]+(.*?))?[ \t]*$`)
	closingSeq = regexp.MustCompile(`(?:^|[ \t]+)#+[ \t]*$`)
	mdLinkText = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	htmlTag    = regexp.MustCompile(`<[^>]+>`)
)

// headingSlugs returns the anchors GitHub gives the ATX headings of doc.
func headingSlugs(doc string) map[string]bool {
	slugs := map[string]bool{}
	seen := map[string]int{}
	fence := ""
	for _, line := range strings.Split(doc, "\n") {
		if f := fenceOf(line); f != "" {
			switch {
			case fence == "":
				fence = f
			case strings.HasPrefix(f, fence[:1]) && len(f) >= len(fence):
				fence = ""
			}
			continue
		}
		if fence != "" {
			continue
		}
		m := atxHeading.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		s := slug(m[1])
		if n := seen[s]; n > 0 {
			slugs[s+"-"+itoa(n)] = true
		} else {
			slugs[s] = true
		}
		seen[s]++
	}
	return slugs
}

// slug is GitHub's anchor for a heading's text: the rendered text in lower case, with every
// character that is not a letter, digit, space, '-' or '_' removed and each space made '-'.
func slug(heading string) string {
	h := closingSeq.ReplaceAllString(heading, "")
	h = mdLinkText.ReplaceAllString(h, "$1")
	h = htmlTag.ReplaceAllString(h, "")
	h = strings.TrimSpace(h)
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

func itoa(n int) string {
	const digits = "0123456789"
	if n < 10 {
		return digits[n : n+1]
	}
	return itoa(n/10) + digits[n%10:n%10+1]
}
