package admission_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/admission"
	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/workflow"
)

func TestBudget(t *testing.T) {
	t.Parallel()
	b := admission.New(100 << 20)
	if _, err := b.Acquire(t.Context(), 101<<20, "big.pdf of Q1"); !errors.Is(err, workflow.ErrBudget) ||
		!strings.Contains(err.Error(), "memory budget of 100 MiB: big.pdf of Q1 needs about 101 MiB") {
		t.Errorf("over the whole budget: %v", err)
	}
	r1, err := b.Acquire(t.Context(), 60<<20, "a")
	if err != nil {
		t.Fatal(err)
	}
	// 60 + 60 does not fit: the second waits until its context ends.
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := b.Acquire(ctx, 60<<20, "b"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("second run while the first holds the budget: %v, want to wait until the deadline", err)
	}
	// ... or until the first gives its share back.
	got := make(chan error, 1)
	go func() {
		r2, err := b.Acquire(t.Context(), 60<<20, "c")
		if err == nil {
			r2()
		}
		got <- err
	}()
	r1()
	if err := <-got; err != nil {
		t.Errorf("after the first run released: %v", err)
	}
}
