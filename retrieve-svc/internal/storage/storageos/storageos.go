// Package storageos is the folder backend of [storage.Bucket]: each key is a file path below a
// root directory, so the folder holds exactly the key layout a lakeFS/S3 bucket would.
//
// All access goes through an [os.Root], so neither a crafted key nor a symbolic link inside the
// folder can reach a file outside it; keys are also checked with [storage.ValidateKey] first.
// Put writes a temporary file in the target's directory, syncs it and renames it into place,
// so an object appears whole or not at all. Temporary files (names starting with ".tmp-")
// are never objects: reads and lists do not see them, and [Bucket.CleanTemp] removes those
// a crash left behind. Directories are not objects either: a key that names one does not
// exist. Failures that retrying cannot fix (a full disk, a read-only folder, a link leading
// out of the root) wrap [storage.ErrPermanent].
package storageos

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
)

// Bucket is a folder bucket, safe for concurrent use.
type Bucket struct {
	root  *os.Root
	state *folderState
}

var _ storage.Bucket = (*Bucket)(nil)

// New opens the directory dir, which must exist, as a bucket. Close releases it.
func New(dir string) (*Bucket, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("storageos: open root: %w", err)
	}
	return &Bucket{root: root, state: stateOf(dir)}, nil
}

// Close releases the root directory.
func (b *Bucket) Close() error {
	return b.root.Close()
}

// name turns a key into a path relative to the root.
func name(key string) (string, error) {
	if err := storage.ValidateKey(key); err != nil {
		return "", fmt.Errorf("storageos: %w", err)
	}
	n, err := filepath.Localize(key)
	if err != nil {
		return "", fmt.Errorf("storageos: %w %q: %w", storage.ErrInvalidKey, key, err)
	}
	return n, nil
}

// notExist reports whether err means that there is no file at the path.
func notExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

func (b *Bucket) open(ctx context.Context, key string) (*os.File, storage.ObjectInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	n, err := name(key)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	if isTemp(filepath.Base(n)) {
		return nil, storage.ObjectInfo{}, fmt.Errorf("storageos: %q is a temporary file: %w", key, storage.ErrNotExist)
	}
	// A versioned-only key found missing stays missing until a write through this package
	// (see folderState): a record read does not look for the record of a façade object on
	// disk each time.
	versioned := versionedOnlyKey(key)
	var gen uint64
	if versioned {
		var absent bool
		if absent, gen = b.state.isAbsent(key); absent {
			return nil, storage.ObjectInfo{}, &missingError{key}
		}
	}
	f, err := b.root.Open(n)
	if notExist(err) {
		if versioned {
			b.state.setAbsent(key, gen)
		}
		return nil, storage.ObjectInfo{}, fmt.Errorf("storageos: %q: %w", key, storage.ErrNotExist)
	}
	if err != nil {
		return nil, storage.ObjectInfo{}, fmt.Errorf("storageos: %w", storage.Permanent(err))
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, storage.ObjectInfo{}, fmt.Errorf("storageos: %w", err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return nil, storage.ObjectInfo{}, fmt.Errorf("storageos: %q is not a file: %w", key, storage.ErrNotExist)
	}
	return f, storage.ObjectInfo{Key: key, Size: fi.Size(), ModTime: fi.ModTime()}, nil
}

// missingError is the error of a key known to be missing: the words of a lookup on disk,
// formatted only when they are read.
type missingError struct{ key string }

func (e *missingError) Error() string {
	return fmt.Sprintf("storageos: %q: %v", e.key, storage.ErrNotExist)
}

func (e *missingError) Unwrap() error { return storage.ErrNotExist }

// Get implements [storage.ReadBucket].
func (b *Bucket) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	return b.open(ctx, key)
}

// GetRange implements [storage.ReadBucket].
func (b *Bucket) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	f, info, err := b.open(ctx, key)
	if err != nil {
		return nil, err
	}
	n, err := storage.CheckRange(key, info.Size, offset, length)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("storageos: %w", err)
	}
	return sectionReadCloser{io.NewSectionReader(f, offset, n), f}, nil
}

type sectionReadCloser struct {
	*io.SectionReader
	io.Closer
}

// Stat implements [storage.ReadBucket].
func (b *Bucket) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	f, info, err := b.open(ctx, key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	f.Close()
	return info, nil
}

