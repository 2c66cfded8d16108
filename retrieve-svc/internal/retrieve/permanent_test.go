package retrieve

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/fdo"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storagemem"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
)

// brokenBucket fails every write and every read with err.
type brokenBucket struct {
	*storagemem.Bucket
	err error
}

func (b brokenBucket) Put(context.Context, string, io.Reader, int64) (storage.ObjectInfo, error) {
	return storage.ObjectInfo{}, b.err
}

func (b brokenBucket) Stat(context.Context, string) (storage.ObjectInfo, error) {
	return storage.ObjectInfo{}, b.err
}

func (b brokenBucket) Get(context.Context, string) (io.ReadCloser, storage.ObjectInfo, error) {
	return nil, storage.ObjectInfo{}, b.err
}

// fakeWriteStream feeds WriteComponent a fixed list of messages.
type fakeWriteStream struct {
	grpc.ServerStream
	ctx  context.Context
	msgs []*retrievev1.WriteComponentRequest
}

func (s *fakeWriteStream) Context() context.Context { return s.ctx }

func (s *fakeWriteStream) Recv() (*retrievev1.WriteComponentRequest, error) {
	if len(s.msgs) == 0 {
		return nil, io.EOF
	}
	m := s.msgs[0]
	s.msgs = s.msgs[1:]
	return m, nil
}

func (s *fakeWriteStream) SendAndClose(*retrievev1.WriteComponentResponse) error { return nil }

// Regression (a full disk answered as "unavailable", and the workflow run three times):
// storage failures that trying again cannot fix are Internal, naming no path; passing ones
// stay Unavailable.
func TestPermanentStorageFailuresAreInternal(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "records"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "records", "Q123.json"), []byte(recordQ123), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		err  error
		code codes.Code
	}{
		{"disk full", storage.Permanent(&os.PathError{Op: "write", Path: "/srv/data/main/x", Err: syscall.ENOSPC}), codes.Internal},
		{"read-only", storage.Permanent(&os.PathError{Op: "open", Path: "/srv/data/main/x", Err: syscall.EROFS}), codes.Internal},
		{"passing", &os.PathError{Op: "read", Path: "/srv/data/main/x", Err: syscall.EIO}, codes.Unavailable},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := NewServer(fdo.NewCache(fdo.NewDir(dir), time.Hour, 10), brokenBucket{storagemem.New(), tc.err}, "main",
				slog.New(slog.NewTextHandler(t.Output(), nil)))
			err := s.WriteComponent(&fakeWriteStream{ctx: t.Context(), msgs: []*retrievev1.WriteComponentRequest{
				header("Q123", "wf", "out.json", 2), chunk([]byte("{}"))}})
			if status.Code(err) != tc.code || strings.Contains(err.Error(), "/srv/data") {
				t.Errorf("write: %v; want %s naming no path", err, tc.code)
			}
			err = s.StreamComponent(&retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "main-pdf"}, &fakeStream{ctx: t.Context()})
			if status.Code(err) != tc.code || strings.Contains(err.Error(), "/srv/data") {
				t.Errorf("read: %v; want %s naming no path", err, tc.code)
			}
		})
	}
}
