package retrieve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"regexp"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/changes"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/shared/doipid"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/requestid"
)

// Limits of one commit.
const (
	MaxCommitFiles    = 64   // files in one commit
	MaxMetadata       = 32   // metadata entries a caller may give
	MaxMetadataValue  = 1024 // bytes of one metadata value
	MaxCommitMessage  = 1024 // bytes of a commit message
	maxCommitBytesAll = 4 * MaxDerivedSize
)

// metaKey is a metadata key: short, and safe in lakeFS and in logs.
var metaKey = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// reservedMeta are the metadata keys the service sets itself.
var reservedMeta = map[string]bool{"workflow": true, "object": true, "request_id": true}

// commitMessage is the message of a commit that stores derived components.
func commitMessage(qid, workflow, msg string) string {
	if msg != "" {
		return msg
	}
	return fmt.Sprintf("%s: derived components of %s", workflow, qid)
}

// addRequestID records the request id of ctx in meta.
func (s *Server) addRequestID(ctx context.Context, meta map[string]string) {
	if id, ok := requestid.FromContext(ctx); ok {
		meta["request_id"] = id
	}
}

// checkCommitHeader validates a commit header and returns the metadata to record.
func checkCommitHeader(h *retrievev1.CommitHeader, qid string) (map[string]string, error) {
	if err := checkDerivedPath(h.GetWorkflow(), "x"); err != nil {
		return nil, err
	}
	if len(h.GetMessage()) > MaxCommitMessage {
		return nil, fmt.Errorf("commit message of %d bytes: at most %d", len(h.GetMessage()), MaxCommitMessage)
	}
	if len(h.GetMetadata()) > MaxMetadata {
		return nil, fmt.Errorf("%d metadata entries: at most %d", len(h.GetMetadata()), MaxMetadata)
	}
	meta := make(map[string]string, len(h.GetMetadata())+3)
	for k, v := range h.GetMetadata() {
		switch {
		case !metaKey.MatchString(k):
			return nil, fmt.Errorf("metadata key %s: want 1 to 64 letters, digits, '_', '-' or '.'", doipid.Quote(k))
		case reservedMeta[k]:
			return nil, fmt.Errorf("metadata key %s is set by the service", doipid.Quote(k))
		case len(v) > MaxMetadataValue:
			return nil, fmt.Errorf("metadata %s: value of %d bytes, at most %d", k, len(v), MaxMetadataValue)
		}
		meta[k] = v
	}
	meta["workflow"], meta["object"] = h.GetWorkflow(), qid
	return meta, nil
}

