package storageos

import (
	"path/filepath"
	"strings"
	"sync"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
)

// folderState is what a process knows of its folder without asking the disk. One process
// owns a folder (its commits are serialised by versionMu, and only this package writes the
// commit log), so three facts that every record read would otherwise look up on disk are
// kept in memory, and forgotten as soon as a write through this package may change them:
//
//   - each branch's head commit id (the file .versions/heads/{branch}, or none);
//   - that a branch without commits has its folder;
//   - the versioned-only keys (records of objects made through the gateway, derived
//     components) that were looked up and were missing: only a commit puts them in place.
//
// A change that another process, or a hand, makes to these files is not seen until the
// process starts again; nothing else is kept (source components are always read from disk).
type folderState struct {
	mu     sync.RWMutex
	gen    uint64              // counts the changes; a lookup caches its answer only if none came between
	heads  map[string]string   // branch → head commit id, "" for none
	dirs   map[string]bool     // branches without commits whose folder exists
	absent map[string]struct{} // versioned-only keys found missing
}

// maxAbsent bounds the missing keys remembered; past it, they are forgotten all at once.
const maxAbsent = 1 << 14

// folders holds the state of every folder this process opened, by absolute path, so that
// two Buckets of one folder see each other's writes.
var folders sync.Map

func stateOf(dir string) *folderState {
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	s, _ := folders.LoadOrStore(filepath.Clean(dir), &folderState{
		heads: map[string]string{}, dirs: map[string]bool{}, absent: map[string]struct{}{},
	})
	return s.(*folderState)
}

// head returns a branch's head commit id when it is known, else the generation to pass to
// setHead with the id read from disk.
func (s *folderState) head(branch string) (id string, ok bool, gen uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	id, ok = s.heads[branch]
	return id, ok, s.gen
}

func (s *folderState) setHead(branch, id string, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == gen {
		s.heads[branch] = id
	}
}

// hasDir reports whether a branch's folder is known to exist, else the generation to pass
// to setDir.
func (s *folderState) hasDir(branch string) (ok bool, gen uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.dirs[branch], s.gen
}

func (s *folderState) setDir(branch string, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen == gen {
		s.dirs[branch] = true
	}
}

// versionedOnlyKey reports whether key exists only as commits write it.
func versionedOnlyKey(key string) bool {
	branch, rest := storage.SplitBranch(key)
	return branch != VersionsDir && versionedOnly(rest)
}

// isAbsent reports whether key is known to be missing, else the generation to pass to
// setAbsent.
func (s *folderState) isAbsent(key string) (absent bool, gen uint64) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	_, absent = s.absent[key]
	return absent, s.gen
}

func (s *folderState) setAbsent(key string, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	if len(s.absent) >= maxAbsent {
		clear(s.absent)
	}
	s.absent[key] = struct{}{}
}

// changed forgets what a write or removal of key may have changed.
func (s *folderState) changed(key string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	delete(s.absent, key)
	if branch, ok := strings.CutPrefix(key, VersionsDir+"/heads/"); ok {
		delete(s.heads, branch)
	}
}

// changedAll forgets everything: a whole folder was removed.
func (s *folderState) changedAll() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gen++
	clear(s.heads)
	clear(s.dirs)
	clear(s.absent)
}
