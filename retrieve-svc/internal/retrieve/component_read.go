package retrieve

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"path"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/objectid"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/shared/doipid"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
)

// componentStream is the server side of one StreamComponent call.
type componentStream = grpc.ServerStreamingServer[retrievev1.StreamComponentResponse]

// componentRead is one component read, resolved once by [Server.resolveRead] from a
// StreamComponent request; each of the three ways of answering (from the cache, by handing
// off a presigned URL, by streaming from storage) takes it whole.
type componentRead struct {
	qid       string // the object, normalized
	id        string // the component id; a derived output named by file name is resolved to its full id
	key       string // the storage key of the component's bytes
	cacheKey  string // the key of its bytes in the small-component cache
	version   string // the commit read from; "" for the newest on the branch
	mediaType string
	rng       *retrievev1.ByteRange // the range asked for; nil or empty for the whole component
	direct    bool                  // the caller accepts a presigned URL instead of the bytes

	rb  storage.ReadBucket // where the bytes are read from (a commit's view, with a version)
	log *slog.Logger       // carries the object, the component and the version

	// info is the stored object's size and details, valid when haveInfo is set: derived
	// outputs are stat'ed while resolving; the others when a sender needs the size.
	info     storage.ObjectInfo
	haveInfo bool
}

// resolveRead checks the object id and the component id, fetches the record, finds the
// component in it (or among the stored derived outputs, which are stat'ed then) and chooses
// the bucket of the version asked for.
func (s *Server) resolveRead(ctx context.Context, req *retrievev1.StreamComponentRequest) (*componentRead, error) {
	qid, err := normalize(req.GetObjectId())
	if err != nil {
		return nil, err
	}
	id, err := doipid.ResolveComponentID(qid, req.GetComponentId())
	if err != nil {
		var cErr *doipid.ComponentIDError
		if errors.As(err, &cErr) {
			return nil, status.Errorf(codes.InvalidArgument, "invalid component id %s: %s", doipid.Quote(cErr.ID), cErr.Reason)
		}
		return nil, status.Errorf(codes.InvalidArgument, "invalid component id %s", doipid.Quote(req.GetComponentId()))
	}
	rb, version, err := s.reader(ctx, req.GetVersion())
	if err != nil {
		return nil, err
	}
	rec, _, _, err := s.record(ctx, rb, qid)
	if err != nil {
		return nil, err
	}
	rd := &componentRead{
		qid: qid, id: id, key: objectid.ComponentKey(s.branch, qid, id), version: version,
		rng: req.GetRange(), direct: req.GetAllowDirect(), rb: rb,
		log: s.logger.With(slog.String("object", qid), slog.String("component", id)),
	}
	if version != "" {
		rd.log = rd.log.With(slog.String("version", version))
	}

	if c, ok := rec.Component(id); ok {
		rd.mediaType = c.MediaType
	} else {
		if !doipid.IsDerived(id) {
			// A derived output named by its file name alone: the newest one of that name.
			derived, _, found, err := s.resolveDerived(ctx, rb, qid, id)
			if err != nil {
				return nil, s.storageError(ctx, rd.log, err)
			}
			if !found {
				return nil, status.Errorf(codes.NotFound, "object %s has no component %s", qid, doipid.Quote(id))
			}
			rd.id, rd.key = derived, objectid.ComponentKey(s.branch, qid, derived)
		}
		// Derived outputs are not listed in the record: storage is their authority.
		rd.info, err = rb.Stat(ctx, rd.key)
		if errors.Is(err, storage.ErrNotExist) {
			return nil, status.Errorf(codes.NotFound, "object %s has no component %s", qid, doipid.Quote(rd.id))
		}
		if err != nil {
			return nil, s.storageError(ctx, rd.log, err)
		}
		rd.haveInfo = true
		rd.mediaType = MediaTypeOf(rd.id)
	}

	// Cached bytes are keyed by the commit they come from, so no write can make them stale;
	// without versions, writes drop what they replace.
	rd.cacheKey = rd.key
	if version != "" {
		_, rest := storage.SplitBranch(rd.key)
		rd.cacheKey = version + "/" + rest
	}
	return rd, nil
}

// whole reports whether the whole component is asked for.
func (rd *componentRead) whole() bool {
	return rd.rng == nil || (rd.rng.Start == nil && rd.rng.End == nil)
}

// span is the offset and length of the bytes asked for out of size.
func (rd *componentRead) span(size int64) (offset, n int64, err error) {
	if rd.whole() {
		return 0, size, nil
	}
	return resolveRange(rd.rng, size, rd.qid, rd.id)
}

// stat makes sure rd.info holds the stored object's details.
func (s *Server) stat(ctx context.Context, rd *componentRead) error {
	if rd.haveInfo {
		return nil
	}
	info, err := rd.rb.Stat(ctx, rd.key)
	if err != nil {
		return s.notStoredOr(ctx, rd.log, rd.qid, rd.id, err)
	}
	rd.info, rd.haveInfo = info, true
	return nil
}

