// Package storagetesting is the conformance suite for [storage.Bucket] implementations. Every
// backend runs [RunBucketTests], so that the folder backend, the in-memory backend and an S3
// backend behave the same to their callers.
package storagetesting

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
)

// RunBucketTests runs the conformance suite against buckets made by newBucket, which returns a
// new, empty bucket for each subtest (and registers its own cleanup).
func RunBucketTests(t *testing.T, newBucket func(t *testing.T) storage.Bucket) {
	t.Helper()
	run(t, newBucket, []subtest[storage.Bucket]{
		{"MissingKey", testMissingKey},
		{"InvalidKey", testInvalidKey},
		{"PutGet", testPutGet},
		{"EmptyObject", testEmptyObject},
		{"LargeObject", testLargeObject},
		{"Ranges", testRanges},
		{"Overwrite", testOverwrite},
		{"UnknownSize", testUnknownSize},
		{"FailingReader", testFailingReader},
		{"SizeMismatch", testSizeMismatch},
		{"CanceledPut", testCanceledPut},
		{"ConcurrentPut", testConcurrentPut},
		{"List", testList},
	})
}

// subtest is one test of a suite, run on a new bucket of type B.
type subtest[B any] struct {
	name string
	fn   func(t *testing.T, b B)
}

// run runs each of tests in parallel on a bucket of its own, made by newBucket.
func run[B any](t *testing.T, newBucket func(t *testing.T) B, tests []subtest[B]) {
	t.Helper()
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, newBucket(t))
		})
	}
}

const key = "main/00/01/23/Q123/components/fulltext.pdf"

func put(t *testing.T, b storage.Bucket, key string, data []byte) storage.ObjectInfo {
	t.Helper()
	info, err := b.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(data)) {
		t.Fatalf("Put(%q) = %+v; want key %q size %d", key, info, key, len(data))
	}
	return info
}

func get(t *testing.T, b storage.Bucket, key string) []byte {
	t.Helper()
	rc, info, err := b.Get(t.Context(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("Get(%q): read: %v", key, err)
	}
	if info.Key != key || info.Size != int64(len(data)) {
		t.Fatalf("Get(%q) info %+v; read %d bytes", key, info, len(data))
	}
	return data
}

func wantNotExist(t *testing.T, b storage.Bucket, key string) {
	t.Helper()
	ctx := t.Context()
	if _, err := b.Stat(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		t.Errorf("Stat(%q) error = %v; want ErrNotExist", key, err)
	}
	if rc, _, err := b.Get(ctx, key); !errors.Is(err, storage.ErrNotExist) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("Get(%q) error = %v; want ErrNotExist", key, err)
	}
	if rc, err := b.GetRange(ctx, key, 0, 1); !errors.Is(err, storage.ErrNotExist) {
		if rc != nil {
			rc.Close()
		}
		t.Errorf("GetRange(%q) error = %v; want ErrNotExist", key, err)
	}
}

func testMissingKey(t *testing.T, b storage.Bucket) {
	wantNotExist(t, b, key)
	put(t, b, "a/b", []byte("x"))
	wantNotExist(t, b, "a/b/c") // below a file
	wantNotExist(t, b, "a")     // a "directory" is not an object
	wantNotExist(t, b, "a/c")
}

func testInvalidKey(t *testing.T, b storage.Bucket) {
	ctx := t.Context()
	for _, k := range []string{"", "/x", "x/", "../x", "a/../x", "a//b", "./x", `a\b`, "a\x00b", "\xff"} {
		if _, err := b.Stat(ctx, k); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Stat(%q) error = %v; want ErrInvalidKey", k, err)
		}
		if _, _, err := b.Get(ctx, k); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Get(%q) error = %v; want ErrInvalidKey", k, err)
		}
		if _, err := b.GetRange(ctx, k, 0, 1); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("GetRange(%q) error = %v; want ErrInvalidKey", k, err)
		}
		if _, err := b.Put(ctx, k, bytes.NewReader(nil), 0); !errors.Is(err, storage.ErrInvalidKey) {
			t.Errorf("Put(%q) error = %v; want ErrInvalidKey", k, err)
		}
	}
}

