package dispatch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strings"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/shared/admin"
	"github.com/fdo-doip/doip-gateway/shared/doipid"
	invokev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/invoke/v1"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func (d *Dispatcher) invoke(ctx context.Context, w doip.ResponseWriter, req *doip.Request) error {
	switch {
	case d.Invoke == nil:
		return doip.Errorf(doip.KindUnsupported, "no workflows are configured on this gateway")
	case req.ObjectID == "":
		return doip.Errorf(doip.KindBadRequest, "no object id given")
	case req.Workflow == "":
		return doip.Errorf(doip.KindBadRequest, "no workflow named: set \"workflow\"")
	}
	// An unknown workflow is an operation this service does not offer (standard DOIP:
	// status 200), not a missing object. With no list at hand (invoke-svc unreachable), the
	// call below reports that instead.
	if wfs := d.workflows(ctx); len(wfs) > 0 && !slices.ContainsFunc(wfs, func(w *invokev1.Workflow) bool { return w.GetName() == req.Workflow }) {
		return doip.Errorf(doip.KindUnsupported, "unknown workflow %q; available: %s", req.Workflow, strings.Join(workflowNames(wfs), ", "))
	}
	params := req.Params
	if len(params) > 0 {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(params, &obj); err != nil {
			return doip.Errorf(doip.KindBadRequest, "params must be a JSON object")
		}
	}
	timeout := d.InvokeTimeout
	if timeout <= 0 {
		timeout = 10 * time.Minute
	}
	ictx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var (
		derived []*invokev1.DerivedComponent
		result  *invokev1.Result
		began   bool
		err     error
	)
	// A worker that refused the call or could not be reached before it sent anything
	// (UNAVAILABLE, no stream message yet) is replaced by another: round robin picks the next
	// one. A run that had begun is never tried again, whatever ended it: a request that made
	// a worker die would otherwise kill every worker in turn.
	for attempt := 1; ; attempt++ {
		derived, result, began, err = d.invokeOnce(ictx, w, req, params)
		if err == nil || attempt == maxInvokeAttempts || !retryInvoke(ictx, err, began) {
			break
		}
		d.logger().WarnContext(ctx, "invoke refused by a worker before it began, trying another", slog.String("object", req.ObjectID),
			slog.String("workflow", req.Workflow), slog.Int("attempt", attempt), slog.Any("err", err))
	}
	if err != nil {
		return d.invokeError(ctx, req, err, began)
	}
	res := &doip.InvokeResult{Workflow: req.Workflow, Result: result.GetResultJson(), Cached: result.GetCached(), Version: result.GetVersion()}
	if !json.Valid(res.Result) {
		res.Result = json.RawMessage(`{}`)
	}
	// Open every derived component's stream before the answer starts, so that a backend
	// failing now is an error reply rather than a connection cut in the middle of an answer.
	for _, dc := range derived {
		// At the run's commit: a later run may have changed the branch meanwhile.
		body, hdr, err := d.openComponent(ctx, &retrievev1.StreamComponentRequest{ObjectId: req.ObjectID, ComponentId: dc.GetComponentId(), Version: dc.GetVersion()})
		if err != nil {
			return err
		}
		defer body.close()
		if hdr.GetSize() != dc.GetSize() {
			return fmt.Errorf("derived component %s of %s is %d bytes, not the %d the workflow reported", dc.GetComponentId(), req.ObjectID, hdr.GetSize(), dc.GetSize())
		}
		res.Derived = append(res.Derived, doip.ComponentBody{
			ID:        doipid.LongComponentID(req.ObjectID, dc.GetComponentId()),
			MediaType: dc.GetMediaType(),
			Filename:  dc.GetComponentId(),
			Size:      dc.GetSize(),
			Body:      body,
			Version:   dc.GetVersion(),
		})
	}
	return w.Respond(&doip.Response{Op: req.Op, ObjectID: req.ObjectID, Invoke: res})
}

// maxInvokeAttempts bounds how many workers one invoke is tried on.
const maxInvokeAttempts = 3

// retryInvoke reports whether an invoke that failed with err may go to another worker: only
// when the failure is known to be transient (UNAVAILABLE), the worker had sent nothing for
// this call (so the run never began), and the client is still waiting.
func retryInvoke(ctx context.Context, err error, began bool) bool {
	return !began && ctx.Err() == nil && status.Code(err) == codes.Unavailable
}

// invokeError turns the last failure of an invoke into the client's answer.
func (d *Dispatcher) invokeError(ctx context.Context, req *doip.Request, err error, began bool) error {
	if !began || ctx.Err() != nil || status.Code(err) != codes.Unavailable {
		return errorFromStatus(err, "invoke service")
	}
	d.logger().WarnContext(ctx, "invoke failed after it began on a worker, not retried", slog.String("object", req.ObjectID),
		slog.String("workflow", req.Workflow), slog.Any("err", err))
	if streamBroke(err) {
		// The worker died, perhaps of this very request: it is not handed to another.
		return doip.Errorf(doip.KindUnavailable, "the worker running this request stopped; not retried")
	}
	// The worker itself answered that a backend it needs is down; its message says which
	// (with any address taken out).
	return doip.Errorf(doip.KindUnavailable, "%s; not retried", admin.Redact(status.Convert(err).Message()))
}

// transportFailures start the messages that gRPC itself gives a stream whose connection
// broke, as opposed to a status the server sent.
var transportFailures = []string{
	"error reading from server", "transport is closing", "closing transport due to",
	"connection error", "the connection is draining", "transport: ",
}

// streamBroke reports whether err is gRPC's own report of a broken connection.
func streamBroke(err error) bool {
	msg := status.Convert(err).Message()
	for _, p := range transportFailures {
		if strings.HasPrefix(msg, p) {
			return true
		}
	}
	return false
}

// invokeOnce runs the workflow on one worker and collects its derived components and result.
// Progress goes to the client as it arrives. began reports whether the worker sent any
// stream message for this call (the first is its "accepted" progress event): from then on
// the run is the worker's, and a failure is not retried elsewhere.
func (d *Dispatcher) invokeOnce(ctx context.Context, w doip.ResponseWriter, req *doip.Request, params json.RawMessage) (derived []*invokev1.DerivedComponent, result *invokev1.Result, began bool, err error) {
	stream, err := d.Invoke.Invoke(ctx, &invokev1.InvokeRequest{ObjectId: req.ObjectID, Workflow: req.Workflow, ParamsJson: params, Client: clientIdentity(req.Token)})
	if err != nil {
		return nil, nil, false, err
	}
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return nil, nil, began, errors.New("invoke stream ended without a result")
		}
		if err != nil {
			return nil, nil, began, err
		}
		began = true
		switch m := msg.GetMsg().(type) {
		case *invokev1.InvokeResponse_Progress:
			if err := w.Progress(m.Progress.GetStage(), m.Progress.GetMessage(), m.Progress.GetFraction()); err != nil {
				return nil, nil, began, err
			}
		case *invokev1.InvokeResponse_Derived:
			derived = append(derived, m.Derived)
		case *invokev1.InvokeResponse_Result:
			return derived, m.Result, began, nil
		}
	}
}
