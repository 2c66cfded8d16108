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
	if _, err := d.Record(t.Context(), "Q5"); err == nil || errors.Is(err, ErrUnavailable) || errors.Is(err, ErrNotFound) {
		t.Errorf("Record of a directory: error = %v; want an internal failure, neither unavailable nor not found", err)
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

// Regression (a record symlink leads out of the data folder): records/Q1.json linking to
// any JSON file on the host is refused, as an internal failure that is not retried; a link
// to a file inside the data folder still works.
func TestDirRefusesLinksOutOfTheFolder(t *testing.T) {
	t.Parallel()
	root, outside := t.TempDir(), t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "records"), 0o755); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret.json")
	if err := os.WriteFile(secret, []byte(`{"secret":true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "shared.json"), []byte(specRecord), 0o644); err != nil {
		t.Fatal(err)
	}
	for name, target := range map[string]string{
		"Q1.json": secret,                                             // absolute, outside
		"Q2.json": "../../" + filepath.Base(outside) + "/secret.json", // relative, outside
		"Q3.json": "../shared.json",                                   // relative, inside
	} {
		if err := os.Symlink(target, filepath.Join(root, "records", name)); err != nil {
			t.Skipf("no symlinks here: %v", err)
		}
	}
	d := NewDir(root)
	for _, qid := range []string{"Q1", "Q2"} {
		got, err := d.Record(t.Context(), qid)
		if err == nil {
			t.Errorf("Record(%s) = %s through a link out of the folder; want an error", qid, got)
			continue
		}
		if errors.Is(err, ErrUnavailable) {
			t.Errorf("Record(%s) error = %v; an escaping link is not a passing outage", qid, err)
		}
	}
	if got, err := d.Record(t.Context(), "Q3"); err != nil || string(got) != specRecord {
		t.Errorf("Record through a link inside the folder = %.20q, %v", got, err)
	}
}
