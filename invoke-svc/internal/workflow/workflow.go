// Package workflow defines what a workflow is to the invoke service: a [Runner] that turns one
// object and its params into progress events, derived components and a result object, and a
// [Registry] of the runners one worker offers.
//
// The wire form of all of this is doip.invoke.v1 (proto/doip/invoke/v1/invoke_service.proto);
// the service in internal/invoke maps between the two. Runners must be idempotent: the same
// object, params and source version give the same derived storage keys, because the gateway
// may retry an invoke on another worker. This package does not read source
// bytes, write derived components or cache results; runners do that themselves.
package workflow

import (
	"context"
	"encoding/json"
	"errors"
)

// ErrBadParams reports params a runner cannot accept. Runners wrap it with the reason
// (fmt.Errorf("%w: page must be a number", workflow.ErrBadParams)); the service answers such
// errors with INVALID_ARGUMENT and the error's message.
var ErrBadParams = errors.New("workflow: bad params")

// ErrNotFound reports that what a run needs does not exist: the object, or a component it
// can read. The service answers NOT_FOUND with the error's message.
var ErrNotFound = errors.New("workflow: not found")

// ErrUnavailable reports that a backend the run needs is down or too slow. The service
// answers UNAVAILABLE, and the gateway may try another worker.
var ErrUnavailable = errors.New("workflow: unavailable")

// ErrBadSource reports a source the workflow cannot read: a malformed PDF, archive or LaTeX
// file. Runners wrap it with the component and the problem
// (fmt.Errorf("%w %s: %v", workflow.ErrBadSource, "main-pdf", err), which reads "bad source
// main-pdf: …"); the service answers INVALID_ARGUMENT with the error's message.
var ErrBadSource = errors.New("bad source")

// ErrBudget reports a run that exceeded one of its budgets: memory, CPU or wall time,
// decompressed bytes, interpreter operations, output size, the derived-output quota of the
// object. Runners wrap it with the budget's name and value
// (fmt.Errorf("%w: memory budget of 512 MiB", workflow.ErrBudget)); the service answers
// RESOURCE_EXHAUSTED with the error's message. Another worker would fail the same way, so
// the gateway does not retry.
var ErrBudget = errors.New("budget exceeded")

// ErrStorage reports that storage refused what the run needs: it is full or unwritable, or a
// path would escape the object's folder. The service answers INTERNAL (the details go to the
// log only), and the gateway does not retry.
var ErrStorage = errors.New("workflow: storage failed")

// Runner runs one workflow.
//
// A Runner is shared by all concurrent invocations, so Run must be safe for concurrent use.
type Runner interface {
	// Name is the name clients invoke the workflow by, e.g. "equation_extraction".
	Name() string
	// Description is one sentence on what the workflow does.
	Description() string
	// InputMediaTypes lists the media types of the components the workflow can read; it is
	// empty for workflows that read no component.
	InputMediaTypes() []string
	// Run runs the workflow on one object. It reports progress and derived components
	// through emit, and returns the result object (JSON) or an error.
	//
	// Run returns promptly once ctx is done, and emits nothing after it returns. A result
	// with a top-level "cached": true says it was found stored rather than computed.
	Run(ctx context.Context, in Input, emit Emitter) (json.RawMessage, error)
}

// Input is what one run works on.
type Input struct {
	// ObjectID is the object the workflow runs on, e.g. "Q123"; never empty.
	ObjectID string
	// Params are the workflow's params as one JSON object; never empty (the service passes
	// {} when the client sent none).
	Params json.RawMessage
	// Client is who asked, as the gateway knows the client ("anonymous" or a token's
	// fingerprint); recorded with the commit of the derived components. Never a secret.
	Client string
}

// Emitter receives what a run reports while it runs, in order. Implementations are safe for
// concurrent use. An error from either method means the report did not arrive (the client
// is gone, or Run has already returned); the runner should stop and return the error.
type Emitter interface {
	// Progress reports how far the run has come. Stage is a short machine-readable name
	// ("read", "extract", "write"), message a human-readable sentence, and fraction the part
	// done so far, from 0 to 1, or 0 when unknown.
	Progress(stage, message string, fraction float64) error
	// Derived reports one derived component that the run wrote, or found already written.
	Derived(DerivedComponent) error
}

// DerivedComponent describes a component a workflow stored.
type DerivedComponent struct {
	// ComponentID is the id clients retrieve the component by, e.g. "equations.json".
	ComponentID string
	// MediaType is the component's media type, e.g. "application/json".
	MediaType string
	// StorageKey is where the bytes are stored, below the bucket or root folder.
	StorageKey string
	// SHA256 is the SHA-256 of the bytes, lower-case hex.
	SHA256 string
	// Size is the size in bytes.
	Size int64
	// Version is the commit that holds these bytes; empty when storage keeps no versions.
	Version string
}
