package retrieve

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"log/slog"
	"path"
	"regexp"
	"strings"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/changes"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/objectid"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/shared/doipid"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// MaxDerivedSize bounds one derived component.
const MaxDerivedSize = 1 << 30

// namePart is one segment of a workflow name or derived path: no dots at the start, so no
// "." or ".." and no hidden files.
var namePart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$`)

// derivedPrefix is the folder of an object's derived components.
func (s *Server) derivedPrefix(qid string) string {
	return objectid.ObjectPrefix(s.branch, qid) + doipid.DerivedDir + "/"
}

// checkDerivedPath validates a workflow name and a relative path below it.
func checkDerivedPath(workflow, p string) error {
	if !namePart.MatchString(workflow) {
		return fmt.Errorf("workflow name %s: want letters, digits, '_', '-' or '.', not first", doipid.Quote(workflow))
	}
	segs := strings.Split(p, "/")
	if p == "" || len(segs) > 4 {
		return fmt.Errorf("path %s: want one to four segments", doipid.Quote(p))
	}
	for _, seg := range segs {
		if !namePart.MatchString(seg) {
			return fmt.Errorf("path %s: segment %s: want letters, digits, '_', '-' or '.', not first", doipid.Quote(p), doipid.Quote(seg))
		}
	}
	return nil
}

// WriteComponent implements [retrievev1.RetrieveServiceServer]: it stores a derived
// component all or nothing, through the bucket's Put, or, on a bucket with versions, as a
// commit of its own.
func (s *Server) WriteComponent(stream grpc.ClientStreamingServer[retrievev1.WriteComponentRequest, retrievev1.WriteComponentResponse]) error {
	ctx := stream.Context()
	wb, ok := s.bucket.(storage.WriteBucket)
	if !ok {
		return status.Error(codes.Unimplemented, "this storage is read-only")
	}
	var tx storage.Txn
	first, err := stream.Recv()
	if err != nil {
		if errors.Is(err, io.EOF) {
			return status.Error(codes.InvalidArgument, "no header: the first message must be a header")
		}
		return err
	}
	h := first.GetHeader()
	if h == nil {
		return status.Error(codes.InvalidArgument, "the first message must be a header")
	}
	qid, err := normalize(h.GetObjectId())
	if err != nil {
		return err
	}
	if err := checkDerivedPath(h.GetWorkflow(), h.GetPath()); err != nil {
		return status.Errorf(codes.InvalidArgument, "derived component: %v", err)
	}
	size := h.GetSize()
	if size < 0 || size > MaxDerivedSize {
		return status.Errorf(codes.InvalidArgument, "derived component size %d: want 0 to %d bytes", size, MaxDerivedSize)
	}
	key := s.derivedPrefix(qid) + h.GetWorkflow() + "/" + h.GetPath()
	if err := storage.ValidateKey(key); err != nil {
		return status.Errorf(codes.InvalidArgument, "derived component path %s is not a valid key", doipid.Quote(h.GetPath()))
	}
	log := s.logger.With(slog.String("object", qid), slog.String("workflow", h.GetWorkflow()), slog.String("path", h.GetPath()))
	src := &chunkReader{recv: func() ([]byte, bool, error) {
		msg, err := stream.Recv()
		return msg.GetChunk(), msg.GetHeader() != nil, err
	}, hash: sha256.New(), max: size}
	put := wb.Put
	if v, ok := s.bucket.(storage.Versioner); ok {
		if tx, err = v.Begin(ctx, s.branch); err != nil {
			return s.storageError(ctx, log, err)
		}
		defer tx.Abort(ctx)
		put = tx.Put
	}
	info, err := put(ctx, key, src, size)
	if err != nil {
		if src.err != nil {
			err = src.err
		}
		log.WarnContext(ctx, "derived component not written", slog.Any("err", err))
		var st interface{ GRPCStatus() *status.Status }
		switch {
		case errors.As(err, &st):
			return err
		case errors.Is(err, storage.ErrSizeMismatch), errors.Is(err, errTooMany):
			return status.Errorf(codes.InvalidArgument, "derived component %s: the header announced %d bytes, %d or more arrived",
				doipid.Quote(h.GetPath()), size, src.n)
		case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
			return status.FromContextError(err).Err()
		case errors.Is(err, storage.ErrPermanent):
			return errStoragePermanent
		}
		return status.Error(codes.Unavailable, "component storage unavailable")
	}
	sum := hex.EncodeToString(src.hash.Sum(nil))
	version := ""
	if tx != nil {
		meta := map[string]string{"workflow": h.GetWorkflow(), "object": qid}
		s.addRequestID(ctx, meta)
		if version, err = tx.Commit(ctx, commitMessage(qid, h.GetWorkflow(), ""), meta); err != nil {
			return s.storageError(ctx, log, err)
		}
	}
	s.metrics.stored(info.Size)
	s.blobs.drop(key) // the cache must not serve what this write replaced
	log.InfoContext(ctx, "derived component written", slog.Int64("bytes", info.Size), slog.String("sha256", sum), slog.String("version", version))
	s.changed(ctx, changes.Change{ObjectID: qid, Version: version, Components: []string{key}})
	return stream.SendAndClose(&retrievev1.WriteComponentResponse{
		ComponentId: path.Base(h.GetPath()),
		StorageKey:  key,
		Size:        info.Size,
		Sha256:      sum,
		Version:     version,
	})
}

var errTooMany = errors.New("more bytes than the header announced")

// chunkReader reads the chunks of an upload stream, hashing them and refusing more than max
// bytes. recv returns the next message's chunk, or reports a header instead. With exact set,
// it ends after max bytes without asking for more (the next message starts another file);
// else it reads to the stream's end. err keeps the stream's own failure, which is reported
// over Put's wrapping.
type chunkReader struct {
	recv   func() (chunk []byte, header bool, err error)
	exact  bool
	hash   hash.Hash
	buf    []byte
	n, max int64
	err    error
}

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.buf) == 0 {
		if c.exact && c.n == c.max {
			return 0, io.EOF
		}
		chunk, header, err := c.recv()
		if errors.Is(err, io.EOF) {
			return 0, io.EOF
		}
		if err != nil {
			c.err = err
			return 0, err
		}
		if header {
			c.err = status.Error(codes.InvalidArgument, "a header arrived before the bytes of the file before it")
			if !c.exact {
				c.err = status.Error(codes.InvalidArgument, "a second header arrived after the first")
			}
			return 0, c.err
		}
		c.buf = chunk
		if c.n += int64(len(c.buf)); c.n > c.max {
			c.err = fmt.Errorf("%w: %d bytes", errTooMany, c.max)
			return 0, c.err
		}
		c.hash.Write(c.buf)
	}
	n := copy(p, c.buf)
	c.buf = c.buf[n:]
	return n, nil
}

// resolveDerived finds a derived component by its file name: the newest
// derived/{workflow}/{file} of the object. It reports false when there is none, or when the
// storage cannot list.
func (s *Server) resolveDerived(ctx context.Context, rb storage.ReadBucket, qid, file string) (string, storage.ObjectInfo, bool, error) {
	l, ok := rb.(storage.Lister)
	if !ok || strings.Contains(file, "/") {
		return "", storage.ObjectInfo{}, false, nil
	}
	prefix := s.derivedPrefix(qid)
	objs, err := l.List(ctx, prefix)
	if err != nil {
		return "", storage.ObjectInfo{}, false, err
	}
	var best storage.ObjectInfo
	found := ""
	for _, o := range objs {
		rest := strings.TrimPrefix(o.Key, prefix)
		wf, name, ok := strings.Cut(rest, "/")
		if !ok || name != file || wf == "" {
			continue
		}
		if found == "" || o.ModTime.After(best.ModTime) {
			found, best = doipid.DerivedDir+"/"+wf+"/"+file, o
		}
	}
	return found, best, found != "", nil
}
