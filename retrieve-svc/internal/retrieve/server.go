// Package retrieve implements doip.retrieve.v1.RetrieveService (proto/doip/retrieve/v1): FDO
// records through an [fdo.Cache], component bytes from a [storage.ReadBucket].
//
// Status messages for NotFound, InvalidArgument and OutOfRange reach DOIP clients verbatim, so
// they name the id or range that was wrong and nothing else: no paths, keys or backend
// addresses. The details go to the logger under "err".
//
// Versions: on a bucket that keeps them ([storage.Versioner]), every read names the commit its
// bytes come from. A request without a version reads the configured branch's last commit
// (objects staged on the branch but not committed are not served); one with a version reads
// that commit, tag or branch. Writes become commits: derived components through WriteComponent and CommitComponents (write.go).
package retrieve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/changes"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/fdo"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/lakefs"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/objectid"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storages3"
	"github.com/fdo-doip/doip-gateway/shared/chunkcodec"
	"github.com/fdo-doip/doip-gateway/shared/doipid"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/mediatype"
)

// ChunkSize is the size of every chunk of a component stream but the last. It bounds what
// a stream whose reader is slow holds here: the chunk being read, and one or two encoded
// chunks waiting for the receiver's flow-control window, each in one 64 KiB buffer of the
// gRPC buffer pool that shared/grpcapp installs.
const ChunkSize = grpcapp.StreamChunkSize

// ServiceName is the full gRPC name of the service, for health checks.
const ServiceName = "doip.retrieve.v1.RetrieveService"

// Server implements [retrievev1.RetrieveServiceServer].
type Server struct {
	retrievev1.UnimplementedRetrieveServiceServer

	records *fdo.Cache
	// types holds type records, keyed by type id; nil: object ids "types/…" are NotFound.
	types   *fdo.Cache
	bucket  storage.ReadBucket
	branch  string
	logger  *slog.Logger
	metrics *Metrics // nil: not counted
	// blobs caches small components; nil: no cache.
	blobs *blobCache
	// presignExpiry > 0 lets callers that allow it fetch component bytes from presigned URLs
	// valid this long, where the bucket can presign.
	presignExpiry time.Duration
	// observer learns of every commit; nil: nobody follows.
	observer changes.Observer
	// writes bounds creates and updates (objects.go).
	writes WriteLimits
	// locks serialise the writes of each object.
	locks objectLocks
	// components are the cached records' components as answered.
	components componentLists
}

var _ retrievev1.RetrieveServiceServer = (*Server)(nil)

// NewServer returns a server that reads records through records and component bytes from
// bucket, below the given branch ("main"). The gRPC server that serves it must be built with
// [chunkcodec.Server]: component chunks are sent as [chunkcodec.Owned].
func NewServer(records *fdo.Cache, bucket storage.ReadBucket, branch string, logger *slog.Logger, opts ...Option) *Server {
	s := &Server{records: records, bucket: bucket, branch: branch, logger: logger, writes: DefaultWriteLimits}
	for _, opt := range opts {
		opt(s)
	}
	return s
}

// GetRecord implements [retrievev1.RetrieveServiceServer]. An object id "types/{TypeId}" (or
// a type's URL) asks for a type record: its object id is "types/{TypeId}", its record the type
// record as served, and it has no components.
func (s *Server) GetRecord(ctx context.Context, req *retrievev1.GetRecordRequest) (*retrievev1.GetRecordResponse, error) {
	if typeID, ok, err := parseTypeID(req.GetObjectId()); ok {
		if err != nil {
			return nil, err
		}
		return s.getTypeRecord(ctx, typeID)
	}
	qid, err := normalize(req.GetObjectId())
	if err != nil {
		return nil, err
	}
	rb, version, err := s.reader(ctx, req.GetVersion())
	if err != nil {
		if req.GetVersion() != "" || ctx.Err() != nil {
			return nil, err
		}
		// Storage is down (logged by reader), the record source is not: the record still,
		// naming no version.
		rb = nil
	}
	rec, local, cached, err := s.record(ctx, rb, qid)
	if err != nil {
		return nil, err
	}
	if local != nil {
		return s.recordResponse(qid, version, local), nil
	}
	if rb == nil {
		rb = s.bucket
	}
	resp := &retrievev1.GetRecordResponse{
		Version:    version,
		ObjectId:   qid,
		RecordJson: rec.Raw,
		ObjectType: rec.ObjectType,
		Cached:     cached,
	}
	if !req.GetWithComponentSizes() {
		resp.Components = s.components.of(qid, rec)
	} else {
		resp.Components = make([]*retrievev1.Component, 0, len(rec.Components))
		for _, c := range rec.Components {
			pc := newComponent(c)
			pc.Size = s.componentSize(ctx, rb, qid, c.ID)
			resp.Components = append(resp.Components, pc)
		}
	}
	if s.logger.Enabled(ctx, slog.LevelDebug) {
		s.logger.DebugContext(ctx, "record served", slog.String("object", qid), slog.Bool("cached", cached),
			slog.Int("components", len(rec.Components)))
	}
	return resp, nil
}

