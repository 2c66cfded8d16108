// Package storagemem is an in-memory [storage.Bucket] for tests. Objects are held as
// immutable byte slices; Put buffers the whole reader before it swaps the new object in,
// so it is all-or-nothing.
package storagemem

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
)

// Bucket is an in-memory bucket, safe for concurrent use. The zero value is not usable; call
// [New].
type Bucket struct {
	mu      sync.RWMutex
	objects map[string]object // guarded by mu; values are never modified once stored
}

type object struct {
	data    []byte
	modTime time.Time
}

var _ storage.Bucket = (*Bucket)(nil)

// New returns an empty bucket.
func New() *Bucket {
	return &Bucket{objects: make(map[string]object)}
}

func (b *Bucket) lookup(ctx context.Context, key string) (object, error) {
	if err := ctx.Err(); err != nil {
		return object{}, err
	}
	if err := storage.ValidateKey(key); err != nil {
		return object{}, fmt.Errorf("storagemem: %w", err)
	}
	b.mu.RLock()
	o, ok := b.objects[key]
	b.mu.RUnlock()
	if !ok {
		return object{}, fmt.Errorf("storagemem: %q: %w", key, storage.ErrNotExist)
	}
	return o, nil
}

// Get implements [storage.ReadBucket].
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	o, err := b.lookup(ctx, key)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	return io.NopCloser(bytes.NewReader(o.data)), info(key, o), nil
}

// GetRange implements [storage.ReadBucket].
func (b *Bucket) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	o, err := b.lookup(ctx, key)
	if err != nil {
		return nil, err
	}
	n, err := storage.CheckRange(key, int64(len(o.data)), offset, length)
	if err != nil {
		return nil, fmt.Errorf("storagemem: %w", err)
	}
	return io.NopCloser(bytes.NewReader(o.data[offset : offset+n])), nil
}

// Stat implements [storage.ReadBucket].
func (b *Bucket) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	o, err := b.lookup(ctx, key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	return info(key, o), nil
}

// Put implements [storage.WriteBucket].
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, size int64) (storage.ObjectInfo, error) {
	if err := storage.ValidateKey(key); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("storagemem: %w", err)
	}
	var buf bytes.Buffer
	if size >= 0 {
		buf.Grow(int(min(size, 64<<20)))
		r = io.LimitReader(r, size+1)
	}
	if _, err := buf.ReadFrom(r); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("storagemem: put %q: %w", key, err)
	}
	if size >= 0 && int64(buf.Len()) != size {
		return storage.ObjectInfo{}, fmt.Errorf("storagemem: put %q: %w", key, storage.SizeMismatch(size, int64(buf.Len())))
	}
	if err := ctx.Err(); err != nil {
		return storage.ObjectInfo{}, err
	}
	o := object{data: buf.Bytes(), modTime: time.Now()}
	b.mu.Lock()
	b.objects[key] = o
	b.mu.Unlock()
	return info(key, o), nil
}

func info(key string, o object) storage.ObjectInfo {
	return storage.ObjectInfo{Key: key, Size: int64(len(o.data)), ModTime: o.modTime}
}

var _ storage.Lister = (*Bucket)(nil)

// List implements [storage.Lister].
func (b *Bucket) List(ctx context.Context, prefix string) ([]storage.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []storage.ObjectInfo
	for key, o := range b.objects {
		if strings.HasPrefix(key, prefix) && len(out) < storage.MaxList {
			out = append(out, info(key, o))
		}
	}
	return out, nil
}
