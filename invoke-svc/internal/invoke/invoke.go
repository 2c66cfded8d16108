// Package invoke implements doip.invoke.v1.InvokeService
// (proto/doip/invoke/v1/invoke_service.proto): it lists the workflows of a
// [workflow.Registry] and runs them, streaming each run's progress events and derived
// components as they happen and its result last.
//
// The status codes are fixed here, at the boundary, and nowhere else:
//
//   - INVALID_ARGUMENT: empty object_id or workflow, params_json that is not one JSON object,
//     or a runner error wrapping [workflow.ErrBadParams] (the message starts "bad params: ")
//     or [workflow.ErrBadSource] (the message starts "bad source ", then the component);
//   - NOT_FOUND: a workflow this worker does not have (the message lists the ones it has), or
//     a runner error wrapping [workflow.ErrNotFound] (an unknown object or component);
//   - RESOURCE_EXHAUSTED: a runner error wrapping [workflow.ErrBudget]; the message names the
//     budget and its value;
//   - UNAVAILABLE: every run slot stayed busy until the request ended, so the workflow never
//     started, or a backend the run needs (retrieve-svc) is down; the request may be retried
//     on another worker;
//   - CANCELLED or DEADLINE_EXCEEDED: the request ended while its workflow ran;
//   - INTERNAL: storage refused a read or write ([workflow.ErrStorage]), any other runner
//     failure, a runner panic, or a result that is not a JSON object; the message only names
//     the workflow, the details go to the log.
//
// The first message of every admitted run is a progress event with stage "accepted", sent
// as soon as the run has its slot and before any work: a caller that has received nothing
// knows that no work began.
//
// The package does not cache results (Result.cached is always false) and does not read or
// write storage; runners do their own I/O.
package invoke

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"runtime/debug"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
	invokev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/invoke/v1"
)

// Server implements [invokev1.InvokeServiceServer] over a registry of workflows. At most
// maxConcurrent workflows run at once; further invocations wait for a free slot.
type Server struct {
	invokev1.UnimplementedInvokeServiceServer

	reg     *workflow.Registry
	slots   chan struct{} // one token per running workflow; cap is the concurrency bound
	logger  *slog.Logger
	metrics *Metrics // nil: not counted

	// onWait, when set, is called each time an invocation finds every slot busy and starts
	// waiting. Tests set it before serving; nothing writes it afterwards.
	onWait func()
}

var _ invokev1.InvokeServiceServer = (*Server)(nil)

// NewServer returns a server that runs the workflows of reg, at most maxConcurrent at a time
// (values below 1 mean 1), and logs to logger.
func NewServer(reg *workflow.Registry, maxConcurrent int, logger *slog.Logger, opts ...Option) *Server {
	maxConcurrent = max(maxConcurrent, 1)
	s := &Server{reg: reg, slots: make(chan struct{}, maxConcurrent), logger: logger}
	for _, opt := range opts {
		opt(s)
	}
	s.metrics.initWorkflows(reg.Names())
	return s
}

// ListWorkflows returns the workflows of the registry, sorted by name.
func (s *Server) ListWorkflows(_ context.Context, _ *invokev1.ListWorkflowsRequest) (*invokev1.ListWorkflowsResponse, error) {
	runners := s.reg.List()
	resp := &invokev1.ListWorkflowsResponse{Workflows: make([]*invokev1.Workflow, 0, len(runners))}
	for _, r := range runners {
		resp.Workflows = append(resp.Workflows, &invokev1.Workflow{
			Name:            r.Name(),
			Description:     r.Description(),
			InputMediaTypes: r.InputMediaTypes(),
		})
	}
	return resp, nil
}

