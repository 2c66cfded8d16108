package dispatch

import (
	"context"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// DefaultMaxBackendCalls bounds the backend calls and streams one gateway has open at once.
const DefaultMaxBackendCalls = 1024

// backendSlots bounds concurrent backend calls, so that a burst of clients cannot open more
// streams to the services than they can serve; a call that finds no slot within the call
// timeout is answered Unavailable.
type backendSlots chan struct{}

func newBackendSlots(n int) backendSlots {
	if n <= 0 {
		n = DefaultMaxBackendCalls
	}
	return make(backendSlots, n)
}

// acquire takes a slot, waiting at most wait; release gives it back.
func (s backendSlots) acquire(ctx context.Context, wait time.Duration) error {
	select {
	case s <- struct{}{}:
		return nil
	default:
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case s <- struct{}{}:
		return nil
	case <-t.C:
		return doip.Errorf(doip.KindUnavailable, "the gateway is busy: all %d backend slots are in use, try again", cap(s))
	case <-ctx.Done():
		return doip.Errorf(doip.KindUnavailable, "request cancelled while waiting for a backend slot")
	}
}

// release gives back a slot that acquire took.
func (s backendSlots) release() { <-s }
