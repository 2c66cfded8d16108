package fdo

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/fdo-doip/doip-gateway/shared/doipid"
)

// List returns the QIDs of the records in the folder ({root}/records/{QID}.json), for a
// rebuild of the search index. Names that are not normalised QIDs are skipped; a missing
// records folder gives none.
func (d *Dir) List(ctx context.Context) ([]string, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(filepath.Join(d.root, "records"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		qid, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		if norm, err := doipid.Normalize(qid); err == nil && norm == qid {
			out = append(out, qid)
		}
	}
	return out, nil
}
