// Package storage defines the bucket interfaces through which retrieve-svc reads component
// bytes and writes derived components, with the key layout of the lakeFS repository
// ("{branch}/{shard}/{QID}/components/{componentId}").
//
// The interfaces are shaped after an S3 bucket, so that the folder backend (storageos), the
// in-memory backend for tests (storagemem) and an S3/lakeFS backend are interchangeable:
// keys are slash-separated, objects are written whole in one call, and ranged reads are
// offset/length pairs. storagetesting holds the conformance suite every backend runs.
// Listing, presigning and versions are optional capabilities ([Lister], [Presigner],
// [Versioner]), found by type assertion; deletion is not part of the interfaces.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// ErrNotExist is returned (wrapped) when a key names no object. Test for it with errors.Is.
var ErrNotExist = errors.New("storage: object does not exist")

// ErrInvalidKey is returned (wrapped) for a key that is not a clean relative path
// (see [ValidateKey]).
var ErrInvalidKey = errors.New("storage: invalid key")

// ErrInvalidRange is returned (wrapped) by GetRange for a negative offset or length, or an
// offset beyond the end of the object.
var ErrInvalidRange = errors.New("storage: invalid range")

// ErrSizeMismatch is returned (wrapped) by Put when the reader yields more or fewer bytes than
// the size it was given.
var ErrSizeMismatch = errors.New("storage: size mismatch")

// MaxKeyLen bounds a key, in bytes (S3's limit).
const MaxKeyLen = 1024

// ObjectInfo describes one stored object.
type ObjectInfo struct {
	Key     string    // the key the object is stored under
	Size    int64     // its size in bytes
	ModTime time.Time // when it was last written, as the backend reports it
}

// ReadBucket reads objects by key.
type ReadBucket interface {
	// Get opens the whole object. The caller closes the reader. A missing key gives an error
	// that wraps ErrNotExist.
	Get(ctx context.Context, key string) (io.ReadCloser, ObjectInfo, error)
	// GetRange opens length bytes from offset. A range that runs past the end stops at the
	// end; length 0 gives an empty reader; an offset beyond the end, or a negative offset or
	// length, gives an error that wraps ErrInvalidRange.
	GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error)
	// Stat describes the object without reading it.
	Stat(ctx context.Context, key string) (ObjectInfo, error)
}

// WriteBucket writes objects.
type WriteBucket interface {
	// Put stores the bytes of r under key. It is all-or-nothing: readers see either the old
	// object (or none) or the whole new one, never a part; if r fails, or yields a number of
	// bytes other than size (when size >= 0), nothing changes and the error wraps the cause
	// (ErrSizeMismatch for a wrong size). A negative size means "unknown".
	Put(ctx context.Context, key string, r io.Reader, size int64) (ObjectInfo, error)
}

// MaxList bounds how many objects one List returns.
const MaxList = 1000

// Lister lists objects. Backends implement it where listing is cheap; callers check for it
// with a type assertion.
type Lister interface {
	// List returns the objects whose keys start with prefix (which ends in "/"), at any
	// depth, at most MaxList of them, in no particular order. A prefix with nothing under it
	// gives an empty list, not an error.
	List(ctx context.Context, prefix string) ([]ObjectInfo, error)
}

// Presigner hands out time-limited URLs that read an object without credentials, so that a
// caller can fetch large objects itself. Backends implement it where that exists (S3);
// callers check for it with a type assertion.
type Presigner interface {
	// Presign returns a URL for an HTTP GET of key, valid for expiry. It does not check that
	// the object exists.
	Presign(ctx context.Context, key string, expiry time.Duration) (string, error)
}

// ErrInvalidVersion is returned (wrapped) for a version that is not a usable commit id, tag or
// branch name.
var ErrInvalidVersion = errors.New("storage: invalid version")

// Versioner is a bucket that keeps versions: every write becomes a commit with an id, and
// reads can ask for the objects as they were at a commit, tag or branch. Backends implement
// it where that exists (lakeFS, and the folder backend's commit log); callers check for it
// with a type assertion.
//
// Keys keep their layout: their first segment names the branch ("main/00/01/23/Q123/…").
type Versioner interface {
	// At returns the bucket as it is at version (a commit id, a tag or a branch), and the
	// commit id version names. Keys given to the view start with a branch segment, which the
	// view replaces by the commit: the same key reads the same object at another version.
	// An unknown version gives an error wrapping ErrNotExist, a malformed one
	// ErrInvalidVersion.
	At(ctx context.Context, version string) (ReadBucket, string, error)
	// Begin starts a transaction that writes to branch.
	Begin(ctx context.Context, branch string) (Txn, error)
}

