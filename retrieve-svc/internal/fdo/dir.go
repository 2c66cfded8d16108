package fdo

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/objectid"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/shared/doipid"
)

// Dir reads records from JSON files in a folder: {root}/records/{QID}.json, the layout of the
// folder backend when no façade is configured, and type records from
// {root}/records/types/{TypeId}.json. Files are opened within root as an [os.Root] opens
// them, so a symbolic link under records/ may point elsewhere inside the data folder but
// never outside it.
type Dir struct {
	root    string
	maxSize int64
}

var (
	_ Source     = (*Dir)(nil)
	_ TypeSource = (*Dir)(nil)
)

// NewDir returns a source reading {root}/records/{QID}.json.
func NewDir(root string) *Dir {
	return &Dir{root: root, maxSize: DefaultMaxRecordSize}
}

// Record implements [Source]. A missing file gives ErrNotFound; a QID that is not normalised
// ErrBadRequest; a file over the cap ErrTooLarge; a link leading out of the data folder, a
// directory or an unreadable file an error that is none of these (an internal failure,
// not retried); other read errors ErrUnavailable.
func (d *Dir) Record(ctx context.Context, qid string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if norm, err := doipid.Normalize(qid); err != nil || norm != qid {
		return nil, fmt.Errorf("%w: %s", ErrBadRequest, doipid.Quote(qid))
	}
	return d.read("record "+qid, filepath.Join("records", qid+".json"))
}

// TypeRecord implements [TypeSource]: {root}/records/types/{typeID}.json, with the errors of
// [Dir.Record].
func (d *Dir) TypeRecord(ctx context.Context, typeID string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if got, ok, err := objectid.TypeID(objectid.TypePrefix + typeID); err != nil || !ok || got != typeID {
		return nil, fmt.Errorf("%w: type %s", ErrBadRequest, doipid.Quote(typeID))
	}
	return d.read("type record "+typeID, filepath.Join("records", "types", typeID+".json"))
}

// read reads one file, named relative to the data folder and opened within it, under the
// size cap; what names it in errors.
func (d *Dir) read(what, name string) ([]byte, error) {
	f, err := os.OpenInRoot(d.root, name)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("fdo: %s: %w", what, ErrNotFound)
	case err != nil && (errors.Is(err, fs.ErrPermission) || storage.IsEscape(err)):
		return nil, fmt.Errorf("fdo: %s: %w", what, err)
	case err != nil:
		return nil, fmt.Errorf("fdo: %s: %w: %w", what, ErrUnavailable, err)
	}
	defer f.Close()
	if fi, err := f.Stat(); err == nil && !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("fdo: %s: %s is not a regular file", what, name)
	}
	data, err := io.ReadAll(io.LimitReader(f, d.maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("fdo: %s: %w: %w", what, ErrUnavailable, err)
	}
	if int64(len(data)) > d.maxSize {
		return nil, fmt.Errorf("fdo: %s: %w: more than %d bytes", what, ErrTooLarge, d.maxSize)
	}
	return data, nil
}