func newComponent(c fdo.Component) *retrievev1.Component {
	return &retrievev1.Component{ComponentId: c.ID, MediaType: c.MediaType, Filename: Filename(c.ID, c.MediaType)}
}

// maxComponentLists bounds the records whose components are kept; past it, they are all
// forgotten at once.
const maxComponentLists = 1024

// componentLists keeps the components of cached records as GetRecord answers them without
// sizes, made once for each fill of the record cache and shared by every answer (nobody
// changes them). A list belongs to the record bytes it was made from: a record fetched
// again has other bytes, and gets a new list. Holding those bytes keeps their address from
// being reused.
type componentLists struct {
	lists sync.Map // normalised QID → *componentList
	n     atomic.Int64
}

type componentList struct {
	raw   *byte // the record's bytes it was made from
	n     int
	comps []*retrievev1.Component
}

// of returns the components of rec, the record of qid from the cache.
func (l *componentLists) of(qid string, rec fdo.Record) []*retrievev1.Component {
	if len(rec.Raw) > 0 {
		if v, ok := l.lists.Load(qid); ok {
			if cl := v.(*componentList); cl.raw == &rec.Raw[0] && cl.n == len(rec.Raw) {
				return cl.comps
			}
		}
	}
	comps := make([]*retrievev1.Component, 0, len(rec.Components))
	for _, c := range rec.Components {
		comps = append(comps, newComponent(c))
	}
	if len(rec.Raw) > 0 {
		if l.n.Add(1) > maxComponentLists {
			l.lists.Clear()
			l.n.Store(0)
		}
		l.lists.Store(qid, &componentList{raw: &rec.Raw[0], n: len(rec.Raw), comps: comps})
	}
	return comps
}

// componentSize returns the stored size of a listed component, or nil when it is not stored,
// its id is not one storage can hold, or storage fails (logged).
func (s *Server) componentSize(ctx context.Context, rb storage.ReadBucket, qid, id string) *int64 {
	short, err := doipid.ResolveComponentID(qid, id)
	if err != nil {
		s.logger.WarnContext(ctx, "record lists an unusable component id", slog.String("object", qid), slog.Any("err", err))
		return nil
	}
	info, err := rb.Stat(ctx, objectid.ComponentKey(s.branch, qid, short))
	if err != nil {
		if !errors.Is(err, storage.ErrNotExist) {
			s.logger.WarnContext(ctx, "component size unknown", slog.String("object", qid),
				slog.String("component", short), slog.Any("err", err))
		}
		return nil
	}
	return proto.Int64(info.Size)
}

// getTypeRecord answers GetRecord for a type record.
func (s *Server) getTypeRecord(ctx context.Context, typeID string) (*retrievev1.GetRecordResponse, error) {
	id := objectid.TypePrefix + typeID
	if s.types == nil {
		return nil, status.Errorf(codes.NotFound, "no object %s: this service serves no type records", id)
	}
	rec, cached, err := s.types.Record(ctx, typeID)
	if err != nil {
		return nil, s.recordError(ctx, id, err)
	}
	s.logger.DebugContext(ctx, "type record served", slog.String("object", id), slog.Bool("cached", cached))
	return &retrievev1.GetRecordResponse{ObjectId: id, RecordJson: rec.Raw, ObjectType: rec.ObjectType, Cached: cached}, nil
}

// parseTypeID maps [objectid.TypeID] to a status error.
func parseTypeID(id string) (string, bool, error) {
	t, ok, err := objectid.TypeID(id)
	if err != nil {
		var idErr *doipid.IDError
		if errors.As(err, &idErr) {
			return "", true, status.Errorf(codes.InvalidArgument, "invalid object id %s: %s", doipid.Quote(id), idErr.Reason)
		}
		return "", true, status.Errorf(codes.InvalidArgument, "invalid object id %s", doipid.Quote(id))
	}
	return t, ok, nil
}

// PurgeRecord implements [retrievev1.RetrieveServiceServer]. Purging "types/{TypeId}" drops
// the cached type record.
func (s *Server) PurgeRecord(ctx context.Context, req *retrievev1.PurgeRecordRequest) (*retrievev1.PurgeRecordResponse, error) {
	if t, ok, err := parseTypeID(req.GetObjectId()); ok {
		if err != nil {
			return nil, err
		}
		purged := s.types != nil && s.types.Purge(t)
		s.logger.InfoContext(ctx, "type record purged", slog.String("object", objectid.TypePrefix+t), slog.Bool("purged", purged))
		return &retrievev1.PurgeRecordResponse{Purged: purged}, nil
	}
	qid, err := normalize(req.GetObjectId())
	if err != nil {
		return nil, err
	}
	purged := s.records.Purge(qid)
	s.logger.InfoContext(ctx, "record purged", slog.String("object", qid), slog.Bool("purged", purged))
	return &retrievev1.PurgeRecordResponse{Purged: purged}, nil
}

