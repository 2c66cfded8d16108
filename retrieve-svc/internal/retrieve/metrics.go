package retrieve

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/changes"
)

// Metrics counts the bytes the service moves. Install it with [WithMetrics].
type Metrics struct {
	componentBytes prometheus.Counter
	derivedBytes   prometheus.Counter
}

// NewMetrics registers retrieve_component_bytes_total and retrieve_derived_bytes_total with
// reg. It panics if they are already registered there.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		componentBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "retrieve_component_bytes_total",
			Help: "Component bytes sent in StreamComponent streams, counted chunk by chunk as they are sent.",
		}),
		derivedBytes: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "retrieve_derived_bytes_total",
			Help: "Bytes of derived components stored by WriteComponent, counted when a component is complete.",
		}),
	}
	reg.MustRegister(m.componentBytes, m.derivedBytes)
	return m
}

func (m *Metrics) sent(n int64) {
	if m != nil {
		m.componentBytes.Add(float64(n))
	}
}

func (m *Metrics) stored(n int64) {
	if m != nil {
		m.derivedBytes.Add(float64(n))
	}
}

// Option changes a [Server] made by [NewServer].
type Option func(*Server)

// WithObserver tells o of every commit the server makes (see package changes).
func WithObserver(o changes.Observer) Option {
	return func(s *Server) { s.observer = o }
}

// WithMetrics counts the server's bytes in m.
func WithMetrics(m *Metrics) Option {
	return func(s *Server) { s.metrics = m }
}
