// Package dispatch implements the gateway's [doip.Handler]: it decides what each DOIP
// operation does. Hello and list operations are answered locally (with the workflow list
// of the invoke service, cached); retrieve and purge go to the retrieve service; invoke goes
// to a worker of the invoke service, whose derived components are then read back through
// the retrieve service. gRPC status codes become DOIP error kinds in one function,
// [errorFromStatus].
//
// It never sees a socket or a framing: it is tested with a recording ResponseWriter and stub
// gRPC servers.
package dispatch

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/fdo-doip/doip-gateway/gateway/internal/access"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	invokev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/invoke/v1"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	searchv1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/search/v1"
)

// Operations is the operation map the gateway announces: the operations it performs.
var Operations = map[string]doip.Op{
	doip.OpHello.String():    doip.OpHello,
	doip.OpRetrieve.String(): doip.OpRetrieve,
	doip.OpListOps.String():  doip.OpListOps,
	doip.OpInvoke.String():   doip.OpInvoke,
	doip.OpPurge.String():    doip.OpPurge,
}

// Dispatcher routes requests to the backends. Its exported fields are set before use.
type Dispatcher struct {
	Retrieve retrievev1.RetrieveServiceClient
	// RetrieveSmall, if set, is a connection to the same retrieve service with small
	// flow-control windows. Component streams start there and move to Retrieve (large
	// windows) once their client took FastAfter bytes (DefaultFastAfter when 0) without a
	// write blocking for SlowWrite (DefaultSlowWrite when 0): a slow reader pins a small
	// window in the gateway, and a fast one soon gets the large window it needs.
	RetrieveSmall retrievev1.RetrieveServiceClient
	SlowWrite     time.Duration
	FastAfter     int64
	// Invoke may be nil: then no workflow is offered and invoke answers Unsupported.
	Invoke invokev1.InvokeServiceClient
	// Search may be nil: then search answers Unsupported.
	Search searchv1.SearchServiceClient
	// ServiceID names this DOIP service (hello, standard framing targets).
	ServiceID string
	// Server and Version describe the software in hello.
	Server, Version string
	// PublicKey is the TLS key as a JSON Web Key, announced in hello.
	PublicKey map[string]string
	// CallTimeout bounds each unary backend call and the wait for a stream's first message.
	CallTimeout time.Duration
	// InvokeTimeout bounds a whole workflow run.
	InvokeTimeout time.Duration
	// DirectReads lets the retrieve service hand large reads off to presigned storage URLs:
	// https ones are fetched with Direct (http.DefaultClient when nil), plain http ones on a
	// connection of their own whose bytes a plaintext client connection takes without a copy
	// through the gateway (see fetchRaw).
	DirectReads bool
	Direct      *http.Client
	// MaxBackendCalls bounds concurrent backend calls and streams (DefaultMaxBackendCalls
	// when 0). Set it before the first request.
	MaxBackendCalls int
	// SlotWait bounds the wait for a free backend slot (CallTimeout when 0).
	SlotWait  time.Duration
	slotsOnce sync.Once
	slots     backendSlots
	opsOnce   sync.Once
	ops       map[string]doip.Op // see serviceOperations
	// Tokens, when not empty, are required for invoke and purge; used when Access is nil.
	Tokens Tokens
	// Access, if set, decides who a client is and what it may do (it replaces Tokens).
	Access *access.Policy
	// WorkflowsTTL is how long the invoke service's workflow list is cached.
	WorkflowsTTL time.Duration
	Logger       *slog.Logger

	wfMu      sync.Mutex
	wfList    []*invokev1.Workflow
	wfFetched time.Time
	wfLoading chan struct{} // non-nil while a refresh runs; closed when it ends
}

var _ doip.Handler = (*Dispatcher)(nil)

func (d *Dispatcher) logger() *slog.Logger {
	if d.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return d.Logger
}

func (d *Dispatcher) callTimeout() time.Duration {
	if d.CallTimeout <= 0 {
		return 10 * time.Second
	}
	return d.CallTimeout
}

