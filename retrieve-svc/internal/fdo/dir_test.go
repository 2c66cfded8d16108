package fdo

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func TestDir(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "records"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "records", "Q123.json"), []byte(specRecord), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(filepath.Join(root, "records", "Q5.json"), 0o755); err != nil {
		t.Fatal(err)
	}
	d := NewDir(root)
	got, err := d.Record(t.Context(), "Q123")
	if err != nil || string(got) != specRecord {
		t.Fatalf("Record(Q123) = %.20q, %v", got, err)
	}
	if _, err := d.Record(t.Context(), "Q124"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Record(Q124) error = %v; want ErrNotFound", err)
	}
	if _, err := d.Record(t.Context(), "Q5"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Record of a directory: error = %v; want ErrUnavailable", err)
	}
	for _, id := range []string{"../records/Q123", "q123", ""} {
		if _, err := d.Record(t.Context(), id); !errors.Is(err, ErrBadRequest) {
			t.Errorf("Record(%q) error = %v; want ErrBadRequest", id, err)
		}
	}
	d.maxSize = 10
	if _, err := d.Record(t.Context(), "Q123"); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Record over the cap: error = %v; want ErrTooLarge", err)
	}
}

func TestDirTypeRecord(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "records", "types"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "records", "types", "Person.json"), []byte(`{"kernel":{}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	d := NewDir(root)
	if got, err := d.TypeRecord(t.Context(), "Person"); err != nil || string(got) != `{"kernel":{}}` {
		t.Errorf("TypeRecord(Person) = %q, %v", got, err)
	}
	if _, err := d.TypeRecord(t.Context(), "Dataset"); !errors.Is(err, ErrNotFound) {
		t.Errorf("TypeRecord(Dataset) error = %v; want ErrNotFound", err)
	}
	for _, id := range []string{"", "../Q123", "types/Person"} {
		if _, err := d.TypeRecord(t.Context(), id); !errors.Is(err, ErrBadRequest) {
			t.Errorf("TypeRecord(%q) error = %v; want ErrBadRequest", id, err)
		}
	}
}
