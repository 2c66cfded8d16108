package search

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	searchv1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/search/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpctest"
)

type backendFunc func(ctx context.Context, req Request) (Page, error)

func (f backendFunc) Search(ctx context.Context, req Request) (Page, error) { return f(ctx, req) }

func client(t *testing.T, b Backend) searchv1.SearchServiceClient {
	t.Helper()
	srv := grpc.NewServer()
	searchv1.RegisterSearchServiceServer(srv, NewServer(b, nil, slog.New(slog.DiscardHandler)))
	return searchv1.NewSearchServiceClient(grpctest.Serve(t, srv))
}

func recvAll(stream searchv1.SearchService_SearchClient) ([]*searchv1.SearchResponse, error) {
	var out []*searchv1.SearchResponse
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		out = append(out, m)
	}
}

func TestServerStreamsHeaderThenHits(t *testing.T) {
	t.Parallel()
	var got Request
	c := client(t, backendFunc(func(_ context.Context, r Request) (Page, error) {
		got = r
		return Page{Total: 9, PageSize: 2, Hits: []Hit{{ObjectID: "Q1", Title: "a"}, {ObjectID: "Q2", Equation: &EquationMatch{Number: "3", Page: 4}}}}, nil
	}))
	stream, err := c.Search(t.Context(), &searchv1.SearchRequest{Query: "q", PageNum: 1, PageSize: 2, ProfileType: "person",
		SortFields: []*searchv1.SortField{{Field: "/name", Descending: true}}})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := recvAll(stream)
	if err != nil || len(msgs) != 3 || msgs[0].GetHeader().GetSize() != 9 || msgs[1].GetHit().GetObjectId() != "Q1" ||
		msgs[2].GetHit().GetEquation().GetNumber() != "3" {
		t.Fatalf("%v %v", msgs, err)
	}
	if got.Query != "q" || got.PageNum != 1 || got.PageSize != 2 || got.ProfileType != "person" || len(got.Sort) != 1 || !got.Sort[0].Desc {
		t.Fatalf("backend got %+v", got)
	}
}

func TestServerErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		code codes.Code
		msg  string
	}{
		{errors.Join(ErrBadQuery, errors.New("query: x at offset 3")), codes.InvalidArgument, "offset 3"},
		{ErrTooBroad, codes.InvalidArgument, "too broad"},
		{ErrPageTooLarge, codes.InvalidArgument, "page too large"},
		{ErrTimeout, codes.DeadlineExceeded, "time limit"},
		{ErrUnavailable, codes.Unavailable, "unavailable"},
		{errors.New("disk on fire at /secret/path"), codes.Internal, "search failed"},
	} {
		c := client(t, backendFunc(func(context.Context, Request) (Page, error) { return Page{}, tc.err }))
		stream, err := c.Search(t.Context(), &searchv1.SearchRequest{Query: "q"})
		if err == nil {
			_, err = recvAll(stream)
		}
		if st := status.Convert(err); st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) || strings.Contains(st.Message(), "/secret") {
			t.Errorf("%v: %v, want %v %q", tc.err, err, tc.code, tc.msg)
		}
	}
	c := client(t, backendFunc(func(context.Context, Request) (Page, error) { return Page{}, nil }))
	for _, req := range []*searchv1.SearchRequest{
		{Query: strings.Repeat("x", MaxQueryBytes+1)},
		{Query: "q", PageNum: -1},
	} {
		stream, err := c.Search(t.Context(), req)
		if err == nil {
			_, err = recvAll(stream)
		}
		if status.Code(err) != codes.InvalidArgument {
			t.Errorf("%.20q: %v", req.GetQuery(), err)
		}
	}
}

// Searches beyond MaxConcurrent wait, then give up with RESOURCE_EXHAUSTED.
func TestServerBoundsConcurrentSearches(t *testing.T) {
	release := make(chan struct{})
	var started sync.WaitGroup
	started.Add(MaxConcurrent)
	c := client(t, backendFunc(func(ctx context.Context, _ Request) (Page, error) {
		started.Done()
		<-release
		return Page{}, nil
	}))
	var done sync.WaitGroup
	for range MaxConcurrent {
		done.Go(func() {
			stream, err := c.Search(context.Background(), &searchv1.SearchRequest{Query: "slow"})
			if err == nil {
				_, _ = recvAll(stream)
			}
		})
	}
	started.Wait()
	t0 := time.Now()
	stream, err := c.Search(t.Context(), &searchv1.SearchRequest{Query: "one more"})
	if err == nil {
		_, err = recvAll(stream)
	}
	if status.Code(err) != codes.ResourceExhausted || time.Since(t0) < QueueWait/2 {
		t.Fatalf("a search over the bound: %v after %v", err, time.Since(t0))
	}
	close(release)
	done.Wait()
}
