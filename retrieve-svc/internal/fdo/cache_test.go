package fdo

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

// countingSource serves a small record for every id, except the ids in missing, and counts
// calls per id. If gate is not nil, each call waits for it (or for its context).
type countingSource struct {
	mu      sync.Mutex
	calls   map[string]int
	missing map[string]bool
	gate    chan struct{}
	ctxErrs atomic.Int32 // calls that ended because their context was done
	body    string
}

func newCountingSource() *countingSource {
	return &countingSource{calls: map[string]int{}, missing: map[string]bool{}, body: `{"kernel":{}}`}
}

func (s *countingSource) Record(ctx context.Context, qid string) ([]byte, error) {
	s.mu.Lock()
	s.calls[qid]++
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
			s.ctxErrs.Add(1)
			return nil, ctx.Err()
		}
	}
	if s.missing[qid] {
		return nil, ErrNotFound
	}
	return []byte(s.body), nil
}

func (s *countingSource) count(qid string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[qid]
}

func TestCacheHit(t *testing.T) {
	t.Parallel()
	src := newCountingSource()
	c := NewCache(src, time.Hour, 10)
	ctx := t.Context()
	if _, cached, err := c.Record(ctx, "Q1"); err != nil || cached {
		t.Fatalf("first Record: cached=%v err=%v", cached, err)
	}
	rec, cached, err := c.Record(ctx, "Q1")
	if err != nil || !cached || string(rec.Raw) != src.body {
		t.Fatalf("second Record: %q cached=%v err=%v", rec.Raw, cached, err)
	}
	if n := src.count("Q1"); n != 1 {
		t.Errorf("source called %d times; want 1", n)
	}
}

func TestCacheErrorsNotCached(t *testing.T) {
	t.Parallel()
	src := newCountingSource()
	src.missing["Q2"] = true
	c := NewCache(src, time.Hour, 10)
	for range 2 {
		if _, _, err := c.Record(t.Context(), "Q2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("error = %v; want ErrNotFound", err)
		}
	}
	if n := src.count("Q2"); n != 2 {
		t.Errorf("source called %d times; want 2", n)
	}
	src.body = `[1]`
	for range 2 {
		if _, _, err := c.Record(t.Context(), "Q3"); !errors.Is(err, ErrMalformed) {
			t.Fatalf("error = %v; want ErrMalformed", err)
		}
	}
	if n := c.Len(); n != 0 {
		t.Errorf("Len = %d; want 0", n)
	}
}

func TestCacheEvictsOldest(t *testing.T) {
	t.Parallel()
	src := newCountingSource()
	c := NewCache(src, time.Hour, 2)
	ctx := t.Context()
	for _, id := range []string{"Q1", "Q2", "Q1", "Q3"} {
		if _, _, err := c.Record(ctx, id); err != nil {
			t.Fatal(err)
		}
	}
	if n := c.Len(); n != 2 {
		t.Errorf("Len = %d; want 2", n)
	}
	// Q1 was the oldest insertion, so it went first; Q2 and Q3 are still there.
	for _, id := range []string{"Q2", "Q3"} {
		if _, cached, _ := c.Record(ctx, id); !cached {
			t.Errorf("%s not cached", id)
		}
	}
	if _, cached, _ := c.Record(ctx, "Q1"); cached {
		t.Error("Q1 still cached")
	}
}

func TestCacheDisabled(t *testing.T) {
	t.Parallel()
	src := newCountingSource()
	for _, c := range []*Cache{NewCache(src, 0, 10), NewCache(src, time.Hour, 0)} {
		for range 2 {
			if _, cached, err := c.Record(t.Context(), "Q1"); err != nil || cached {
				t.Fatalf("cached=%v err=%v", cached, err)
			}
		}
	}
	if n := src.count("Q1"); n != 4 {
		t.Errorf("source called %d times; want 4", n)
	}
}

func TestCacheTTL(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		src := newCountingSource()
		c := NewCache(src, time.Minute, 10)
		ctx := t.Context()
		c.Record(ctx, "Q1")
		time.Sleep(59 * time.Second)
		if _, cached, _ := c.Record(ctx, "Q1"); !cached {
			t.Error("not cached before the TTL")
		}
		time.Sleep(time.Second)
		if _, cached, _ := c.Record(ctx, "Q1"); cached {
			t.Error("still cached after the TTL")
		}
		if n := src.count("Q1"); n != 2 {
			t.Errorf("source called %d times; want 2", n)
		}
	})
}

