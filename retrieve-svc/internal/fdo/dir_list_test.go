package fdo

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestDirList(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if got, err := NewDir(root).List(t.Context()); err != nil || got != nil {
		t.Fatalf("no records folder: %v, %v", got, err)
	}
	dir := filepath.Join(root, "records")
	for _, name := range []string{"Q1.json", "Q22.json", "q3.json", "notes.txt", "x.json"} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte("{}"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Join(dir, "types"), 0o755); err != nil {
		t.Fatal(err)
	}
	got, err := NewDir(root).List(t.Context())
	slices.Sort(got)
	if err != nil || !slices.Equal(got, []string{"Q1", "Q22"}) {
		t.Fatalf("List = %v, %v", got, err)
	}
}
