// Package sampledata embeds the sample FDOs that retrieve-svc writes into the folder
// backend's root on first start, so that a new installation can retrieve real objects
// without a façade or lakeFS.
//
// The embedded tree is laid out exactly as the folder backend expects below its root
// (the key layout of package storage): records at records/{QID}.json and component bytes at
// main/{pp}/{qq}/{rr}/{QID}/components/{componentId}. It holds a ScholarlyArticle (Q123: a
// three-page LaTeX paper as main-pdf and source.tex), a Dataset (Q456: data.csv) and a
// Person without components (Q6190920). objects/README.md describes them; src/ holds the
// paper's source and the script that regenerates the PDF and the CSV, which is never run at
// build or test time.
package sampledata

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

//go:embed all:objects
var objects embed.FS

// readme is the one embedded file that describes the objects rather than being one.
const readme = "README.md"

const (
	fileMode = 0o644
	dirMode  = 0o755
)

// FS returns the embedded objects as a file system rooted at the objects folder. Paths are
// storage keys and record paths (records/Q123.json, main/00/01/23/Q123/components/main-pdf);
// the file system also holds README.md.
func FS() fs.FS {
	sub, err := fs.Sub(objects, "objects")
	if err != nil {
		// fs.Sub fails only for an invalid directory name, and "objects" is valid.
		panic("sampledata: " + err.Error())
	}
	return sub
}

// Seed writes the embedded sample objects below root, creating folders as needed and
// skipping files that already exist. It returns how many files it wrote.
//
// Each file is written to a temporary file in its destination folder and renamed into
// place, so a reader never sees a partial file. Files get mode 0o644 and folders 0o755
// (before the umask). README.md is not written. Two processes seeding the same root at once
// may both write a file; since they write the same bytes, the result is the same.
func Seed(root string) (int, error) {
	src := FS()
	written := 0
	err := fs.WalkDir(src, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() || name == readme {
			return nil
		}
		dst := filepath.Join(root, filepath.FromSlash(name))
		wrote, err := seedFile(src, name, dst)
		if err != nil {
			return err
		}
		if wrote {
			written++
		}
		return nil
	})
	return written, err
}

// seedFile copies the embedded file name to dst unless dst exists. It reports whether it
// wrote the file.
func seedFile(src fs.FS, name, dst string) (bool, error) {
	if _, err := os.Lstat(dst); err == nil {
		return false, nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("sampledata: %w", err)
	}
	data, err := fs.ReadFile(src, name)
	if err != nil {
		return false, fmt.Errorf("sampledata: read embedded %s: %w", name, err)
	}
	if err := writeFileAtomic(dst, data); err != nil {
		return false, fmt.Errorf("sampledata: write %s: %w", dst, err)
	}
	return true, nil
}

// writeFileAtomic writes data to a temporary file next to dst and renames it to dst.
func writeFileAtomic(dst string, data []byte) (err error) {
	dir := filepath.Dir(dst)
	if err := os.MkdirAll(dir, dirMode); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, "."+filepath.Base(dst)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(data); err != nil {
		return err
	}
	if err := f.Chmod(fileMode); err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}
