package workflow_test

import (
	"context"
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
)

// named is a runner that has only a name.
type named string

func (n named) Name() string              { return string(n) }
func (n named) Description() string       { return "runner " + string(n) }
func (n named) InputMediaTypes() []string { return nil }
func (n named) Run(context.Context, workflow.Input, workflow.Emitter) (json.RawMessage, error) {
	return json.RawMessage(`{}`), nil
}

func TestNewRegistry(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		runners []workflow.Runner
		want    []string // List order; nil when an error is expected
		wantErr []string // substrings of the error
	}{
		{name: "none", runners: nil, want: []string{}},
		{name: "sorted", runners: []workflow.Runner{named("zeta"), named("alpha"), named("mid")}, want: []string{"alpha", "mid", "zeta"}},
		{name: "duplicate", runners: []workflow.Runner{named("a"), named("b"), named("a")}, wantErr: []string{`duplicate workflow name "a"`}},
		{name: "empty name", runners: []workflow.Runner{named("a"), named("")}, wantErr: []string{"runner 1", "empty name"}},
		{name: "blank name", runners: []workflow.Runner{named("  ")}, wantErr: []string{"runner 0", "empty name"}},
		{name: "nil runner", runners: []workflow.Runner{nil}, wantErr: []string{"runner 0 is nil"}},
		{
			name:    "all problems at once",
			runners: []workflow.Runner{named(""), named("x"), named("x"), nil},
			wantErr: []string{"runner 0", `duplicate workflow name "x"`, "runner 3 is nil"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			reg, err := workflow.NewRegistry(tt.runners...)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("NewRegistry: got nil error, want one containing %q", tt.wantErr)
				}
				for _, s := range tt.wantErr {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("NewRegistry error %q does not contain %q", err, s)
					}
				}
				if reg != nil {
					t.Errorf("NewRegistry returned a registry with an error")
				}
				return
			}
			if err != nil {
				t.Fatalf("NewRegistry: %v", err)
			}
			got := []string{}
			for _, r := range reg.List() {
				got = append(got, r.Name())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("List names = %q, want %q", got, tt.want)
			}
			if names := reg.Names(); !slices.Equal(names, tt.want) {
				t.Errorf("Names = %q, want %q", names, tt.want)
			}
			for _, name := range tt.want {
				r, ok := reg.Get(name)
				if !ok || r.Name() != name {
					t.Errorf("Get(%q) = %v, %v; want the runner", name, r, ok)
				}
			}
		})
	}
}

func TestRegistryGetUnknown(t *testing.T) {
	t.Parallel()
	reg, err := workflow.NewRegistry(named("a"))
	if err != nil {
		t.Fatal(err)
	}
	if r, ok := reg.Get("b"); ok || r != nil {
		t.Errorf(`Get("b") = %v, %v; want nil, false`, r, ok)
	}
	if r, ok := reg.Get(""); ok || r != nil {
		t.Errorf(`Get("") = %v, %v; want nil, false`, r, ok)
	}
}

func TestRegistryListIsACopy(t *testing.T) {
	t.Parallel()
	reg, err := workflow.NewRegistry(named("a"), named("b"))
	if err != nil {
		t.Fatal(err)
	}
	l := reg.List()
	l[0] = named("changed")
	if got := reg.List()[0].Name(); got != "a" {
		t.Errorf("after changing a List result, List()[0] = %q, want %q", got, "a")
	}
}
