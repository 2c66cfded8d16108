package retrieve

import (
	"context"
	"errors"
	"log/slog"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/shared/doipid"
)

// reader returns the bucket to read at version, and the commit id that version names. On a
// bucket without versions, only the empty version is accepted, and the commit id is empty;
// on one with versions, the empty version means the configured branch.
func (s *Server) reader(ctx context.Context, version string) (storage.ReadBucket, string, error) {
	v, ok := s.bucket.(storage.Versioner)
	if !ok {
		if version != "" {
			return nil, "", status.Errorf(codes.InvalidArgument, "version %s: this storage keeps no versions", doipid.Quote(version))
		}
		return s.bucket, "", nil
	}
	want := version
	if want == "" {
		want = s.branch
	}
	rb, id, err := v.At(ctx, want)
	switch {
	case err == nil:
		return rb, id, nil
	case errors.Is(err, storage.ErrInvalidVersion):
		return nil, "", status.Errorf(codes.InvalidArgument, "invalid version %s: want a commit id, tag or branch name", doipid.Quote(version))
	case errors.Is(err, storage.ErrNotExist) && version != "":
		return nil, "", status.Errorf(codes.NotFound, "no version %s", doipid.Quote(version))
	case errors.Is(err, storage.ErrNotExist):
		// The configured branch holds nothing yet (an empty folder): read it as it is.
		return s.bucket, "", nil
	}
	return nil, "", s.storageError(ctx, s.logger.With(slog.String("version", want)), err)
}
