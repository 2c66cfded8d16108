// Package metrics holds what the three processes measure the same way: a Prometheus registry
// per process (never the global default one) with the process and Go runtime collectors, and
// gRPC server and client metrics gathered by small interceptors.
//
// The gRPC families follow the names of the go-grpc-prometheus middleware, so its dashboards
// and alerts work unchanged:
//
//   - grpc_server_started_total{grpc_type,grpc_service,grpc_method}
//   - grpc_server_handled_total{grpc_type,grpc_service,grpc_method,grpc_code}
//   - grpc_server_handling_seconds{grpc_type,grpc_service,grpc_method} (histogram)
//   - grpc_client_started_total, grpc_client_handled_total, grpc_client_handling_seconds,
//     with the same labels.
//
// Every label value is bounded: method names come from the registered services or the
// generated clients, codes from the gRPC code table. Request ids and object ids are never
// labels. Messages are not counted.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// NewRegistry returns an empty registry with the process collector (CPU, memory, open file
// descriptors) and the Go runtime collector registered.
func NewRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		collectors.NewGoCollector(),
	)
	return reg
}

// DurationBuckets are the histogram buckets, in seconds, of request and call durations:
// from a millisecond (a cached record on loopback) to ten minutes (a whole workflow run,
// the gateway's default invoke timeout).
var DurationBuckets = []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}