// CommitComponents implements [retrievev1.RetrieveServiceServer]. On a bucket with versions
// every file goes into one transaction that is committed when the stream ends cleanly and
// aborted otherwise. On one without, each file is put as it arrives (each one all or
// nothing, the set not), and the answer names no version.
func (s *Server) CommitComponents(stream grpc.ClientStreamingServer[retrievev1.CommitComponentsRequest, retrievev1.CommitComponentsResponse]) error {
	ctx := stream.Context()
	wb, ok := s.bucket.(storage.WriteBucket)
	if !ok {
		return status.Error(codes.Unimplemented, "this storage is read-only")
	}
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return status.Error(codes.InvalidArgument, "no commit header: the first message must be one")
		}
		return err
	}
	h := first.GetCommit()
	if h == nil {
		return status.Error(codes.InvalidArgument, "the first message must be a commit header")
	}
	qid, err := normalize(h.GetObjectId())
	if err != nil {
		return err
	}
	meta, err := checkCommitHeader(h, qid)
	if err != nil {
		return status.Errorf(codes.InvalidArgument, "commit: %v", err)
	}
	s.addRequestID(ctx, meta)
	log := s.logger.With(slog.String("object", qid), slog.String("workflow", h.GetWorkflow()))

	put := wb.Put
	var tx storage.Txn
	if v, ok := s.bucket.(storage.Versioner); ok {
		if tx, err = v.Begin(ctx, s.branch); err != nil {
			return s.storageError(ctx, log, err)
		}
		defer tx.Abort(ctx)
		put = tx.Put
	}

	var (
		resp    retrievev1.CommitComponentsResponse
		keys    []string
		total   int64
		pending *retrievev1.WriteComponentHeader
	)
	recv := func() (*retrievev1.CommitComponentsRequest, error) { return stream.Recv() }
	next, err := recv()
	for {
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if pending = next.GetFile(); pending == nil {
			return status.Error(codes.InvalidArgument, "commit: a file header must come before its bytes")
		}
		if len(resp.Components) == MaxCommitFiles {
			return status.Errorf(codes.InvalidArgument, "commit: more than %d files", MaxCommitFiles)
		}
		fh := pending
		if (fh.GetObjectId() != "" && fh.GetObjectId() != h.GetObjectId() && fh.GetObjectId() != qid) ||
			(fh.GetWorkflow() != "" && fh.GetWorkflow() != h.GetWorkflow()) {
			return status.Errorf(codes.InvalidArgument, "commit: file %s names another object or workflow than the commit", doipid.Quote(fh.GetPath()))
		}
		if err := checkDerivedPath(h.GetWorkflow(), fh.GetPath()); err != nil {
			return status.Errorf(codes.InvalidArgument, "derived component: %v", err)
		}
		size := fh.GetSize()
		if size < 0 || size > MaxDerivedSize {
			return status.Errorf(codes.InvalidArgument, "derived component size %d: want 0 to %d bytes", size, MaxDerivedSize)
		}
		if total += size; total > maxCommitBytesAll {
			return status.Errorf(codes.InvalidArgument, "commit: more than %d bytes in all", int64(maxCommitBytesAll))
		}
		key := s.derivedPrefix(qid) + h.GetWorkflow() + "/" + fh.GetPath()
		if err := storage.ValidateKey(key); err != nil {
			return status.Errorf(codes.InvalidArgument, "derived component path %s is not a valid key", doipid.Quote(fh.GetPath()))
		}
		src := &chunkReader{exact: true, hash: sha256.New(), max: size, recv: func() ([]byte, bool, error) {
			msg, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return nil, false, status.Errorf(codes.InvalidArgument, "derived component %s: the stream ended before its %d bytes", doipid.Quote(fh.GetPath()), size)
			}
			return msg.GetChunk(), msg.GetFile() != nil || msg.GetCommit() != nil, err
		}}
		info, perr := put(ctx, key, src, size)
		if err = perr; err != nil {
			if src.err != nil {
				err = src.err
			}
			log.WarnContext(ctx, "commit not made", slog.String("path", fh.GetPath()), slog.Any("err", err))
			if _, ok := status.FromError(err); ok && !errors.Is(err, context.Canceled) {
				return err
			}
			return s.storageError(ctx, log, err)
		}
		keys = append(keys, key)
		resp.Components = append(resp.Components, &retrievev1.WriteComponentResponse{
			ComponentId: path.Base(fh.GetPath()), StorageKey: key, Size: info.Size, Sha256: hex.EncodeToString(src.hash.Sum(nil)),
		})
		next, err = recv()
	}
	if len(resp.Components) == 0 {
		return status.Error(codes.InvalidArgument, "commit: no files")
	}
	if tx != nil {
		if resp.Version, err = tx.Commit(ctx, commitMessage(qid, h.GetWorkflow(), h.GetMessage()), meta); err != nil {
			log.WarnContext(ctx, "commit not made", slog.Any("err", err))
			return s.storageError(ctx, log, err)
		}
	}
	for i, k := range keys {
		s.blobs.drop(k)
		s.metrics.stored(resp.Components[i].GetSize())
		resp.Components[i].Version = resp.Version
	}
	log.InfoContext(ctx, "derived components committed", slog.Int("files", len(keys)), slog.String("version", resp.Version))
	s.changed(ctx, changes.Change{ObjectID: qid, Version: resp.Version, Components: keys})
	return stream.SendAndClose(&resp)
}