// Put implements [storage.WriteBucket]. It writes to a temporary file in the key's directory
// (".tmp-" and a random suffix), syncs it, renames it over the key and syncs the directory.
// On any failure the temporary file is removed and the key is untouched. Of several
// concurrent Puts of one key, the last rename wins, and the file is always one whole object.
func (b *Bucket) Put(ctx context.Context, key string, r io.Reader, size int64) (storage.ObjectInfo, error) {
	n, err := name(key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	dir := filepath.Dir(n)
	if err := b.root.MkdirAll(dir, 0o755); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("storageos: put %q: %w", key, storage.Permanent(err))
	}
	tmp := filepath.Join(dir, tempPrefix+rand.Text())
	f, err := b.root.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("storageos: put %q: %w", key, storage.Permanent(err))
	}
	committed := false
	defer func() {
		if !committed {
			f.Close() // may be the second Close; its error does not matter
			b.root.Remove(tmp)
		}
	}()

	src := io.Reader(ctxReader{ctx, r})
	if size >= 0 {
		src = io.LimitReader(src, size+1)
	}
	written, err := io.Copy(f, src)
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("storageos: put %q: %w", key, storage.Permanent(err))
	}
	if size >= 0 && written != size {
		return storage.ObjectInfo{}, fmt.Errorf("storageos: put %q: %w", key, storage.SizeMismatch(size, written))
	}
	if err := f.Sync(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("storageos: put %q: %w", key, storage.Permanent(err))
	}
	fi, err := f.Stat()
	if err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("storageos: put %q: %w", key, storage.Permanent(err))
	}
	if err := f.Close(); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("storageos: put %q: %w", key, storage.Permanent(err))
	}
	if err := b.root.Rename(tmp, n); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("storageos: put %q: %w", key, storage.Permanent(err))
	}
	committed = true
	b.state.changed(key)
	if err := b.syncDir(dir); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("storageos: put %q: %w", key, storage.Permanent(err))
	}
	return storage.ObjectInfo{Key: key, Size: written, ModTime: fi.ModTime()}, nil
}

// syncDir makes a rename in dir durable.
func (b *Bucket) syncDir(dir string) error {
	d, err := b.root.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// ctxReader stops a copy when its context is done.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}

var _ storage.Lister = (*Bucket)(nil)

// List implements [storage.Lister]. Temporary files of writes in progress are not listed.
func (b *Bucket) List(ctx context.Context, prefix string) ([]storage.ObjectInfo, error) {
	dir, err := name(strings.TrimSuffix(prefix, "/"))
	if err != nil {
		return nil, err
	}
	var out []storage.ObjectInfo
	fsys := b.root.FS()
	err = fs.WalkDir(fsys, filepath.ToSlash(dir), func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if notExist(err) {
				return fs.SkipDir
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if d.IsDir() || isTemp(d.Name()) || !d.Type().IsRegular() {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil // removed meanwhile
		}
		out = append(out, storage.ObjectInfo{Key: p, Size: fi.Size(), ModTime: fi.ModTime()})
		if len(out) >= storage.MaxList {
			return fs.SkipAll
		}
		return nil
	})
	if err != nil && !notExist(err) {
		return nil, fmt.Errorf("storageos: list %q: %w", prefix, err)
	}
	return out, nil
}

// tempPrefix starts the name of every temporary file Put writes.
const tempPrefix = ".tmp-"

func isTemp(base string) bool { return strings.HasPrefix(base, tempPrefix) }

// CleanTemp removes the temporary files that writes interrupted by a crash (kill -9, power
// loss) left below the root, and returns how many it removed. Call it at start-up, before
// any write runs: it would remove the temporary file of a write in progress. Symbolic links
// are not followed; a file it cannot remove is reported in the error, and the walk goes on.
func (b *Bucket) CleanTemp(ctx context.Context) (int, error) {
	removed := 0
	var errs []error
	err := fs.WalkDir(b.root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if notExist(err) {
				return nil
			}
			errs = append(errs, err)
			return nil
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		if d.IsDir() || !isTemp(d.Name()) || !d.Type().IsRegular() {
			return nil
		}
		if rerr := b.root.Remove(filepath.FromSlash(p)); rerr != nil && !notExist(rerr) {
			errs = append(errs, rerr)
			return nil
		}
		removed++
		return nil
	})
	if err != nil {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return removed, fmt.Errorf("storageos: clean temporary files: %w", errors.Join(errs...))
	}
	return removed, nil
}
