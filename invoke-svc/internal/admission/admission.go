// Package admission admits workflow runs by the memory they are expected to need in the
// worker's own process, so that the runs admitted at once fit the worker's memory limit
// (the Go runtime's soft limit, set from the same value). A run that could never fit fails
// at once with workflow.ErrBudget; one that fits waits until enough of the budget is free
// or its context ends.
//
// Expected sizes are estimates from what is known before the work (a source's announced
// size, the cap of a derived document); the work a child process does (package
// extractproc) is bounded by that child's own limits and is not counted here.
package admission

import (
	"context"
	"fmt"

	"golang.org/x/sync/semaphore"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
)

// Budget is a memory budget shared by the runs of one process. It is safe for concurrent
// use.
type Budget struct {
	total int64
	sem   *semaphore.Weighted
}

// New returns a budget of total bytes.
func New(total int64) *Budget {
	return &Budget{total: total, sem: semaphore.NewWeighted(total)}
}

// Acquire reserves n bytes for a run described by what, waiting while other runs hold the
// budget. The returned function gives them back. n over the whole budget fails at once
// with an error wrapping workflow.ErrBudget; a context that ends first fails with its
// error.
func (b *Budget) Acquire(ctx context.Context, n int64, what string) (release func(), err error) {
	if n > b.total {
		return nil, fmt.Errorf("%w: memory budget of %d MiB: %s needs about %d MiB", workflow.ErrBudget, b.total>>20, what, (n+1<<20-1)>>20)
	}
	n = max(n, 1)
	if err := b.sem.Acquire(ctx, n); err != nil {
		return nil, err
	}
	return func() { b.sem.Release(n) }, nil
}