// header is the header message of n bytes of the component.
func (rd *componentRead) header(n int64) *retrievev1.ComponentHeader {
	return &retrievev1.ComponentHeader{
		ComponentId: rd.id,
		MediaType:   rd.mediaType,
		Size:        n,
		Filename:    Filename(path.Base(rd.id), rd.mediaType),
		TotalSize:   rd.info.Size,
		Version:     rd.version,
	}
}

// StreamComponent implements [retrievev1.RetrieveServiceServer]. In order: the object id and
// the component id are checked, the record is fetched, the component must be listed in it
// (or be a stored derived output), the range is checked against the stored size, then the
// header and the chunks are sent.
func (s *Server) StreamComponent(req *retrievev1.StreamComponentRequest, stream componentStream) error {
	ctx := stream.Context()
	rd, err := s.resolveRead(ctx, req)
	if err != nil {
		return err
	}
	if data, info, ok := s.blobs.get(rd.cacheKey); ok {
		rd.info = info
		return s.sendFromMemory(stream, rd, data, true)
	}
	if ps, ok := rd.rb.(storage.Presigner); ok && rd.direct && s.presignExpiry > 0 {
		if err := s.stat(ctx, rd); err != nil {
			return err
		}
		if !s.blobs.fits(rd.info.Size) { // small ones are read and cached below instead
			return s.handOff(stream, ps, rd)
		}
	}
	return s.sendStored(stream, rd)
}

// sendStored answers a component stream with bytes read from storage. A whole component
// small enough for the cache is read into it and answered from memory.
func (s *Server) sendStored(stream componentStream, rd *componentRead) error {
	ctx := stream.Context()
	var (
		rc        io.ReadCloser
		offset, n int64
		err       error
	)
	if rd.whole() {
		rc, rd.info, err = rd.rb.Get(ctx, rd.key)
		if err != nil {
			return s.notStoredOr(ctx, rd.log, rd.qid, rd.id, err)
		}
		rd.haveInfo = true
		if s.blobs.fits(rd.info.Size) {
			data, err := io.ReadAll(io.LimitReader(rc, rd.info.Size+1))
			rc.Close()
			if err != nil {
				return s.storageError(ctx, rd.log, err)
			}
			if int64(len(data)) != rd.info.Size {
				return status.Errorf(codes.Internal, "component %s of %s changed while it was read", doipid.Quote(rd.id), rd.qid)
			}
			s.blobs.put(rd.cacheKey, data, rd.info)
			return s.sendFromMemory(stream, rd, data, false)
		}
		n = rd.info.Size
	} else {
		if err := s.stat(ctx, rd); err != nil {
			return err
		}
		if offset, n, err = rd.span(rd.info.Size); err != nil {
			return err
		}
		rc, err = rd.rb.GetRange(ctx, rd.key, offset, n)
		if err != nil {
			return s.notStoredOr(ctx, rd.log, rd.qid, rd.id, err)
		}
	}
	defer rc.Close()
	return s.sendBytes(stream, rd, rc, offset, n)
}

// sendFromMemory answers a component stream from bytes held in memory (the small-component
// cache), honouring a range; rd.info is what the cache holds for them.
func (s *Server) sendFromMemory(stream componentStream, rd *componentRead, data []byte, hit bool) error {
	offset, n, err := rd.span(int64(len(data)))
	if err != nil {
		return err
	}
	return s.sendBytes(stream, rd, bytes.NewReader(data[offset:offset+n]), offset, n, slog.Bool("cache_hit", hit))
}

// sendBytes sends the header and then n bytes of r, the component's bytes from offset on,
// and logs the outcome with attrs added.
func (s *Server) sendBytes(stream componentStream, rd *componentRead, r io.Reader, offset, n int64, attrs ...slog.Attr) error {
	ctx := stream.Context()
	err := stream.Send(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Header{Header: rd.header(n)}})
	if err != nil {
		return err
	}
	sent, err := sendChunks(stream, r, n, s.metrics)
	if err != nil {
		rd.log.WarnContext(ctx, "component stream failed", slog.Int64("sent", sent), slog.Int64("size", n), slog.Any("err", err))
		return toStatus(ctx, err, rd.qid, rd.id, sent, n)
	}
	rd.log.LogAttrs(ctx, slog.LevelInfo, "component streamed", append([]slog.Attr{slog.Int64("offset", offset), slog.Int64("bytes", sent),
		slog.Int64("total_size", rd.info.Size)}, attrs...)...)
	return nil
}

// handOff answers a component stream with a presigned URL instead of the bytes: one stat
// (made by the caller: the object must exist, and its size goes into the header), then the
// header alone.
func (s *Server) handOff(stream componentStream, ps storage.Presigner, rd *componentRead) error {
	ctx := stream.Context()
	offset, n, err := rd.span(rd.info.Size)
	if err != nil {
		return err
	}
	u, err := ps.Presign(ctx, rd.key, s.presignExpiry)
	if err != nil {
		return s.storageError(ctx, rd.log, err)
	}
	h := rd.header(n)
	h.DirectUrl, h.Offset = u, offset
	if err := stream.Send(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Header{Header: h}}); err != nil {
		return err
	}
	rd.log.InfoContext(ctx, "component handed off", slog.Int64("offset", offset), slog.Int64("bytes", n)) // never the URL
	return nil
}
