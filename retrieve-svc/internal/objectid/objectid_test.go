package objectid

import (
	"errors"
	"path"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in, want string
	}{
		{"Q123", "Q123"},
		{"q123", "Q123"},
		{"Q123_FULLTEXT", "Q123"},
		{"q123_fulltext", "Q123"},
		{"Q123_FullText", "Q123"},
		{"Q1", "Q1"},
		{"Q999999999999", "Q999999999999"},
		{"Q6190920", "Q6190920"},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeErrors(t *testing.T) {
	t.Parallel()
	bad := []string{
		"", "Q", "q", "123", "P123", "Q12a", "Q-1", "Q+1", " Q123", "Q123 ", "Q1234567890123",
		"Q0", "Q0123", "_FULLTEXT", "Q_FULLTEXT", "Q123_FULLTEXT_FULLTEXT", "Q123_TEXT",
		"Q123/", "Q123\x00", "Ｑ123", "Q１２３", "Q123.json", "../Q123", "Q 123",
	}
	for _, in := range bad {
		got, err := Normalize(in)
		if err == nil {
			t.Errorf("Normalize(%q) = %q, nil; want an error", in, got)
			continue
		}
		var idErr *IDError
		if !errors.As(err, &idErr) || idErr.ID != in {
			t.Errorf("Normalize(%q) error %v is not an *IDError naming the id", in, err)
		}
		if !strings.Contains(err.Error(), Quote(in)) {
			t.Errorf("Normalize(%q) error %q does not name the id", in, err)
		}
	}
}

func TestShardAndKey(t *testing.T) {
	t.Parallel()
	tests := []struct {
		qid, shard string
	}{
		{"Q1", "00/00/01"},
		{"Q123", "00/01/23"},
		{"Q123456", "12/34/56"},
		{"Q6190920", "61/90/92"},
		{"Q999999999999", "99/99/99"},
	}
	for _, tt := range tests {
		if got := Shard(tt.qid); got != tt.shard {
			t.Errorf("Shard(%q) = %q; want %q", tt.qid, got, tt.shard)
		}
	}
	if got, want := ComponentKey("main", "Q123", "fulltext.pdf"), "main/00/01/23/Q123/components/fulltext.pdf"; got != want {
		t.Errorf("ComponentKey = %q; want %q", got, want)
	}
	if got, want := ComponentKey("dev", "Q6190920", "derived/equation_extraction/equations.json"),
		"dev/61/90/92/Q6190920/components/derived/equation_extraction/equations.json"; got != want {
		t.Errorf("ComponentKey = %q; want %q", got, want)
	}
}

func TestResolveComponentID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		qid, in, want string
	}{
		{"Q123", "main-pdf", "main-pdf"},
		{"Q123", "fulltext.pdf", "fulltext.pdf"},
		{"Q123", "archive.tar.gz", "archive.tar.gz"},
		{"Q123", "doip:bitstream/Q123/main-pdf", "main-pdf"},
		{"Q123", "doip:bitstream/q123/main-pdf", "main-pdf"},
		{"Q123", "DOIP:Bitstream/Q123/main-pdf", "main-pdf"},
		{"Q123", "doip:bitstream/Q123_FULLTEXT/main-pdf", "main-pdf"},
		{"q123", "doip:bitstream/Q123/main-pdf", "main-pdf"},
		{"Q123", "derived/equation_extraction/equations.json", "derived/equation_extraction/equations.json"},
		{"Q123", "doip:bitstream/Q123/derived/wf/out.json", "derived/wf/out.json"},
		{"Q123", "a..b", "a..b"},
		{"Q123", "file name with spaces.pdf", "file name with spaces.pdf"},
		{"Q123", "Übersicht.pdf", "Übersicht.pdf"},
		{"Q123", "derived", "derived"},
		{"Q123", strings.Repeat("a", MaxComponentIDLen), strings.Repeat("a", MaxComponentIDLen)},
	}
	for _, tt := range tests {
		got, err := ResolveComponentID(tt.qid, tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ResolveComponentID(%q, %q) = %q, %v; want %q, nil", tt.qid, tt.in, got, err, tt.want)
		}
	}
}

