package dispatch

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	invokev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/invoke/v1"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpctest"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// stubRetrieve is a RetrieveService whose behaviour the test sets per method.
type stubRetrieve struct {
	retrievev1.UnimplementedRetrieveServiceServer
	getRecord func(*retrievev1.GetRecordRequest) (*retrievev1.GetRecordResponse, error)
	stream    func(*retrievev1.StreamComponentRequest, retrievev1.RetrieveService_StreamComponentServer) error
}

func (s *stubRetrieve) GetRecord(_ context.Context, r *retrievev1.GetRecordRequest) (*retrievev1.GetRecordResponse, error) {
	return s.getRecord(r)
}

func (s *stubRetrieve) StreamComponent(r *retrievev1.StreamComponentRequest, st retrievev1.RetrieveService_StreamComponentServer) error {
	return s.stream(r, st)
}

func (s *stubRetrieve) PurgeRecord(_ context.Context, r *retrievev1.PurgeRecordRequest) (*retrievev1.PurgeRecordResponse, error) {
	return &retrievev1.PurgeRecordResponse{Purged: r.GetObjectId() == "Q1"}, nil
}

type stubInvoke struct {
	invokev1.UnimplementedInvokeServiceServer
	invoke func(*invokev1.InvokeRequest, invokev1.InvokeService_InvokeServer) error
}

func (s *stubInvoke) ListWorkflows(context.Context, *invokev1.ListWorkflowsRequest) (*invokev1.ListWorkflowsResponse, error) {
	return &invokev1.ListWorkflowsResponse{Workflows: []*invokev1.Workflow{
		{Name: "equation_extraction", InputMediaTypes: []string{"application/pdf", "application/x-tex"}},
		{Name: "csv_stats", InputMediaTypes: []string{"text/csv"}},
	}}, nil
}

func (s *stubInvoke) Invoke(r *invokev1.InvokeRequest, st invokev1.InvokeService_InvokeServer) error {
	return s.invoke(r, st)
}

func newDispatcher(t *testing.T, rs *stubRetrieve, is *stubInvoke) *Dispatcher {
	t.Helper()
	srv := grpc.NewServer()
	retrievev1.RegisterRetrieveServiceServer(srv, rs)
	if is != nil {
		invokev1.RegisterInvokeServiceServer(srv, is)
	}
	cc := grpctest.Serve(t, srv)
	d := &Dispatcher{Retrieve: retrievev1.NewRetrieveServiceClient(cc), ServiceID: "test/svc", Server: "doip-gateway", Version: "t"}
	if is != nil {
		d.Invoke = invokev1.NewInvokeServiceClient(cc)
	}
	return d
}

// recorder is a ResponseWriter that keeps the answer, reading component bodies fully.
type recorder struct {
	resp     *doip.Response
	err      *doip.Error
	bodies   [][]byte
	progress []string
	watched  int // calls of WatchClient
}

func (r *recorder) WatchClient() { r.watched++ }

func (r *recorder) Respond(resp *doip.Response) error {
	r.resp = resp
	read := func(cb doip.ComponentBody) error {
		b, err := io.ReadAll(cb.Body)
		r.bodies = append(r.bodies, b)
		return err
	}
	if resp.Component != nil {
		return read(*resp.Component)
	}
	for _, cbs := range [][]doip.ComponentBody{resp.Elements, invokeDerived(resp)} {
		for _, cb := range cbs {
			if err := read(cb); err != nil {
				return err
			}
		}
	}
	return nil
}

func invokeDerived(resp *doip.Response) []doip.ComponentBody {
	if resp.Invoke == nil {
		return nil
	}
	return resp.Invoke.Derived
}

func (r *recorder) Error(e *doip.Error) error { r.err = e; return nil }
func (r *recorder) Progress(stage, _ string, _ float64) error {
	r.progress = append(r.progress, stage)
	return nil
}

func record(id string) *retrievev1.GetRecordResponse {
	size := int64(600 << 10)
	return &retrievev1.GetRecordResponse{ObjectId: id, RecordJson: []byte(`{"@id":"x/` + id + `"}`), ObjectType: "t/ScholarlyArticle",
		Components: []*retrievev1.Component{{ComponentId: "main-pdf", MediaType: "application/pdf", Filename: "main-pdf.pdf", Size: &size}}}
}