// Invoke checks the request, waits for a free run slot, runs the workflow and streams what it
// emits, then the result. The package documentation lists the status codes.
func (s *Server) Invoke(req *invokev1.InvokeRequest, stream grpc.ServerStreamingServer[invokev1.InvokeResponse]) error {
	ctx := stream.Context()
	switch {
	case req.GetObjectId() == "":
		return status.Error(codes.InvalidArgument, "object_id is empty")
	case req.GetWorkflow() == "":
		return status.Error(codes.InvalidArgument, "workflow is empty")
	}
	name := req.GetWorkflow()
	runner, ok := s.reg.Get(name)
	if !ok {
		available := strings.Join(s.reg.Names(), ", ")
		if available == "" {
			available = "none"
		}
		return status.Errorf(codes.NotFound, "unknown workflow %q; available: %s", name, available)
	}
	params, err := workflow.ObjectParams(req.GetParamsJson())
	if err != nil {
		s.metrics.done(name, resultBadParams)
		return status.Errorf(codes.InvalidArgument, "params_json: %v", err)
	}
	logger := s.logger.With(slog.String("workflow", name), slog.String("object", req.GetObjectId()))

	s.metrics.enter()
	defer s.metrics.leave()
	release, err := s.acquire(ctx)
	if err != nil {
		logger.WarnContext(ctx, "no free run slot before the request ended",
			slog.Int("max_concurrent", cap(s.slots)), slog.Any("err", err))
		s.metrics.done(name, resultBusy)
		return status.Errorf(codes.Unavailable, "all %d run slots of this worker stayed busy: %v", cap(s.slots), err)
	}
	defer release()

	logger.DebugContext(ctx, "invoke start")
	start := time.Now()
	em := &emitter{stream: stream}
	if err := em.Progress(StageAccepted, "the run has a slot on this worker", 0); err != nil {
		logger.InfoContext(ctx, "invoke gone before it started", slog.Any("err", err))
		s.metrics.done(name, resultCanceled)
		return status.FromContextError(context.Cause(ctx)).Err()
	}
	result, err := run(ctx, runner, workflow.Input{ObjectID: req.GetObjectId(), Params: params, Client: clientOf(req.GetClient())}, em)
	em.close()
	took := time.Since(start)
	s.metrics.ran(name, took.Seconds())

	switch {
	case ctx.Err() != nil:
		// The client is gone or its deadline passed; whatever the runner returned follows
		// from that.
		logger.InfoContext(ctx, "invoke cancelled", slog.Duration("took", took), slog.Any("err", context.Cause(ctx)))
		s.metrics.done(name, resultCanceled)
		return status.FromContextError(ctx.Err()).Err()
	case errors.Is(err, workflow.ErrBadParams):
		logger.InfoContext(ctx, "invoke rejected", slog.Any("err", err))
		s.metrics.done(name, resultBadParams)
		return status.Error(codes.InvalidArgument, "bad params: "+strings.TrimPrefix(err.Error(), workflow.ErrBadParams.Error()+": "))
	case errors.Is(err, workflow.ErrBadSource):
		logger.InfoContext(ctx, "invoke source unreadable", slog.Any("err", err))
		s.metrics.done(name, resultBadSource)
		return status.Error(codes.InvalidArgument, err.Error())
	case errors.Is(err, workflow.ErrBudget):
		logger.WarnContext(ctx, "invoke over budget", slog.Duration("took", took), slog.Any("err", err))
		s.metrics.done(name, resultBudget)
		return status.Error(codes.ResourceExhausted, err.Error())
	case errors.Is(err, workflow.ErrNotFound):
		logger.InfoContext(ctx, "invoke found nothing to work on", slog.Any("err", err))
		s.metrics.done(name, resultNotFound)
		return status.Error(codes.NotFound, strings.TrimPrefix(err.Error(), workflow.ErrNotFound.Error()+": "))
	case errors.Is(err, workflow.ErrUnavailable):
		logger.WarnContext(ctx, "invoke backend unavailable", slog.Any("err", err))
		s.metrics.done(name, resultUnavailable)
		return status.Errorf(codes.Unavailable, "workflow %q: a backend is unavailable", name)
	case errors.Is(err, workflow.ErrStorage):
		logger.ErrorContext(ctx, "workflow storage failed", slog.Duration("took", took), slog.Any("err", err))
		s.metrics.done(name, resultFailed)
		return status.Errorf(codes.Internal, "workflow %q: storage failed", name)
	case err != nil:
		logger.ErrorContext(ctx, "workflow failed", slog.Duration("took", took), slog.Any("err", err))
		s.metrics.done(name, resultFailed)
		return status.Errorf(codes.Internal, "workflow %q failed", name)
	}
	if err := checkResult(result); err != nil {
		logger.ErrorContext(ctx, "workflow returned a bad result", slog.Int("bytes", len(result)), slog.Any("err", err))
		s.metrics.done(name, resultFailed)
		return status.Errorf(codes.Internal, "workflow %q failed", name)
	}
	cached := isCached(result)
	if err := stream.Send(&invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Result{
		Result: &invokev1.Result{ResultJson: result, Cached: cached, Version: versionOf(result)},
	}}); err != nil {
		logger.InfoContext(ctx, "invoke result not sent", slog.Any("err", err))
		s.metrics.done(name, resultCanceled)
		return err
	}
	if cached {
		s.metrics.done(name, resultCached)
	} else {
		s.metrics.done(name, resultOK)
	}
	logger.InfoContext(ctx, "invoke done", slog.Duration("took", took),
		slog.Int("derived", em.derived), slog.Int("result_bytes", len(result)))
	return nil
}