// Txn collects writes that become visible together, as one commit, or not at all.
type Txn interface {
	// Put stores an object as [WriteBucket.Put] does, but visible only after Commit. Its
	// key's first segment is the branch given to Begin.
	Put(ctx context.Context, key string, r io.Reader, size int64) (ObjectInfo, error)
	// Delete removes key from the branch when the transaction commits, and forgets an
	// earlier Put of it. A key that does not exist is not an error. Earlier commits keep it.
	Delete(ctx context.Context, key string) error
	// Commit makes every Put visible on the branch at once, as one new commit with message
	// and metadata, and returns its id. A failed Commit leaves nothing visible and nothing
	// pending that a later commit could take along.
	Commit(ctx context.Context, message string, metadata map[string]string) (string, error)
	// Abort discards every Put. It may be called after Commit, and then does nothing.
	Abort(ctx context.Context) error
}

// Commit describes one commit of a [Historian].
type Commit struct {
	ID       string
	Time     time.Time
	Message  string
	Metadata map[string]string
}

// MaxLog bounds how many commits one [Historian.Log] returns.
const MaxLog = 1000

// Historian lists commits. Backends with versions implement it; callers check for it with a
// type assertion.
type Historian interface {
	// Log returns the commits of branch that wrote or removed a key under prefix (which ends
	// in "/" and has no branch segment), newest first: at most limit of them (1 to MaxLog),
	// starting after the commit id after ("" for the newest). An unknown after gives an
	// error wrapping ErrNotExist.
	Log(ctx context.Context, branch, prefix, after string, limit int) ([]Commit, error)
}

// ErrTxnEnded is returned (wrapped) by a [Txn] used after Commit or Abort.
var ErrTxnEnded = errors.New("storage: the transaction has ended")

// TxnState is what a [Txn] implementation guards with its lock: whether Commit or Abort has
// ended it, and the staged writes beside it.
type TxnState struct {
	sync.Mutex
	// Ended is set by the first End.
	Ended bool
}

// End begins Commit or Abort: it locks the state and marks the transaction ended. It reports
// true with the lock held, for the caller to release once it has committed or aborted; false,
// with the lock released, when the transaction had ended already (Commit then fails with
// [ErrTxnEnded], and Abort does nothing).
func (s *TxnState) End() bool {
	s.Lock()
	if s.Ended {
		s.Unlock()
		return false
	}
	s.Ended = true
	return true
}

// TxnKey checks that key belongs to branch, as every key a [Txn] writes must, and returns the
// key without its branch segment. The error wraps ErrInvalidKey.
func TxnKey(key, branch string) (string, error) {
	b, rest := SplitBranch(key)
	if b != branch {
		return "", fmt.Errorf("%w %q: the transaction writes to branch %q", ErrInvalidKey, key, branch)
	}
	return rest, nil
}

// SplitBranch returns a key's first segment (the branch or version) and the rest.
func SplitBranch(key string) (branch, rest string) {
	branch, rest, _ = strings.Cut(key, "/")
	return branch, rest
}

// Bucket reads and writes.
type Bucket interface {
	ReadBucket
	WriteBucket
}

// ValidateKey checks that key is a clean, relative, slash-separated path, the same for every
// backend: not empty, at most MaxKeyLen bytes, valid UTF-8, no leading or trailing "/", no
// empty, "." or ".." segments, no "\" and no control characters. The error wraps
// ErrInvalidKey.
func ValidateKey(key string) error {
	bad := func(reason string) error {
		return fmt.Errorf("%w %.100q: %s", ErrInvalidKey, key, reason)
	}
	switch {
	case key == "":
		return bad("empty")
	case len(key) > MaxKeyLen:
		return bad(fmt.Sprintf("longer than %d bytes", MaxKeyLen))
	case !utf8.ValidString(key):
		return bad("not valid UTF-8")
	}
	for _, r := range key {
		if r == '\\' || r < 0x20 || r == 0x7f {
			return bad("contains a backslash or a control character")
		}
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch seg {
		case "", ".", "..":
			return bad("empty, . or .. path segment")
		}
	}
	return nil
}

// CheckRange validates offset and length against an object of the given size and returns the
// number of bytes the range covers, clipped at the end of the object.
func CheckRange(key string, size, offset, length int64) (int64, error) {
	if offset < 0 || length < 0 {
		return 0, fmt.Errorf("%w: offset %d length %d of %q", ErrInvalidRange, offset, length, key)
	}
	if offset > size {
		return 0, fmt.Errorf("%w: offset %d beyond the %d bytes of %q", ErrInvalidRange, offset, size, key)
	}
	return min(length, size-offset), nil
}

// SizeMismatch returns an error wrapping ErrSizeMismatch for a Put that was promised want
// bytes and read got (got > want means "more than want").
func SizeMismatch(want, got int64) error {
	if got > want {
		return fmt.Errorf("%w: want %d bytes, the reader gave more", ErrSizeMismatch, want)
	}
	return fmt.Errorf("%w: want %d bytes, the reader gave %d", ErrSizeMismatch, want, got)
}
