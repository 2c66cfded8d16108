// Package storagelakefs is the lakeFS backend of [storage.Bucket]: bytes go through lakeFS's
// S3 gateway (package storages3), and versions through its REST API (package lakefs). It adds
// [storage.Versioner] to the S3 bucket:
//
//   - Reads at a version: lakeFS's S3 gateway reads any ref as the first key segment, so a
//     view at a version replaces the branch segment of each key by the commit id the
//     version resolves to (GET /repositories/{repo}/commits/{ref}). Branches and tags are
//     resolved on every read; a commit id only the first time (commits never change).
//   - Writes as commits: a transaction creates a short-lived hidden branch from the target
//     branch ("doip-run-" and 16 random hex digits), stages its objects there through the
//     S3 gateway, commits that branch with the metadata, squash-merges it into the target
//     branch (source wins, so the newest run's files are the branch's) and deletes it. The
//     merge commit, one parent and the same metadata, is the version the caller gets.
//     Abort, or any failure, deletes the run branch with everything staged on it, so a
//     failed run never leaves objects on the target branch's staging area that an
//     unrelated commit could sweep in, and concurrent runs never commit each other's
//     files. A process that dies mid-run leaves its hidden run branch behind, never
//     anything on the target branch.
//
// Plain Put (storage.WriteBucket) still writes straight to the branch's staging area; the
// retrieve service does not use it on this backend.
package storagelakefs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/lakefs"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storages3"
)

// RunBranchPrefix begins the name of every run branch.
const RunBranchPrefix = "doip-run-"

// cleanupTimeout bounds deleting a run branch after a failure, which runs even when the
// caller's context has ended.
const cleanupTimeout = 30 * time.Second