func okRetrieve(content []byte) *stubRetrieve {
	return &stubRetrieve{
		getRecord: func(r *retrievev1.GetRecordRequest) (*retrievev1.GetRecordResponse, error) {
			if r.GetObjectId() != "Q1" {
				return nil, status.Errorf(codes.NotFound, "no object %s", r.GetObjectId())
			}
			return record("Q1"), nil
		},
		stream: func(r *retrievev1.StreamComponentRequest, st retrievev1.RetrieveService_StreamComponentServer) error {
			if !strings.HasSuffix(r.GetComponentId(), "main-pdf") && r.GetComponentId() != "equations.json" {
				return status.Errorf(codes.NotFound, "object Q1 has no component %q", r.GetComponentId())
			}
			if err := st.Send(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Header{Header: &retrievev1.ComponentHeader{
				ComponentId: "main-pdf", MediaType: "application/pdf", Size: int64(len(content)), Filename: "main-pdf.pdf"}}}); err != nil {
				return err
			}
			for rest := content; len(rest) > 0; {
				n := min(len(rest), 256<<10)
				if err := st.Send(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Chunk{Chunk: rest[:n]}}); err != nil {
					return err
				}
				rest = rest[n:]
			}
			return nil
		},
	}
}

func TestHelloAndListOps(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, okRetrieve(nil), &stubInvoke{})
	var r recorder
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpHello})
	if r.err != nil || r.resp.Hello == nil || r.resp.Hello.ServiceID != "test/svc" || len(r.resp.Hello.Workflows) != 2 {
		t.Fatalf("hello = %+v, %v", r.resp, r.err)
	}
	if ops := r.resp.Hello.Operations; ops["purge"] != doip.OpPurge || ops["create"] != doip.OpCreate || ops["update"] != doip.OpUpdate {
		t.Errorf("operations = %v; want purge, and create and update as MaRDI's server announces them", ops)
	}
	r = recorder{}
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpListOps, ObjectID: "Q1"})
	if r.err != nil || strings.Join(r.resp.Operations.Workflows, ",") != "equation_extraction" {
		t.Errorf("per-object workflows = %+v, %v; want only the one that reads PDFs", r.resp, r.err)
	}
}

// Requests that wait on a backend ask the connection to watch for their client leaving
// (so that a client that leaves cancels the backend call); hello and the service's list of
// operations, answered from memory, do not.
func TestWatchAskedOnlyBeforeBackends(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, okRetrieve([]byte("x")), &stubInvoke{invoke: func(*invokev1.InvokeRequest, invokev1.InvokeService_InvokeServer) error {
		return status.Error(codes.NotFound, "no such workflow")
	}})
	for _, tc := range []struct {
		req   doip.Request
		watch bool
	}{
		{doip.Request{Op: doip.OpHello}, false},
		{doip.Request{Op: doip.OpListOps}, false},
		{doip.Request{Op: doip.OpListOps, ObjectID: "test/svc"}, false},
		{doip.Request{Op: doip.OpListOps, ObjectID: "Q1"}, true},
		{doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1"}, true},
		{doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1", Element: "main-pdf"}, true},
		{doip.Request{Op: doip.OpInvoke, ObjectID: "Q1", OperationID: "equation_extraction"}, true},
		{doip.Request{Op: doip.OpSearch, Search: &doip.SearchRequest{Query: "x"}}, true},
	} {
		var r recorder
		d.ServeDOIP(t.Context(), &r, &tc.req)
		if got := r.watched > 0; got != tc.watch || r.watched > 1 {
			t.Errorf("%s %q: WatchClient called %d times; want watching %v", tc.req.Op, tc.req.ObjectID, r.watched, tc.watch)
		}
	}
}

func TestRetrieve(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("0123456789abcdef"), 600<<6) // 600 KiB: three chunks
	d := newDispatcher(t, okRetrieve(content), nil)

	var r recorder
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1"})
	if r.err != nil || string(r.resp.Record.JSON) != `{"@id":"x/Q1"}` || r.resp.Record.Components[0].Size != 600<<10 {
		t.Fatalf("record = %+v, %v", r.resp, r.err)
	}

	r = recorder{}
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1", Element: "doip:bitstream/Q1/main-pdf"})
	if r.err != nil || r.resp.Component.ID != "doip:bitstream/Q1/main-pdf" || r.resp.Component.Size != int64(len(content)) || !bytes.Equal(r.bodies[0], content) {
		t.Fatalf("component: err %v, %d bytes", r.err, len(r.bodies))
	}

	r = recorder{}
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1", IncludeElementData: true})
	if r.err != nil || len(r.resp.Elements) != 1 || !bytes.Equal(r.bodies[0], content) {
		t.Fatalf("includeElementData: err %v, %d elements", r.err, len(r.resp.Elements))
	}

	for _, tc := range []struct {
		req  doip.Request
		kind doip.ErrorKind
	}{
		{doip.Request{Op: doip.OpRetrieve, ObjectID: "Q2"}, doip.KindNotFound},
		{doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1", Element: "nope"}, doip.KindNotFound},
		{doip.Request{Op: doip.OpRetrieve}, doip.KindBadRequest},
		{doip.Request{Op: doip.OpSearch, OperationID: "search"}, doip.KindUnsupported},
		{doip.Request{Op: doip.OpInvoke, ObjectID: "Q1", Workflow: "w"}, doip.KindUnsupported},
	} {
		r = recorder{}
		d.ServeDOIP(t.Context(), &r, &tc.req)
		if r.err == nil || r.err.Kind != tc.kind {
			t.Errorf("%+v: error %v, want %s", tc.req, r.err, tc.kind)
		}
	}
}

// A stream that sends fewer bytes than its header announced is an error, never short data.
func TestShortStreamIsAnError(t *testing.T) {
	t.Parallel()
	rs := okRetrieve(nil)
	rs.stream = func(_ *retrievev1.StreamComponentRequest, st retrievev1.RetrieveService_StreamComponentServer) error {
		_ = st.Send(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Header{Header: &retrievev1.ComponentHeader{Size: 10}}})
		return st.Send(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Chunk{Chunk: []byte("abc")}})
	}
	d := newDispatcher(t, rs, nil)
	var r recorder
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1", Element: "x"})
	if r.resp == nil {
		t.Fatalf("no response started: %v", r.err)
	}
	if len(r.bodies[0]) != 3 {
		t.Errorf("read %d bytes", len(r.bodies[0]))
	}
}

