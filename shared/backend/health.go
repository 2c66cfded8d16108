package backend

import (
	"cmp"
	"context"
	"fmt"
	"sync"
	"time"

	"google.golang.org/grpc"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// HealthProbe asks a backend's gRPC health service whether a service is SERVING, and
// remembers the answer for a while, so that frequent readiness probes of the process cost
// the backend one call per TTL. It is safe for concurrent use.
type HealthProbe struct {
	client  healthpb.HealthClient
	service string
	ttl     time.Duration
	timeout time.Duration

	mu      sync.Mutex // held during a check, so concurrent probes share it
	checked time.Time  // when err was found; zero before the first check
	err     error
}

// ProbeTimeout bounds one health call of a [HealthProbe].
const ProbeTimeout = 2 * time.Second

// NewHealthProbe returns a probe of the named service ("" for the server as a whole) over cc
// whose answers are reused for ttl.
func NewHealthProbe(cc grpc.ClientConnInterface, service string, ttl time.Duration) *HealthProbe {
	return &HealthProbe{client: healthpb.NewHealthClient(cc), service: service, ttl: ttl, timeout: ProbeTimeout}
}

// Check returns nil when the service answered SERVING within the last TTL, else an error
// saying what it answered or why it did not. A caller that gives up early (ctx) neither
// cancels the call nor has its impatience cached.
func (p *HealthProbe) Check(ctx context.Context) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.checked.IsZero() && time.Since(p.checked) < p.ttl {
		return p.err
	}
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), p.timeout)
	defer cancel()
	resp, err := p.client.Check(cctx, &healthpb.HealthCheckRequest{Service: p.service})
	switch {
	case err != nil:
		// The code only: the status message of a failed connection names the address.
		p.err = fmt.Errorf("backend %s: health check failed: %s", p.name(), status.Code(err))
	case resp.GetStatus() != healthpb.HealthCheckResponse_SERVING:
		p.err = fmt.Errorf("backend %s: health status %s", p.name(), resp.GetStatus())
	default:
		p.err = nil
	}
	p.checked = time.Now()
	return p.err
}

func (p *HealthProbe) name() string { return cmp.Or(p.service, "server") }
