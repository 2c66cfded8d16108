package storagetesting

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
)

// VersionedBucket is a bucket that keeps versions.
type VersionedBucket interface {
	storage.Bucket
	storage.Versioner
}

// RunVersionerTests runs the conformance suite of [storage.Versioner] against buckets made by
// newBucket, which returns a new, empty bucket with a branch "main" for each subtest.
func RunVersionerTests(t *testing.T, newBucket func(t *testing.T) VersionedBucket) {
	t.Helper()
	run(t, newBucket, []subtest[VersionedBucket]{
		{"CommitThenReadAtVersions", testCommitVersions},
		{"AbortLeavesNothing", testAbortLeavesNothing},
		{"FailedPutThenAbort", testFailedPutThenAbort},
		{"UnknownAndMalformedVersions", testBadVersions},
		{"KeyOfAnotherBranch", testTxnOtherBranch},
		{"DeleteThenLog", testDeleteThenLog},
	})
}

const (
	keyA = "main/00/01/23/Q123/components/derived/wf/a.json"
	keyB = "main/00/01/23/Q123/components/derived/wf/b.json"
	keyC = "main/00/01/23/Q123/components/derived/wf/c.json"
)

// commit writes files in one transaction and commits it.
// begin begins a transaction on the branch main.
func begin(t *testing.T, b VersionedBucket) storage.Txn {
	t.Helper()
	tx, err := b.Begin(t.Context(), "main")
	if err != nil {
		t.Fatal(err)
	}
	return tx
}

// putTxn puts content at key in tx.
func putTxn(t *testing.T, tx storage.Txn, key, content string) {
	t.Helper()
	if _, err := tx.Put(t.Context(), key, strings.NewReader(content), int64(len(content))); err != nil {
		t.Fatal(err)
	}
}

func commit(t *testing.T, b VersionedBucket, meta map[string]string, files ...string) string {
	t.Helper()
	tx := begin(t, b)
	defer tx.Abort(t.Context())
	for i := 0; i < len(files); i += 2 {
		putTxn(t, tx, files[i], files[i+1])
	}
	id, err := tx.Commit(t.Context(), "test commit", meta)
	if err != nil {
		t.Fatal(err)
	}
	if id == "" {
		t.Fatal("Commit returned no id")
	}
	return id
}

func readAt(t *testing.T, b VersionedBucket, version, key string) (string, string, error) {
	t.Helper()
	rb, id, err := b.At(t.Context(), version)
	if err != nil {
		return "", "", err
	}
	rc, _, err := rb.Get(t.Context(), key)
	if err != nil {
		return "", id, err
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	return string(data), id, err
}

func testCommitVersions(t *testing.T, b VersionedBucket) {
	v1 := commit(t, b, map[string]string{"k": "v"}, keyA, "a1", keyB, "b1")
	v2 := commit(t, b, nil, keyA, "a2")
	if v1 == v2 {
		t.Fatalf("two commits, one id %s", v1)
	}
	for _, tc := range []struct{ version, key, want, wantID string }{
		{v1, keyA, "a1", v1}, {v1, keyB, "b1", v1},
		{v2, keyA, "a2", v2}, {v2, keyB, "b1", v2},
		{"main", keyA, "a2", v2},
	} {
		got, id, err := readAt(t, b, tc.version, tc.key)
		if err != nil || got != tc.want || id != tc.wantID {
			t.Errorf("%s at %s: %q from %s, %v; want %q from %s", tc.key, tc.version, got, id, err, tc.want, tc.wantID)
		}
	}
	// The branch itself, read as a bucket, has the newest bytes.
	if got := get(t, b, keyA); string(got) != "a2" {
		t.Errorf("%s on the branch: %q", keyA, got)
	}
	rb, _, err := b.At(t.Context(), v1)
	if err != nil {
		t.Fatal(err)
	}
	if info, err := rb.Stat(t.Context(), keyB); err != nil || info.Size != 2 || info.Key != keyB {
		t.Errorf("Stat %s at %s = %+v, %v", keyB, v1, info, err)
	}
	if l, ok := rb.(storage.Lister); ok {
		objs, err := l.List(t.Context(), "main/00/01/23/Q123/components/derived/")
		if err != nil || len(objs) != 2 {
			t.Errorf("List at %s = %+v, %v; want a.json and b.json", v1, objs, err)
		}
		for _, o := range objs {
			if !strings.HasPrefix(o.Key, "main/") {
				t.Errorf("List at a version gave key %q, not in the caller's form", o.Key)
			}
		}
	}
	rc, err := rb.GetRange(t.Context(), keyA, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); string(got) != "1" {
		t.Errorf("GetRange at %s = %q", v1, got)
	}
}

func testAbortLeavesNothing(t *testing.T, b VersionedBucket) {
	tx := begin(t, b)
	putTxn(t, tx, keyC, "stray")
	if err := tx.Abort(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := tx.Abort(t.Context()); err != nil {
		t.Errorf("second Abort: %v", err)
	}
	if _, err := tx.Commit(t.Context(), "late", nil); !errors.Is(err, storage.ErrTxnEnded) {
		t.Errorf("Commit after Abort: %v, want ErrTxnEnded", err)
	}
	wantNotExist(t, b, keyC)
	// A later commit does not take the aborted file along.
	v := commit(t, b, nil, keyA, "a")
	if _, _, err := readAt(t, b, v, keyC); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("%s at the next commit: %v, want ErrNotExist", keyC, err)
	}
}

func testFailedPutThenAbort(t *testing.T, b VersionedBucket) {
	tx := begin(t, b)
	putTxn(t, tx, keyA, "ok")
	if _, err := tx.Put(t.Context(), keyB, bytes.NewReader([]byte("short")), 10); !errors.Is(err, storage.ErrSizeMismatch) {
		t.Errorf("short Put: %v, want ErrSizeMismatch", err)
	}
	if err := tx.Abort(t.Context()); err != nil {
		t.Fatal(err)
	}
	wantNotExist(t, b, keyA)
	wantNotExist(t, b, keyB)
}

func testBadVersions(t *testing.T, b VersionedBucket) {
	commit(t, b, nil, keyA, "a")
	if _, _, err := b.At(t.Context(), "no-such-branch"); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("unknown branch: %v, want ErrNotExist", err)
	}
	if _, _, err := b.At(t.Context(), strings.Repeat("ab", 32)); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("unknown commit: %v, want ErrNotExist", err)
	}
	for _, v := range []string{"a/b", "", "../x", strings.Repeat("x", 200), "-x"} {
		if _, _, err := b.At(t.Context(), v); !errors.Is(err, storage.ErrInvalidVersion) {
			t.Errorf("version %q: %v, want ErrInvalidVersion", v, err)
		}
	}
}

