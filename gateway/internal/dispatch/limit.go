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

// acquire takes a slot, waiting at most wait; the returned func gives it back (once).
func (s backendSlots) acquire(ctx context.Context, wait time.Duration) (func(), error) {
	select {
	case s <- struct{}{}:
	default:
		t := time.NewTimer(wait)
		defer t.Stop()
		select {
		case s <- struct{}{}:
		case <-t.C:
			return nil, doip.Errorf(doip.KindUnavailable, "the gateway is busy: all %d backend slots are in use, try again", cap(s))
		case <-ctx.Done():
			return nil, doip.Errorf(doip.KindUnavailable, "request cancelled while waiting for a backend slot")
		}
	}
	released := false
	return func() {
		if !released {
			released = true
			<-s
		}
	}, nil
}