func testPutGet(t *testing.T, b storage.Bucket) {
	data := []byte("%PDF-1.7 not really")
	put(t, b, key, data)
	info, err := b.Stat(t.Context(), key)
	if err != nil {
		t.Fatalf("Stat: %v", err)
	}
	if info.Key != key || info.Size != int64(len(data)) || info.ModTime.IsZero() {
		t.Errorf("Stat = %+v; want key %q, size %d, a mod time", info, key, len(data))
	}
	if got := get(t, b, key); !bytes.Equal(got, data) {
		t.Errorf("Get = %q; want %q", got, data)
	}
	derived := "main/00/01/23/Q123/components/derived/equation_extraction/equations.json"
	put(t, b, derived, []byte("[]"))
	if got := get(t, b, derived); string(got) != "[]" {
		t.Errorf("Get(derived) = %q", got)
	}
}

func testEmptyObject(t *testing.T, b storage.Bucket) {
	put(t, b, key, nil)
	if got := get(t, b, key); len(got) != 0 {
		t.Errorf("Get = %q; want nothing", got)
	}
	rc, err := b.GetRange(t.Context(), key, 0, 0)
	if err != nil {
		t.Fatalf("GetRange(0, 0) of an empty object: %v", err)
	}
	defer rc.Close()
	if got, _ := io.ReadAll(rc); len(got) != 0 {
		t.Errorf("GetRange(0, 0) = %q", got)
	}
}

func testLargeObject(t *testing.T, b storage.Bucket) {
	data := pattern(1<<20+3, 7)
	put(t, b, key, data)
	if got := get(t, b, key); !bytes.Equal(got, data) {
		t.Errorf("Get returned %d bytes, different from the %d put", len(got), len(data))
	}
	rc, err := b.GetRange(t.Context(), key, 1<<20-5, 100)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	got, err := io.ReadAll(rc)
	if err != nil || !bytes.Equal(got, data[1<<20-5:]) {
		t.Errorf("GetRange over the tail = %d bytes, %v; want the last 8", len(got), err)
	}
}

func testRanges(t *testing.T, b storage.Bucket) {
	put(t, b, key, []byte("0123456789"))
	tests := []struct {
		off, n int64
		want   string
	}{
		{0, 10, "0123456789"},
		{0, 1, "0"},
		{2, 3, "234"},
		{9, 1, "9"},
		{7, 100, "789"}, // past the end: stops at the end
		{0, 1 << 40, "0123456789"},
		{0, 0, ""},
		{5, 0, ""},
		{10, 0, ""},
		{10, 5, ""},
	}
	for _, tt := range tests {
		rc, err := b.GetRange(t.Context(), key, tt.off, tt.n)
		if err != nil {
			t.Errorf("GetRange(%d, %d): %v", tt.off, tt.n, err)
			continue
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(got) != tt.want {
			t.Errorf("GetRange(%d, %d) = %q, %v; want %q", tt.off, tt.n, got, err, tt.want)
		}
	}
	for _, r := range [][2]int64{{11, 1}, {11, 0}, {-1, 1}, {0, -1}, {1 << 40, 1}} {
		rc, err := b.GetRange(t.Context(), key, r[0], r[1])
		if !errors.Is(err, storage.ErrInvalidRange) {
			if rc != nil {
				rc.Close()
			}
			t.Errorf("GetRange(%d, %d) error = %v; want ErrInvalidRange", r[0], r[1], err)
		}
	}
}

func testOverwrite(t *testing.T, b storage.Bucket) {
	put(t, b, key, []byte("first version, longer"))
	put(t, b, key, []byte("second"))
	if got := get(t, b, key); string(got) != "second" {
		t.Errorf("Get = %q; want the second version", got)
	}
}

func testUnknownSize(t *testing.T, b storage.Bucket) {
	info, err := b.Put(t.Context(), key, bytes.NewReader([]byte("abc")), -1)
	if err != nil || info.Size != 3 {
		t.Fatalf("Put with unknown size = %+v, %v", info, err)
	}
	if got := get(t, b, key); string(got) != "abc" {
		t.Errorf("Get = %q", got)
	}
}

var errBroken = errors.New("broken reader")

// failingReader gives n bytes, then errBroken.
type failingReader struct{ n int }

func (r *failingReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, errBroken
	}
	k := min(len(p), r.n)
	for i := range p[:k] {
		p[i] = 'x'
	}
	r.n -= k
	return k, nil
}

