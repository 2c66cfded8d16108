package invoke_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/invoke"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow/echo"
	invokev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/invoke/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpctest"
	"github.com/fdo-doip/doip-gateway/shared/logtest"
)

// stub is a runner whose Run is a function field.
type stub struct {
	name       string
	mediaTypes []string
	RunF       func(ctx context.Context, in workflow.Input, emit workflow.Emitter) (json.RawMessage, error)
}

func (s stub) Name() string              { return s.name }
func (s stub) Description() string       { return "stub " + s.name }
func (s stub) InputMediaTypes() []string { return s.mediaTypes }
func (s stub) Run(ctx context.Context, in workflow.Input, emit workflow.Emitter) (json.RawMessage, error) {
	return s.RunF(ctx, in, emit)
}

// returning is a stub that returns result and err without emitting.
func returning(name string, result string, err error) stub {
	return stub{name: name, RunF: func(context.Context, workflow.Input, workflow.Emitter) (json.RawMessage, error) {
		if result == "" {
			return nil, err
		}
		return json.RawMessage(result), err
	}}
}

// panicking is a stub whose Run panics.
func panicking(name string) stub {
	return stub{name: name, RunF: func(context.Context, workflow.Input, workflow.Emitter) (json.RawMessage, error) {
		panic("runner bug")
	}}
}

// blocker is a runner that reports when it starts, then waits for a release (or for its
// context to end), and counts how many of its runs overlap.
type blocker struct {
	started chan string   // receives the object id of each run that starts
	release chan struct{} // each receive lets one run finish
	stopped chan error    // receives ctx.Err() of each run that ends by cancellation

	running, maxRunning atomic.Int64
}

func newBlocker() *blocker {
	return &blocker{
		started: make(chan string, 16),
		release: make(chan struct{}),
		stopped: make(chan error, 16),
	}
}

func (b *blocker) runner() stub {
	return stub{name: "block", RunF: func(ctx context.Context, in workflow.Input, _ workflow.Emitter) (json.RawMessage, error) {
		n := b.running.Add(1)
		defer b.running.Add(-1)
		for {
			m := b.maxRunning.Load()
			if n <= m || b.maxRunning.CompareAndSwap(m, n) {
				break
			}
		}
		b.started <- in.ObjectID
		select {
		case <-b.release:
			return json.RawMessage(fmt.Sprintf(`{"object":%q}`, in.ObjectID)), nil
		case <-ctx.Done():
			b.stopped <- ctx.Err()
			return nil, ctx.Err()
		}
	}}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newServer(t *testing.T, maxConcurrent int, runners ...workflow.Runner) *invoke.Server {
	t.Helper()
	reg, err := workflow.NewRegistry(runners...)
	if err != nil {
		t.Fatalf("NewRegistry: %v", err)
	}
	return invoke.NewServer(reg, maxConcurrent, testLogger(t))
}

// serve serves srv over an in-memory connection and returns a client for it. The server
// stops, waiting for its handlers, when the test ends.
func serve(t *testing.T, srv *invoke.Server) invokev1.InvokeServiceClient {
	t.Helper()
	gs := grpc.NewServer(grpc.WaitForHandlers(true))
	invokev1.RegisterInvokeServiceServer(gs, srv)
	return invokev1.NewInvokeServiceClient(grpctest.Serve(t, gs))
}

// collect invokes and reads the whole stream: the messages, then the status that ended it
// (nil after a clean end).
func collect(ctx context.Context, t *testing.T, c invokev1.InvokeServiceClient, req *invokev1.InvokeRequest) ([]*invokev1.InvokeResponse, error) {
	t.Helper()
	stream, err := c.Invoke(ctx, req)
	if err != nil {
		return nil, err
	}
	return drain(stream)
}

// drain reads a stream to its end. The "accepted" event that opens every admitted run is
// checked and left out of the messages returned.
func drain(stream grpc.ServerStreamingClient[invokev1.InvokeResponse]) ([]*invokev1.InvokeResponse, error) {
	var msgs []*invokev1.InvokeResponse
	for first := true; ; first = false {
		m, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return msgs, nil
		}
		if err != nil {
			return msgs, err
		}
		if first && isAccepted(m) {
			continue
		}
		if isAccepted(m) {
			return msgs, fmt.Errorf("an accepted event after %d other messages", len(msgs))
		}
		msgs = append(msgs, m)
	}
}

