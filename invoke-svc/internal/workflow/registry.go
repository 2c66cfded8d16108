package workflow

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// Registry holds the runners one worker offers, by name. It is built once, at start-up, and
// is read-only afterwards, so it is safe for concurrent use.
type Registry struct {
	byName map[string]Runner
	sorted []Runner // by Name
}

// NewRegistry returns a registry of the given runners. It rejects nil runners, empty names
// and names used twice, reporting every problem at once.
func NewRegistry(runners ...Runner) (*Registry, error) {
	r := &Registry{byName: make(map[string]Runner, len(runners))}
	var errs []error
	for i, run := range runners {
		if run == nil {
			errs = append(errs, fmt.Errorf("workflow: runner %d is nil", i))
			continue
		}
		name := run.Name()
		switch {
		case strings.TrimSpace(name) == "":
			errs = append(errs, fmt.Errorf("workflow: runner %d (%T) has an empty name", i, run))
			continue
		case r.byName[name] != nil:
			errs = append(errs, fmt.Errorf("workflow: duplicate workflow name %q", name))
			continue
		}
		r.byName[name] = run
		r.sorted = append(r.sorted, run)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	slices.SortFunc(r.sorted, func(a, b Runner) int { return strings.Compare(a.Name(), b.Name()) })
	return r, nil
}

// Get returns the runner with the given name.
func (r *Registry) Get(name string) (Runner, bool) {
	run, ok := r.byName[name]
	return run, ok
}

// List returns the runners sorted by name. The slice is the caller's to keep.
func (r *Registry) List() []Runner {
	return slices.Clone(r.sorted)
}

// Names returns the names of the runners, sorted.
func (r *Registry) Names() []string {
	names := make([]string, len(r.sorted))
	for i, run := range r.sorted {
		names[i] = run.Name()
	}
	return names
}
