package storageos_test

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storageos"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storagetesting"
)

func newBucket(t *testing.T, dir string) *storageos.Bucket {
	t.Helper()
	b, err := storageos.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func TestBucket(t *testing.T) {
	t.Parallel()
	storagetesting.RunBucketTests(t, func(t *testing.T) storage.Bucket { return newBucket(t, t.TempDir()) })
}

func TestNewMissingDir(t *testing.T) {
	t.Parallel()
	if _, err := storageos.New(filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Error("New of a missing directory: want an error")
	}
}

// TestLayout checks that keys are plain paths below the root, as lakeFS keys would be.
func TestLayout(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := newBucket(t, dir)
	const key = "main/00/01/23/Q123/components/fulltext.pdf"
	if _, err := b.Put(t.Context(), key, strings.NewReader("pdf"), 3); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(key)))
	if err != nil || string(data) != "pdf" {
		t.Fatalf("file below root = %q, %v", data, err)
	}
	// a file written by someone else is readable through the bucket
	other := filepath.Join(dir, "main", "00", "01", "23", "Q123", "components", "main-pdf")
	if err := os.WriteFile(other, []byte("abc"), 0o644); err != nil {
		t.Fatal(err)
	}
	info, err := b.Stat(t.Context(), "main/00/01/23/Q123/components/main-pdf")
	if err != nil || info.Size != 3 {
		t.Errorf("Stat = %+v, %v", info, err)
	}
}

// TestFailedPutLeavesNoTempFile checks that a failed Put cleans up after itself.
func TestFailedPutLeavesNoTempFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	b := newBucket(t, dir)
	const key = "main/00/01/23/Q123/components/derived/wf/out.json"
	r := io.MultiReader(bytes.NewReader(make([]byte, 1000)), errReader{})
	if _, err := b.Put(t.Context(), key, r, 5000); err == nil {
		t.Fatal("Put with a failing reader succeeded")
	}
	entries, err := os.ReadDir(filepath.Join(dir, filepath.FromSlash("main/00/01/23/Q123/components/derived/wf")))
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("left behind: %s", e.Name())
	}
	if _, err := b.Put(t.Context(), key, strings.NewReader("{}"), 2); err != nil {
		t.Fatal(err)
	}
	entries, _ = os.ReadDir(filepath.Join(dir, filepath.FromSlash("main/00/01/23/Q123/components/derived/wf")))
	if len(entries) != 1 || entries[0].Name() != "out.json" {
		t.Errorf("after a Put the directory holds %v; want only out.json", entries)
	}
}

type errReader struct{}

func (errReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// TestSymlinkEscape checks that a symbolic link inside the root cannot expose a file outside.
func TestSymlinkEscape(t *testing.T) {
	t.Parallel()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret")
	if err := os.WriteFile(secret, []byte("secret"), 0o600); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	comp := filepath.Join(dir, "main", "00", "01", "23", "Q123", "components")
	if err := os.MkdirAll(comp, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(comp, "abs-link")); err != nil {
		t.Skipf("no symlinks here: %v", err)
	}
	if err := os.Symlink("../../../../../../"+filepath.Base(outside)+"/secret", filepath.Join(comp, "rel-link")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(comp, "dir-link")); err != nil {
		t.Fatal(err)
	}
	b := newBucket(t, dir)
	for _, key := range []string{
		"main/00/01/23/Q123/components/abs-link",
		"main/00/01/23/Q123/components/rel-link",
		"main/00/01/23/Q123/components/dir-link/secret",
	} {
		rc, _, err := b.Get(t.Context(), key)
		if err == nil {
			data, _ := io.ReadAll(rc)
			rc.Close()
			t.Errorf("Get(%q) = %q; want an error", key, data)
			continue
		}
		// Not "unavailable": trying again cannot help.
		if !errors.Is(err, storage.ErrPermanent) && !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("Get(%q) error %v is not marked permanent", key, err)
		}
	}
	if _, _, err := b.Get(t.Context(), "main/00/01/23/Q123/components/abs-link"); !errors.Is(err, storage.ErrPermanent) {
		t.Errorf("Get through an absolute link out of the root: %v; want a permanent failure", err)
	}
	if _, err := b.Put(t.Context(), "main/00/01/23/Q123/components/dir-link/other", strings.NewReader("x"), 1); !errors.Is(err, storage.ErrPermanent) {
		t.Errorf("Put through an escaping link: %v; want a permanent failure", err)
	}
	// Writing through a link to a directory outside fails; writing over a link to a file
	// replaces the link itself (rename does not follow it), so the target stays untouched.
	if _, err := b.Put(t.Context(), "main/00/01/23/Q123/components/dir-link/secret", strings.NewReader("x"), 1); err == nil {
		t.Error("Put through a link to a directory outside the root succeeded")
	}
	for _, key := range []string{"main/00/01/23/Q123/components/abs-link", "main/00/01/23/Q123/components/rel-link"} {
		if _, err := b.Put(t.Context(), key, strings.NewReader("replaced"), 8); err != nil {
			t.Errorf("Put(%q): %v", key, err)
		}
	}
	if data, _ := os.ReadFile(secret); string(data) != "secret" {
		t.Errorf("the file outside the root changed: %q", data)
	}
}

func TestVersionerConformance(t *testing.T) {
	t.Parallel()
	storagetesting.RunVersionerTests(t, func(t *testing.T) storagetesting.VersionedBucket { return newBucket(t, t.TempDir()) })
}

// Regression (leftovers after a crash): a temporary file that a killed write left behind
// is never served, listed or statted, and CleanTemp removes it, and only it.
func TestTempFilesNeverObjectsAndCleaned(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	comp := filepath.Join(dir, "main", "00", "01", "23", "Q123", "components")
	derived := filepath.Join(comp, "derived", "wf")
	if err := os.MkdirAll(derived, 0o755); err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		filepath.Join(comp, ".tmp-CRASHED1"):    "half a write",
		filepath.Join(derived, ".tmp-CRASHED2"): "half a write",
		filepath.Join(comp, "main-pdf"):         "%PDF",
		filepath.Join(comp, ".keep"):            "not a temporary file",
	}
	for p, data := range files {
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	outside := t.TempDir()
	if err := os.WriteFile(filepath.Join(outside, ".tmp-NOTOURS"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(outside, filepath.Join(comp, "link")); err != nil {
		t.Fatal(err)
	}
	b := newBucket(t, dir)
	for _, key := range []string{"main/00/01/23/Q123/components/.tmp-CRASHED1", "main/00/01/23/Q123/components/derived/wf/.tmp-CRASHED2"} {
		if _, _, err := b.Get(t.Context(), key); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("Get(%q) error = %v; want ErrNotExist", key, err)
		}
		if _, err := b.Stat(t.Context(), key); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("Stat(%q) error = %v; want ErrNotExist", key, err)
		}
	}
	n, err := b.CleanTemp(t.Context())
	if err != nil || n != 2 {
		t.Fatalf("CleanTemp = %d, %v; want 2, nil", n, err)
	}
	for p := range files {
		_, err := os.Stat(p)
		if temp := strings.HasPrefix(filepath.Base(p), ".tmp-"); temp != errors.Is(err, os.ErrNotExist) {
			t.Errorf("%s after CleanTemp: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(outside, ".tmp-NOTOURS")); err != nil {
		t.Errorf("CleanTemp followed a link out of the root: %v", err)
	}
	if n, err := b.CleanTemp(t.Context()); err != nil || n != 0 {
		t.Errorf("second CleanTemp = %d, %v; want 0, nil", n, err)
	}
}