// TestResolveComponentIDRejects lists every way we could think of to leave the object's
// prefix, or to name something that is not a component.
func TestResolveComponentIDRejects(t *testing.T) {
	t.Parallel()
	bad := []string{
		// empty and oversized
		"", "doip:bitstream/Q123/", strings.Repeat("a", MaxComponentIDLen+1),
		"doip:bitstream/Q123/" + strings.Repeat("a", MaxComponentIDLen+1),
		strings.Repeat("a/", 10000),
		// dot segments
		".", "..", "../", "./x", "../x", "../../etc/passwd", "x/..", "x/../y",
		"derived/..", "derived/../x", "derived/wf/..", "derived/../../x", "derived/./x",
		"derived/wf/./x", "derived/wf/.", "derived/./wf/x", "derived/../wf/x",
		"doip:bitstream/Q123/..", "doip:bitstream/Q123/../Q124/x", "doip:bitstream/Q123/../../x",
		"doip:bitstream/Q123/derived/../../x",
		// hidden names: temporary files of interrupted writes, and any other dot file
		".x", ".tmp-ABC", "derived/wf/.tmp-ABC", "derived/.wf/x", "doip:bitstream/Q123/.tmp-ABC", "...", "..pdf", ".hidden", ".hidden.pdf",
		// absolute paths
		"/etc/passwd", "/", "//x", "/derived/wf/x", "doip:bitstream/Q123//etc/passwd",
		// backslashes
		`..\x`, `x\y`, `\x`, `derived\wf\x`, `derived/wf/..\..\x`, `\\server\share`, `C:\x`,
		// NUL and other control characters
		"x\x00", "\x00", "x\x00.pdf", "x\ny", "x\r", "\t", "x\x7f", "x\u0085", "x\x1b[0m",
		// percent escapes (all rejected, including the ones that decode to . / \)
		"%2e%2e", "%2E%2E/x", "..%2fx", "%2f", "%5c", "x%00", "%252e%252e", "a%20b", "%",
		"derived/wf/%2e%2e", "derived%2fwf%2fx",
		// invalid UTF-8, including overlong encodings of . and /
		"\xc0\xae\xc0\xae", "\xc0\xaf", "x\xff", "\xe0\x80\xae",
		// slashes outside derived/{workflow}/{file}
		"a/b", "a/b/c", "derived/x", "derived/wf/x/y", "derived//x", "derived/wf/", "derived/",
		"x/", "Derived/wf/x", "components/x",
		// another object, or a malformed long form
		"doip:bitstream/Q124/main-pdf", "doip:bitstream/Q1230/main-pdf", "doip:bitstream/main-pdf",
		"doip:bitstream/Q12x/main-pdf", "doip:bitstream//main-pdf", "doip:bitstream/Q123",
		"doip:bitstream/", "doip:bitstream/../Q123/x",
	}
	for _, in := range bad {
		got, err := ResolveComponentID("Q123", in)
		if err == nil {
			t.Errorf("ResolveComponentID(Q123, %q) = %q, nil; want an error", in, got)
			continue
		}
		var cErr *ComponentIDError
		if !errors.As(err, &cErr) || cErr.ID != in {
			t.Errorf("ResolveComponentID(Q123, %q) error %v is not a *ComponentIDError naming the id", in, err)
		}
	}
}

func TestQuote(t *testing.T) {
	t.Parallel()
	if got := Quote("a\x00b"); got != `"a\x00b"` {
		t.Errorf("Quote = %s", got)
	}
	long := strings.Repeat("é", 100)
	got := Quote(long)
	if len(got) > maxQuoted+10 || !strings.HasSuffix(got, "…") {
		t.Errorf("Quote(long) = %s; want it shortened", got)
	}
}

