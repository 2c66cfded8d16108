package gateway

import (
	"errors"
	"io"
	"net"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/shared/metrics"
)

// Metrics are the DOIP families of the gateway. One value serves every [Server] of the
// process; the listener label tells them apart. A nil *Metrics measures nothing.
//
// Every label value is bounded: listener names are configured, framings and ops are the
// model's (every op byte the model does not define counts as "other"), statuses are "ok", the error kinds of
// [doip.ErrorKind] and "aborted", and the kinds of framing errors are the few listed below.
// Object ids and request ids are never labels.
type Metrics struct {
	requests      *prometheus.CounterVec   // listener, framing, op, status
	duration      *prometheus.HistogramVec // framing, op
	responseBytes *prometheus.CounterVec   // framing
	active        *prometheus.GaugeVec     // listener
	connections   *prometheus.CounterVec   // listener, tls
	rejected      *prometheus.CounterVec   // listener
	framingErrors *prometheus.CounterVec   // listener, kind
	series        seriesCache              // resolved children of requests and duration
}

// The values of the status label that are not error kinds.
const (
	statusOK = "ok"
	// statusAborted: the answer was cut off after it began (the client went away, a write
	// timed out, or a backend stream failed after the first byte); the connection closed.
	statusAborted = "aborted"
)

// The values of the tls label of doip_connections_total.
const (
	tlsYes    = "true"   // a TLS handshake completed
	tlsNo     = "false"  // plaintext
	tlsFailed = "failed" // closed or failed before either: no first byte, a failed handshake, plaintext on a TLS-only port
)

// The values of the kind label of doip_framing_errors_total.
const (
	framingTruncated  = "truncated"        // the client closed in the middle of a request
	framingTimeout    = "timeout"          // a request did not arrive whole within the read timeout
	framingTooLarge   = "too_large"        // a declared size over a limit
	framingMalformed  = "malformed"        // anything else the codec rejected
	framingTLS        = "tls_handshake"    // a TLS handshake failed
	framingPlaintext  = "plaintext_on_tls" // a plaintext client on a TLS-only port
	framingUnknownLbl = "unknown"          // a request whose codec set no framing (tests)
)

// NewMetrics registers the gateway's DOIP families with reg. It panics if they are already
// registered there.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "doip_requests_total",
			Help: "DOIP requests answered, by listener, framing, operation and status (ok, an error kind, or aborted).",
		}, []string{"listener", "framing", "op", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "doip_request_duration_seconds",
			Help:    "Time from a DOIP request read to its answer written, by framing and operation.",
			Buckets: metrics.DurationBuckets,
		}, []string{"framing", "op"}),
		responseBytes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "doip_response_bytes_total",
			Help: "Bytes written to DOIP clients, by framing (unknown: written before a connection's first request).",
		}, []string{"framing"}),
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "doip_active_connections",
			Help: "Open DOIP client connections, by listener.",
		}, []string{"listener"}),
		connections: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "doip_connections_total",
			Help: "DOIP client connections accepted, by listener and transport (tls true, false, or failed before either).",
		}, []string{"listener", "tls"}),
		rejected: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "doip_connections_rejected_total",
			Help: "DOIP client connections closed at once because the listener had max-conns open, by listener.",
		}, []string{"listener"}),
		framingErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "doip_framing_errors_total",
			Help: "Connections closed for a broken request or handshake, by listener and kind.",
		}, []string{"listener", "kind"}),
	}
	reg.MustRegister(m.requests, m.duration, m.responseBytes, m.active, m.connections, m.rejected, m.framingErrors)
	return m
}

// initListener creates the series of a listener at zero, so dashboards see it before traffic.
func (m *Metrics) initListener(listener string) {
	if m == nil {
		return
	}
	m.active.WithLabelValues(listener)
	m.rejected.WithLabelValues(listener)
	for _, tls := range []string{tlsYes, tlsNo, tlsFailed} {
		m.connections.WithLabelValues(listener, tls)
	}
}

