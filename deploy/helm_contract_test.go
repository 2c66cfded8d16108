package deploy_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/admin"
	"github.com/prometheus/client_golang/prometheus"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The chart must not drift from the code. What the binaries read and serve is taken from
// the code's own contracts, not restated here:
//   - the environment variables each binary reads: the bracketed names in its section of
//     config.example.yaml, which a test in each config package checks against the code;
//   - the admin endpoints: the handler of shared/admin that every binary serves;
//   - the metric the autoscaler uses: the name invoke-svc registers;
//   - the user the images run as and the ports they expose: the Dockerfile (parsed by
//     dockerfile_test.go).

// configEnv returns, for each section of config.example.yaml, the environment variables its
// comments name in brackets ("[DOIP_PORT]", "[GRPC_TLS_CERT, GRPC_TLS_KEY, GRPC_TLS_CA]").
func configEnv(t *testing.T) map[string][]string {
	t.Helper()
	f, err := os.Open(filepath.Join(repoRoot(t), "config.example.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]string{}
	section := ""
	sectionRE := regexp.MustCompile(`^([a-z][a-z-]*):\s*$`)
	bracketRE := regexp.MustCompile(`\[([A-Z][A-Z0-9_]*(?:,\s*[A-Z][A-Z0-9_]*)*)\]\s*$`)
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if m := sectionRE.FindStringSubmatch(line); m != nil {
			section = m[1]
			continue
		}
		if section == "" || !strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if m := bracketRE.FindStringSubmatch(line); m != nil {
			for name := range strings.SplitSeq(m[1], ",") {
				out[section] = append(out[section], strings.TrimSpace(name))
			}
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	for component := range chartComponents {
		if len(out[component]) < 10 {
			t.Fatalf("config.example.yaml: %d variables in section %s, want the whole table", len(out[component]), component)
		}
	}
	return out
}

// hostPort splits an address that must be host:port with a numeric port.
func hostPort(t *testing.T, what, addr string) (string, int32) {
	t.Helper()
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatalf("%s %q: %v", what, addr, err)
	}
	n, err := strconv.ParseInt(port, 10, 32)
	if err != nil {
		t.Fatalf("%s %q: port: %v", what, addr, err)
	}
	return host, int32(n)
}

func duration(t *testing.T, what, v string) time.Duration {
	t.Helper()
	d, err := time.ParseDuration(v)
	if err != nil {
		t.Fatalf("%s %q: %v", what, v, err)
	}
	return d
}

// drainEnv names the variable of each binary's drain timeout.
var drainEnv = map[string]string{
	"gateway":      "DRAIN_TIMEOUT",
	"retrieve-svc": "RETRIEVE_DRAIN_TIMEOUT",
	"invoke-svc":   "DRAIN_TIMEOUT",
}

// listenEnv names the variable of each service's gRPC listen address.
var listenEnv = map[string]string{
	"retrieve-svc": "RETRIEVE_LISTEN",
	"invoke-svc":   "INVOKE_LISTEN",
}

// TestHelmEnvironmentIsRead: every environment variable the chart sets on a container is one
// its binary reads, so a renamed or removed setting fails here instead of being ignored in a
// cluster.
func TestHelmEnvironmentIsRead(t *testing.T) {
	t.Parallel()
	known := configEnv(t)
	forEachValueSet(t, func(t *testing.T, m *manifest) {
		for component := range chartComponents {
			c := container(t, deployment(t, m, component))
			for env := range containerEnv(t, c) {
				if !slices.Contains(known[component], env) {
					t.Errorf("%s: the chart sets %s, which %s does not read (config.example.yaml, section %s: %v)", component, env, component, component, known[component])
				}
			}
			if !slices.Equal(c.Args, []string{"--config="}) {
				t.Errorf("%s: args %q, want [--config=]: the environment is the whole configuration", component, c.Args)
			}
		}
	})
}

// TestHelmPortsAndProbes: the ports the containers declare are those the binaries listen on
// with the chart's environment, and those the images expose; the probes ask the admin
// server's liveness and readiness endpoints on the admin port, which the binaries bind on
// every interface so the kubelet reaches it.
func TestHelmPortsAndProbes(t *testing.T) {
	t.Parallel()
	forEachValueSet(t, func(t *testing.T, m *manifest) {
		for component := range chartComponents {
			c := container(t, deployment(t, m, component))
			env := containerEnv(t, c)

			host, port := hostPort(t, component+" ADMIN_ADDR", env["ADMIN_ADDR"])
			if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
				t.Errorf("%s: ADMIN_ADDR %q: the kubelet probes the pod's address; bind 0.0.0.0", component, env["ADMIN_ADDR"])
			}
			if got := containerPort(t, c, "admin"); got != port {
				t.Errorf("%s: container port admin %d, ADMIN_ADDR listens on %d", component, got, port)
			}
			if strconv.Itoa(int(port)) != adminPort[component] {
				t.Errorf("%s: admin port %d, the image's HEALTHCHECK asks %s", component, port, adminPort[component])
			}

			want := map[string]int32{"admin": port}
			switch component {
			case "gateway":
				p, err := strconv.ParseInt(env["DOIP_PORT"], 10, 32)
				if err != nil {
					t.Fatalf("gateway DOIP_PORT %q: %v", env["DOIP_PORT"], err)
				}
				want["envelope"], want["segments"] = int32(p), int32(p)+1
			default:
				h, p := hostPort(t, component+" "+listenEnv[component], env[listenEnv[component]])
				if ip := net.ParseIP(h); ip == nil || !ip.IsUnspecified() {
					t.Errorf("%s: %s %q: other pods dial it; bind 0.0.0.0", component, listenEnv[component], env[listenEnv[component]])
				}
				want["grpc"] = p
			}
			for pname, wantPort := range want {
				if got := containerPort(t, c, pname); got != wantPort {
					t.Errorf("%s: container port %s is %d, the binary listens on %d", component, pname, got, wantPort)
				}
			}
			for _, p := range c.Ports {
				if p.Name == "http" {
					continue // reserved for the HTTP port to come; off by default
				}
				if !slices.Contains(exposed[component], strconv.Itoa(int(p.ContainerPort))) {
					t.Errorf("%s: container port %s %d is not among the image's EXPOSE %v", component, p.Name, p.ContainerPort, exposed[component])
				}
			}

			probes := map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe}
			wantPath := map[string]string{"liveness": "/healthz", "readiness": "/readyz", "startup": "/healthz"}
			for kind, p := range probes {
				if p == nil || p.HTTPGet == nil {
					t.Errorf("%s: no HTTP %s probe", component, kind)
					continue
				}
				if p.HTTPGet.Port != intstr.FromString("admin") && p.HTTPGet.Port != intstr.FromInt32(port) {
					t.Errorf("%s: %s probe on port %v, want the admin port", component, kind, p.HTTPGet.Port.String())
				}
				if p.HTTPGet.Path != wantPath[kind] {
					t.Errorf("%s: %s probe asks %s, want %s", component, kind, p.HTTPGet.Path, wantPath[kind])
				}
				if time.Duration(p.TimeoutSeconds)*time.Second <= admin.ReadyTimeout {
					t.Errorf("%s: %s probe timeout %ds, want more than the admin server's own %s", component, kind, p.TimeoutSeconds, admin.ReadyTimeout)
				}
			}
			checkAdminPaths(t, component, c)
		}
	})
}

