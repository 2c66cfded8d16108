package dispatch

import (
	"context"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	searchv1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/search/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpctest"
)

type stubSearch struct {
	searchv1.UnimplementedSearchServiceServer
	search func(*searchv1.SearchRequest, searchv1.SearchService_SearchServer) error
}

func (s *stubSearch) Search(r *searchv1.SearchRequest, st searchv1.SearchService_SearchServer) error {
	return s.search(r, st)
}

func newSearchDispatcher(t *testing.T, ss *stubSearch) *Dispatcher {
	t.Helper()
	srv := grpc.NewServer()
	retrievev1.RegisterRetrieveServiceServer(srv, okRetrieve(nil))
	searchv1.RegisterSearchServiceServer(srv, ss)
	cc := grpctest.Serve(t, srv)
	return &Dispatcher{Retrieve: retrievev1.NewRetrieveServiceClient(cc), Search: searchv1.NewSearchServiceClient(cc),
		ServiceID: "test/svc", CallTimeout: 5 * time.Second}
}

func sendHits(st searchv1.SearchService_SearchServer, size int64, ids ...string) error {
	if err := st.Send(&searchv1.SearchResponse{Kind: &searchv1.SearchResponse_Header{Header: &searchv1.SearchHeader{Size: size}}}); err != nil {
		return err
	}
	for _, id := range ids {
		hit := &searchv1.SearchHit{ObjectId: id, Title: "t " + id, RecordJson: []byte(`{}`), ObjectType: "T",
			Components: []*searchv1.HitComponent{{ComponentId: "c", MediaType: "text/plain", Filename: "c.txt"}},
			Equation:   &searchv1.EquationMatch{Number: "3", Page: 2, Latex: "x", Overlap: 1}}
		if err := st.Send(&searchv1.SearchResponse{Kind: &searchv1.SearchResponse_Hit{Hit: hit}}); err != nil {
			return err
		}
	}
	return nil
}

// searchRecorder ranges over the hits, as a codec does.
type searchRecorder struct {
	recorder
	hits   []*doip.SearchHit
	hitErr error
}

func (r *searchRecorder) Respond(resp *doip.Response) error {
	r.resp = resp
	if resp.Search != nil {
		for h, err := range resp.Search.Hits {
			if err != nil {
				r.hitErr = err
				return err
			}
			r.hits = append(r.hits, h)
		}
	}
	return nil
}

func TestSearch(t *testing.T) {
	t.Parallel()
	var got *searchv1.SearchRequest
	d := newSearchDispatcher(t, &stubSearch{search: func(r *searchv1.SearchRequest, st searchv1.SearchService_SearchServer) error {
		got = r
		return sendHits(st, 42, "Q1", "Q2")
	}})
	w := &searchRecorder{}
	sr := &doip.SearchRequest{Query: "type:X", PageNum: 2, PageSize: 2, IDsOnly: true, SortFields: []doip.SortField{{Field: "/name", Desc: true}}}
	d.ServeDOIP(t.Context(), w, &doip.Request{Op: doip.OpSearch, ObjectID: "test/svc", Search: sr})
	if w.err != nil {
		t.Fatal(w.err)
	}
	if got.GetQuery() != "type:X" || got.GetPageNum() != 2 || got.GetPageSize() != 2 || !got.GetIdsOnly() ||
		len(got.GetSortFields()) != 1 || !got.GetSortFields()[0].GetDescending() {
		t.Fatalf("search service got %v", got)
	}
	if w.resp.Search.Size != 42 || len(w.hits) != 2 || w.hits[1].ID != "Q2" || w.hits[0].Record == nil ||
		w.hits[0].Record.Components[0].Filename != "c.txt" || w.hits[0].Equation.Number != "3" || w.hits[0].Title != "t Q1" {
		t.Fatalf("answer %+v %+v", w.resp.Search, w.hits)
	}
	// Hello announces search.
	hw := &recorder{}
	d.ServeDOIP(t.Context(), hw, &doip.Request{Op: doip.OpHello})
	if _, ok := hw.resp.Hello.Operations["search"]; !ok {
		t.Fatalf("hello: %v", hw.resp.Hello.Operations)
	}
}

func TestSearchErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		req  *doip.SearchRequest
		stub func(*searchv1.SearchRequest, searchv1.SearchService_SearchServer) error
		kind doip.ErrorKind
		msg  string
	}{
		{"no query", &doip.SearchRequest{}, nil, doip.KindBadRequest, "Missing query"},
		{"no parameters", nil, nil, doip.KindBadRequest, "Missing query"},
		{"invalid from the codec", &doip.SearchRequest{Invalid: doip.Errorf(doip.KindBadRequest, "'limit' must be an integer")}, nil, doip.KindBadRequest, "'limit'"},
		{"query does not parse", &doip.SearchRequest{Query: `"x`}, func(*searchv1.SearchRequest, searchv1.SearchService_SearchServer) error {
			return status.Error(codes.InvalidArgument, "query: the phrase is not closed with \" at offset 0")
		}, doip.KindBadRequest, "not closed"},
		{"time limit", &doip.SearchRequest{Query: "x"}, func(*searchv1.SearchRequest, searchv1.SearchService_SearchServer) error {
			return status.Error(codes.DeadlineExceeded, "the search ran past its time limit")
		}, doip.KindUnavailable, "in time"},
		{"search off", &doip.SearchRequest{Query: "x"}, func(*searchv1.SearchRequest, searchv1.SearchService_SearchServer) error {
			return status.Error(codes.Unimplemented, "no")
		}, doip.KindUnsupported, "search service"},
	} {
		ss := &stubSearch{search: tc.stub}
		if ss.search == nil {
			ss.search = func(*searchv1.SearchRequest, searchv1.SearchService_SearchServer) error {
				t.Errorf("%s: the service was called", tc.name)
				return nil
			}
		}
		d := newSearchDispatcher(t, ss)
		w := &searchRecorder{}
		d.ServeDOIP(t.Context(), w, &doip.Request{Op: doip.OpSearch, Search: tc.req})
		if w.err == nil || w.err.Kind != tc.kind || !strings.Contains(w.err.Message, tc.msg) {
			t.Errorf("%s: %+v, want %s %q", tc.name, w.err, tc.kind, tc.msg)
		}
	}
	// Without a search client, search is unsupported.
	d := &Dispatcher{}
	w := &searchRecorder{}
	if err := d.search(context.Background(), w, &doip.Request{Op: doip.OpSearch, Search: &doip.SearchRequest{Query: "x"}}); doip.AsError(err).Kind != doip.KindUnsupported {
		t.Fatalf("no search client: %v", err)
	}
	// A failure after the header reaches the codec through the hits.
	d = newSearchDispatcher(t, &stubSearch{search: func(_ *searchv1.SearchRequest, st searchv1.SearchService_SearchServer) error {
		sendHits(st, 5, "Q1")
		return status.Error(codes.Unavailable, "gone")
	}})
	w = &searchRecorder{}
	d.ServeDOIP(t.Context(), w, &doip.Request{Op: doip.OpSearch, Search: &doip.SearchRequest{Query: "x"}})
	if w.hitErr == nil || len(w.hits) != 1 {
		t.Fatalf("midway failure: %v %d", w.hitErr, len(w.hits))
	}
}