func isAccepted(m *invokev1.InvokeResponse) bool {
	return m.GetProgress() != nil && m.GetProgress().GetStage() == invoke.StageAccepted
}

// startedStream opens an invoke stream and reads its first message, which must be the
// "accepted" event.
func startedStream(ctx context.Context, t *testing.T, c invokev1.InvokeServiceClient, req *invokev1.InvokeRequest) grpc.ServerStreamingClient[invokev1.InvokeResponse] {
	t.Helper()
	stream, err := c.Invoke(ctx, req)
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	if m := recv(t, stream); !isAccepted(m) {
		t.Fatalf("first message = %v, want the accepted event", m)
	}
	return stream
}

func recv(t *testing.T, stream grpc.ServerStreamingClient[invokev1.InvokeResponse]) *invokev1.InvokeResponse {
	t.Helper()
	m, err := stream.Recv()
	if err != nil {
		t.Fatalf("Recv: %v", err)
	}
	return m
}

func resultMsg(json string) *invokev1.InvokeResponse {
	return &invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Result{Result: &invokev1.Result{ResultJson: []byte(json)}}}
}

func progressMsg(stage, message string, fraction float64) *invokev1.InvokeResponse {
	return &invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Progress{
		Progress: &invokev1.Progress{Stage: stage, Message: message, Fraction: fraction},
	}}
}

func TestListWorkflows(t *testing.T) {
	t.Parallel()
	c := serve(t, newServer(t, 1,
		stub{name: "extract", mediaTypes: []string{"application/pdf", "text/x-tex"}},
		echo.New(),
	))
	resp, err := c.ListWorkflows(t.Context(), &invokev1.ListWorkflowsRequest{})
	if err != nil {
		t.Fatalf("ListWorkflows: %v", err)
	}
	want := &invokev1.ListWorkflowsResponse{Workflows: []*invokev1.Workflow{
		{Name: "echo", Description: echo.New().Description()},
		{Name: "extract", Description: "stub extract", InputMediaTypes: []string{"application/pdf", "text/x-tex"}},
	}}
	if !proto.Equal(resp, want) {
		t.Errorf("ListWorkflows =\n %v\nwant\n %v", resp, want)
	}
}