// checkAdminPaths asks the admin handler every binary serves (shared/admin) for the paths of
// the container's probes: liveness answers 200 even while the process is not ready (a backend
// outage must not get every pod restarted), readiness answers 503 then and 200 when ready.
func checkAdminPaths(t *testing.T, component string, c corev1.Container) {
	t.Helper()
	logger := slog.New(slog.DiscardHandler)
	get := func(ready admin.ReadyFunc, path string) int {
		h := admin.NewHandler(prometheus.NewRegistry(), ready, logger)
		srv := httptest.NewServer(h)
		defer srv.Close()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	notReady := func(context.Context) error { return errors.New("draining") }
	ready := func(context.Context) error { return nil }
	for _, p := range []*corev1.Probe{c.LivenessProbe, c.StartupProbe} {
		if p == nil || p.HTTPGet == nil {
			continue
		}
		if code := get(notReady, p.HTTPGet.Path); code != http.StatusOK {
			t.Errorf("%s: liveness/startup path %s answers %d while not ready; want 200 (the process runs)", component, p.HTTPGet.Path, code)
		}
	}
	if p := c.ReadinessProbe; p != nil && p.HTTPGet != nil {
		if code := get(notReady, p.HTTPGet.Path); code != http.StatusServiceUnavailable {
			t.Errorf("%s: readiness path %s answers %d while draining; want 503", component, p.HTTPGet.Path, code)
		}
		if code := get(ready, p.HTTPGet.Path); code != http.StatusOK {
			t.Errorf("%s: readiness path %s answers %d when ready; want 200", component, p.HTTPGet.Path, code)
		}
	}
}

// serviceFor returns the Service the address dials: its host is a Service name of the
// release (the part before the first dot).
func serviceFor(t *testing.T, m *manifest, what, addr string) (*corev1.Service, int32, bool) {
	t.Helper()
	target, dnsScheme := strings.CutPrefix(addr, "dns:///")
	host, port := hostPort(t, what, target)
	svc, ok := m.services[strings.Split(host, ".")[0]]
	if !ok {
		t.Fatalf("%s %q names no Service of the chart", what, addr)
	}
	return svc, port, dnsScheme
}

// selects reports whether the selector picks the pods of d.
func selects(selector map[string]string, d *appsv1.Deployment) bool {
	if len(selector) == 0 {
		return false
	}
	for k, v := range selector {
		if d.Spec.Template.Labels[k] != v {
			return false
		}
	}
	return true
}

// TestHelmWiring: each address a binary dials is a Service of the chart, on a port that
// reaches the listening container; invoke-svc is headless and dialled through dns:/// so the
// gateway balances over every worker; retrieve-svc too when it is headless. Every Service
// selects the pods of exactly its own component.
func TestHelmWiring(t *testing.T) {
	t.Parallel()
	forEachValueSet(t, func(t *testing.T, m *manifest) {
		gw := containerEnv(t, container(t, deployment(t, m, "gateway")))
		inv := containerEnv(t, container(t, deployment(t, m, "invoke-svc")))
		dials := []struct{ from, env, to string }{
			{"gateway", "RETRIEVE_ADDR", "retrieve-svc"},
			{"gateway", "INVOKE_ADDR", "invoke-svc"},
			{"invoke-svc", "RETRIEVE_ADDR", "retrieve-svc"},
		}
		for _, d := range dials {
			env := gw
			if d.from == "invoke-svc" {
				env = inv
			}
			svc, port, dnsScheme := serviceFor(t, m, d.from+" "+d.env, env[d.env])
			target := deployment(t, m, d.to)
			if !selects(svc.Spec.Selector, target) {
				t.Errorf("%s %s dials Service %s, which does not select the %s pods", d.from, d.env, svc.Name, d.to)
			}
			headless := svc.Spec.ClusterIP == corev1.ClusterIPNone
			if headless != dnsScheme {
				t.Errorf("%s %s = %q, Service %s headless %v: a headless Service is dialled as dns:/// (every pod), a ClusterIP one by name", d.from, d.env, env[d.env], svc.Name, headless)
			}
			c := container(t, target)
			var sp *corev1.ServicePort
			for i := range svc.Spec.Ports {
				if svc.Spec.Ports[i].Port == port {
					sp = &svc.Spec.Ports[i]
				}
			}
			if sp == nil {
				t.Errorf("%s %s: Service %s has no port %d", d.from, d.env, svc.Name, port)
				continue
			}
			tp := sp.TargetPort
			if tp.Type == intstr.String {
				tp = intstr.FromInt32(containerPort(t, c, tp.StrVal))
			}
			if tp.IntVal != containerPort(t, c, "grpc") {
				t.Errorf("%s %s: Service %s port %d goes to %d, %s listens on %d", d.from, d.env, svc.Name, port, tp.IntVal, d.to, containerPort(t, c, "grpc"))
			}
			if headless && port != containerPort(t, c, "grpc") {
				t.Errorf("%s %s: a headless Service maps no ports; port %d must be the container's %d", d.from, d.env, port, containerPort(t, c, "grpc"))
			}
		}
		if svc, _, _ := serviceFor(t, m, "gateway INVOKE_ADDR", gw["INVOKE_ADDR"]); svc.Spec.ClusterIP != corev1.ClusterIPNone {
			t.Errorf("invoke-svc's Service %s is not headless: the gateway would see one address", svc.Name)
		}

		for svcName, svc := range m.services {
			n := 0
			for _, d := range m.deployments {
				if selects(svc.Spec.Selector, d) {
					n++
				}
			}
			if n != 1 {
				t.Errorf("Service %s selects the pods of %d Deployments, want 1", svcName, n)
			}
		}
		for _, d := range m.deployments {
			if !selects(d.Spec.Selector.MatchLabels, d) {
				t.Errorf("Deployment %s: its selector does not match its own pods", d.Name)
			}
		}

		gwSvc := m.services[objectName("gateway")]
		if gwSvc.Spec.Type != corev1.ServiceTypeLoadBalancer && gwSvc.Spec.Type != corev1.ServiceTypeNodePort {
			t.Errorf("gateway Service type %s, want LoadBalancer or NodePort", gwSvc.Spec.Type)
		}
		var ports []int32
		for _, p := range gwSvc.Spec.Ports {
			ports = append(ports, p.Port)
			if p.Name == "admin" {
				t.Errorf("the gateway's public Service carries the admin port: it has no authentication")
			}
		}
		gwc := container(t, deployment(t, m, "gateway"))
		wantPorts := []int32{containerPort(t, gwc, "envelope"), containerPort(t, gwc, "segments")}
		if slices.ContainsFunc(gwc.Ports, func(p corev1.ContainerPort) bool { return p.Name == "http" }) {
			wantPorts = append(wantPorts, containerPort(t, gwc, "http"))
		}
		if !slices.Equal(ports, wantPorts) {
			t.Errorf("gateway Service ports %v, want %v", ports, wantPorts)
		}
	})
}

// TestHelmHTTPPortOffByDefault: port 3569 is reserved for the HTTP interface the gateway does
// not serve yet: off by default, and when switched on it is on the container and the Service.
func TestHelmHTTPPortOffByDefault(t *testing.T) {
	t.Parallel()
	def := readDefaults(t)
	gw := def["gateway"].(map[string]any)["http"].(map[string]any)
	if gw["enabled"] != false || gw["port"] != float64(3569) && gw["port"] != 3569 && gw["port"] != int64(3569) {
		t.Errorf("values gateway.http = %v, want enabled false and port 3569", gw)
	}
	for name, vals := range map[string]map[string]any{"defaults": {}, "production": readValues(t, productionValues)} {
		c := container(t, deployment(t, render(t, vals), "gateway"))
		if slices.ContainsFunc(c.Ports, func(p corev1.ContainerPort) bool { return p.ContainerPort == 3569 || p.Name == "http" }) {
			t.Errorf("%s: the gateway container has the HTTP port, which nothing serves yet", name)
		}
	}
	m := render(t, map[string]any{"gateway": map[string]any{"http": map[string]any{"enabled": true}}})
	if got := containerPort(t, container(t, deployment(t, m, "gateway")), "http"); got != 3569 {
		t.Errorf("http enabled: container port %d, want 3569", got)
	}
}

// TestHelmBalancingFollowsPods: the services end client connections after a maximum age, so
// the gateway's resolver is asked again and new workers get runs; the grace and the workers'
// drain let a run last as long as the gateway waits for it, so neither a connection's end nor
// a rolling update cuts one; each pod lives on past its drain.
func TestHelmBalancingFollowsPods(t *testing.T) {
	t.Parallel()
	forEachValueSet(t, func(t *testing.T, m *manifest) {
		gw := containerEnv(t, container(t, deployment(t, m, "gateway")))
		invokeTimeout := duration(t, "gateway INVOKE_TIMEOUT", gw["INVOKE_TIMEOUT"])
		for component := range chartComponents {
			d := deployment(t, m, component)
			env := containerEnv(t, container(t, d))
			drain := duration(t, component+" "+drainEnv[component], env[drainEnv[component]])
			var sleep time.Duration
			if lc := container(t, d).Lifecycle; lc != nil && lc.PreStop != nil && lc.PreStop.Sleep != nil {
				sleep = time.Duration(lc.PreStop.Sleep.Seconds) * time.Second
			}
			grace := time.Duration(*d.Spec.Template.Spec.TerminationGracePeriodSeconds) * time.Second
			if grace <= drain+sleep {
				t.Errorf("%s: terminationGracePeriodSeconds %s, want more than the preStop sleep %s + drain %s, or the drain is killed", component, grace, sleep, drain)
			}
			if s := d.Spec.Strategy.RollingUpdate; s == nil || s.MaxUnavailable == nil || s.MaxUnavailable.IntValue() != 0 {
				t.Errorf("%s: a rolling update may take pods down before their successors are ready", component)
			}
			if component == "gateway" {
				continue
			}
			age := duration(t, component+" GRPC_MAX_CONNECTION_AGE", env["GRPC_MAX_CONNECTION_AGE"])
			if age <= 0 || age > 5*time.Minute {
				t.Errorf("%s: GRPC_MAX_CONNECTION_AGE %s, want a few seconds to minutes, so clients follow the replicas", component, age)
			}
			ageGrace := duration(t, component+" GRPC_MAX_CONNECTION_AGE_GRACE", env["GRPC_MAX_CONNECTION_AGE_GRACE"])
			if component == "invoke-svc" {
				if ageGrace != 0 && ageGrace < invokeTimeout {
					t.Errorf("invoke-svc: GRPC_MAX_CONNECTION_AGE_GRACE %s is shorter than the gateway's INVOKE_TIMEOUT %s: long runs would be cut", ageGrace, invokeTimeout)
				}
				if drain < invokeTimeout {
					t.Errorf("invoke-svc: DRAIN_TIMEOUT %s is shorter than the gateway's INVOKE_TIMEOUT %s: a rolling update would cut long runs", drain, invokeTimeout)
				}
			}
		}
	})
}

// TestHelmAutoscaling: the HorizontalPodAutoscaler scales the invoke-svc Deployment (which then
// leaves its replica count alone) on the gauge invoke-svc exports, with CPU beside it, or on
// CPU alone when asked.
func TestHelmAutoscaling(t *testing.T) {
	t.Parallel()
	src, err := os.ReadFile(filepath.Join(repoRoot(t), "invoke-svc", "internal", "invoke", "metrics.go"))
	if err != nil {
		t.Fatal(err)
	}
	mm := regexp.MustCompile(`InFlightMetric\s*=\s*"([a-z_]+)"`).FindSubmatch(src)
	if mm == nil {
		t.Fatal("invoke-svc/internal/invoke/metrics.go declares no InFlightMetric")
	}
	metric := string(mm[1])
	for name, tc := range map[string]struct {
		vals    map[string]any
		metrics []string
	}{
		"defaults":   {map[string]any{}, []string{"Pods/" + metric, "Resource/cpu"}},
		"production": {readValues(t, productionValues), []string{"Pods/" + metric, "Resource/cpu"}},
		"cpu":        {map[string]any{"invoke": map[string]any{"autoscaling": map[string]any{"metric": "cpu"}}}, []string{"Resource/cpu"}},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := render(t, tc.vals)
			hpa, ok := m.hpas[objectName("invoke-svc")]
			if !ok || len(m.hpas) != 1 {
				t.Fatalf("want one HorizontalPodAutoscaler, for invoke-svc; have %d", len(m.hpas))
			}
			d := deployment(t, m, "invoke-svc")
			if ref := hpa.Spec.ScaleTargetRef; ref.Kind != "Deployment" || ref.APIVersion != "apps/v1" || ref.Name != d.Name {
				t.Errorf("the autoscaler scales %+v, want the Deployment %s", ref, d.Name)
			}
			if d.Spec.Replicas != nil {
				t.Errorf("invoke-svc Deployment sets replicas %d: every upgrade would undo the autoscaler", *d.Spec.Replicas)
			}
			if hpa.Spec.MinReplicas == nil || *hpa.Spec.MinReplicas < 2 || hpa.Spec.MaxReplicas <= *hpa.Spec.MinReplicas {
				t.Errorf("replicas %v..%d: want at least 2 (a node loss leaves a worker) and room above", hpa.Spec.MinReplicas, hpa.Spec.MaxReplicas)
			}
			var got []string
			for _, ms := range hpa.Spec.Metrics {
				switch {
				case ms.Pods != nil:
					got = append(got, "Pods/"+ms.Pods.Metric.Name)
					if ms.Pods.Target.AverageValue == nil || ms.Pods.Target.AverageValue.Sign() <= 0 {
						t.Errorf("the %s target has no positive average value", ms.Pods.Metric.Name)
					}
				case ms.Resource != nil:
					got = append(got, "Resource/"+string(ms.Resource.Name))
					if c := container(t, d); c.Resources.Requests.Cpu().IsZero() {
						t.Errorf("CPU utilization needs a CPU request on invoke-svc")
					}
				}
			}
			if !slices.Equal(got, tc.metrics) {
				t.Errorf("metrics %v, want %v", got, tc.metrics)
			}
		})
	}
	m := render(t, map[string]any{"invoke": map[string]any{"autoscaling": map[string]any{"enabled": false}, "replicas": 3}})
	if len(m.hpas) != 0 {
		t.Errorf("autoscaling off still renders an autoscaler")
	}
	if r := deployment(t, m, "invoke-svc").Spec.Replicas; r == nil || *r != 3 {
		t.Errorf("autoscaling off: replicas %v, want 3", r)
	}
}

