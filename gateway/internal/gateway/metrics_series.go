package gateway

import (
	"maps"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// requestKey names the series one answered request counts in. Every field is a bounded
// label value (see [Metrics]), so the set of keys is small.
type requestKey struct {
	listener, framing, op, status string
}

// requestSeries are the children of doip_requests_total and doip_request_duration_seconds
// that one key counts in, resolved once: looking the labels up per request hashed four
// strings under a lock, about half a microsecond.
type requestSeries struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// seriesCache holds the resolved series, copied on write: a request reads the map without
// a lock, and only the first request of a kind writes it.
type seriesCache struct {
	mu sync.Mutex
	m  atomic.Pointer[map[requestKey]*requestSeries]
}

func (c *seriesCache) get(m *Metrics, k requestKey) *requestSeries {
	if p := c.m.Load(); p != nil {
		if s, ok := (*p)[k]; ok {
			return s
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	var next map[requestKey]*requestSeries
	if p := c.m.Load(); p != nil {
		if s, ok := (*p)[k]; ok {
			return s
		}
		next = maps.Clone(*p)
	} else {
		next = map[requestKey]*requestSeries{}
	}
	s := &requestSeries{
		requests: m.requests.WithLabelValues(k.listener, k.framing, k.op, k.status),
		duration: m.duration.WithLabelValues(k.framing, k.op),
	}
	next[k] = s
	c.m.Store(&next)
	return s
}