func (m *Metrics) connOpened(listener string) {
	if m != nil {
		m.active.WithLabelValues(listener).Inc()
	}
}

func (m *Metrics) connClosed(listener string) {
	if m != nil {
		m.active.WithLabelValues(listener).Dec()
	}
}

func (m *Metrics) connRejected(listener string) {
	if m != nil {
		m.rejected.WithLabelValues(listener).Inc()
	}
}

func (m *Metrics) connEstablished(listener, tls string) {
	if m != nil {
		m.connections.WithLabelValues(listener, tls).Inc()
	}
}

func (m *Metrics) framingError(listener, kind string) {
	if m != nil {
		m.framingErrors.WithLabelValues(listener, kind).Inc()
	}
}

func (m *Metrics) requestDone(listener string, req *doip.Request, status string, seconds float64) {
	if m == nil {
		return
	}
	s := m.series.get(m, requestKey{listener, framingLabel(req.Framing), opLabel(req.Op), status})
	s.requests.Inc()
	s.duration.Observe(seconds)
}

// opOther is the op label of every operation byte the model does not define: a client
// choosing among 256 bytes must not be able to create series at will.
const opOther = "other"

// opLabel is the op label: the operation's name, or [opOther].
func opLabel(op doip.Op) string {
	if !op.Known() && op != doip.OpUnknown {
		return opOther
	}
	return op.String()
}

func framingLabel(f doip.Framing) string {
	if f == "" {
		return framingUnknownLbl
	}
	return string(f)
}

// framingErrorKind names the kind of a framing error for the kind label.
func framingErrorKind(err error, e *doip.Error) string {
	var ne net.Error
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF):
		return framingTruncated
	case errors.As(err, &ne) && ne.Timeout():
		return framingTimeout
	case e != nil && e.Kind == doip.KindTooLarge:
		return framingTooLarge
	default:
		return framingMalformed
	}
}

// byteCounter counts the bytes written to one client under the framing of its requests,
// which it learns with the first request. It is used by the connection's writes only, which
// the codec contract serializes.
type byteCounter struct {
	m       *Metrics
	c       prometheus.Counter // nil until the framing is known
	pending int64              // bytes written before that
}

func (b *byteCounter) add(n int) {
	switch {
	case b == nil || b.m == nil || n <= 0:
	case b.c != nil:
		b.c.Add(float64(n))
	default:
		b.pending += int64(n)
	}
}

// setFraming fixes the framing label, once, and counts what was written before.
func (b *byteCounter) setFraming(f doip.Framing) {
	if b == nil || b.m == nil || b.c != nil {
		return
	}
	b.c = b.m.responseBytes.WithLabelValues(framingLabel(f))
	if b.pending > 0 {
		b.c.Add(float64(b.pending))
		b.pending = 0
	}
}

// close counts bytes written on a connection that never had a request under "unknown".
func (b *byteCounter) close() {
	if b == nil || b.m == nil || b.c != nil || b.pending == 0 {
		return
	}
	b.m.responseBytes.WithLabelValues(framingUnknownLbl).Add(float64(b.pending))
	b.pending = 0
}

// RequestDone counts one request answered outside a [Server], by a listener that is not a
// DOIP port (the HTTP mapping), under the same families and labels: status is "ok", an
// error kind, or "aborted".
func (m *Metrics) RequestDone(listener string, req *doip.Request, status string, seconds float64) {
	m.requestDone(listener, req, status, seconds)
}

// ResponseBytes counts n bytes written to a client of framing f outside a [Server].
func (m *Metrics) ResponseBytes(f doip.Framing, n int64) {
	if m != nil && n > 0 {
		m.responseBytes.WithLabelValues(framingLabel(f)).Add(float64(n))
	}
}

// The status label values for callers of [Metrics.RequestDone].
const (
	StatusOK      = statusOK
	StatusAborted = statusAborted
)