func testTxnOtherBranch(t *testing.T, b VersionedBucket) {
	tx := begin(t, b)
	defer tx.Abort(t.Context())
	if _, err := tx.Put(t.Context(), "other/00/01/23/Q123/components/x", strings.NewReader("x"), 1); !errors.Is(err, storage.ErrInvalidKey) {
		t.Errorf("Put to another branch: %v, want ErrInvalidKey", err)
	}
}

// testDeleteThenLog deletes a committed key in a later commit: the key is gone at the new
// version and still there at the old one, and a Historian lists both commits newest first,
// under the object's prefix only.
func testDeleteThenLog(t *testing.T, b VersionedBucket) {
	first := commit(t, b, map[string]string{"author": "alice"}, keyA, "alpha", keyB, "beta")
	commit(t, b, nil, "main/00/04/56/Q456/components/derived/wf/x.json", "other object")
	tx, err := b.Begin(t.Context(), "main")
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Abort(t.Context())
	if err := tx.Delete(t.Context(), keyA); err != nil {
		t.Fatal(err)
	}
	if err := tx.Delete(t.Context(), keyC); err != nil { // never written: not an error
		t.Fatalf("Delete of a missing key: %v", err)
	}
	second, err := tx.Commit(t.Context(), "delete a", map[string]string{"author": "bob"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := readAt(t, b, second, keyA); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("deleted key at the new version: err = %v, want ErrNotExist", err)
	}
	if got, _, err := readAt(t, b, first, keyA); err != nil || got != "alpha" {
		t.Errorf("deleted key at the old version = %q, %v; want alpha", got, err)
	}
	if got, _, err := readAt(t, b, second, keyB); err != nil || got != "beta" {
		t.Errorf("kept key = %q, %v; want beta", got, err)
	}
	h, ok := any(b).(storage.Historian)
	if !ok {
		return
	}
	log, err := h.Log(t.Context(), "main", "00/01/23/Q123/", "", 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(log) != 2 || log[0].ID != second || log[1].ID != first {
		t.Fatalf("Log = %+v, want [%s %s]", log, second, first)
	}
	if log[0].Metadata["author"] != "bob" || log[0].Message != "delete a" || log[0].Time.IsZero() {
		t.Errorf("newest commit = %+v", log[0])
	}
	page, err := h.Log(t.Context(), "main", "00/01/23/Q123/", second, 10)
	if err != nil || len(page) != 1 || page[0].ID != first {
		t.Errorf("Log after %s = %+v, %v; want [%s]", second, page, err, first)
	}
}
