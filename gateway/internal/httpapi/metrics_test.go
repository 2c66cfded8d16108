package httpapi_test

import (
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fdo-doip/doip-gateway/gateway/internal/gateway"
	"github.com/fdo-doip/doip-gateway/gateway/internal/httpapi"
	"github.com/fdo-doip/doip-gateway/gateway/internal/httpapi/httpapitest"
)

// Requests over HTTP are counted in the DOIP families, under the http listener and framing,
// with their status; the bytes written are counted too.
func TestMetrics(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	api := httpapi.New(httpapi.Options{Handler: &fake{}, ServiceID: serviceID, Metrics: gateway.NewMetrics(reg), Listener: "http"})
	srv := newTLSServer(t, api)
	c := srv.Client()
	httpapitest.Do(t, c, "GET", srv.URL+"/doip/retrieve/Q1/data.bin", "")
	httpapitest.Do(t, c, "GET", srv.URL+"/doip/retrieve/Q9/data.bin", "")
	httpapitest.Do(t, c, "GET", srv.URL+"/doip?t=Q1", "") // no operation: BadRequest before any request
	want := `
# HELP doip_requests_total DOIP requests answered, by listener, framing, operation and status (ok, an error kind, or aborted).
# TYPE doip_requests_total counter
doip_requests_total{framing="http",listener="http",op="retrieve",status="NotFound"} 1
doip_requests_total{framing="http",listener="http",op="retrieve",status="ok"} 1
doip_requests_total{framing="http",listener="http",op="unknown",status="BadRequest"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "doip_requests_total"); err != nil {
		t.Error(err)
	}
	if n, err := testutil.GatherAndCount(reg, "doip_response_bytes_total"); err != nil || n != 1 {
		t.Errorf("response bytes series: %d, %v", n, err)
	}
}