func TestIsDerived(t *testing.T) {
	t.Parallel()
	if !IsDerived("derived/wf/x.json") || IsDerived("derived") || IsDerived("main-pdf") {
		t.Error("IsDerived is wrong")
	}
}

// FuzzResolveComponentID checks the property the server relies on: an accepted id has no ".."
// segment, no leading "/", no "\" or NUL, and its key stays below the object's prefix, clean.
func FuzzResolveComponentID(f *testing.F) {
	for _, s := range []string{
		"main-pdf", "fulltext.pdf", "doip:bitstream/Q123/main-pdf", "derived/wf/out.json",
		"../x", "derived/../x", "%2e%2e/x", `..\x`, "/etc/passwd", "x\x00", "\xc0\xae",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		const qid = "Q123"
		id, err := ResolveComponentID(qid, raw)
		if err != nil {
			var cErr *ComponentIDError
			if !errors.As(err, &cErr) {
				t.Fatalf("error %v is not a *ComponentIDError", err)
			}
			return
		}
		if id == "" || strings.HasPrefix(id, "/") || strings.ContainsAny(id, "\\\x00%") {
			t.Fatalf("accepted %q as %q", raw, id)
		}
		for _, seg := range strings.Split(id, "/") {
			if seg == "" || seg[0] == '.' {
				t.Fatalf("accepted %q as %q with segment %q", raw, id, seg)
			}
		}
		prefix := ObjectPrefix("main", qid)
		key := ComponentKey("main", qid, id)
		if clean := path.Clean(key); clean != key || !strings.HasPrefix(clean, prefix) || len(clean) <= len(prefix) {
			t.Fatalf("accepted %q as %q: key %q cleans to %q, outside %q", raw, id, key, clean, prefix)
		}
		if len(id) > MaxComponentIDLen {
			t.Fatalf("accepted %d bytes", len(id))
		}
	})
}

func TestTypeID(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		in, want string
		ok, err  bool
	}{
		{"types/ScholarlyArticle", "ScholarlyArticle", true, false},
		{"TYPES/Dataset", "Dataset", true, false},
		{"https://fdo.portal.example/fdo/types/Person", "Person", true, false},
		{"http://127.0.0.1:8080/fdo/types/Formula", "Formula", true, false},
		{"Q123", "", false, false},
		{"types", "", false, false},
		{"https://fdo.example.org/fdo/Q123", "", false, false},
		{"types/", "", true, true},
		{"types/../Q1", "", true, true},
		{"types/a/b", "", true, true},
		{"types/1Type", "", true, true},
		{"types/Scholarly%41rticle", "", true, true},
		{"https://x/fdo/types/Person?x=1", "", false, false},
		{"types/" + strings.Repeat("A", MaxTypeIDLen+1), "", true, true},
	} {
		got, ok, err := TypeID(tt.in)
		if got != tt.want || ok != tt.ok || (err != nil) != tt.err {
			t.Errorf("TypeID(%q) = %q, %v, %v; want %q, %v, error %v", tt.in, got, ok, err, tt.want, tt.ok, tt.err)
		}
		var idErr *IDError
		if err != nil && !errors.As(err, &idErr) {
			t.Errorf("TypeID(%q) error %T, want *IDError", tt.in, err)
		}
	}
}

// FuzzTypeID: whatever the id, an accepted type id is plain letters and digits that the
// id ends with, so it can only ever name one file or one URL path segment.
func FuzzTypeID(f *testing.F) {
	for _, s := range []string{"types/ScholarlyArticle", "TYPES/x", "https://h/fdo/types/Person", "types/../x", "Q1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, id string) {
		got, ok, err := TypeID(id)
		if err != nil || !ok {
			return
		}
		if got == "" || len(got) > MaxTypeIDLen || !strings.HasSuffix(id, got) || strings.ContainsAny(got, "/.%\\") {
			t.Fatalf("TypeID(%q) = %q", id, got)
		}
	})
}
