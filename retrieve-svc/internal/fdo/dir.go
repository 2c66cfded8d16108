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
)

// Dir reads records from JSON files in a folder: {root}/records/{QID}.json, the layout of the
// folder backend when no façade is configured.
type Dir struct {
	root    string
	maxSize int64
}

var _ Source = (*Dir)(nil)

// NewDir returns a source reading {root}/records/{QID}.json.
func NewDir(root string) *Dir {
	return &Dir{root: root, maxSize: DefaultMaxRecordSize}
}

// Record implements [Source]. A missing file gives ErrNotFound; a QID that is not normalised
// ErrBadRequest; a file over the cap ErrTooLarge; other read errors ErrUnavailable.
func (d *Dir) Record(ctx context.Context, qid string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if norm, err := objectid.Normalize(qid); err != nil || norm != qid {
		return nil, fmt.Errorf("%w: %s", ErrBadRequest, objectid.Quote(qid))
	}
	f, err := os.Open(filepath.Join(d.root, "records", qid+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("fdo: record %s: %w", qid, ErrNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("fdo: record %s: %w: %w", qid, ErrUnavailable, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, d.maxSize+1))
	if err != nil {
		return nil, fmt.Errorf("fdo: record %s: %w: %w", qid, ErrUnavailable, err)
	}
	if int64(len(data)) > d.maxSize {
		return nil, fmt.Errorf("fdo: record %s: %w: more than %d bytes", qid, ErrTooLarge, d.maxSize)
	}
	return data, nil
}
