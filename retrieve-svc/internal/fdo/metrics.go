package fdo

import (
	"context"
	"errors"

	"github.com/prometheus/client_golang/prometheus"
)

// CacheMetrics counts what a [Cache] does: lookups by whether the cache answered them, and
// fetches from the record source by outcome. Install it with [WithMetrics].
type CacheMetrics struct {
	lookups   *prometheus.CounterVec // result: hit, miss
	fetches   *prometheus.CounterVec // result: see fetchResult
	hit, miss prometheus.Counter     // the lookups' two series, found once
}

// NewCacheMetrics registers retrieve_record_cache_total{result="hit|miss"} and
// retrieve_record_fetches_total{result} with reg. It panics if they are already registered
// there.
func NewCacheMetrics(reg prometheus.Registerer) *CacheMetrics {
	m := &CacheMetrics{
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "retrieve_record_cache_total",
			Help: "Record lookups, by result: hit (answered from the cache) or miss (fetched, or joined a fetch in flight).",
		}, []string{"result"}),
		fetches: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "retrieve_record_fetches_total",
			Help: "Records fetched from the record source (the FDO façade or the records folder), by result: ok, not_found, invalid, unavailable, malformed, canceled or error.",
		}, []string{"result"}),
	}
	reg.MustRegister(m.lookups, m.fetches)
	m.hit, m.miss = m.lookups.WithLabelValues("hit"), m.lookups.WithLabelValues("miss")
	for _, r := range []string{"ok", "not_found", "invalid", "unavailable", "malformed", "canceled", "error"} {
		m.fetches.WithLabelValues(r)
	}
	return m
}

func (m *CacheMetrics) lookup(hit bool) {
	if m == nil {
		return
	}
	if hit {
		m.hit.Inc()
	} else {
		m.miss.Inc()
	}
}

func (m *CacheMetrics) fetched(err error) {
	if m != nil {
		m.fetches.WithLabelValues(fetchResult(err)).Inc()
	}
}

// fetchResult names the outcome of one fetch for the result label.
func fetchResult(err error) string {
	switch {
	case err == nil:
		return "ok"
	case errors.Is(err, ErrNotFound):
		return "not_found"
	case errors.Is(err, ErrBadRequest):
		return "invalid"
	case errors.Is(err, ErrUnavailable):
		return "unavailable"
	case errors.Is(err, ErrMalformed), errors.Is(err, ErrTooLarge):
		return "malformed"
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	default:
		return "error"
	}
}

// CacheOption changes a [Cache] made by [NewCache].
type CacheOption func(*Cache)

// WithMetrics counts the cache's lookups and fetches in m.
func WithMetrics(m *CacheMetrics) CacheOption {
	return func(c *Cache) { c.metrics = m }
}
