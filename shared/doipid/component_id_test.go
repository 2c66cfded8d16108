package doipid

import (
	"errors"
	"path"
	"strings"
	"testing"
)

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
		// The storage key layout of retrieve-svc: {branch}/{shard}/{QID}/components/{id}.
		const prefix = "main/00/01/23/" + qid + "/components/"
		key := prefix + id
		if clean := path.Clean(key); clean != key || !strings.HasPrefix(clean, prefix) || len(clean) <= len(prefix) {
			t.Fatalf("accepted %q as %q: key %q cleans to %q, outside %q", raw, id, key, clean, prefix)
		}
		if len(id) > MaxComponentIDLen {
			t.Fatalf("accepted %d bytes", len(id))
		}
	})
}

func TestLongComponentID(t *testing.T) {
	t.Parallel()
	for _, id := range []string{"main-pdf", "derived/wf/out.json"} {
		long := LongComponentID("Q123", id)
		if want := "doip:bitstream/Q123/" + id; long != want {
			t.Errorf("LongComponentID(Q123, %q) = %q, want %q", id, long, want)
		}
		if got, err := ResolveComponentID("Q123", long); err != nil || got != id {
			t.Errorf("ResolveComponentID(Q123, %q) = %q, %v; want %q", long, got, err, id)
		}
	}
}
