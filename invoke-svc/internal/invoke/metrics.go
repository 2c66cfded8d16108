package invoke

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/fdo-doip/doip-gateway/shared/metrics"
)

// Metrics counts workflow runs. Install it with [WithMetrics].
//
// The workflow label only takes the names of the worker's registry: an invoke of an unknown
// workflow is answered NOT_FOUND and not counted here (grpc_server_handled_total has it).
type Metrics struct {
	runs     *prometheus.CounterVec   // workflow, result
	duration *prometheus.HistogramVec // workflow
	inFlight prometheus.Gauge         // runs holding or waiting for a run slot
}

// The values of the result label of workflow_runs_total.
const (
	resultOK          = "ok"          // a result computed and sent
	resultCached      = "cached"      // a stored result found and sent ("cached": true)
	resultBadParams   = "bad_params"  // params rejected, before or by the runner
	resultBadSource   = "bad_source"  // the source is malformed (a PDF, archive or LaTeX file)
	resultBudget      = "over_budget" // the run exceeded a budget (memory, time, bytes, output, quota)
	resultNotFound    = "not_found"   // the object or a component the run needs is missing
	resultUnavailable = "unavailable" // a backend the run needs is down
	resultBusy        = "busy"        // no run slot became free before the request ended; not run
	resultCanceled    = "canceled"    // the client went away or its deadline passed
	resultFailed      = "failed"      // anything else: a runner error or panic, a bad result
)

var allResults = []string{resultOK, resultCached, resultBadParams, resultBadSource, resultBudget, resultNotFound, resultUnavailable, resultBusy, resultCanceled, resultFailed}

// NewMetrics registers workflow_runs_total{workflow,result},
// workflow_duration_seconds{workflow} and workflow_runs_in_flight with reg. It panics if they are already registered
// there.
func NewMetrics(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		runs: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "workflow_runs_total",
			Help: "Workflow invocations, by workflow and result: ok, cached, bad_params, bad_source, over_budget, not_found, unavailable, busy, canceled or failed.",
		}, []string{"workflow", "result"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "workflow_duration_seconds",
			Help:    "Time a workflow ran, from its start in a run slot to its return, whatever the result.",
			Buckets: metrics.DurationBuckets,
		}, []string{"workflow"}),
		inFlight: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: InFlightMetric,
			Help: "Workflow runs on this worker that hold a run slot or wait for one: running plus queued. The autoscaler's measure of load.",
		}),
	}
	reg.MustRegister(m.runs, m.duration, m.inFlight)
	return m
}

// initWorkflows creates the series of the named workflows at zero.
func (m *Metrics) initWorkflows(names []string) {
	if m == nil {
		return
	}
	for _, name := range names {
		m.duration.WithLabelValues(name)
		for _, r := range allResults {
			m.runs.WithLabelValues(name, r)
		}
	}
}

// InFlightMetric is the name of the gauge of runs that hold or wait for a run slot; the Helm
// chart's HorizontalPodAutoscaler scales the workers on it.
const InFlightMetric = "workflow_runs_in_flight"

// enter counts a run that starts waiting for a slot; leave counts it out again.
func (m *Metrics) enter() {
	if m != nil {
		m.inFlight.Inc()
	}
}

func (m *Metrics) leave() {
	if m != nil {
		m.inFlight.Dec()
	}
}

func (m *Metrics) done(workflow, result string) {
	if m != nil {
		m.runs.WithLabelValues(workflow, result).Inc()
	}
}

func (m *Metrics) ran(workflow string, seconds float64) {
	if m != nil {
		m.duration.WithLabelValues(workflow).Observe(seconds)
	}
}

// Option changes a [Server] made by [NewServer].
type Option func(*Server)

// WithMetrics counts the server's workflow runs in m.
func WithMetrics(m *Metrics) Option {
	return func(s *Server) { s.metrics = m }
}