// peerSelects reports whether a NetworkPolicy peer picks the pods of d (pod selectors of the
// same namespace only: the chart writes no other kind for its own pods).
func peerSelects(p networkingv1.NetworkPolicyPeer, d *appsv1.Deployment) bool {
	return p.PodSelector != nil && p.NamespaceSelector == nil && p.IPBlock == nil && selects(p.PodSelector.MatchLabels, d)
}

// TestHelmNetworkPolicy: only the gateway reaches invoke-svc, only the gateway and invoke-svc
// reach retrieve-svc, the DOIP ports are open to all, and an admin port only to metricsFrom.
func TestHelmNetworkPolicy(t *testing.T) {
	t.Parallel()
	forEachValueSet(t, func(t *testing.T, m *manifest) {
		want := map[string][]string{
			"retrieve-svc": {"gateway", "invoke-svc"},
			"invoke-svc":   {"gateway"},
		}
		for component := range chartComponents {
			d := deployment(t, m, component)
			var pol *networkingv1.NetworkPolicy
			for _, p := range m.netpols {
				if selects(p.Spec.PodSelector.MatchLabels, d) {
					if pol != nil {
						t.Fatalf("%s: several NetworkPolicies select its pods", component)
					}
					pol = p
				}
			}
			if pol == nil {
				t.Errorf("%s: no NetworkPolicy selects its pods", component)
				continue
			}
			if !slices.Equal(pol.Spec.PolicyTypes, []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}) {
				t.Errorf("%s: policy types %v, want [Ingress]", component, pol.Spec.PolicyTypes)
			}
			c := container(t, d)
			for _, rule := range pol.Spec.Ingress {
				var named []string
				for _, p := range rule.Ports {
					if p.Port == nil || p.Port.Type != intstr.String {
						t.Errorf("%s: rule port %v: name the container's port", component, p.Port)
						continue
					}
					containerPort(t, c, p.Port.StrVal) // the name must exist
					named = append(named, p.Port.StrVal)
				}
				switch {
				case slices.Contains(named, "grpc"):
					if !slices.Equal(named, []string{"grpc"}) {
						t.Errorf("%s: the gRPC rule also opens %v", component, named)
					}
					var from []string
					for _, peer := range rule.From {
						found := false
						for other := range chartComponents {
							if peerSelects(peer, deployment(t, m, other)) {
								from, found = append(from, other), true
							}
						}
						if !found {
							t.Errorf("%s: gRPC open to %+v, which is none of the chart's pods", component, peer)
						}
					}
					slices.Sort(from)
					if !slices.Equal(from, want[component]) {
						t.Errorf("%s: gRPC reachable from %v, want %v", component, from, want[component])
					}
				case slices.Contains(named, "admin"):
					if !slices.Equal(named, []string{"admin"}) || len(rule.From) == 0 {
						t.Errorf("%s: the admin rule %+v: want the admin port alone, from metricsFrom", component, rule)
					}
				case component == "gateway":
					if len(rule.From) != 0 || slices.Contains(named, "admin") {
						t.Errorf("gateway: the DOIP rule %+v: want its ports open to all", rule)
					}
				default:
					t.Errorf("%s: an ingress rule for %v", component, named)
				}
			}
			if component != "gateway" && !slices.ContainsFunc(pol.Spec.Ingress, func(r networkingv1.NetworkPolicyIngressRule) bool {
				return slices.ContainsFunc(r.Ports, func(p networkingv1.NetworkPolicyPort) bool { return p.Port != nil && p.Port.StrVal == "grpc" })
			}) {
				t.Errorf("%s: no rule lets its clients reach gRPC", component)
			}
		}
	})
}