// changed tells the observer, if any, of a committed change.
func (s *Server) changed(ctx context.Context, c changes.Change) {
	if s.observer != nil {
		s.observer.Changed(ctx, c)
	}
}

// errShort marks a stored object that ended before the bytes it promised.
var errShort = errors.New("component ended early")

// sendError marks an error from stream.Send, which is returned as it is.
type sendError struct{ err error }

func (e sendError) Error() string { return e.err.Error() }
func (e sendError) Unwrap() error { return e.err }

// sendChunks sends n bytes of r in chunks of ChunkSize, the last one shorter, each read into
// a buffer of chunkcodec.Pool that passes to gRPC with the chunk (see [chunkcodec.Owned]). It stops when the
// stream's context is done. Each chunk sent is counted in m.
func sendChunks(stream grpc.ServerStreamingServer[retrievev1.StreamComponentResponse], r io.Reader, n int64, m *Metrics) (int64, error) {
	ctx := stream.Context()
	var sent int64
	for sent < n {
		if err := ctx.Err(); err != nil {
			return sent, err
		}
		k := min(n-sent, ChunkSize)
		buf := chunkcodec.Pool.Get(int(k))
		if _, err := io.ReadFull(r, *buf); err != nil {
			chunkcodec.Pool.Put(buf)
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return sent, fmt.Errorf("%w: %w", errShort, err)
			}
			return sent, err
		}
		if err := stream.SendMsg(chunkcodec.Owned{Buf: buf, N: int(k)}); err != nil {
			return sent, sendError{err}
		}
		m.sent(k)
		sent += k
	}
	return sent, nil
}

// toStatus turns an error in the middle of a stream into a status.
func toStatus(ctx context.Context, err error, qid, id string, sent, n int64) error {
	var se sendError
	switch {
	case errors.As(err, &se):
		return se.err
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	case errors.Is(err, errShort):
		return status.Errorf(codes.Internal, "component %s of %s ended after %d of %d bytes", doipid.Quote(id), qid, sent, n)
	case errors.Is(err, storage.ErrPermanent):
		return errStoragePermanent
	default:
		return status.Error(codes.Unavailable, "component storage unavailable")
	}
}

// resolveRange turns a DOIP range (inclusive; no start means "the last end bytes"; no end
// means "to the end") into an offset and a length within size bytes.
func resolveRange(r *retrievev1.ByteRange, size int64, qid, id string) (offset, n int64, err error) {
	what := fmt.Sprintf("component %s of %s (%d bytes)", doipid.Quote(id), qid, size)
	switch {
	case r.Start == nil:
		last := r.GetEnd()
		if last <= 0 || last > size {
			return 0, 0, status.Errorf(codes.OutOfRange, "range of the last %d bytes is out of bounds for %s", last, what)
		}
		return size - last, last, nil
	case r.End == nil:
		start := r.GetStart()
		if start < 0 || start >= size {
			return 0, 0, status.Errorf(codes.OutOfRange, "range start %d is out of bounds for %s", start, what)
		}
		return start, size - start, nil
	default:
		start, end := r.GetStart(), r.GetEnd()
		if start < 0 || end < start || end >= size {
			return 0, 0, status.Errorf(codes.OutOfRange, "range %d-%d is out of bounds for %s", start, end, what)
		}
		return start, end - start + 1, nil
	}
}

func normalize(id string) (string, error) {
	qid, err := doipid.Normalize(id)
	if err != nil {
		var idErr *doipid.IDError
		if errors.As(err, &idErr) {
			return "", status.Errorf(codes.InvalidArgument, "invalid object id %s: %s", doipid.Quote(id), idErr.Reason)
		}
		return "", status.Errorf(codes.InvalidArgument, "invalid object id %s", doipid.Quote(id))
	}
	return qid, nil
}

