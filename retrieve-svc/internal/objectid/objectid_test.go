package objectid

import (
	"errors"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/shared/doipid"
)

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
		{"q42", "00/00/42"},
		{"Q", "00/00/00"},
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
	if got, want := ObjectPrefix("main", "Q6190920"), "main/61/90/92/Q6190920/components/"; got != want {
		t.Errorf("ObjectPrefix = %q; want %q", got, want)
	}
	if got, want := RecordKey("main", "Q123"), "main/00/01/23/Q123/record.json"; got != want {
		t.Errorf("RecordKey = %q; want %q", got, want)
	}
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
		var idErr *doipid.IDError
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