// TestHelmPodsMatchTheImages: the pods run as the images' user, non-root, with a read-only
// root filesystem and nothing to escalate to; images are pinned; every container has requests
// and limits (limits at least the requests); disruption budgets let at most one pod of a
// component go at a time.
func TestHelmPodsMatchTheImages(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	forEachValueSet(t, func(t *testing.T, m *manifest) {
		for component := range ownServices {
			df := dockerfile
			stages := parseDockerfile(t, filepath.Join(root, df))
			var user string
			for _, in := range imageStage(t, stages, component).insts {
				if in.cmd == "USER" {
					user = in.args
				}
			}
			uid, gid, _ := strings.Cut(user, ":")
			d := deployment(t, m, component)
			ps := d.Spec.Template.Spec.SecurityContext
			if ps == nil || ps.RunAsNonRoot == nil || !*ps.RunAsNonRoot || ps.RunAsUser == nil || strconv.FormatInt(*ps.RunAsUser, 10) != uid ||
				ps.RunAsGroup == nil || strconv.FormatInt(*ps.RunAsGroup, 10) != gid {
				t.Errorf("%s: pod security context %+v, want non-root as %s (USER in %s)", component, ps, user, df)
			}
			if sa := d.Spec.Template.Spec.AutomountServiceAccountToken; sa == nil || *sa {
				t.Errorf("%s: the service account token is mounted; the pods call no Kubernetes API", component)
			}
			c := container(t, d)
			sc := c.SecurityContext
			if sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem || sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation ||
				sc.Capabilities == nil || !slices.Contains(sc.Capabilities.Drop, "ALL") {
				t.Errorf("%s: container security context %+v, want a read-only root, no escalation, all capabilities dropped", component, sc)
			}
			if repo, tag, ok := strings.Cut(c.Image[strings.LastIndex(c.Image, "/")+1:], ":"); !ok || tag == "" || tag == "latest" {
				t.Errorf("%s: image %q (%s) is not pinned to a tag", component, c.Image, repo)
			}
			for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
				req, okReq := c.Resources.Requests[res]
				lim, okLim := c.Resources.Limits[res]
				if !okReq || !okLim || req.IsZero() {
					t.Errorf("%s: %s request %v, limit %v: want both", component, res, req.String(), lim.String())
				} else if lim.Cmp(req) < 0 {
					t.Errorf("%s: %s limit %s below its request %s", component, res, lim.String(), req.String())
				}
			}
			pdb, ok := m.pdbs[d.Name]
			if !ok || !selects(pdb.Spec.Selector.MatchLabels, d) {
				t.Errorf("%s: no PodDisruptionBudget selects its pods", component)
			} else if pdb.Spec.MaxUnavailable == nil || pdb.Spec.MaxUnavailable.IntValue() < 1 || pdb.Spec.MinAvailable != nil {
				t.Errorf("%s: PodDisruptionBudget %+v: want maxUnavailable of at least 1, so it never blocks a node drain", component, pdb.Spec)
			}
		}
	})
}

