package storage

import (
	"errors"
	"strings"
	"testing"
)

func TestValidateKey(t *testing.T) {
	t.Parallel()
	for _, k := range []string{"a", "main/00/01/23/Q123/components/fulltext.pdf", "a/.hidden", "a/...", "a b/ü"} {
		if err := ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v", k, err)
		}
	}
	for _, k := range []string{"", "/a", "a/", "a//b", ".", "..", "a/./b", "a/../b", `a\b`, "a\x00", "a\nb", "\xff",
		strings.Repeat("a", MaxKeyLen+1)} {
		if err := ValidateKey(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v; want ErrInvalidKey", k, err)
		}
	}
}

func TestCheckRange(t *testing.T) {
	t.Parallel()
	tests := []struct{ size, off, n, want int64 }{
		{10, 0, 10, 10}, {10, 2, 3, 3}, {10, 7, 100, 3}, {10, 10, 5, 0}, {0, 0, 0, 0}, {0, 0, 1, 0},
	}
	for _, tt := range tests {
		if got, err := CheckRange("k", tt.size, tt.off, tt.n); err != nil || got != tt.want {
			t.Errorf("CheckRange(%d, %d, %d) = %d, %v; want %d", tt.size, tt.off, tt.n, got, err, tt.want)
		}
	}
	for _, r := range [][3]int64{{10, 11, 0}, {10, -1, 1}, {10, 0, -1}} {
		if _, err := CheckRange("k", r[0], r[1], r[2]); !errors.Is(err, ErrInvalidRange) {
			t.Errorf("CheckRange%v error = %v; want ErrInvalidRange", r, err)
		}
	}
	if err := SizeMismatch(5, 3); !errors.Is(err, ErrSizeMismatch) {
		t.Error(err)
	}
}
