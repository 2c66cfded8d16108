package storagemem_test

import (
	"testing"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storagemem"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storagetesting"
)

func TestBucket(t *testing.T) {
	t.Parallel()
	storagetesting.RunBucketTests(t, func(*testing.T) storage.Bucket { return storagemem.New() })
}