// TestHelmInternalTLS: with mutual TLS on, every process gets the certificate, key and CA
// from the mounted Secret, and the certificate cert-manager issues names the hosts the
// clients dial (a client checks the server's name against the address it dialled).
func TestHelmInternalTLS(t *testing.T) {
	t.Parallel()
	for name, vals := range map[string]map[string]any{
		"cert-manager": readValues(t, productionValues),
		"own Secret":   valueSets(t)["variants"],
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m := render(t, vals)
			var secret string
			for component := range chartComponents {
				d := deployment(t, m, component)
				c := container(t, d)
				env := containerEnv(t, c)
				mounts := map[string]string{} // mount path → secret name
				for _, vm := range c.VolumeMounts {
					for _, v := range d.Spec.Template.Spec.Volumes {
						if v.Name == vm.Name && v.Secret != nil {
							mounts[vm.MountPath] = v.Secret.SecretName
						}
					}
				}
				for _, key := range []string{"GRPC_TLS_CERT", "GRPC_TLS_KEY", "GRPC_TLS_CA"} {
					path, ok := env[key]
					if !ok {
						t.Errorf("%s: %s is not set", component, key)
						continue
					}
					s, ok := mounts[filepath.Dir(path)]
					if !ok {
						t.Errorf("%s: %s %s is in no mounted Secret (%v)", component, key, path, mounts)
						continue
					}
					if secret == "" {
						secret = s
					} else if s != secret {
						t.Errorf("%s: internal TLS from Secret %s, other processes from %s", component, s, secret)
					}
				}
			}
			if name != "cert-manager" {
				if len(m.certificates) != 0 {
					t.Errorf("a Certificate is rendered although the Secret is given")
				}
				return
			}
			if len(m.certificates) != 1 {
				t.Fatalf("%d Certificates, want 1", len(m.certificates))
			}
			for _, cert := range m.certificates {
				if cert.Spec.SecretName != secret {
					t.Errorf("the Certificate writes Secret %s, the pods mount %s", cert.Spec.SecretName, secret)
				}
				for _, u := range []string{"server auth", "client auth"} {
					if !slices.Contains(cert.Spec.Usages, u) {
						t.Errorf("the Certificate lacks the usage %q: every process is server and client", u)
					}
				}
				gw := containerEnv(t, container(t, deployment(t, m, "gateway")))
				inv := containerEnv(t, container(t, deployment(t, m, "invoke-svc")))
				for _, addr := range []string{gw["RETRIEVE_ADDR"], gw["INVOKE_ADDR"], inv["RETRIEVE_ADDR"]} {
					host, _ := hostPort(t, "address", strings.TrimPrefix(addr, "dns:///"))
					if !slices.Contains(cert.Spec.DNSNames, host) {
						t.Errorf("the Certificate names %v, not %s, which clients dial", cert.Spec.DNSNames, host)
					}
				}
				if cert.Spec.IssuerRef.Name == "" {
					t.Errorf("the Certificate has no issuer")
				}
			}
		})
	}
}

// TestHelmSecrets: credentials reach the processes from Secrets, never as plain values, and
// no value file of the chart holds one.
func TestHelmSecrets(t *testing.T) {
	t.Parallel()
	forEachValueSet(t, func(t *testing.T, m *manifest) {
		for component := range chartComponents {
			for key, v := range containerEnv(t, container(t, deployment(t, m, component))) {
				if secretKey.MatchString(key) && !strings.HasPrefix(v, "secret:") {
					t.Errorf("%s: %s is a plain value; it must come from a Secret", component, key)
				}
			}
		}
	})
	for _, f := range []string{filepath.Join(chartDir, "values.yaml"), productionValues} {
		vals := readValues(t, f)
		lk := vals["lakefs"].(map[string]any)
		if lk["password"] != nil && lk["password"] != "" {
			t.Errorf("%s holds a lakeFS password", f)
		}
	}
}