// versionRE is what a version may look like: a commit id, a tag or a branch name, with
// lakeFS's ref modifiers (~ ^ @). No "/": a version is one key segment.
var versionRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.~^@-]{0,127}$`)

// Bucket is a lakeFS repository: an S3 bucket with versions.
type Bucket struct {
	*storages3.Bucket
	api    *lakefs.Client
	logger *slog.Logger

	mu      sync.Mutex
	commits map[string]bool // commit ids known to exist: commits never change, so they are not asked again
	// missing holds what reading "{commit}/{key}" answered when the key did not exist at
	// that commit, for the same reason: a façade object's record.json, looked for at every
	// read of its record, costs an S3 request once per commit.
	missing map[string]error
}

// maxKnownCommits bounds Bucket.commits, and maxMissing Bucket.missing; when one is full it
// starts afresh.
const (
	maxKnownCommits = 4096
	maxMissing      = 1 << 14
)

// commitIDRE is a full lakeFS commit id.
var commitIDRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

var (
	_ storage.Bucket    = (*Bucket)(nil)
	_ storage.Versioner = (*Bucket)(nil)
	_ storage.Lister    = (*Bucket)(nil)
	_ storage.Presigner = (*Bucket)(nil)
)

// New returns the repository that s3 (its S3 gateway) and api (its REST API) both address.
func New(s3 *storages3.Bucket, api *lakefs.Client, logger *slog.Logger) *Bucket {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Bucket{Bucket: s3, api: api, logger: logger, commits: map[string]bool{}, missing: map[string]error{}}
}

// Check looks at the repository through both doors: the S3 gateway (a HEAD of the bucket)
// and the API (the repository). Either may refuse the same key pair: the S3 gateway wants an
// access key id of 3 to 20 characters, which the API does not check.
func (b *Bucket) Check(ctx context.Context) error {
	if err := b.Bucket.Check(ctx); err != nil {
		return err
	}
	if err := b.api.Check(ctx); err != nil {
		if errors.Is(err, lakefs.ErrUnauthorized) {
			return fmt.Errorf("storagelakefs: the lakeFS API rejected the access key pair: %w", err)
		}
		return fmt.Errorf("storagelakefs: %w", err)
	}
	return nil
}

// CheckVersion validates a version's form (not that it exists).
func CheckVersion(v string) error {
	if !versionRE.MatchString(v) {
		return fmt.Errorf("%w %.80q: want a commit id, tag or branch name (letters, digits, '_', '-', '.', '~', '^', '@'; at most 128)", storage.ErrInvalidVersion, v)
	}
	return nil
}

// At implements [storage.Versioner].
func (b *Bucket) At(ctx context.Context, version string) (storage.ReadBucket, string, error) {
	if err := CheckVersion(version); err != nil {
		return nil, "", err
	}
	b.mu.Lock()
	known := b.commits[version]
	b.mu.Unlock()
	if known {
		return &view{b: b, ref: version, commit: true}, version, nil
	}
	c, err := b.api.GetCommit(ctx, version)
	if err != nil {
		if errors.Is(err, lakefs.ErrNotFound) || errors.Is(err, lakefs.ErrBadRequest) {
			return nil, "", fmt.Errorf("storagelakefs: version %q: %w", version, storage.ErrNotExist)
		}
		return nil, "", fmt.Errorf("storagelakefs: version %q: %w", version, err)
	}
	if commitIDRE.MatchString(c.ID) {
		b.mu.Lock()
		if len(b.commits) >= maxKnownCommits {
			clear(b.commits)
		}
		b.commits[c.ID] = true
		b.mu.Unlock()
	}
	return &view{b: b, ref: c.ID, commit: commitIDRE.MatchString(c.ID)}, c.ID, nil
}

// view reads the repository at one commit.
type view struct {
	b      *Bucket
	ref    string
	commit bool // ref is a full commit id, so what is missing at it stays missing
}

var (
	_ storage.Lister    = (*view)(nil)
	_ storage.Presigner = (*view)(nil)
)

// at replaces key's branch segment by the view's commit.
func (v *view) at(key string) string {
	_, rest := storage.SplitBranch(key)
	return v.ref + "/" + rest
}

func (v *view) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	at := v.at(key)
	if err := v.knownMissing(at); err != nil {
		return nil, storage.ObjectInfo{Key: key}, err
	}
	rc, info, err := v.b.Bucket.Get(ctx, at)
	v.noteMissing(at, err)
	info.Key = key
	return rc, info, err
}

func (v *view) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	return v.b.Bucket.GetRange(ctx, v.at(key), offset, length)
}

func (v *view) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	at := v.at(key)
	if err := v.knownMissing(at); err != nil {
		return storage.ObjectInfo{Key: key}, err
	}
	info, err := v.b.Bucket.Stat(ctx, at)
	v.noteMissing(at, err)
	info.Key = key
	return info, err
}

// knownMissing returns what reading at ("{commit}/{key}") answered when it was missing.
func (v *view) knownMissing(at string) error {
	if !v.commit {
		return nil
	}
	b := v.b
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.missing[at]
}

// noteMissing keeps err when it says that at is missing at the view's commit.
func (v *view) noteMissing(at string, err error) {
	if !v.commit || !errors.Is(err, storage.ErrNotExist) {
		return
	}
	b := v.b
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.missing) >= maxMissing {
		clear(b.missing)
	}
	b.missing[at] = err
}

// List lists at the commit and answers with keys in the caller's form.
func (v *view) List(ctx context.Context, prefix string) ([]storage.ObjectInfo, error) {
	branch, _ := storage.SplitBranch(prefix)
	objs, err := v.b.Bucket.List(ctx, v.at(prefix))
	for i := range objs {
		_, rest := storage.SplitBranch(objs[i].Key)
		objs[i].Key = branch + "/" + rest
	}
	return objs, err
}

func (v *view) Presign(ctx context.Context, key string, expiry time.Duration) (string, error) {
	return v.b.Bucket.Presign(ctx, v.at(key), expiry)
}

// Begin implements [storage.Versioner]: it creates the run branch.
func (b *Bucket) Begin(ctx context.Context, branch string) (storage.Txn, error) {
	var r [8]byte
	_, _ = rand.Read(r[:])
	run := RunBranchPrefix + hex.EncodeToString(r[:])
	if err := b.api.CreateBranch(ctx, run, branch, true); err != nil {
		return nil, fmt.Errorf("storagelakefs: starting a commit on %q: %w", branch, err)
	}
	return &txn{b: b, branch: branch, run: run}, nil
}

// txn is one run branch.
type txn struct {
	b      *Bucket
	branch string
	run    string

	state storage.TxnState
}

func (t *txn) Put(ctx context.Context, key string, r io.Reader, size int64) (storage.ObjectInfo, error) {
	rest, err := storage.TxnKey(key, t.branch)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	info, err := t.b.Bucket.Put(ctx, t.run+"/"+rest, r, size)
	info.Key = key
	return info, err
}

func (t *txn) Delete(ctx context.Context, key string) error {
	rest, err := storage.TxnKey(key, t.branch)
	if err != nil {
		return err
	}
	return t.b.Bucket.Delete(ctx, t.run+"/"+rest)
}

func (t *txn) Commit(ctx context.Context, message string, metadata map[string]string) (string, error) {
	if !t.state.End() {
		return "", fmt.Errorf("storagelakefs: %w", storage.ErrTxnEnded)
	}
	defer t.state.Unlock()
	defer t.cleanup(ctx)
	if _, err := t.b.api.CommitBranch(ctx, t.run, message, metadata); err != nil {
		return "", fmt.Errorf("storagelakefs: commit: %w", err)
	}
	id, err := t.b.api.Merge(ctx, t.run, t.branch, lakefs.MergeOptions{
		Message: message, Metadata: metadata, Strategy: "source-wins", Squash: true,
	})
	if err != nil {
		return "", fmt.Errorf("storagelakefs: commit: %w", err)
	}
	return id, nil
}

func (t *txn) Abort(ctx context.Context) error {
	if !t.state.End() {
		return nil
	}
	defer t.state.Unlock()
	return t.cleanup(ctx)
}

// cleanup deletes the run branch, even when ctx has ended.
func (t *txn) cleanup(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	if err := t.b.api.DeleteBranch(ctx, t.run); err != nil && !errors.Is(err, lakefs.ErrNotFound) {
		t.b.logger.WarnContext(ctx, "run branch not deleted", slog.String("branch", t.run), slog.Any("err", err))
		return fmt.Errorf("storagelakefs: %w", err)
	}
	return nil
}

var _ storage.Historian = (*Bucket)(nil)

// Log implements [storage.Historian] with lakeFS's commit log filtered by prefix.
func (b *Bucket) Log(ctx context.Context, branch, prefix, after string, limit int) ([]storage.Commit, error) {
	if err := CheckVersion(branch); err != nil {
		return nil, err
	}
	if after != "" && !commitIDRE.MatchString(after) {
		return nil, fmt.Errorf("%w %.80q: not a commit id", storage.ErrNotExist, after)
	}
	limit = min(max(limit, 1), storage.MaxLog)
	cs, err := b.api.LogCommits(ctx, branch, prefix, after, limit)
	if err != nil {
		return nil, fmt.Errorf("storagelakefs: log of %q: %w", branch, err)
	}
	out := make([]storage.Commit, 0, len(cs))
	for _, c := range cs {
		out = append(out, storage.Commit{ID: c.ID, Time: time.Unix(c.CreationDate, 0).UTC(), Message: c.Message, Metadata: c.Metadata})
	}
	return out, nil
}

// IsRunBranch reports whether a branch name is a run branch (for cleaning up after a crash).
func IsRunBranch(name string) bool { return strings.HasPrefix(name, RunBranchPrefix) }