func TestInvokeEcho(t *testing.T) {
	t.Parallel()
	c := serve(t, newServer(t, 1, echo.New()))
	tests := []struct {
		name   string
		params string
		want   string
	}{
		{name: "no params", params: "", want: `{"workflow":"echo","sourceObject":"Q123","params":{}}`},
		{name: "params", params: `{"force": true}`, want: `{"workflow":"echo","sourceObject":"Q123","params":{"force":true}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			msgs, err := collect(t.Context(), t, c, &invokev1.InvokeRequest{ObjectId: "Q123", Workflow: "echo", ParamsJson: []byte(tt.params)})
			if err != nil {
				t.Fatalf("Invoke: %v", err)
			}
			if len(msgs) != 1 || !proto.Equal(msgs[0], resultMsg(tt.want)) {
				t.Errorf("Invoke messages = %v, want only %v", msgs, resultMsg(tt.want))
			}
		})
	}
}

func TestInvokeErrors(t *testing.T) {
	t.Parallel()
	badParams := fmt.Errorf("%w: page must be a number", workflow.ErrBadParams)
	emitThenFail := stub{name: "emit_then_fail", RunF: func(_ context.Context, _ workflow.Input, emit workflow.Emitter) (json.RawMessage, error) {
		if err := emit.Progress("read", "reading", 0.5); err != nil {
			return nil, err
		}
		return nil, errors.New("parser crashed at /secret/path")
	}}
	c := serve(t, newServer(t, 2,
		echo.New(),
		returning("bad_params", "", badParams),
		returning("bad_source", "", fmt.Errorf("%w main-pdf: eqextract: not a readable PDF: no %%PDF- header", workflow.ErrBadSource)),
		returning("over_budget", "", fmt.Errorf("%w: memory budget of 512 MiB", workflow.ErrBudget)),
		returning("storage", "", fmt.Errorf("%w: writing Q1: Internal: disk full at /secret/path", workflow.ErrStorage)),
		returning("retrieve_down", "", fmt.Errorf("%w: reading Q1: connection refused at /secret/path", workflow.ErrUnavailable)),
		returning("no_component", "", fmt.Errorf("%w: object Q1 has no component \"x.pdf\"", workflow.ErrNotFound)),
		returning("fail", "", errors.New("disk full at /secret/path")),
		returning("bad_result", `[1,2]`, nil),
		returning("no_result", "", nil),
		panicking("panic"),
		emitThenFail,
	))
	tests := []struct {
		name     string
		req      *invokev1.InvokeRequest
		code     codes.Code
		msg      []string // substrings of the status message
		msgCount int      // messages received before the error
	}{
		{name: "no object id", req: &invokev1.InvokeRequest{Workflow: "echo"}, code: codes.InvalidArgument, msg: []string{"object_id"}},
		{name: "no workflow", req: &invokev1.InvokeRequest{ObjectId: "Q1"}, code: codes.InvalidArgument, msg: []string{"workflow is empty"}},
		{
			name: "unknown workflow",
			req:  &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "nope"},
			code: codes.NotFound,
			msg:  []string{`unknown workflow "nope"`, "available: bad_params, bad_result, bad_source, echo, emit_then_fail, fail, no_component, no_result, over_budget, panic, retrieve_down, storage"},
		},
		{
			name: "params array",
			req:  &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "echo", ParamsJson: []byte(`[1]`)},
			code: codes.InvalidArgument,
			msg:  []string{"params_json", "must be a JSON object"},
		},
		{
			name: "params broken",
			req:  &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "echo", ParamsJson: []byte(`{"a"`)},
			code: codes.InvalidArgument,
			msg:  []string{"params_json", "not valid JSON"},
		},
		{
			name: "runner rejects params",
			req:  &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "bad_params"},
			code: codes.InvalidArgument,
			msg:  []string{"bad params: page must be a number"},
		},
		{name: "bad source", req: &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "bad_source"}, code: codes.InvalidArgument, msg: []string{"bad source main-pdf: ", "no %PDF- header"}},
		{name: "over budget", req: &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "over_budget"}, code: codes.ResourceExhausted, msg: []string{"budget exceeded: memory budget of 512 MiB"}},
		{name: "storage refuses", req: &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "storage"}, code: codes.Internal, msg: []string{`workflow "storage": storage failed`}},
		{name: "retrieve down", req: &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "retrieve_down"}, code: codes.Unavailable, msg: []string{`workflow "retrieve_down": a backend is unavailable`}},
		{name: "component unknown", req: &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "no_component"}, code: codes.NotFound, msg: []string{`object Q1 has no component "x.pdf"`}},
		{name: "runner fails", req: &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "fail"}, code: codes.Internal, msg: []string{`workflow "fail" failed`}},
		{
			name:     "runner fails after emitting",
			req:      &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "emit_then_fail"},
			code:     codes.Internal,
			msg:      []string{`workflow "emit_then_fail" failed`},
			msgCount: 1,
		},
		{name: "runner panics", req: &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "panic"}, code: codes.Internal, msg: []string{`workflow "panic" failed`}},
		{name: "result not an object", req: &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "bad_result"}, code: codes.Internal, msg: []string{`workflow "bad_result" failed`}},
		{name: "no result", req: &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "no_result"}, code: codes.Internal, msg: []string{`workflow "no_result" failed`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			msgs, err := collect(t.Context(), t, c, tt.req)
			st := status.Convert(err)
			if st.Code() != tt.code {
				t.Fatalf("Invoke status = %v, want code %v", err, tt.code)
			}
			for _, s := range tt.msg {
				if !strings.Contains(st.Message(), s) {
					t.Errorf("status message %q does not contain %q", st.Message(), s)
				}
			}
			if strings.Contains(st.Message(), "secret") {
				t.Errorf("status message %q leaks the runner's error", st.Message())
			}
			if len(msgs) != tt.msgCount {
				t.Errorf("got %d messages before the error, want %d: %v", len(msgs), tt.msgCount, msgs)
			}
		})
	}
}

func TestInvokeFailureDetailsGoToTheLog(t *testing.T) {
	t.Parallel()
	var logs logtest.Buffer
	reg, err := workflow.NewRegistry(returning("fail", "", errors.New("disk full at /secret/path")))
	if err != nil {
		t.Fatal(err)
	}
	c := serve(t, invoke.NewServer(reg, 1, slog.New(slog.NewJSONHandler(io.MultiWriter(&logs, t.Output()), nil))))
	_, err = collect(t.Context(), t, c, &invokev1.InvokeRequest{ObjectId: "Q7", Workflow: "fail"})
	if status.Code(err) != codes.Internal {
		t.Fatalf("Invoke status = %v, want Internal", err)
	}
	// The handler has returned (the client saw its status), so the line is written.
	for _, want := range []string{`"msg":"workflow failed"`, `"workflow":"fail"`, `"object":"Q7"`, `"err":"disk full at /secret/path"`} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("log %s does not contain %s", logs.String(), want)
		}
	}
}

func TestInvokeStreamsAsEmitted(t *testing.T) {
	t.Parallel()
	proceed := make(chan struct{})
	derived := workflow.DerivedComponent{
		ComponentID: "derived/fake/out.json",
		MediaType:   "application/json",
		StorageKey:  "main/00/01/23/Q123/components/derived/fake/out.json",
		SHA256:      strings.Repeat("ab", 32),
		Size:        42,
	}
	fake := stub{name: "fake", RunF: func(ctx context.Context, in workflow.Input, emit workflow.Emitter) (json.RawMessage, error) {
		if err := emit.Progress("read", "reading "+in.ObjectID, 0.25); err != nil {
			return nil, err
		}
		if err := emit.Derived(derived); err != nil {
			return nil, err
		}
		// Go on only once the client holds both messages: they were streamed, not held
		// back until the end.
		select {
		case <-proceed:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		for _, f := range []float64{1.5, -1, math.NaN(), 1} {
			if err := emit.Progress("write", "writing", f); err != nil {
				return nil, err
			}
		}
		return json.RawMessage(`{"workflow":"fake","params":` + string(in.Params) + `}`), nil
	}}
	c := serve(t, newServer(t, 1, fake))
	stream := startedStream(t.Context(), t, c, &invokev1.InvokeRequest{ObjectId: "Q123", Workflow: "fake"})
	if got, want := recv(t, stream), progressMsg("read", "reading Q123", 0.25); !proto.Equal(got, want) {
		t.Errorf("second message = %v, want %v", got, want)
	}
	wantDerived := &invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Derived{Derived: &invokev1.DerivedComponent{
		ComponentId: derived.ComponentID,
		MediaType:   derived.MediaType,
		Size:        derived.Size,
		StorageKey:  derived.StorageKey,
		Sha256:      derived.SHA256,
	}}}
	if got := recv(t, stream); !proto.Equal(got, wantDerived) {
		t.Errorf("third message = %v, want %v", got, wantDerived)
	}
	close(proceed)
	rest, err := drain(stream)
	if err != nil {
		t.Fatalf("stream ended with %v", err)
	}
	want := []*invokev1.InvokeResponse{
		progressMsg("write", "writing", 1), // 1.5 clamped
		progressMsg("write", "writing", 0), // -1 clamped
		progressMsg("write", "writing", 0), // NaN
		progressMsg("write", "writing", 1),
		resultMsg(`{"workflow":"fake","params":{}}`),
	}
	if !slices.EqualFunc(rest, want, func(a, b *invokev1.InvokeResponse) bool { return proto.Equal(a, b) }) {
		t.Errorf("remaining messages =\n %v\nwant\n %v", rest, want)
	}
}

func TestInvokeEmitAfterReturnFails(t *testing.T) {
	t.Parallel()
	leaked := make(chan workflow.Emitter, 1)
	leaky := stub{name: "leaky", RunF: func(_ context.Context, _ workflow.Input, emit workflow.Emitter) (json.RawMessage, error) {
		leaked <- emit
		return json.RawMessage(`{}`), nil
	}}
	c := serve(t, newServer(t, 1, leaky))
	msgs, err := collect(t.Context(), t, c, &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "leaky"})
	if err != nil || len(msgs) != 1 {
		t.Fatalf("Invoke = %v, %v; want one result", msgs, err)
	}
	emit := <-leaked
	if err := emit.Progress("late", "too late", 1); err == nil {
		t.Error("Progress after Run returned: got nil error")
	}
	if err := emit.Derived(workflow.DerivedComponent{ComponentID: "late"}); err == nil {
		t.Error("Derived after Run returned: got nil error")
	}
}

func TestInvokeCancelStopsTheRun(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	c := serve(t, newServer(t, 1, b.runner(), echo.New()))
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stream, err := c.Invoke(ctx, &invokev1.InvokeRequest{ObjectId: "Q1", Workflow: "block"})
	if err != nil {
		t.Fatalf("Invoke: %v", err)
	}
	// The accepted event arrives before the runner has done anything.
	if m := recv(t, stream); !isAccepted(m) {
		t.Fatalf("first message = %v, want the accepted event", m)
	}
	<-b.started
	cancel()
	if _, err := stream.Recv(); status.Code(err) != codes.Canceled {
		t.Errorf("Recv after cancel = %v, want Canceled", err)
	}
	if err := <-b.stopped; !errors.Is(err, context.Canceled) {
		t.Errorf("runner saw %v, want context.Canceled", err)
	}
	// The slot is free again: with a bound of 1, the next run starts.
	if msgs, err := collect(t.Context(), t, c, &invokev1.InvokeRequest{ObjectId: "Q2", Workflow: "echo"}); err != nil || len(msgs) != 1 {
		t.Errorf("echo after a cancelled run = %v, %v; want one result", msgs, err)
	}
}

func TestInvokeBoundsConcurrentRuns(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	srv := newServer(t, 2, b.runner())
	waiting := make(chan struct{}, 16)
	srv.SetOnWait(func() { waiting <- struct{}{} })
	c := serve(t, srv)

	invoke := func(id string) grpc.ServerStreamingClient[invokev1.InvokeResponse] {
		stream, err := c.Invoke(t.Context(), &invokev1.InvokeRequest{ObjectId: id, Workflow: "block"})
		if err != nil {
			t.Fatalf("Invoke %s: %v", id, err)
		}
		return stream
	}
	a, bb := invoke("A"), invoke("B")
	started := []string{<-b.started, <-b.started}
	cc := invoke("C")
	<-waiting // C found both slots busy
	if n := b.running.Load(); n != 2 {
		t.Errorf("running = %d while C waits, want 2", n)
	}
	b.release <- struct{}{} // one of A and B finishes, so C starts
	started = append(started, <-b.started)
	slices.Sort(started)
	if !slices.Equal(started, []string{"A", "B", "C"}) {
		t.Errorf("started = %q, want A, B and C", started)
	}
	b.release <- struct{}{}
	b.release <- struct{}{}
	for name, s := range map[string]grpc.ServerStreamingClient[invokev1.InvokeResponse]{"A": a, "B": bb, "C": cc} {
		msgs, err := drain(s)
		if err != nil || len(msgs) != 1 || msgs[0].GetResult() == nil {
			t.Errorf("run %s = %v, %v; want one result", name, msgs, err)
		}
	}
	if m := b.maxRunning.Load(); m != 2 {
		t.Errorf("at most %d runs overlapped, want 2", m)
	}
}

// fakeStream is the server side of an invoke stream, for calling [invoke.Server.Invoke]
// without a connection.
type fakeStream struct {
	grpc.ServerStream // nil: only Context and Send are used
	ctx               context.Context
}

func (s fakeStream) Context() context.Context            { return s.ctx }
func (s fakeStream) Send(*invokev1.InvokeResponse) error { return nil }

// The code of a request that gives up waiting for a slot is only visible on the server side:
// a client that cancels sees CANCELLED whatever the server says.
func TestInvokeWaitingForASlotEndsUnavailable(t *testing.T) {
	t.Parallel()
	b := newBlocker()
	srv := newServer(t, 1, b.runner())
	waiting := make(chan struct{}, 1)
	srv.SetOnWait(func() { waiting <- struct{}{} })

	first := make(chan error, 1)
	go func() {
		first <- srv.Invoke(&invokev1.InvokeRequest{ObjectId: "A", Workflow: "block"}, fakeStream{ctx: t.Context()})
	}()
	<-b.started

	ctx, cancel := context.WithCancel(t.Context())
	second := make(chan error, 1)
	go func() {
		second <- srv.Invoke(&invokev1.InvokeRequest{ObjectId: "B", Workflow: "block"}, fakeStream{ctx: ctx})
	}()
	<-waiting
	cancel()
	if err := <-second; status.Code(err) != codes.Unavailable {
		t.Errorf("Invoke that gave up waiting = %v, want Unavailable", err)
	}
	b.release <- struct{}{}
	if err := <-first; err != nil {
		t.Errorf("first Invoke = %v, want nil", err)
	}
	if m := b.maxRunning.Load(); m != 1 {
		t.Errorf("at most %d runs overlapped, want 1", m)
	}
}

// TestInvokeVersionAndClient: the client the gateway names reaches the run (a malformed one
// as "unknown"), and the result's "version" (the commit of the derived components) is the
// Result's version, as is a derived component's.
func TestInvokeVersionAndClient(t *testing.T) {
	t.Parallel()
	var clients []string
	fake := stub{name: "fake", RunF: func(ctx context.Context, in workflow.Input, emit workflow.Emitter) (json.RawMessage, error) {
		clients = append(clients, in.Client)
		if err := emit.Derived(workflow.DerivedComponent{ComponentID: "out.json", Version: "c0ffee"}); err != nil {
			return nil, err
		}
		return json.RawMessage(`{"workflow":"fake","version":"c0ffee"}`), nil
	}}
	c := serve(t, newServer(t, 1, fake))
	for _, client := range []string{"token:0123456789abcdef", "bad\nclient"} {
		stream, err := c.Invoke(t.Context(), &invokev1.InvokeRequest{ObjectId: "Q123", Workflow: "fake", Client: client})
		if err != nil {
			t.Fatal(err)
		}
		msgs, err := drain(stream)
		if err != nil || len(msgs) != 2 {
			t.Fatalf("stream: %v, %v", msgs, err)
		}
		if v := msgs[0].GetDerived().GetVersion(); v != "c0ffee" {
			t.Errorf("derived version %q", v)
		}
		if v := msgs[1].GetResult().GetVersion(); v != "c0ffee" {
			t.Errorf("result version %q", v)
		}
	}
	if len(clients) != 2 || clients[0] != "token:0123456789abcdef" || clients[1] != "unknown" {
		t.Errorf("clients seen by the runs: %q", clients)
	}
}
