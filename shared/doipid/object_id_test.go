package doipid

import (
	"errors"
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
