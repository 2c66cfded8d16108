package storage

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestPermanent(t *testing.T) {
	t.Parallel()
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EDQUOT, syscall.EROFS, syscall.EACCES, syscall.EPERM} {
		err := &os.PathError{Op: "write", Path: "x", Err: errno}
		if got := Permanent(err); !errors.Is(got, ErrPermanent) || !errors.Is(got, errno) {
			t.Errorf("Permanent(%v) = %v; want it marked, keeping the cause", err, got)
		}
	}
	for _, err := range []error{nil, io.ErrUnexpectedEOF, syscall.ECONNRESET, fmt.Errorf("x: %w", ErrNotExist)} {
		if got := Permanent(err); got != err {
			t.Errorf("Permanent(%v) = %v; want it unchanged", err, got)
		}
	}

	// A symbolic link out of an os.Root, as the folder backend sees it.
	dir, outside := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, "secret.json"), []byte("{}"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(outside, "secret.json"), filepath.Join(dir, "link.json")); err != nil {
		t.Fatal(err)
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	_, err = root.Open("link.json")
	if err == nil || !IsEscape(err) || !errors.Is(Permanent(err), ErrPermanent) {
		t.Errorf("opening an escaping link: %v; want an escape, marked permanent", err)
	}
}
