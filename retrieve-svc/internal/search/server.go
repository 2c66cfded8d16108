package search

import (
	"context"
	"errors"
	"log/slog"
	"runtime"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/fdo"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/retrieve"
	searchv1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/search/v1"
)

// ServiceName is the full gRPC name of the service, for health checks.
const ServiceName = "doip.search.v1.SearchService"

// MaxQueryBytes bounds a query's text.
const MaxQueryBytes = 4096

// Server implements [searchv1.SearchServiceServer].
type Server struct {
	searchv1.UnimplementedSearchServiceServer
	backend Backend
	records *fdo.Cache // fills full hits; nil: hits carry ids and titles only
	logger  *slog.Logger
	// running holds a token per search in progress: at most MaxConcurrent at once, so that
	// expensive queries cannot take every core from retrieves.
	running chan struct{}
}

// MaxConcurrent bounds the searches one server runs at once; more wait up to QueueWait.
var (
	MaxConcurrent = max(2, runtime.GOMAXPROCS(0))
	QueueWait     = 2 * time.Second
)

var _ searchv1.SearchServiceServer = (*Server)(nil)

// NewServer returns a server answering from backend, with records read through records.
func NewServer(backend Backend, records *fdo.Cache, logger *slog.Logger) *Server {
	return &Server{backend: backend, records: records, logger: logger, running: make(chan struct{}, MaxConcurrent)}
}

// Search implements [searchv1.SearchServiceServer].
func (s *Server) Search(req *searchv1.SearchRequest, stream searchv1.SearchService_SearchServer) error {
	ctx := stream.Context()
	if len(req.GetQuery()) > MaxQueryBytes {
		return status.Errorf(codes.InvalidArgument, "the query is %d bytes, more than %d", len(req.GetQuery()), MaxQueryBytes)
	}
	if !utf8.ValidString(req.GetQuery()) || !utf8.ValidString(req.GetProfileType()) {
		return status.Error(codes.InvalidArgument, "the query is not valid UTF-8")
	}
	if req.GetPageNum() < 0 {
		return status.Errorf(codes.InvalidArgument, "pageNum %d is negative", req.GetPageNum())
	}
	r := Request{Query: req.GetQuery(), PageNum: int(req.GetPageNum()), PageSize: int(req.GetPageSize()), ProfileType: req.GetProfileType()}
	for _, f := range req.GetSortFields() {
		r.Sort = append(r.Sort, SortField{Field: f.GetField(), Desc: f.GetDescending()})
	}
	wait := time.NewTimer(QueueWait)
	defer wait.Stop()
	select {
	case s.running <- struct{}{}:
		defer func() { <-s.running }()
	case <-wait.C:
		return status.Errorf(codes.ResourceExhausted, "%d searches are running; try again shortly", cap(s.running))
	case <-ctx.Done():
		return status.FromContextError(ctx.Err()).Err()
	}
	page, err := s.backend.Search(ctx, r)
	if err != nil {
		return s.statusError(ctx, err)
	}
	if err := stream.Send(&searchv1.SearchResponse{Kind: &searchv1.SearchResponse_Header{Header: &searchv1.SearchHeader{
		Size: page.Total, PageSize: int32(page.PageSize)}}}); err != nil {
		return err
	}
	for _, h := range page.Hits {
		hit := &searchv1.SearchHit{ObjectId: h.ObjectID, ObjectType: h.Type, Title: h.Title, Snippet: h.Snippet,
			Timestamp: h.Timestamp, Score: h.Score}
		if h.Equation != nil {
			hit.Equation = &searchv1.EquationMatch{Number: h.Equation.Number, Page: int32(h.Equation.Page),
				Latex: h.Equation.LaTeX, Overlap: h.Equation.Overlap}
		}
		if !req.GetIdsOnly() && s.records != nil {
			s.fill(ctx, hit)
		}
		if err := stream.Send(&searchv1.SearchResponse{Kind: &searchv1.SearchResponse_Hit{Hit: hit}}); err != nil {
			return err
		}
	}
	s.logger.DebugContext(ctx, "search done", slog.Int64("total", page.Total), slog.Int("hits", len(page.Hits)))
	return nil
}

// fill adds the record of a hit. An object whose record cannot be read (deleted since it was
// indexed, a façade that is down) keeps its id and title only.
func (s *Server) fill(ctx context.Context, hit *searchv1.SearchHit) {
	rec, _, err := s.records.Record(ctx, hit.ObjectId)
	if err != nil {
		s.logger.DebugContext(ctx, "record of a hit not read", slog.String("object", hit.ObjectId), slog.Any("err", err))
		return
	}
	hit.RecordJson = rec.Raw
	hit.ObjectType = rec.ObjectType
	for _, c := range rec.Components {
		hit.Components = append(hit.Components, &searchv1.HitComponent{ComponentId: c.ID, MediaType: c.MediaType,
			Filename: retrieve.Filename(c.ID, c.MediaType)})
	}
}

// statusError maps a backend's error to a gRPC status whose message reaches the client.
func (s *Server) statusError(ctx context.Context, err error) error {
	switch {
	case errors.Is(err, ErrBadQuery), errors.Is(err, ErrTooBroad), errors.Is(err, ErrPageTooLarge):
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, ErrTimeout), errors.Is(err, context.DeadlineExceeded):
		return status.Error(codes.DeadlineExceeded, "the search ran past its time limit; narrow the query")
	case errors.Is(err, context.Canceled):
		return status.FromContextError(err).Err()
	case errors.Is(err, ErrUnavailable):
		s.logger.WarnContext(ctx, "search backend unavailable", slog.Any("err", err))
		return status.Error(codes.Unavailable, "the search backend is unavailable")
	}
	s.logger.ErrorContext(ctx, "search failed", slog.Any("err", err))
	return status.Error(codes.Internal, "search failed")
}