func TestCachePurge(t *testing.T) {
	t.Parallel()
	src := newCountingSource()
	c := NewCache(src, time.Hour, 10)
	ctx := t.Context()
	c.Record(ctx, "Q1")
	if !c.Purge("Q1") {
		t.Error("Purge of a cached record = false")
	}
	if c.Purge("Q1") {
		t.Error("second Purge = true")
	}
	if c.Purge("Q2") {
		t.Error("Purge of an unknown record = true")
	}
	if _, cached, _ := c.Record(ctx, "Q1"); cached {
		t.Error("cached after Purge")
	}
	if n := src.count("Q1"); n != 2 {
		t.Errorf("source called %d times; want 2", n)
	}
}

// TestCacheSingleFlight checks that concurrent misses of one id share one fetch.
func TestCacheSingleFlight(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		src := newCountingSource()
		src.gate = make(chan struct{})
		c := NewCache(src, time.Hour, 10)
		var wg sync.WaitGroup
		var fromSource atomic.Int32
		for range 10 {
			wg.Go(func() {
				rec, cached, err := c.Record(t.Context(), "Q1")
				if err != nil || string(rec.Raw) != src.body {
					t.Errorf("Record = %q, %v", rec.Raw, err)
				}
				if !cached {
					fromSource.Add(1)
				}
			})
		}
		synctest.Wait() // all ten are waiting for the one fetch
		if n := src.count("Q1"); n != 1 {
			t.Errorf("source called %d times while 10 callers waited; want 1", n)
		}
		close(src.gate)
		wg.Wait()
		if n := fromSource.Load(); n != 10 {
			t.Errorf("%d callers got a fresh record; want all 10", n)
		}
	})
}

// TestCacheWaitersLeave checks that a fetch is cancelled when every waiter has gone, and that
// one waiter leaving does not fail the others.
func TestCacheWaitersLeave(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		src := newCountingSource()
		src.gate = make(chan struct{})
		c := NewCache(src, time.Hour, 10)

		ctxA, cancelA := context.WithCancel(t.Context())
		ctxB, cancelB := context.WithCancel(t.Context())
		errA, errB := make(chan error, 1), make(chan error, 1)
		go func() { _, _, err := c.Record(ctxA, "Q1"); errA <- err }()
		go func() { _, _, err := c.Record(ctxB, "Q1"); errB <- err }()
		synctest.Wait()

		cancelA()
		if err := <-errA; !errors.Is(err, context.Canceled) {
			t.Errorf("A: error = %v; want context.Canceled", err)
		}
		synctest.Wait()
		if n := src.ctxErrs.Load(); n != 0 {
			t.Fatal("the fetch was cancelled while B still waited")
		}
		cancelB()
		<-errB
		synctest.Wait()
		if n := src.ctxErrs.Load(); n != 1 {
			t.Errorf("the fetch saw %d cancellations once nobody waited; want 1", n)
		}

		// The next caller starts a fresh fetch instead of joining the cancelled one.
		close(src.gate)
		if _, _, err := c.Record(t.Context(), "Q1"); err != nil {
			t.Errorf("Record after the waiters left: %v", err)
		}
		if n := src.count("Q1"); n != 2 {
			t.Errorf("source called %d times; want 2", n)
		}
	})
}

// TestCachePurgeInFlight checks that a record fetched across a Purge is not cached.
func TestCachePurgeInFlight(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		src := newCountingSource()
		src.gate = make(chan struct{})
		c := NewCache(src, time.Hour, 10)
		done := make(chan struct{})
		go func() {
			defer close(done)
			if _, _, err := c.Record(t.Context(), "Q1"); err != nil {
				t.Error(err)
			}
		}()
		synctest.Wait()
		if c.Purge("Q1") {
			t.Error("Purge of an uncached record = true")
		}
		close(src.gate)
		<-done
		if n := c.Len(); n != 0 {
			t.Errorf("Len = %d after a purged fetch; want 0", n)
		}
	})
}