// ServeDOIP answers one request.
func (d *Dispatcher) ServeDOIP(ctx context.Context, w doip.ResponseWriter, req *doip.Request) {
	err := checkStrings(req)
	var id access.Identity
	if err == nil {
		id, err = d.identify(ctx, req)
	}
	// Everything but hello and service-level list operations talks to a backend: watch for
	// the client leaving (so that the backend call is cancelled with it), and take a slot for
	// the whole answer (a component stream holds it until its last byte). Hello and the
	// service's operations are answered from memory; the first workflow list they wait for
	// is fetched under its own context, which a client leaving would not cancel.
	if err == nil && !(req.Op == doip.OpHello || (req.Op == doip.OpListOps && d.isServiceTarget(req.ObjectID))) {
		doip.WatchClient(w)
		d.slotsOnce.Do(func() { d.slots = newBackendSlots(d.MaxBackendCalls) })
		wait := d.SlotWait
		if wait <= 0 {
			wait = d.callTimeout()
		}
		if err = d.slots.acquire(ctx, wait); err == nil {
			defer d.slots.release()
		}
	}
	switch {
	case err != nil:
	case req.Op == doip.OpHello:
		err = d.hello(ctx, w, req)
	case req.Op == doip.OpListOps:
		err = d.listOps(ctx, w, req)
	case req.Op == doip.OpRetrieve:
		// A type record has no components: an element is ignored, as MaRDI's server does.
		if req.Element == ROCrateElement && req.Range == nil {
			err = d.retrieveROCrate(ctx, w, req)
		} else if req.Element != "" && !isTypeRecordID(req.ObjectID) {
			err = d.retrieveComponent(ctx, w, req)
		} else {
			err = d.retrieveRecord(ctx, w, req)
		}
	case req.Op == doip.OpInvoke:
		err = d.invoke(ctx, w, req)
	case req.Op == doip.OpPurge:
		err = d.purge(ctx, w, req)
	case req.Op == doip.OpSearch:
		err = d.search(ctx, w, req)
	case req.Op == doip.OpCreate || req.Op == doip.OpUpdate:
		err = d.write(ctx, w, req, id)
	case req.Op == doip.OpDelete:
		err = d.deleteObject(ctx, w, req, id)
	case req.Op == doip.OpHistory:
		err = d.history(ctx, w, req)
	default:
		err = doip.Errorf(doip.KindUnsupported, "operation %s is not supported", opName(req))
	}
	if err == nil {
		return
	}
	e := doip.AsError(err)
	if ctx.Err() != nil {
		// The client left (the connection cancelled the request) or the server is closing:
		// the backend call was cancelled with it, and nobody reads this answer.
		d.logger().InfoContext(ctx, "request abandoned", slog.String("op", req.Op.String()), slog.String("object", req.ObjectID), slog.Any("err", context.Cause(ctx)))
	} else if e.Kind == doip.KindInternal {
		d.logger().ErrorContext(ctx, "request failed", slog.String("op", req.Op.String()), slog.String("object", req.ObjectID), slog.Any("err", err))
	}
	if werr := w.Error(e); werr != nil {
		d.logger().DebugContext(ctx, "error answer not written", slog.Any("err", werr))
	}
}

func opName(req *doip.Request) string {
	if req.OperationID != "" {
		return req.OperationID
	}
	return req.Op.String()
}

func (d *Dispatcher) serviceInfo(ctx context.Context) *doip.ServiceInfo {
	return &doip.ServiceInfo{
		ServiceID:  d.ServiceID,
		Server:     d.Server,
		Version:    d.Version,
		Operations: d.serviceOperations(),
		Workflows:  workflowNames(d.workflows(ctx)),
		PublicKey:  d.PublicKey,
	}
}

func (d *Dispatcher) hello(ctx context.Context, w doip.ResponseWriter, req *doip.Request) error {
	return w.Respond(&doip.Response{Op: req.Op, ObjectID: req.ObjectID, Hello: d.serviceInfo(ctx)})
}

// isServiceTarget reports whether a request's target is the service rather than an object.
func (d *Dispatcher) isServiceTarget(id string) bool {
	return id == "" || id == d.ServiceID || strings.EqualFold(id, "service")
}

func (d *Dispatcher) listOps(ctx context.Context, w doip.ResponseWriter, req *doip.Request) error {
	wfs := d.workflows(ctx)
	list := &doip.OperationList{Operations: d.serviceOperations(), Workflows: workflowNames(wfs)}
	if !d.isServiceTarget(req.ObjectID) {
		rec, err := d.getRecord(ctx, req.ObjectID, false, "")
		if err != nil {
			return err
		}
		list.Object = rec.GetObjectId()
		list.Operations = Operations
		list.Workflows = applicableWorkflows(wfs, rec.GetComponents())
		// The object's type says which operations are meaningful for it: keep ours that it
		// lists (retrieve-svc caches the type record like any record).
		if allowed, ok := d.applicableOperations(ctx, rec.GetObjectType()); ok {
			list.Operations, list.Workflows = intersectOperations(list.Operations, list.Workflows, allowed)
		}
	}
	return w.Respond(&doip.Response{Op: req.Op, ObjectID: req.ObjectID, Operations: list})
}

// applicableWorkflows returns the names of the workflows that can read one of comps.
func applicableWorkflows(wfs []*invokev1.Workflow, comps []*retrievev1.Component) []string {
	var names []string
	for _, wf := range wfs {
		inputs := wf.GetInputMediaTypes()
		ok := len(inputs) == 0
		for _, c := range comps {
			ok = ok || slices.Contains(inputs, c.GetMediaType())
		}
		if ok {
			names = append(names, wf.GetName())
		}
	}
	return names
}

func workflowNames(wfs []*invokev1.Workflow) []string {
	names := make([]string, 0, len(wfs))
	for _, wf := range wfs {
		names = append(names, wf.GetName())
	}
	return names
}

