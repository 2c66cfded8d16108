// Package retrievesvc_test checks that retrieve-svc's imports point one way, down its
// layers: the storage interface and the leaves; its conformance suite; the storage
// backends; what builds on a backend (lakeFS on S3, records on storage); the gRPC service;
// the set-up of the process; and the command on top.
package retrievesvc_test

import (
	"testing"

	"github.com/fdo-doip/doip-gateway/shared/layertest"
)

func TestImportsFollowLayers(t *testing.T) {
	t.Parallel()
	layertest.Check(t, ".", layertest.Rules{
		Module: "github.com/fdo-doip/doip-gateway/retrieve-svc",
		Shared: "github.com/fdo-doip/doip-gateway/shared",
		Layers: [][]string{
			{"internal/storage", "internal/objectid", "internal/lakefs", "internal/sampledata", "internal/storage/storages3/s3test", "internal/changes"},
			{"internal/storage/storagetesting"},
			{"internal/storage/storageos", "internal/storage/storages3", "internal/storage/storagemem"},
			{"internal/storage/storagelakefs", "internal/fdo"},
			{"internal/retrieve"},
			{"internal/search"},
			{"internal/searchindex", "internal/searchwiki"},
			{"internal/config"},
			{"cmd/..."},
		},
	})
}
