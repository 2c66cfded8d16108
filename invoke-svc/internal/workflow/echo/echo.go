// Package echo implements the echo workflow: it reads nothing, writes nothing and returns its
// params. It exists so that tests, and health checks of a deployment, can invoke a workflow
// end to end (gateway → invoke-svc → result) without storage, source documents or a model.
package echo

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
)

// Name is the name the echo workflow is invoked by.
const Name = "echo"

// Runner is the echo workflow. The zero value is ready to use.
type Runner struct{}

var _ workflow.Runner = Runner{}

// New returns the echo workflow.
func New() Runner { return Runner{} }

// Name returns "echo".
func (Runner) Name() string { return Name }

// Description says what the workflow is for.
func (Runner) Description() string {
	return "returns its params (after params.delay, e.g. \"2s\", at most 1m); for checking a deployment"
}

// MaxDelay bounds params.delay.
const MaxDelay = time.Minute

// InputMediaTypes returns nil: echo reads no component.
func (Runner) InputMediaTypes() []string { return nil }

// result is the echo workflow's result object.
type result struct {
	Workflow     string          `json:"workflow"`
	SourceObject string          `json:"sourceObject"`
	Params       json.RawMessage `json:"params"`
}

// Run returns {"workflow":"echo","sourceObject":ID,"params":PARAMS}. Params must be a JSON
// object, or empty for {}; anything else is an error wrapping [workflow.ErrBadParams]. Run
// emits nothing.
func (Runner) Run(ctx context.Context, in workflow.Input, _ workflow.Emitter) (json.RawMessage, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	params, err := workflow.ObjectParams(in.Params)
	if err != nil {
		return nil, fmt.Errorf("echo: %w", err)
	}
	var p struct {
		Delay string `json:"delay"`
	}
	if err := json.Unmarshal(params, &p); err != nil {
		return nil, fmt.Errorf("echo: %w: delay must be a string such as \"2s\"", workflow.ErrBadParams)
	}
	if p.Delay != "" {
		d, err := time.ParseDuration(p.Delay)
		if err != nil || d < 0 || d > MaxDelay {
			return nil, fmt.Errorf("echo: %w: delay %q: want a duration from 0 to %s", workflow.ErrBadParams, p.Delay, MaxDelay)
		}
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-t.C:
		}
	}
	out, err := json.Marshal(result{Workflow: Name, SourceObject: in.ObjectID, Params: params})
	if err != nil {
		return nil, fmt.Errorf("echo: encode result: %w", err)
	}
	return out, nil
}
