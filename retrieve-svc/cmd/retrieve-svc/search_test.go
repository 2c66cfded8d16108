package main

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/search"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	searchv1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/search/v1"
)

// searchAll runs a search and returns its header and hits.
func searchAll(ctx context.Context, conn *grpc.ClientConn, req *searchv1.SearchRequest) (*searchv1.SearchHeader, []*searchv1.SearchHit, error) {
	stream, err := searchv1.NewSearchServiceClient(conn).Search(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	var (
		head *searchv1.SearchHeader
		hits []*searchv1.SearchHit
	)
	for {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return head, hits, nil
		}
		if err != nil {
			return head, hits, err
		}
		if h := m.GetHeader(); h != nil {
			head = h
		} else {
			hits = append(hits, m.GetHit())
		}
	}
}

// eventually retries a search until it has want hits.
func eventually(t *testing.T, conn *grpc.ClientConn, req *searchv1.SearchRequest, want int) []*searchv1.SearchHit {
	t.Helper()
	var (
		hits []*searchv1.SearchHit
		err  error
	)
	for range 300 {
		if _, hits, err = searchAll(t.Context(), conn, req); err == nil && len(hits) == want {
			return hits
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("search %q: %d hits, %v; want %d", req.GetQuery(), len(hits), err, want)
	return nil
}

func TestSearchService(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := start(t, []string{"--data-dir", filepath.Join(dir, "data"), "--search-max-page-size", "20"}, env())
	ctx := t.Context()
	resp, err := healthpb.NewHealthClient(s.conn).Check(ctx, &healthpb.HealthCheckRequest{Service: search.ServiceName})
	if err != nil || resp.GetStatus() != healthpb.HealthCheckResponse_SERVING {
		t.Fatalf("health of the search service: %v, %v", resp, err)
	}

	// The sample objects are indexed on first start.
	hits := eventually(t, s.conn, &searchv1.SearchRequest{Query: `title:"composite trapezoidal rule"`}, 1)
	if h := hits[0]; h.GetObjectId() != "Q123" || len(h.GetRecordJson()) == 0 || h.GetObjectType() == "" || len(h.GetComponents()) == 0 {
		t.Fatalf("full hit: %v", h)
	}
	_, hits, err = searchAll(ctx, s.conn, &searchv1.SearchRequest{Query: "type:ScholarlyArticle", IdsOnly: true})
	if err != nil || len(hits) == 0 || hits[0].GetRecordJson() != nil {
		t.Fatalf("ids only: %v %v", hits, err)
	}

	// A derived equations.json is indexed once it is written.
	eqs := `{"schemaVersion":1,"equations":[{"number":"4","page":2,"latex":"\\int_0^1 x^2\\,dx = \\frac{1}{3}"}]}`
	w, err := retrievev1.NewRetrieveServiceClient(s.conn).WriteComponent(ctx)
	if err != nil {
		t.Fatal(err)
	}
	w.Send(&retrievev1.WriteComponentRequest{Msg: &retrievev1.WriteComponentRequest_Header{Header: &retrievev1.WriteComponentHeader{
		ObjectId: "Q123", Workflow: "equation_extraction", Path: "equations.json", MediaType: "application/json", Size: int64(len(eqs))}}})
	w.Send(&retrievev1.WriteComponentRequest{Msg: &retrievev1.WriteComponentRequest_Chunk{Chunk: []byte(eqs)}})
	if _, err := w.CloseAndRecv(); err != nil {
		t.Fatal(err)
	}
	hits = eventually(t, s.conn, &searchv1.SearchRequest{Query: `formula:"\int_0^1 x^2 dx"`}, 1)
	if eq := hits[0].GetEquation(); hits[0].GetObjectId() != "Q123" || eq.GetNumber() != "4" || eq.GetPage() != 2 {
		t.Fatalf("formula hit: %v", hits[0])
	}

	for _, tc := range []struct {
		req  *searchv1.SearchRequest
		code codes.Code
		msg  string
	}{
		{&searchv1.SearchRequest{Query: `title:"open`}, codes.InvalidArgument, "not closed"},
		{&searchv1.SearchRequest{Query: `*`}, codes.InvalidArgument, "scan the whole index"},
		{&searchv1.SearchRequest{Query: `a`, PageSize: 21}, codes.InvalidArgument, "more than 20"},
		{&searchv1.SearchRequest{Query: strings.Repeat("a", 5000)}, codes.InvalidArgument, "more than 4096"},
		{&searchv1.SearchRequest{Query: "a", PageNum: -1}, codes.InvalidArgument, "negative"},
	} {
		_, _, err := searchAll(ctx, s.conn, tc.req)
		if st := status.Convert(err); st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
			t.Errorf("%.30q: %v, want %v %q", tc.req.GetQuery(), err, tc.code, tc.msg)
		}
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}

	// reindex rebuilds the index from storage, the derived equations included.
	if err := run(ctx, []string{"reindex", "--data-dir", filepath.Join(dir, "data"), "--log-format", "text"}, env(), t.Output()); err != nil {
		t.Fatalf("reindex: %v", err)
	}
	s = start(t, []string{"--data-dir", filepath.Join(dir, "data")}, env())
	eventually(t, s.conn, &searchv1.SearchRequest{Query: `formula:"x^2 dx = \frac13"`}, 1)
}

func TestReindexNeedsTheIndex(t *testing.T) {
	t.Parallel()
	err := run(t.Context(), []string{"reindex", "--data-dir", t.TempDir(), "--search", "off"}, env(), io.Discard)
	if err == nil || !strings.Contains(err.Error(), "not the embedded index") {
		t.Fatalf("reindex with search off: %v", err)
	}
}

// With --search mediawiki, the search service answers from the wiki's search API.
func TestSearchServiceMediaWiki(t *testing.T) {
	t.Parallel()
	var asked []string
	var mu sync.Mutex
	wiki := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		asked = append(asked, r.URL.Query().Get("srsearch"))
		mu.Unlock()
		io.WriteString(w, `{"batchcomplete":"","query":{"searchinfo":{"totalhits":1},"search":[{"ns":120,"title":"Item:Q4711","pageid":7,"snippet":"<span class=\"searchmatch\">Conrad</span> Zuse","timestamp":"2026-01-02T03:04:05Z"}]}}`)
	}))
	t.Cleanup(wiki.Close)
	s := start(t, []string{"--data-dir", t.TempDir(), "--search", "mediawiki", "--mediawiki-api", wiki.URL + "/w/api.php"}, env())
	head, hits, err := searchAll(t.Context(), s.conn, &searchv1.SearchRequest{Query: "Conrad", ProfileType: "person", PageSize: 5, IdsOnly: true})
	if err != nil || head.GetSize() != 1 || len(hits) != 1 || hits[0].GetObjectId() != "Q4711" || hits[0].GetSnippet() != "Conrad Zuse" {
		t.Fatalf("%v %v %v", head, hits, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(asked) != 1 || asked[0] != "haswbfacet:P1460=Q5976445 Conrad" {
		t.Fatalf("asked the wiki %q", asked)
	}
}

// An index folder that cannot be made does not stop the service: searches are UNAVAILABLE,
// everything else works. reindex, though, fails.
func TestSearchIndexUnusable(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	blocker := filepath.Join(dir, "file")
	if err := os.WriteFile(blocker, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	s := start(t, []string{"--data-dir", filepath.Join(dir, "data"), "--search-index-dir", filepath.Join(blocker, "index")}, env())
	_, _, err := searchAll(t.Context(), s.conn, &searchv1.SearchRequest{Query: "x"})
	if status.Code(err) != codes.Unavailable {
		t.Fatalf("search on an unusable index: %v", err)
	}
	if _, err := retrievev1.NewRetrieveServiceClient(s.conn).GetRecord(t.Context(), &retrievev1.GetRecordRequest{ObjectId: "Q123"}); err != nil {
		t.Fatalf("retrieve beside an unusable index: %v", err)
	}
	err = run(t.Context(), []string{"reindex", "--data-dir", filepath.Join(dir, "data"), "--search-index-dir", filepath.Join(blocker, "index")}, env(), io.Discard)
	if err == nil {
		t.Fatal("reindex into an unusable folder succeeded")
	}
}
