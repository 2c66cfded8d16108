package backend

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/metadata"

	invokev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/invoke/v1"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/grpctest"
	"github.com/fdo-doip/doip-gateway/shared/logtest"
	"github.com/fdo-doip/doip-gateway/shared/requestid"
	"github.com/fdo-doip/doip-gateway/shared/slogapp"
)

// logBuffer collects the JSON log lines of one process in the test.
type logBuffer struct{ logtest.Buffer }

// ids returns the request_id of every line whose msg is msg.
func (l *logBuffer) ids(t *testing.T, msg string) []string {
	t.Helper()
	var ids []string
	for line := range strings.Lines(l.String()) {
		var rec struct {
			Msg       string `json:"msg"`
			RequestID string `json:"request_id"`
		}
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		if rec.Msg == msg {
			ids = append(ids, rec.RequestID)
		}
	}
	return ids
}

func (l *logBuffer) logger(svc string) *slog.Logger {
	return slogapp.New(l, slog.LevelInfo, slogapp.FormatJSON, svc)
}

// serveBufconn serves srv in memory and returns a connection to it made by [Dial].
func serveBufconn(t *testing.T, srv *grpcapp.Server) *grpc.ClientConn {
	t.Helper()
	lis := grpctest.Listen()
	lis.Serve(t, srv.GRPC)
	cc, err := Dial(grpctest.Target, WithDialOptions(lis.DialOption()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	return cc
}

// retrieveStub logs each call with its context, as retrieve-svc does.
type retrieveStub struct {
	retrievev1.UnimplementedRetrieveServiceServer
	log *slog.Logger
}

func (r *retrieveStub) GetRecord(ctx context.Context, req *retrievev1.GetRecordRequest) (*retrievev1.GetRecordResponse, error) {
	r.log.InfoContext(ctx, "record served", slog.String("object", req.GetObjectId()))
	return &retrievev1.GetRecordResponse{ObjectId: req.GetObjectId()}, nil
}

func (r *retrieveStub) StreamComponent(req *retrievev1.StreamComponentRequest, stream grpc.ServerStreamingServer[retrievev1.StreamComponentResponse]) error {
	r.log.InfoContext(stream.Context(), "component streamed", slog.String("object", req.GetObjectId()))
	return stream.Send(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Chunk{Chunk: []byte("x")}})
}

// invokeStub reads through retrieve with the context of its stream, as invoke-svc's
// workflows do, so the request id must travel on.
type invokeStub struct {
	invokev1.UnimplementedInvokeServiceServer
	log      *slog.Logger
	retrieve retrievev1.RetrieveServiceClient
}

func (s *invokeStub) Invoke(req *invokev1.InvokeRequest, stream grpc.ServerStreamingServer[invokev1.InvokeResponse]) error {
	ctx := stream.Context()
	if _, err := s.retrieve.GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: req.GetObjectId()}); err != nil {
		return err
	}
	cs, err := s.retrieve.StreamComponent(ctx, &retrievev1.StreamComponentRequest{ObjectId: req.GetObjectId()})
	if err != nil {
		return err
	}
	for {
		if _, err := cs.Recv(); err == io.EOF {
			break
		} else if err != nil {
			return err
		}
	}
	s.log.InfoContext(ctx, "invoke done", slog.String("object", req.GetObjectId()))
	return stream.Send(&invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Result{Result: &invokev1.Result{ResultJson: []byte("{}")}}})
}

// TestRequestIDRoundTrip follows request ids from a caller (the gateway) through a service
// (invoke-svc) to the service it calls (retrieve-svc), over real gRPC connections, in the
// logs of all three.
func TestRequestIDRoundTrip(t *testing.T) {
	t.Parallel()
	var gwLogs, invLogs, retLogs logBuffer
	rs := grpcapp.NewServer()
	retrievev1.RegisterRetrieveServiceServer(rs.GRPC, &retrieveStub{log: retLogs.logger("retrieve-svc")})
	retrieveConn := serveBufconn(t, rs)
	is := grpcapp.NewServer()
	invokev1.RegisterInvokeServiceServer(is.GRPC, &invokeStub{log: invLogs.logger("invoke-svc"), retrieve: retrievev1.NewRetrieveServiceClient(retrieveConn)})
	invoke := invokev1.NewInvokeServiceClient(serveBufconn(t, is))
	gw := gwLogs.logger("gateway")

	call := func(ctx context.Context, object string) {
		t.Helper()
		ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		stream, err := invoke.Invoke(ctx, &invokev1.InvokeRequest{ObjectId: object, Workflow: "w"})
		if err != nil {
			t.Fatal(err)
		}
		for {
			if _, err := stream.Recv(); err == io.EOF {
				break
			} else if err != nil {
				t.Fatalf("Invoke(%s): %v", object, err)
			}
		}
		gw.InfoContext(ctx, "request done", slog.String("object", object))
	}

	// 1. The gateway's id reaches both services.
	call(requestid.NewContext(t.Context(), "gw-req-1"), "Q1")
	// 2. No id: invoke-svc makes one, and forwards it.
	call(t.Context(), "Q2")
	// 3. An id unfit for logs, sent by hand: replaced by a fresh one.
	call(metadata.AppendToOutgoingContext(t.Context(), requestid.MetadataKey, "two words"), "Q3")
	// 4. An id already in the outgoing metadata wins over the context's.
	call(metadata.AppendToOutgoingContext(requestid.NewContext(t.Context(), "ctx-id"), requestid.MetadataKey, "md-id"), "Q4")

	gwIDs := gwLogs.ids(t, "request done")
	invIDs := invLogs.ids(t, "invoke done")
	recIDs, streamIDs := retLogs.ids(t, "record served"), retLogs.ids(t, "component streamed")
	if len(gwIDs) != 4 || len(invIDs) != 4 || len(recIDs) != 4 || len(streamIDs) != 4 {
		t.Fatalf("log lines: gateway %q, invoke %q, retrieve %q and %q", gwIDs, invIDs, recIDs, streamIDs)
	}
	want := []string{"gw-req-1", "", "", "md-id"}
	for i := range want {
		if invIDs[i] != recIDs[i] || invIDs[i] != streamIDs[i] {
			t.Errorf("call %d: invoke logged %q, retrieve %q and %q; want one id", i+1, invIDs[i], recIDs[i], streamIDs[i])
		}
		switch {
		case want[i] != "" && invIDs[i] != want[i]:
			t.Errorf("call %d: services logged %q, want %q", i+1, invIDs[i], want[i])
		case want[i] == "" && (len(invIDs[i]) != 16 || strings.Trim(invIDs[i], "0123456789abcdef") != ""):
			t.Errorf("call %d: services logged %q, want a fresh id of 16 hex digits", i+1, invIDs[i])
		}
	}
	if gwIDs[0] != "gw-req-1" || gwIDs[1] != "" || gwIDs[3] != "ctx-id" {
		t.Errorf("gateway logged %q", gwIDs)
	}
	if invIDs[1] == invIDs[2] {
		t.Errorf("two calls without a usable id got the same fresh id %q", invIDs[1])
	}
}
