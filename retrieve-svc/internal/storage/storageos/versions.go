package storageos

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/objectid"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
)

// The folder backend keeps versions of what is written through transactions
// ([storage.Versioner]), in a commit log below VersionsDir:
//
//	.versions/objects/{sha256}        the bytes of every committed file, by content
//	.versions/commits/{id}.json       one commit: parent, branch, message, metadata, time,
//	                                  and every versioned key (without the branch) of the
//	                                  tree at that commit with its content's SHA-256
//	.versions/heads/{branch}          the branch's newest commit id
//	.versions/staging/{txn}/          files of a transaction not yet committed
//
// A commit id is the SHA-256 of its commit file, 64 hex digits. Committing writes the
// commit file, then copies each file to its key (each copy whole, temp and rename), then
// moves the head; a crash between the copies can leave some keys newer than the head, never
// a part of a file. Only what transactions write is versioned (derived components): any other
// key (a source component) reads the same at every version, as it is now. Tags are not
// supported; versions are commit ids and branch names.
const VersionsDir = ".versions"

// maxCommitFile bounds a commit file that is read back.
const maxCommitFile = 64 << 20

var commitIDRE = regexp.MustCompile(`^[0-9a-f]{64}$`)

// branchRE is a branch name the folder backend accepts.
var branchRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_-]{0,127}$`)

// commitFile is one commit of the folder backend's log.
type commitFile struct {
	Parent   string               `json:"parent,omitempty"`
	Branch   string               `json:"branch"`
	Message  string               `json:"message"`
	Metadata map[string]string    `json:"metadata,omitempty"`
	Time     time.Time            `json:"time"`
	Files    map[string]fileEntry `json:"files"`
}

type fileEntry struct {
	SHA256 string `json:"sha256"`
	Size   int64  `json:"size"`
}

var _ storage.Versioner = (*Bucket)(nil)

// versionMu serialises commits; one process owns a folder.
var versionMu sync.Mutex

// head returns a branch's newest commit id, or "" when it has none. It is read from disk
// once, then known until a commit moves it (see folderState).
func (b *Bucket) head(ctx context.Context, branch string) (string, error) {
	id, ok, gen := b.state.head(branch)
	if ok {
		return id, nil
	}
	data, err := b.readSmall(ctx, VersionsDir+"/heads/"+branch, 128)
	if errors.Is(err, storage.ErrNotExist) {
		b.state.setHead(branch, "", gen)
		return "", nil
	}
	if err != nil {
		return "", err
	}
	id = strings.TrimSpace(string(data))
	b.state.setHead(branch, id, gen)
	return id, nil
}

func (b *Bucket) readSmall(ctx context.Context, key string, max int64) ([]byte, error) {
	rc, info, err := b.Get(ctx, key)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if info.Size > max {
		return nil, fmt.Errorf("storageos: %q is %d bytes, more than %d", key, info.Size, max)
	}
	return io.ReadAll(io.LimitReader(rc, max))
}

func (b *Bucket) commit(ctx context.Context, id string) (commitFile, error) {
	var c commitFile
	data, err := b.readSmall(ctx, VersionsDir+"/commits/"+id+".json", maxCommitFile)
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(data, &c); err != nil {
		return c, fmt.Errorf("storageos: commit %s: %w", id, err)
	}
	return c, nil
}

// At implements [storage.Versioner]. A branch (a folder of the root, or one with commits)
// reads the folder as it is (its head is the commit id reported, "" before the first
// commit); a commit id reads that commit.
func (b *Bucket) At(ctx context.Context, version string) (storage.ReadBucket, string, error) {
	switch {
	case commitIDRE.MatchString(version):
		c, err := b.commit(ctx, version)
		if err != nil {
			return nil, "", fmt.Errorf("storageos: version %q: %w", version, err)
		}
		return &commitView{b: b, c: c}, version, nil
	case branchRE.MatchString(version):
		id, err := b.head(ctx, version)
		if err != nil {
			return nil, "", err
		}
		if id == "" { // no commit yet: a branch is its folder
			if known, gen := b.state.hasDir(version); !known {
				if fi, err := b.root.Stat(version); err != nil || !fi.IsDir() {
					return nil, "", fmt.Errorf("storageos: version %q: no such branch: %w", version, storage.ErrNotExist)
				}
				b.state.setDir(version, gen)
			}
		}
		return b, id, nil
	}
	return nil, "", fmt.Errorf("%w %.80q: want a commit id (64 hex digits) or a branch name", storage.ErrInvalidVersion, version)
}

// versionedOnly reports whether a key (without its branch) exists only as commits write it:
// derived components, and the records of objects made through the gateway with everything
// beside them. Other keys (source components of the façade's objects) are not versioned and
// read the same at every version.
func versionedOnly(rest string) bool {
	return strings.Contains(rest, "/components/derived/") || strings.HasSuffix(rest, "/"+objectid.RecordFile)
}

// commitView reads the folder at one commit.
type commitView struct {
	b *Bucket
	c commitFile
}

var _ storage.Lister = (*commitView)(nil)

// lookup finds the bytes of key at the commit: its versioned content, or, for a key that is
// never versioned, the live file (ok false).
func (v *commitView) lookup(key string) (blob string, ok bool, err error) {
	if err := storage.ValidateKey(key); err != nil {
		return "", false, fmt.Errorf("storageos: %w", err)
	}
	_, rest := storage.SplitBranch(key)
	if e, found := v.c.Files[rest]; found {
		return VersionsDir + "/objects/" + e.SHA256, true, nil
	}
	if versionedOnly(rest) {
		return "", false, fmt.Errorf("storageos: %q at this version: %w", key, storage.ErrNotExist)
	}
	return key, false, nil
}

func (v *commitView) Get(ctx context.Context, key string) (io.ReadCloser, storage.ObjectInfo, error) {
	k, ok, err := v.lookup(key)
	if err != nil {
		return nil, storage.ObjectInfo{}, err
	}
	rc, info, err := v.b.Get(ctx, k)
	if ok {
		info.Key, info.ModTime = key, v.c.Time
	}
	return rc, info, err
}

func (v *commitView) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	k, _, err := v.lookup(key)
	if err != nil {
		return nil, err
	}
	return v.b.GetRange(ctx, k, offset, length)
}

func (v *commitView) Stat(ctx context.Context, key string) (storage.ObjectInfo, error) {
	k, ok, err := v.lookup(key)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	info, err := v.b.Stat(ctx, k)
	if ok {
		info.Key, info.ModTime = key, v.c.Time
	}
	return info, err
}

// List lists the versioned keys under prefix at the commit, and the live keys that are never
// versioned.
func (v *commitView) List(ctx context.Context, prefix string) ([]storage.ObjectInfo, error) {
	branch, rest := storage.SplitBranch(prefix)
	var out []storage.ObjectInfo
	for k, e := range v.c.Files {
		if strings.HasPrefix(k, rest) && len(out) < storage.MaxList {
			out = append(out, storage.ObjectInfo{Key: branch + "/" + k, Size: e.Size, ModTime: v.c.Time})
		}
	}
	live, err := v.b.List(ctx, prefix)
	for _, o := range live {
		if _, rest := storage.SplitBranch(o.Key); !versionedOnly(rest) && len(out) < storage.MaxList {
			out = append(out, o)
		}
	}
	return out, err
}

// Begin implements [storage.Versioner].
func (b *Bucket) Begin(ctx context.Context, branch string) (storage.Txn, error) {
	if !branchRE.MatchString(branch) {
		return nil, fmt.Errorf("%w %.80q: not a branch name", storage.ErrInvalidVersion, branch)
	}
	return &txn{b: b, branch: branch, dir: VersionsDir + "/staging/" + rand.Text(), files: map[string]staged{}}, nil
}

type staged struct {
	tmp string
	fileEntry
}

// txn stages files below its own folder until Commit.
type txn struct {
	b      *Bucket
	branch string
	dir    string

	state   storage.TxnState  // guards files, order and deletes too
	files   map[string]staged // by key without the branch
	order   []string
	deletes map[string]bool // keys without the branch, removed at Commit
}

func (t *txn) Delete(ctx context.Context, key string) error {
	if err := storage.ValidateKey(key); err != nil {
		return fmt.Errorf("storageos: %w", err)
	}
	rest, err := storage.TxnKey(key, t.branch)
	if err != nil {
		return err
	}
	t.state.Lock()
	defer t.state.Unlock()
	if t.state.Ended {
		return fmt.Errorf("storageos: %w", storage.ErrTxnEnded)
	}
	if _, ok := t.files[rest]; ok {
		delete(t.files, rest)
		t.order = slices.DeleteFunc(t.order, func(k string) bool { return k == rest })
	}
	if t.deletes == nil {
		t.deletes = map[string]bool{}
	}
	t.deletes[rest] = true
	return nil
}

func (t *txn) Put(ctx context.Context, key string, r io.Reader, size int64) (storage.ObjectInfo, error) {
	if err := storage.ValidateKey(key); err != nil {
		return storage.ObjectInfo{}, fmt.Errorf("storageos: %w", err)
	}
	rest, err := storage.TxnKey(key, t.branch)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	t.state.Lock()
	n := len(t.order)
	t.state.Unlock()
	h := sha256.New()
	tmp := fmt.Sprintf("%s/%d", t.dir, n)
	info, err := t.b.Put(ctx, tmp, io.TeeReader(r, h), size)
	if err != nil {
		return storage.ObjectInfo{}, err
	}
	t.state.Lock()
	defer t.state.Unlock()
	if t.state.Ended {
		return storage.ObjectInfo{}, fmt.Errorf("storageos: %w", storage.ErrTxnEnded)
	}
	if _, dup := t.files[rest]; !dup {
		t.order = append(t.order, rest)
	}
	delete(t.deletes, rest)
	t.files[rest] = staged{tmp: tmp, fileEntry: fileEntry{SHA256: hex.EncodeToString(h.Sum(nil)), Size: info.Size}}
	info.Key = key
	return info, nil
}

func (t *txn) Commit(ctx context.Context, message string, metadata map[string]string) (string, error) {
	if !t.state.End() {
		return "", fmt.Errorf("storageos: %w", storage.ErrTxnEnded)
	}
	defer t.state.Unlock()
	defer t.b.removeAll(t.dir)
	versionMu.Lock()
	defer versionMu.Unlock()
	parent, err := t.b.head(ctx, t.branch)
	if err != nil {
		return "", err
	}
	c := commitFile{Parent: parent, Branch: t.branch, Message: message, Metadata: metadata, Time: time.Now().UTC(), Files: map[string]fileEntry{}}
	if parent != "" {
		pc, err := t.b.commit(ctx, parent)
		if err != nil {
			return "", err
		}
		maps.Copy(c.Files, pc.Files)
	}
	for _, rest := range t.order {
		s := t.files[rest]
		blob := VersionsDir + "/objects/" + s.SHA256
		if _, err := t.b.Stat(ctx, blob); errors.Is(err, storage.ErrNotExist) {
			if err := t.b.rename(s.tmp, blob); err != nil {
				return "", err
			}
		} else if err != nil {
			return "", err
		}
		c.Files[rest] = s.fileEntry
	}
	for rest := range t.deletes {
		delete(c.Files, rest)
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	id := hex.EncodeToString(sum[:])
	if _, err := t.b.Put(ctx, VersionsDir+"/commits/"+id+".json", bytes.NewReader(data), int64(len(data))); err != nil {
		return "", err
	}
	for _, rest := range t.order {
		if err := t.b.copyBlob(ctx, VersionsDir+"/objects/"+t.files[rest].SHA256, t.branch+"/"+rest); err != nil {
			return "", err
		}
	}
	for rest := range t.deletes {
		if err := t.b.remove(t.branch + "/" + rest); err != nil {
			return "", err
		}
	}
	if _, err := t.b.Put(ctx, VersionsDir+"/heads/"+t.branch, strings.NewReader(id), int64(len(id))); err != nil {
		return "", err
	}
	return id, nil
}

func (t *txn) Abort(ctx context.Context) error {
	if !t.state.End() {
		return nil
	}
	defer t.state.Unlock()
	return t.b.removeAll(t.dir)
}

func (b *Bucket) copyBlob(ctx context.Context, blob, key string) error {
	rc, info, err := b.Get(ctx, blob)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = b.Put(ctx, key, rc, info.Size)
	return err
}

func (b *Bucket) rename(from, to string) error {
	f, err := name(from)
	if err != nil {
		return err
	}
	t, err := name(to)
	if err != nil {
		return err
	}
	if err := b.root.MkdirAll(parentDir(t), 0o755); err != nil {
		return fmt.Errorf("storageos: %w", err)
	}
	if err := b.root.Rename(f, t); err != nil {
		return fmt.Errorf("storageos: %w", err)
	}
	b.state.changed(from)
	b.state.changed(to)
	return nil
}

// remove removes one file; a missing one is not an error.
func (b *Bucket) remove(key string) error {
	n, err := name(key)
	if err != nil {
		return err
	}
	err = b.root.Remove(n)
	b.state.changed(key)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("storageos: %w", err)
	}
	return nil
}

var _ storage.Historian = (*Bucket)(nil)

// Log implements [storage.Historian] by walking the branch's commits from its head, keeping
// those whose files under prefix differ from their parent's.
func (b *Bucket) Log(ctx context.Context, branch, prefix, after string, limit int) ([]storage.Commit, error) {
	if !branchRE.MatchString(branch) {
		return nil, fmt.Errorf("%w %.80q: not a branch name", storage.ErrInvalidVersion, branch)
	}
	limit = min(max(limit, 1), storage.MaxLog)
	id, err := b.head(ctx, branch)
	if err != nil {
		return nil, err
	}
	var out []storage.Commit
	skipping := after != ""
	for id != "" && len(out) < limit {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		c, err := b.commit(ctx, id)
		if err != nil {
			return nil, err
		}
		var parent commitFile
		if c.Parent != "" {
			if parent, err = b.commit(ctx, c.Parent); err != nil {
				return nil, err
			}
		}
		if !skipping && changedUnder(prefix, parent.Files, c.Files) {
			out = append(out, storage.Commit{ID: id, Time: c.Time, Message: c.Message, Metadata: c.Metadata})
		}
		if id == after {
			skipping = false
		}
		id = c.Parent
	}
	if skipping {
		return nil, fmt.Errorf("storageos: commit %.80q on %s: %w", after, branch, storage.ErrNotExist)
	}
	return out, nil
}

// changedUnder reports whether the files under prefix differ between two trees.
func changedUnder(prefix string, old, cur map[string]fileEntry) bool {
	for k, e := range cur {
		if strings.HasPrefix(k, prefix) && old[k] != e {
			return true
		}
	}
	for k := range old {
		if _, ok := cur[k]; !ok && strings.HasPrefix(k, prefix) {
			return true
		}
	}
	return false
}

func (b *Bucket) removeAll(key string) error {
	n, err := name(key)
	if err != nil {
		return err
	}
	err = b.root.RemoveAll(n)
	if !strings.HasPrefix(key, VersionsDir+"/staging/") {
		b.state.changedAll()
	}
	if err != nil {
		return fmt.Errorf("storageos: %w", err)
	}
	return nil
}

func parentDir(p string) string {
	if i := strings.LastIndexAny(p, `/\`); i >= 0 {
		return p[:i]
	}
	return "."
}
