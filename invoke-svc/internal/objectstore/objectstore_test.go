package objectstore

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpctest"
)

// commitServer records one CommitComponents call and answers as the retrieve service does.
type commitServer struct {
	retrievev1.UnimplementedRetrieveServiceServer
	fail   error
	header *retrievev1.CommitHeader
	files  []*retrievev1.WriteComponentHeader
	data   [][]byte
	chunks int
}

func (s *commitServer) CommitComponents(stream grpc.ClientStreamingServer[retrievev1.CommitComponentsRequest, retrievev1.CommitComponentsResponse]) error {
	resp := &retrievev1.CommitComponentsResponse{Version: "c0ffee"}
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		switch {
		case msg.GetCommit() != nil:
			s.header = msg.GetCommit()
		case msg.GetFile() != nil:
			s.files = append(s.files, msg.GetFile())
			s.data = append(s.data, nil)
			resp.Components = append(resp.Components, &retrievev1.WriteComponentResponse{ComponentId: msg.GetFile().GetPath(), Size: msg.GetFile().GetSize()})
		default:
			s.chunks++
			s.data[len(s.data)-1] = append(s.data[len(s.data)-1], msg.GetChunk()...)
		}
	}
	if s.fail != nil {
		return s.fail
	}
	return stream.SendAndClose(resp)
}

func newStore(t *testing.T, srv *commitServer) *Store {
	t.Helper()
	gs := grpc.NewServer()
	retrievev1.RegisterRetrieveServiceServer(gs, srv)
	return New(retrievev1.NewRetrieveServiceClient(grpctest.Serve(t, gs)))
}

// TestCommit: the header first, then each file's header and its bytes in chunks of at most
// ChunkSize; the answer's version and components come back.
func TestCommit(t *testing.T) {
	t.Parallel()
	srv := &commitServer{}
	big := bytes.Repeat([]byte("x"), 2*ChunkSize+1)
	resp, err := newStore(t, srv).Commit(t.Context(), "Q1", "wf", map[string]string{"k": "v"}, []File{
		{Path: "a.json", MediaType: "application/json", Data: big},
		{Path: "b.json", MediaType: "application/json", Data: nil},
	})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetVersion() != "c0ffee" || len(resp.GetComponents()) != 2 {
		t.Errorf("answer %v", resp)
	}
	if srv.header.GetObjectId() != "Q1" || srv.header.GetWorkflow() != "wf" || srv.header.GetMetadata()["k"] != "v" {
		t.Errorf("commit header %v", srv.header)
	}
	if len(srv.files) != 2 || srv.files[0].GetSize() != int64(len(big)) || !bytes.Equal(srv.data[0], big) || len(srv.data[1]) != 0 || srv.chunks != 3 {
		t.Errorf("files %v, %d chunks", srv.files, srv.chunks)
	}
}

// TestCommitErrors: the retrieve service's refusals are classified for the invoke service.
func TestCommitErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		err  error
		want error
	}{
		{status.Error(codes.InvalidArgument, "bad path"), workflow.ErrBadParams},
		{status.Error(codes.Unavailable, "component storage unavailable"), workflow.ErrUnavailable},
	} {
		_, err := newStore(t, &commitServer{fail: tc.err}).Commit(t.Context(), "Q1", "wf", nil, []File{{Path: "a.json", Data: []byte("{}")}})
		if !errors.Is(err, tc.want) {
			t.Errorf("%v: %v, want %v", tc.err, err, tc.want)
		}
	}
}