// workflows returns the invoke service's workflows from a cache. A stale list is returned
// at once while one refresh runs in the background; only the very first call waits, and at
// most one call timeout. When the invoke service cannot be reached the list is empty.
func (d *Dispatcher) workflows(ctx context.Context) []*invokev1.Workflow {
	if d.Invoke == nil {
		return nil
	}
	ttl := d.WorkflowsTTL
	if ttl <= 0 {
		ttl = 30 * time.Second
	}
	d.wfMu.Lock()
	list, fetched, loading := d.wfList, d.wfFetched, d.wfLoading
	if time.Since(fetched) < ttl {
		d.wfMu.Unlock()
		return list
	}
	if loading == nil {
		loading = make(chan struct{})
		d.wfLoading = loading
		go d.refreshWorkflows(loading)
	}
	d.wfMu.Unlock()
	if !fetched.IsZero() {
		return list
	}
	select {
	case <-loading:
	case <-ctx.Done():
	}
	d.wfMu.Lock()
	defer d.wfMu.Unlock()
	return d.wfList
}

func (d *Dispatcher) refreshWorkflows(done chan struct{}) {
	ctx, cancel := context.WithTimeout(context.Background(), d.callTimeout())
	defer cancel()
	resp, err := d.Invoke.ListWorkflows(ctx, &invokev1.ListWorkflowsRequest{})
	d.wfMu.Lock()
	defer d.wfMu.Unlock()
	if err != nil {
		d.logger().Warn("workflow list unavailable", slog.Any("err", err))
		// Try again soon rather than after a whole TTL.
		d.wfFetched = time.Now().Add(-d.WorkflowsTTL + 2*time.Second)
	} else {
		d.wfList, d.wfFetched = resp.GetWorkflows(), time.Now()
	}
	d.wfLoading = nil
	close(done)
}

func (d *Dispatcher) getRecord(ctx context.Context, objectID string, sizes bool, version string) (*retrievev1.GetRecordResponse, error) {
	if objectID == "" {
		return nil, doip.Errorf(doip.KindBadRequest, "no object id given")
	}
	cctx, cancel := context.WithTimeout(ctx, d.callTimeout())
	defer cancel()
	rec, err := d.Retrieve.GetRecord(cctx, &retrievev1.GetRecordRequest{ObjectId: objectID, WithComponentSizes: sizes, Version: version})
	if err != nil {
		return nil, errorFromStatus(err, "retrieve service")
	}
	return rec, nil
}

func (d *Dispatcher) retrieveRecord(ctx context.Context, w doip.ResponseWriter, req *doip.Request) error {
	rec, err := d.getRecord(ctx, req.ObjectID, req.ElementSizes || req.IncludeElementData, req.Version)
	if err != nil {
		return err
	}
	r := recordOf(rec)
	resp := &doip.Response{Op: req.Op, ObjectID: req.ObjectID, Record: r}
	if !req.IncludeElementData {
		return w.Respond(resp)
	}
	// The record and every stored component's bytes, each opened only when its turn comes.
	for _, c := range r.Components {
		if c.Size < 0 {
			continue
		}
		resp.Elements = append(resp.Elements, doip.ComponentBody{
			ID: c.ID, MediaType: c.MediaType, Filename: c.Filename, Size: c.Size,
			Body: d.lazyComponent(ctx, req.ObjectID, c.ID, c.Size, r.Version), Version: r.Version,
		})
	}
	return w.Respond(resp)
}

func (d *Dispatcher) purge(ctx context.Context, w doip.ResponseWriter, req *doip.Request) error {
	if req.ObjectID == "" {
		return doip.Errorf(doip.KindBadRequest, "no object id given")
	}
	cctx, cancel := context.WithTimeout(ctx, d.callTimeout())
	defer cancel()
	resp, err := d.Retrieve.PurgeRecord(cctx, &retrievev1.PurgeRecordRequest{ObjectId: req.ObjectID})
	if err != nil {
		return errorFromStatus(err, "retrieve service")
	}
	return w.Respond(&doip.Response{Op: req.Op, ObjectID: req.ObjectID, Purge: &doip.PurgeResult{Purged: resp.GetPurged()}})
}

// MaxIDLen bounds object ids, element ids and workflow names before any backend sees them.
const MaxIDLen = 1024

// checkStrings rejects ids that no backend could take: invalid UTF-8 (which protobuf cannot
// carry), control characters, or more than MaxIDLen bytes. Each error names the field.
func checkStrings(req *doip.Request) error {
	for _, f := range []struct{ name, v string }{{"object id", req.ObjectID}, {"element", req.Element}, {"workflow", req.Workflow}} {
		switch {
		case len(f.v) > MaxIDLen:
			return doip.Errorf(doip.KindBadRequest, "%s of %d bytes is longer than %d", f.name, len(f.v), MaxIDLen)
		case !utf8.ValidString(f.v):
			return doip.Errorf(doip.KindBadRequest, "%s is not valid UTF-8", f.name)
		case strings.ContainsFunc(f.v, unicode.IsControl):
			return doip.Errorf(doip.KindBadRequest, "%s contains a control character", f.name)
		}
	}
	return nil
}
