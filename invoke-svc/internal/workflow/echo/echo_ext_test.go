package echo_test

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow/echo"
)

// failEmitter fails the test when the runner emits anything.
type failEmitter struct{ t *testing.T }

func (e failEmitter) Progress(stage, message string, fraction float64) error {
	e.t.Errorf("unexpected Progress(%q, %q, %v)", stage, message, fraction)
	return nil
}

func (e failEmitter) Derived(d workflow.DerivedComponent) error {
	e.t.Errorf("unexpected Derived(%+v)", d)
	return nil
}

func TestRunnerDescribesItself(t *testing.T) {
	t.Parallel()
	r := echo.New()
	if r.Name() != "echo" {
		t.Errorf("Name = %q, want echo", r.Name())
	}
	if !strings.HasPrefix(r.Description(), "returns its params") {
		t.Errorf("Description = %q", r.Description())
	}
	if got := r.InputMediaTypes(); len(got) != 0 {
		t.Errorf("InputMediaTypes = %q, want none", got)
	}
	if _, err := workflow.NewRegistry(r); err != nil {
		t.Errorf("NewRegistry(echo): %v", err)
	}
}

func TestRun(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		object  string
		params  string
		want    string
		wantBad bool
	}{
		{name: "no params", object: "Q123", params: "", want: `{"workflow":"echo","sourceObject":"Q123","params":{}}`},
		{name: "empty object", object: "Q123", params: "{}", want: `{"workflow":"echo","sourceObject":"Q123","params":{}}`},
		{
			name:   "params are compacted",
			object: "Q1",
			params: "{\"force\": true,\n \"n\": [1, 2]}",
			want:   `{"workflow":"echo","sourceObject":"Q1","params":{"force":true,"n":[1,2]}}`,
		},
		{name: "object id is escaped", object: `Q"<`, params: "", want: `{"workflow":"echo","sourceObject":"Q\"\u003c","params":{}}`},
		{name: "array", object: "Q1", params: "[]", wantBad: true},
		{name: "string", object: "Q1", params: `"x"`, wantBad: true},
		{name: "null", object: "Q1", params: "null", wantBad: true},
		{name: "broken", object: "Q1", params: "{", wantBad: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := echo.New().Run(t.Context(), workflow.Input{ObjectID: tt.object, Params: json.RawMessage(tt.params)}, failEmitter{t})
			if tt.wantBad {
				if !errors.Is(err, workflow.ErrBadParams) {
					t.Fatalf("Run error = %v, want one wrapping ErrBadParams", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Run: %v", err)
			}
			if string(got) != tt.want {
				t.Errorf("Run = %s\n want %s", got, tt.want)
			}
		})
	}
}

func TestRunCancelled(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	_, err := echo.New().Run(ctx, workflow.Input{ObjectID: "Q1"}, failEmitter{t})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("Run on a cancelled context: err = %v, want context.Canceled", err)
	}
}

func TestEchoDelay(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		out, err := echo.New().Run(t.Context(), workflow.Input{ObjectID: "Q1", Params: json.RawMessage(`{"delay":"2s"}`)}, nil)
		if err != nil || time.Since(start) != 2*time.Second || !strings.Contains(string(out), `"delay":"2s"`) {
			t.Errorf("delayed echo: %s, %v after %s", out, err, time.Since(start))
		}
	})
	for _, bad := range []string{`{"delay":"soon"}`, `{"delay":"2h"}`, `{"delay":5}`} {
		if _, err := echo.New().Run(t.Context(), workflow.Input{ObjectID: "Q1", Params: json.RawMessage(bad)}, nil); !errors.Is(err, workflow.ErrBadParams) {
			t.Errorf("%s: err = %v, want bad params", bad, err)
		}
	}
}
