package storageos_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/objectid"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storageos"
)

func commit(t *testing.T, v storage.Versioner, put map[string]string, del ...string) string {
	t.Helper()
	tx, err := v.Begin(t.Context(), "main")
	if err != nil {
		t.Fatal(err)
	}
	for k, data := range put {
		if _, err := tx.Put(t.Context(), k, strings.NewReader(data), int64(len(data))); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range del {
		if err := tx.Delete(t.Context(), k); err != nil {
			t.Fatal(err)
		}
	}
	id, err := tx.Commit(t.Context(), "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func read(ctx context.Context, b storage.ReadBucket, key string) (string, error) {
	rc, _, err := b.Get(ctx, key)
	if err != nil {
		return "", err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	return string(data), err
}

// A record found missing, and a branch's head, are known without the disk until a commit
// changes them; then reads see the commit at once, through every Bucket of the folder.
func TestKnownMissingAndHeadFollowCommits(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "main"), 0o755); err != nil {
		t.Fatal(err)
	}
	a, b := newBucket(t, dir), newBucket(t, dir)
	key := objectid.RecordKey("main", "Q991")
	for _, bk := range []*storageos.Bucket{a, b} {
		if _, id, err := bk.At(t.Context(), "main"); err != nil || id != "" {
			t.Fatalf("head before any commit = %q, %v; want none", id, err)
		}
		for range 2 {
			if _, err := read(t.Context(), bk, key); !errors.Is(err, storage.ErrNotExist) {
				t.Fatalf("record before its commit: %v; want ErrNotExist", err)
			}
		}
	}

	first := commit(t, a, map[string]string{key: `{"revision":1}`})
	for _, bk := range []*storageos.Bucket{a, b} {
		rb, id, err := bk.At(t.Context(), "main")
		if err != nil || id != first {
			t.Fatalf("head after the commit = %q, %v; want %s", id, err, first)
		}
		if got, err := read(t.Context(), rb, key); err != nil || got != `{"revision":1}` {
			t.Errorf("record after its commit = %q, %v", got, err)
		}
	}

	second := commit(t, b, nil, key)
	for _, bk := range []*storageos.Bucket{a, b} {
		rb, id, err := bk.At(t.Context(), "main")
		if err != nil || id != second {
			t.Fatalf("head after the delete = %q, %v; want %s", id, err, second)
		}
		if _, err := read(t.Context(), rb, key); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("record after its delete: %v; want ErrNotExist", err)
		}
	}
	// The first commit still has it.
	if rb, _, err := a.At(t.Context(), first); err != nil {
		t.Fatal(err)
	} else if got, err := read(t.Context(), rb, key); err != nil || got != `{"revision":1}` {
		t.Errorf("record at the first commit = %q, %v", got, err)
	}
}

// A key that is not versioned-only (a source component) is always read from disk: one
// copied into the folder by hand is served at once, though it was missing before.
func TestSourceComponentsAlwaysFromDisk(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := newBucket(t, dir)
	key := objectid.ComponentKey("main", "Q123", "main-pdf")
	if _, err := read(t.Context(), b, key); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("before: %v; want ErrNotExist", err)
	}
	path := filepath.Join(dir, filepath.FromSlash(key))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte("%PDF"), 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := read(t.Context(), b, key); err != nil || got != "%PDF" {
		t.Errorf("after a copy by hand = %q, %v", got, err)
	}
}

// A derived component that a direct Put writes (not a commit) is seen after it was
// missing.
func TestPutForgetsMissing(t *testing.T) {
	t.Parallel()
	b := newBucket(t, t.TempDir())
	key := objectid.ComponentKey("main", "Q123", "derived/wf/out.json")
	if _, err := read(t.Context(), b, key); !errors.Is(err, storage.ErrNotExist) {
		t.Fatalf("before: %v; want ErrNotExist", err)
	}
	if _, err := b.Put(t.Context(), key, strings.NewReader("{}"), 2); err != nil {
		t.Fatal(err)
	}
	if got, err := read(t.Context(), b, key); err != nil || got != "{}" {
		t.Errorf("after Put = %q, %v", got, err)
	}
}

// A key known to be missing is reported in the words of a lookup on disk.
func TestKnownMissingError(t *testing.T) {
	t.Parallel()
	b := newBucket(t, t.TempDir())
	key := objectid.RecordKey("main", "Q991")
	_, first := read(t.Context(), b, key)
	_, second := read(t.Context(), b, key)
	if !errors.Is(second, storage.ErrNotExist) || first == nil || second.Error() != first.Error() {
		t.Errorf("errors: %v, then %v; want the same ErrNotExist twice", first, second)
	}
}