func TestErrorFromStatus(t *testing.T) {
	t.Parallel()
	for code, want := range map[codes.Code]doip.ErrorKind{
		codes.NotFound: doip.KindNotFound, codes.InvalidArgument: doip.KindBadRequest, codes.OutOfRange: doip.KindBadRequest,
		codes.Unavailable: doip.KindUnavailable, codes.DeadlineExceeded: doip.KindUnavailable, codes.Unimplemented: doip.KindUnsupported,
		codes.Unauthenticated: doip.KindUnauthenticated, codes.Internal: doip.KindInternal, codes.Unknown: doip.KindInternal,
		codes.ResourceExhausted: doip.KindLimitExceeded,
	} {
		got := doip.AsError(errorFromStatus(status.Error(code, "secret detail at 10.0.0.1"), "retrieve service"))
		if got.Kind != want {
			t.Errorf("%s → %s, want %s", code, got.Kind, want)
		}
		if want != doip.KindNotFound && want != doip.KindBadRequest && want != doip.KindUnauthenticated && want != doip.KindLimitExceeded && strings.Contains(got.Message, "10.0.0.1") {
			t.Errorf("%s leaks the backend's message: %q", code, got.Message)
		}
	}
}

func TestInvoke(t *testing.T) {
	t.Parallel()
	content := []byte(`[{"n":1}]`)
	is := &stubInvoke{invoke: func(r *invokev1.InvokeRequest, st invokev1.InvokeService_InvokeServer) error {
		if r.GetWorkflow() != "equation_extraction" {
			return status.Errorf(codes.NotFound, "unknown workflow %q", r.GetWorkflow())
		}
		var p map[string]any
		if err := json.Unmarshal(r.GetParamsJson(), &p); err != nil || p["pages"] == nil {
			return status.Error(codes.InvalidArgument, "params lost on the way")
		}
		_ = st.Send(&invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Progress{Progress: &invokev1.Progress{Stage: "extract"}}})
		_ = st.Send(&invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Derived{Derived: &invokev1.DerivedComponent{
			ComponentId: "equations.json", MediaType: "application/json", Size: int64(len(content))}}})
		return st.Send(&invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Result{Result: &invokev1.Result{ResultJson: []byte(`{"workflow":"equation_extraction"}`)}}})
	}}
	d := newDispatcher(t, okRetrieve(content), is)
	var r recorder
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpInvoke, ObjectID: "Q1", Workflow: "equation_extraction", Params: json.RawMessage(`{"pages":[1]}`)})
	if r.err != nil {
		t.Fatal(r.err)
	}
	inv := r.resp.Invoke
	if inv.Derived[0].ID != "doip:bitstream/Q1/equations.json" || !bytes.Equal(r.bodies[0], content) || strings.Join(r.progress, ",") != "extract" {
		t.Errorf("invoke = %+v bodies %q progress %v", inv, r.bodies, r.progress)
	}
	r = recorder{}
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpInvoke, ObjectID: "Q1", Workflow: "nope"})
	if r.err == nil || r.err.Kind != doip.KindUnsupported || !strings.Contains(r.err.Message, "equation_extraction") {
		t.Errorf("unknown workflow: %v, want Unsupported listing the available ones", r.err)
	}
	for _, req := range []doip.Request{
		{Op: doip.OpInvoke, ObjectID: "Q1"},
		{Op: doip.OpInvoke, ObjectID: "Q1", Workflow: "equation_extraction", Params: json.RawMessage(`[1]`)},
	} {
		r = recorder{}
		d.ServeDOIP(t.Context(), &r, &req)
		if r.err == nil {
			t.Errorf("%+v: no error", req)
		}
	}
}