// StageAccepted is the stage of the first progress event of every admitted run.
const StageAccepted = "accepted"

// acquire takes a run slot, waiting until one is free or ctx is done. The returned function
// gives the slot back.
func (s *Server) acquire(ctx context.Context) (release func(), err error) {
	release = func() { <-s.slots }
	select {
	case s.slots <- struct{}{}:
		return release, nil
	default:
	}
	if s.onWait != nil {
		s.onWait()
	}
	select {
	case s.slots <- struct{}{}:
		return release, nil
	case <-ctx.Done():
		return nil, context.Cause(ctx)
	}
}

// run calls r.Run and turns a panic into an error, so one broken workflow cannot take the
// worker, and every other run on it, down.
func run(ctx context.Context, r workflow.Runner, in workflow.Input, emit workflow.Emitter) (result []byte, err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("workflow panicked: %v\n%s", p, debug.Stack())
		}
	}()
	return r.Run(ctx, in, emit)
}

// checkResult checks that a runner's result is one JSON object, as the proto promises.
func checkResult(result []byte) error {
	trimmed := bytes.TrimSpace(result)
	switch {
	case len(trimmed) == 0:
		return errors.New("invoke: empty result")
	case !utf8.Valid(trimmed) || !json.Valid(trimmed):
		return errors.New("invoke: result is not valid UTF-8 JSON")
	case trimmed[0] != '{':
		return errors.New("invoke: result is not a JSON object")
	}
	return nil
}

// errRunOver is what an emitter answers after its run has returned.
var errRunOver = errors.New("invoke: emit after the workflow returned")

// emitter sends what a runner emits on the invoke stream. It is safe for concurrent use,
// though the stream is not: mu serializes the sends.
type emitter struct {
	stream grpc.ServerStreamingServer[invokev1.InvokeResponse]

	mu      sync.Mutex
	done    bool // set by close, once Run has returned; guarded by mu
	derived int  // derived components sent; guarded by mu, read after close
}

var _ workflow.Emitter = (*emitter)(nil)

// Progress sends a progress event. A fraction outside [0, 1] is clamped; NaN becomes 0.
func (e *emitter) Progress(stage, message string, fraction float64) error {
	if math.IsNaN(fraction) {
		fraction = 0
	}
	fraction = min(max(fraction, 0), 1)
	return e.send(&invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Progress{
		Progress: &invokev1.Progress{Stage: stage, Message: message, Fraction: fraction},
	}}, false)
}

// Derived sends one derived component.
func (e *emitter) Derived(d workflow.DerivedComponent) error {
	return e.send(&invokev1.InvokeResponse{Msg: &invokev1.InvokeResponse_Derived{
		Derived: &invokev1.DerivedComponent{
			ComponentId: d.ComponentID,
			MediaType:   d.MediaType,
			Size:        d.Size,
			StorageKey:  d.StorageKey,
			Sha256:      d.SHA256,
			Version:     d.Version,
		},
	}}, true)
}

func (e *emitter) send(m *invokev1.InvokeResponse, derived bool) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.done {
		return errRunOver
	}
	if err := e.stream.Send(m); err != nil {
		return fmt.Errorf("invoke: send to client: %w", err)
	}
	if derived {
		e.derived++
	}
	return nil
}

// close makes every later emit fail, so a goroutine a runner left behind cannot write to a
// stream whose handler has returned.
func (e *emitter) close() {
	e.mu.Lock()
	e.done = true
	e.mu.Unlock()
}

// isCached reports a result object with a top-level "cached": true.
func isCached(result json.RawMessage) bool {
	var r struct {
		Cached bool `json:"cached"`
	}
	return json.Unmarshal(result, &r) == nil && r.Cached
}

// clientOf is the client identity to record: what the gateway sent when it is short
// printable ASCII, else "unknown".
func clientOf(c string) string {
	if c == "" || len(c) > 128 {
		return "unknown"
	}
	for i := 0; i < len(c); i++ {
		if c[i] < ' ' || c[i] > '~' {
			return "unknown"
		}
	}
	return c
}

// versionOf reads the result's "version" (the commit of its derived components), if any.
func versionOf(result json.RawMessage) string {
	var r struct {
		Version string `json:"version"`
	}
	_ = json.Unmarshal(result, &r)
	return r.Version
}