// recordError maps an error of the record source to a status, and logs what the client
// does not see.
func (s *Server) recordError(ctx context.Context, qid string, err error) error {
	log := s.logger.With(slog.String("object", qid), slog.Any("err", err))
	switch {
	case errors.Is(err, fdo.ErrNotFound):
		log.DebugContext(ctx, "no such object")
		return status.Errorf(codes.NotFound, "no object %s", qid)
	case errors.Is(err, fdo.ErrBadRequest):
		log.DebugContext(ctx, "record source rejected the id")
		return status.Errorf(codes.InvalidArgument, "invalid object id %s", doipid.Quote(qid))
	case ctx.Err() != nil:
		return status.FromContextError(ctx.Err()).Err()
	case errors.Is(err, fdo.ErrUnavailable):
		log.WarnContext(ctx, "record source unavailable")
		return status.Error(codes.Unavailable, "record source unavailable")
	case errors.Is(err, fdo.ErrMalformed):
		log.ErrorContext(ctx, "malformed record")
		return status.Errorf(codes.Internal, "record of %s is malformed", qid)
	case errors.Is(err, fdo.ErrTooLarge):
		log.ErrorContext(ctx, "record too large")
		return status.Errorf(codes.Internal, "record of %s is too large", qid)
	default:
		log.ErrorContext(ctx, "record lookup failed")
		return status.Errorf(codes.Internal, "record of %s could not be read", qid)
	}
}

// notStoredOr maps a storage error for a component the record lists.
func (s *Server) notStoredOr(ctx context.Context, log *slog.Logger, qid, id string, err error) error {
	if errors.Is(err, storage.ErrNotExist) {
		log.DebugContext(ctx, "component not stored", slog.Any("err", err))
		return status.Errorf(codes.NotFound, "component %s of %s is not stored", doipid.Quote(id), qid)
	}
	return s.storageError(ctx, log, err)
}

func (s *Server) storageError(ctx context.Context, log *slog.Logger, err error) error {
	if ctx.Err() != nil {
		return status.FromContextError(ctx.Err()).Err()
	}
	log.ErrorContext(ctx, "storage failed", slog.Any("err", err))
	if errors.Is(err, storage.ErrPermanent) {
		return errStoragePermanent
	}
	return status.Error(codes.Unavailable, "component storage unavailable"+StorageCause(err))
}

// StorageCause says in a few words why storage failed, for messages that clients and the
// readiness probe see: rejected credentials (with lakeFS's rule on access key ids when that
// is the reason), else nothing. It never names keys, hosts or secrets.
func StorageCause(err error) string {
	switch {
	case errors.Is(err, storages3.ErrAccessDenied) && strings.Contains(err.Error(), "the S3 gateway rejected the access key id"):
		return fmt.Sprintf(": the S3 gateway rejected this service's access key id (lakeFS wants %d to %d characters)",
			storages3.MinLakeFSKeyLen, storages3.MaxLakeFSKeyLen)
	case errors.Is(err, storages3.ErrAccessDenied):
		return ": the S3 gateway rejected this service's credentials"
	case errors.Is(err, lakefs.ErrUnauthorized):
		return ": the lakeFS API rejected this service's credentials"
	}
	return ""
}

// errStoragePermanent answers a storage failure that trying again cannot fix (a full or
// read-only disk, a link leading out of the data folder): Internal, so nobody retries it.
// The details are in the log, not in the answer.
var errStoragePermanent = status.Error(codes.Internal, "component storage failed permanently (full, not writable, or a path out of the data folder)")

// Filename returns a file name for a component: the id's last segment if it has an
// extension ("fulltext.pdf", "archive.tar.gz"), else the id with an extension from the media
// type ("main-pdf" as application/pdf is "main-pdf.pdf"; unknown types give ".bin").
func Filename(id, mediaType string) string {
	base := path.Base(id)
	if hasExtension(base) {
		return base
	}
	return base + mediatype.Extension(mediaType)
}

// hasExtension reports whether name ends in "." and 1 to 8 letters or digits, after a first
// character that is not the dot.
func hasExtension(name string) bool {
	i := strings.LastIndexByte(name, '.')
	if i <= 0 || len(name)-i-1 < 1 || len(name)-i-1 > 8 {
		return false
	}
	for _, r := range name[i+1:] {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9') {
			return false
		}
	}
	return true
}

// MediaTypeOf guesses the media type of a component the record does not list (a derived
// output) from its extension, else fdo.DefaultMediaType.
func MediaTypeOf(id string) string { return mediatype.ForName(id, fdo.DefaultMediaType) }

// WithTypes serves type records ("types/{TypeId}") from types, a cache keyed by type id (see
// [fdo.NewTypeCache]).
func WithTypes(types *fdo.Cache) Option {
	return func(s *Server) { s.types = types }
}

// WithPresign lets callers that allow it read components straight from storage through
// presigned URLs valid for expiry, where the bucket can presign (S3); 0 turns it off.
func WithPresign(expiry time.Duration) Option {
	return func(s *Server) { s.presignExpiry = expiry }
}

// WithComponentCache keeps components of at most maxItem bytes in memory for ttl, up to
// maxBytes in all; any zero bound turns the cache off.
func WithComponentCache(maxBytes, maxItem int64, ttl time.Duration) Option {
	return func(s *Server) { s.blobs = newBlobCache(maxBytes, maxItem, ttl) }
}