// A worker that answers UNAVAILABLE before it sent anything (refused, or no free run slot)
// is replaced: the invoke is tried again, and gives up after a bounded number of attempts.
func TestInvokeRetriesOnlyRunsThatHadNotBegun(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	failFirst := int32(1)
	is := &stubInvoke{invoke: func(r *invokev1.InvokeRequest, st invokev1.InvokeService_InvokeServer) error {
		if n := calls.Add(1); n <= atomic.LoadInt32(&failFirst) {
			return status.Error(codes.Unavailable, "all run slots of this worker stayed busy")
		}
		_ = st.Send(&invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Progress{Progress: &invokev1.Progress{Stage: "accepted"}}})
		return st.Send(&invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Result{Result: &invokev1.Result{ResultJson: []byte(`{"ok":true}`)}}})
	}}
	d := newDispatcher(t, okRetrieve(nil), is)
	var r recorder
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpInvoke, ObjectID: "Q1", Workflow: "equation_extraction"})
	if r.err != nil || calls.Load() != 2 || string(r.resp.Invoke.Result) != `{"ok":true}` {
		t.Fatalf("after one refusal: err %v, %d calls", r.err, calls.Load())
	}
	calls.Store(0)
	atomic.StoreInt32(&failFirst, 100)
	r = recorder{}
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpInvoke, ObjectID: "Q1", Workflow: "equation_extraction"})
	if r.err == nil || r.err.Kind != doip.KindUnavailable || calls.Load() != maxInvokeAttempts {
		t.Errorf("always refused: err %v after %d calls, want Unavailable after %d", r.err, calls.Load(), maxInvokeAttempts)
	}
}

// Regression (one request kills every worker): a run that failed after the worker sent its
// first message is never handed to another worker, whatever the code; and permanent
// failures are not retried even before a message.
func TestInvokeNeverRetriesABegunRunOrAPermanentFailure(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name      string
		sendFirst bool
		err       error
		kind      doip.ErrorKind
		text      string
	}{
		{"worker died mid-run", true, status.Error(codes.Unavailable, "error reading from server: EOF"), doip.KindUnavailable, "stopped; not retried"},
		{"backend lost mid-run", true, status.Error(codes.Unavailable, "workflow \"x\": retrieve-svc at 10.0.0.7:50051 unavailable"), doip.KindUnavailable, "retrieve-svc at […] unavailable; not retried"},
		{"bad params", false, status.Error(codes.InvalidArgument, "bad params: pages must be a list"), doip.KindBadRequest, "bad params: pages"},
		{"bad source", true, status.Error(codes.InvalidArgument, "bad source main-pdf: not a PDF"), doip.KindBadRequest, "bad source main-pdf"},
		{"budget", true, status.Error(codes.ResourceExhausted, "memory budget of 512 MiB exceeded"), doip.KindLimitExceeded, "memory budget"},
		{"storage full", true, status.Error(codes.Internal, "storage full at /var/data"), doip.KindInternal, "internal error"},
		{"escaping path", false, status.Error(codes.Internal, "path escapes"), doip.KindInternal, "internal error"},
		{"no object", false, status.Error(codes.NotFound, "no object Q1"), doip.KindNotFound, "no object Q1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			is := &stubInvoke{invoke: func(r *invokev1.InvokeRequest, st invokev1.InvokeService_InvokeServer) error {
				calls.Add(1)
				if tc.sendFirst {
					_ = st.Send(&invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Progress{Progress: &invokev1.Progress{Stage: "accepted"}}})
				}
				return tc.err
			}}
			d := newDispatcher(t, okRetrieve(nil), is)
			var r recorder
			d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpInvoke, ObjectID: "Q1", Workflow: "equation_extraction"})
			if calls.Load() != 1 {
				t.Errorf("worker called %d times, want once", calls.Load())
			}
			if r.err == nil || r.err.Kind != tc.kind || !strings.Contains(r.err.Message, tc.text) {
				t.Errorf("answer %v, want %s naming %q", r.err, tc.kind, tc.text)
			}
			if strings.Contains(r.err.Message, "/var/data") || strings.Contains(r.err.Message, "10.0.0.7") {
				t.Errorf("answer leaks a path: %q", r.err.Message)
			}
		})
	}
}