func testFailingReader(t *testing.T, b storage.Bucket) {
	ctx := t.Context()
	if _, err := b.Put(ctx, key, &failingReader{n: 100 << 10}, 1<<20); !errors.Is(err, errBroken) {
		t.Errorf("Put with a failing reader: error = %v; want it to wrap the reader's error", err)
	}
	wantNotExist(t, b, key)

	put(t, b, key, []byte("old"))
	if _, err := b.Put(ctx, key, &failingReader{n: 10}, 20); !errors.Is(err, errBroken) {
		t.Errorf("Put with a failing reader: error = %v", err)
	}
	if got := get(t, b, key); string(got) != "old" {
		t.Errorf("after a failed Put, Get = %q; want the old object", got)
	}
}

func testSizeMismatch(t *testing.T, b storage.Bucket) {
	ctx := t.Context()
	if _, err := b.Put(ctx, key, bytes.NewReader([]byte("short")), 10); !errors.Is(err, storage.ErrSizeMismatch) {
		t.Errorf("Put of fewer bytes than promised: error = %v; want ErrSizeMismatch", err)
	}
	if _, err := b.Put(ctx, key, bytes.NewReader([]byte("much too long")), 4); !errors.Is(err, storage.ErrSizeMismatch) {
		t.Errorf("Put of more bytes than promised: error = %v; want ErrSizeMismatch", err)
	}
	wantNotExist(t, b, key)
}

func testCanceledPut(t *testing.T, b storage.Bucket) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := b.Put(ctx, key, bytes.NewReader([]byte("abc")), 3); !errors.Is(err, context.Canceled) {
		t.Errorf("Put with a canceled context: error = %v; want context.Canceled", err)
	}
	wantNotExist(t, b, key)
}

// testConcurrentPut writes one key from several goroutines, each with its own uniform
// content, while others read it: every read and the final object are one writer's whole bytes.
func testConcurrentPut(t *testing.T, b storage.Bucket) {
	const (
		writers = 8
		size    = 256<<10 + 1
	)
	ctx := t.Context()
	var wg sync.WaitGroup
	errc := make(chan error, 4*writers)
	for i := range writers {
		wg.Go(func() {
			data := bytes.Repeat([]byte{byte('a' + i)}, size)
			if _, err := b.Put(ctx, key, bytes.NewReader(data), size); err != nil {
				errc <- fmt.Errorf("writer %d: %w", i, err)
			}
		})
		wg.Go(func() {
			rc, _, err := b.Get(ctx, key)
			if errors.Is(err, storage.ErrNotExist) {
				return
			}
			if err != nil {
				errc <- fmt.Errorf("reader %d: %w", i, err)
				return
			}
			defer rc.Close()
			if err := checkUniform(rc, size); err != nil {
				errc <- fmt.Errorf("reader %d: %w", i, err)
			}
		})
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		t.Error(err)
	}
	rc, _, err := b.Get(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if err := checkUniform(rc, size); err != nil {
		t.Errorf("final object: %v", err)
	}
}

func checkUniform(r io.Reader, size int) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if len(data) != size {
		return fmt.Errorf("%d bytes; want %d", len(data), size)
	}
	if n := bytes.Count(data, data[:1]); n != size {
		return fmt.Errorf("mixed content: %d of %d bytes are %q", n, size, data[0])
	}
	return nil
}

// pattern returns n bytes that differ from position to position.
func pattern(n int, seed byte) []byte {
	p := make([]byte, n)
	for i := range p {
		p[i] = byte(i*31) + seed + byte(i>>8)
	}
	return p
}

// testList runs for backends that implement storage.Lister.
func testList(t *testing.T, b storage.Bucket) {
	l, ok := b.(storage.Lister)
	if !ok {
		t.Skip("backend does not list")
	}
	prefix := "main/00/01/23/Q123/components/derived/"
	put(t, b, prefix+"wf/equations.json", []byte("[]"))
	put(t, b, prefix+"wf/runs/abc/equations.json", []byte("[1]"))
	put(t, b, "main/00/01/23/Q123/components/main-pdf", []byte("pdf"))
	got, err := l.List(t.Context(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]int64{}
	for _, o := range got {
		keys[o.Key] = o.Size
	}
	if len(keys) != 2 || keys[prefix+"wf/equations.json"] != 2 || keys[prefix+"wf/runs/abc/equations.json"] != 3 {
		t.Errorf("List(%q) = %v", prefix, got)
	}
	none, err := l.List(t.Context(), "main/99/99/99/Q999999/components/derived/")
	if err != nil || len(none) != 0 {
		t.Errorf("List of an empty prefix = %v, %v; want none and no error", none, err)
	}
}