// A worker whose process dies in the middle of a run, over a real TCP connection: the stream
// breaks after the first message; the gateway answers Unavailable and does not call again.
func TestInvokeWorkerConnectionCutMidRun(t *testing.T) {
	t.Parallel()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var calls atomic.Int32
	srv := grpc.NewServer()
	is := &stubInvoke{invoke: func(r *invokev1.InvokeRequest, st invokev1.InvokeService_InvokeServer) error {
		calls.Add(1)
		_ = st.Send(&invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Progress{Progress: &invokev1.Progress{Stage: "accepted"}}})
		<-st.Context().Done()
		return st.Context().Err()
	}}
	invokev1.RegisterInvokeServiceServer(srv, is)
	go func() { _ = srv.Serve(lis) }()
	t.Cleanup(srv.Stop)
	cc, err := grpc.NewClient(lis.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cc.Close() })
	d := newDispatcher(t, okRetrieve(nil), nil)
	d.Invoke = invokev1.NewInvokeServiceClient(cc)
	// Once the first message is here, every connection under the running call is closed, as
	// a kill would.
	r := progressHook{onProgress: func() { go srv.Stop() }}
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpInvoke, ObjectID: "Q1", Workflow: "equation_extraction"})
	if r.err == nil || r.err.Kind != doip.KindUnavailable || !strings.Contains(r.err.Message, "stopped; not retried") || calls.Load() != 1 {
		t.Errorf("answer %v after %d calls; want Unavailable, not retried, after one", r.err, calls.Load())
	}
}

// A client that leaves (its context is cancelled) cancels the worker's call at once and is
// not retried.
func TestInvokeCancelledWithTheClient(t *testing.T) {
	t.Parallel()
	started, ended := make(chan struct{}), make(chan error, 1)
	var calls atomic.Int32
	is := &stubInvoke{invoke: func(r *invokev1.InvokeRequest, st invokev1.InvokeService_InvokeServer) error {
		calls.Add(1)
		close(started)
		<-st.Context().Done()
		ended <- st.Context().Err()
		return status.FromContextError(st.Context().Err()).Err()
	}}
	d := newDispatcher(t, okRetrieve(nil), is)
	ctx, cancel := context.WithCancel(t.Context())
	go func() { <-started; cancel() }()
	var r recorder
	d.ServeDOIP(ctx, &r, &doip.Request{Op: doip.OpInvoke, ObjectID: "Q1", Workflow: "equation_extraction"})
	select {
	case err := <-ended:
		if err == nil {
			t.Error("worker's context ended without an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the worker's call was not cancelled when the client left")
	}
	if calls.Load() != 1 {
		t.Errorf("worker called %d times after the client left, want once", calls.Load())
	}
}

func TestTokensGuardInvokeAndPurge(t *testing.T) {
	t.Parallel()
	is := &stubInvoke{invoke: func(_ *invokev1.InvokeRequest, st invokev1.InvokeService_InvokeServer) error {
		return st.Send(&invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Result{Result: &invokev1.Result{ResultJson: []byte(`{}`)}}})
	}}
	d := newDispatcher(t, okRetrieve(nil), is)
	d.Tokens = NewTokens("s3cret-one", "", "s3cret-two")
	for _, tc := range []struct {
		req  doip.Request
		kind doip.ErrorKind // "" = allowed
	}{
		{doip.Request{Op: doip.OpHello}, ""},
		{doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1"}, ""},
		{doip.Request{Op: doip.OpPurge, ObjectID: "Q1"}, doip.KindUnauthenticated},
		{doip.Request{Op: doip.OpPurge, ObjectID: "Q1", Token: "s3cret-two"}, ""},
		{doip.Request{Op: doip.OpInvoke, ObjectID: "Q1", Workflow: "equation_extraction"}, doip.KindUnauthenticated},
		{doip.Request{Op: doip.OpInvoke, ObjectID: "Q1", Workflow: "equation_extraction", Token: "s3cret-on"}, doip.KindUnauthenticated},
		{doip.Request{Op: doip.OpInvoke, ObjectID: "Q1", Workflow: "equation_extraction", Token: "s3cret-one"}, ""},
	} {
		var r recorder
		d.ServeDOIP(t.Context(), &r, &tc.req)
		switch {
		case tc.kind == "" && r.err != nil:
			t.Errorf("%s with token %q: %v", tc.req.Op, tc.req.Token, r.err)
		case tc.kind != "" && (r.err == nil || r.err.Kind != tc.kind):
			t.Errorf("%s with token %q: %v, want %s", tc.req.Op, tc.req.Token, r.err, tc.kind)
		case r.err != nil && strings.Contains(r.err.Message, "s3cret"):
			t.Errorf("error message repeats a token: %q", r.err.Message)
		}
	}
	if NewTokens().allows("") || NewTokens("").allows("") {
		t.Error("an empty token passed")
	}
}

func TestIDsCheckedBeforeBackends(t *testing.T) {
	t.Parallel()
	d := newDispatcher(t, okRetrieve(nil), nil)
	for _, req := range []doip.Request{
		{Op: doip.OpRetrieve, ObjectID: "Q\xff"},
		{Op: doip.OpRetrieve, ObjectID: "Q1", Element: "a\x00b"},
		{Op: doip.OpRetrieve, ObjectID: "Q1", Element: strings.Repeat("x", MaxIDLen+1)},
		{Op: doip.OpInvoke, ObjectID: "Q1", Workflow: "w\n"},
	} {
		var r recorder
		d.ServeDOIP(t.Context(), &r, &req)
		if r.err == nil || r.err.Kind != doip.KindBadRequest {
			t.Errorf("%q/%q/%q: %v, want BadRequest", req.ObjectID, req.Element, req.Workflow, r.err)
		}
	}
}

// With every backend slot taken, a request waits at most the call timeout and is answered
// Unavailable; hello needs no slot.
func TestBackendSlots(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	started := make(chan struct{}, 1)
	rs := okRetrieve(nil)
	rs.getRecord = func(*retrievev1.GetRecordRequest) (*retrievev1.GetRecordResponse, error) {
		started <- struct{}{}
		<-release
		return record("Q1"), nil
	}
	d := newDispatcher(t, rs, nil)
	d.MaxBackendCalls, d.SlotWait, d.CallTimeout = 1, 100*time.Millisecond, time.Minute
	done := make(chan *doip.Error, 1)
	go func() {
		var r recorder
		d.ServeDOIP(context.Background(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1"})
		done <- r.err
	}()
	<-started
	var r recorder
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1"})
	if r.err == nil || r.err.Kind != doip.KindUnavailable || !strings.Contains(r.err.Message, "busy") {
		t.Errorf("second call with the only slot taken: %v, want Unavailable (busy)", r.err)
	}
	r = recorder{}
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpHello})
	if r.err != nil {
		t.Errorf("hello with every slot taken: %v", r.err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Errorf("first call: %v", err)
	}
	r = recorder{}
	d.ServeDOIP(t.Context(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1"})
	if r.err != nil {
		t.Errorf("after the slot was given back: %v", r.err)
	}
}

// progressHook is a recorder that calls onProgress at the first progress event.
type progressHook struct {
	recorder
	onProgress func()
	once       sync.Once
}

func (p *progressHook) Progress(stage, msg string, f float64) error {
	p.once.Do(p.onProgress)
	return p.recorder.Progress(stage, msg, f)
}
