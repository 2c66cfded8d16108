package deploy_test

import (
	"maps"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	monitoringv1 "github.com/prometheus-operator/prometheus-operator/pkg/apis/monitoring/v1"
	"helm.sh/helm/v4/pkg/chart/common"
	chartutil "helm.sh/helm/v4/pkg/chart/common/util"
	"helm.sh/helm/v4/pkg/chart/v2/lint"
	"helm.sh/helm/v4/pkg/chart/v2/lint/support"
	"helm.sh/helm/v4/pkg/chart/v2/loader"
	chartv2util "helm.sh/helm/v4/pkg/chart/v2/util"
	"helm.sh/helm/v4/pkg/engine"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// The chart is rendered in the test with Helm's own Go packages (the loader, the template
// engine and the linter of helm.sh/helm/v4, pinned in go.mod), as `helm template` and `helm
// lint` would: no helm binary to install, and the same pinned version on every machine.

const (
	chartDir         = "helm/doip-gateway"
	productionValues = "helm/doip-gateway/ci/production-values.yaml"
	releaseName      = "doip"
	releaseNamespace = "fdo"
	// kubeVersion is the cluster version the chart is rendered and linted for: the oldest the
	// chart supports (Chart.yaml kubeVersion) has preStop sleep, which it uses.
	kubeVersion = "v1.30.0"
)

// certificate is cert-manager's Certificate (cert-manager.io/v1) as far as the chart uses it:
// decoding it strictly fails on any field the chart writes that is not listed here.
type certificate struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata"`
	Spec              struct {
		SecretName  string   `json:"secretName"`
		Duration    string   `json:"duration"`
		RenewBefore string   `json:"renewBefore"`
		CommonName  string   `json:"commonName"`
		Usages      []string `json:"usages"`
		DNSNames    []string `json:"dnsNames"`
		PrivateKey  struct {
			Algorithm      string `json:"algorithm"`
			Size           int    `json:"size"`
			RotationPolicy string `json:"rotationPolicy"`
		} `json:"privateKey"`
		IssuerRef struct {
			Name  string `json:"name"`
			Kind  string `json:"kind"`
			Group string `json:"group"`
		} `json:"issuerRef"`
	} `json:"spec"`
}

// manifest is a rendered chart, every object decoded into its Kubernetes API type.
type manifest struct {
	deployments     map[string]*appsv1.Deployment
	services        map[string]*corev1.Service
	hpas            map[string]*autoscalingv2.HorizontalPodAutoscaler
	pdbs            map[string]*policyv1.PodDisruptionBudget
	netpols         map[string]*networkingv1.NetworkPolicy
	secrets         map[string]*corev1.Secret
	serviceAccounts map[string]*corev1.ServiceAccount
	serviceMonitors map[string]*monitoringv1.ServiceMonitor
	certificates    map[string]*certificate
	objects         []string // "apiVersion kind name" of each object, in file order
}

// newObject returns a pointer to an empty object of the API type for apiVersion and kind,
// and a function that files it in m under name; ok is false for a type the chart should not
// render.
func (m *manifest) newObject(apiVersion, kind, name string) (obj any, store func(), ok bool) {
	switch apiVersion + " " + kind {
	case "apps/v1 Deployment":
		obj, store = slot(m.deployments, name)
	case "v1 Service":
		obj, store = slot(m.services, name)
	case "autoscaling/v2 HorizontalPodAutoscaler":
		obj, store = slot(m.hpas, name)
	case "policy/v1 PodDisruptionBudget":
		obj, store = slot(m.pdbs, name)
	case "networking.k8s.io/v1 NetworkPolicy":
		obj, store = slot(m.netpols, name)
	case "v1 Secret":
		obj, store = slot(m.secrets, name)
	case "v1 ServiceAccount":
		obj, store = slot(m.serviceAccounts, name)
	case "monitoring.coreos.com/v1 ServiceMonitor":
		obj, store = slot(m.serviceMonitors, name)
	case "cert-manager.io/v1 Certificate":
		obj, store = slot(m.certificates, name)
	default:
		return nil, nil, false
	}
	return obj, store, true
}

// slot returns a new T and a function that puts it into mp under name.
func slot[T any](mp map[string]*T, name string) (any, func()) {
	o := new(T)
	return o, func() { mp[name] = o }
}

// forEachValueSet renders the chart with each of valueSets in a parallel subtest and calls
// check with the result.
func forEachValueSet(t *testing.T, check func(t *testing.T, m *manifest)) {
	t.Helper()
	for name, vals := range valueSets(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			check(t, render(t, vals))
		})
	}
}

// capabilities is the cluster the chart is rendered for.
func capabilities(t *testing.T) *common.Capabilities {
	t.Helper()
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	caps := common.DefaultCapabilities.Copy()
	caps.KubeVersion = *kv
	return caps
}

// readValues reads a values file of the chart's tests.
func readValues(t *testing.T, path string) map[string]any {
	t.Helper()
	vals, err := common.ReadValuesFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return vals
}

// renderChart renders the chart with vals over its defaults, as `helm template` would, and
// returns the text of each template that produced anything.
func renderChart(t *testing.T, vals map[string]any) (map[string]string, error) {
	t.Helper()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatalf("loading the chart: %v", err)
	}
	top, err := chartutil.ToRenderValues(ch, vals, common.ReleaseOptions{
		Name: releaseName, Namespace: releaseNamespace, Revision: 1, IsInstall: true,
	}, capabilities(t))
	if err != nil {
		return nil, err
	}
	return engine.Render(ch, top)
}

// render renders the chart and decodes every object strictly: an unknown field, a duplicate
// key, an apiVersion/kind the chart has no business rendering, or two objects of one kind
// and name fail the test.
func render(t *testing.T, vals map[string]any) *manifest {
	t.Helper()
	files, err := renderChart(t, vals)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	m := &manifest{
		deployments:     map[string]*appsv1.Deployment{},
		services:        map[string]*corev1.Service{},
		hpas:            map[string]*autoscalingv2.HorizontalPodAutoscaler{},
		pdbs:            map[string]*policyv1.PodDisruptionBudget{},
		netpols:         map[string]*networkingv1.NetworkPolicy{},
		secrets:         map[string]*corev1.Secret{},
		serviceAccounts: map[string]*corev1.ServiceAccount{},
		serviceMonitors: map[string]*monitoringv1.ServiceMonitor{},
		certificates:    map[string]*certificate{},
	}
	for _, file := range slices.Sorted(maps.Keys(files)) {
		if !strings.HasSuffix(file, ".yaml") {
			continue // NOTES.txt, _helpers.tpl
		}
		for i, doc := range regexp.MustCompile(`(?m)^---\s*$`).Split(files[file], -1) {
			var head struct {
				APIVersion string `json:"apiVersion"`
				Kind       string `json:"kind"`
				Metadata   struct {
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
				} `json:"metadata"`
			}
			if err := yaml.Unmarshal([]byte(doc), &head); err != nil {
				t.Fatalf("%s, document %d: %v\n%s", file, i, err, doc)
			}
			if head.Kind == "" && head.APIVersion == "" {
				if strings.TrimSpace(stripComments(doc)) != "" {
					t.Errorf("%s, document %d: no apiVersion and kind:\n%s", file, i, doc)
				}
				continue
			}
			id := head.APIVersion + " " + head.Kind + " " + head.Metadata.Name
			if slices.Contains(m.objects, id) {
				t.Errorf("%s: %s rendered twice", file, id)
			}
			m.objects = append(m.objects, id)
			if head.Metadata.Namespace != "" {
				t.Errorf("%s: %s sets metadata.namespace %q; leave it to helm --namespace", file, id, head.Metadata.Namespace)
			}
			obj, store, ok := m.newObject(head.APIVersion, head.Kind, head.Metadata.Name)
			if !ok {
				t.Errorf("%s: %s: an API type the chart should not render", file, id)
				continue
			}
			if err := yaml.UnmarshalStrict([]byte(doc), obj); err != nil {
				t.Errorf("%s: %s does not decode strictly into its API type: %v", file, id, err)
				continue
			}
			store()
		}
	}
	return m
}

func stripComments(doc string) string {
	var b strings.Builder
	for line := range strings.Lines(doc) {
		if !strings.HasPrefix(strings.TrimSpace(line), "#") {
			b.WriteString(line)
		}
	}
	return b.String()
}

// component names, as the chart suffixes them to the full name of the release.
var chartComponents = map[string]string{
	"gateway":      "gateway",
	"retrieve-svc": "retrieve",
	"invoke-svc":   "invoke",
}

// objectName is the name of a component's objects for the test release.
func objectName(component string) string {
	return releaseName + "-doip-gateway-" + chartComponents[component]
}

func deployment(t *testing.T, m *manifest, component string) *appsv1.Deployment {
	t.Helper()
	d, ok := m.deployments[objectName(component)]
	if !ok {
		t.Fatalf("no Deployment %s among %v", objectName(component), slices.Sorted(maps.Keys(m.deployments)))
	}
	return d
}

func container(t *testing.T, d *appsv1.Deployment) corev1.Container {
	t.Helper()
	if n := len(d.Spec.Template.Spec.Containers); n != 1 {
		t.Fatalf("Deployment %s has %d containers, want 1", d.Name, n)
	}
	return d.Spec.Template.Spec.Containers[0]
}

// containerEnv returns the plain values of a container's environment; a variable from a
// Secret has the value "secret:NAME/KEY".
func containerEnv(t *testing.T, c corev1.Container) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, e := range c.Env {
		if _, dup := env[e.Name]; dup {
			t.Errorf("container %s sets %s twice", c.Name, e.Name)
		}
		switch {
		case e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil:
			env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Name + "/" + e.ValueFrom.SecretKeyRef.Key
		case e.ValueFrom != nil:
			t.Errorf("container %s: %s comes from %+v; want a value or a Secret", c.Name, e.Name, e.ValueFrom)
		default:
			env[e.Name] = e.Value
		}
	}
	return env
}

func containerPort(t *testing.T, c corev1.Container, name string) int32 {
	t.Helper()
	for _, p := range c.Ports {
		if p.Name == name {
			return p.ContainerPort
		}
	}
	t.Fatalf("container %s has no port named %q: %+v", c.Name, name, c.Ports)
	return 0
}

// valueSets are the values the chart is checked with: its defaults, the production-like file,
// and the variants that switch the rest of the options on.
func valueSets(t *testing.T) map[string]map[string]any {
	t.Helper()
	return map[string]map[string]any{
		"defaults":   {},
		"production": readValues(t, productionValues),
		"variants": {
			"lakefs": map[string]any{"url": "http://lakefs:8000", "repo": "doip", "user": "k", "password": "s"},
			"mtls":   map[string]any{"enabled": true, "secretName": "grpc-tls"},
			"gateway": map[string]any{
				"http":    map[string]any{"enabled": true},
				"service": map[string]any{"type": "NodePort", "nodePorts": map[string]any{"envelope": 30567, "segments": 30568, "http": 30569}},
			},
			"retrieve": map[string]any{"headless": true},
			"invoke":   map[string]any{"autoscaling": map[string]any{"metric": "cpu"}},
			"ollama":   map[string]any{"host": "http://ollama:11434", "model": "m", "existingSecret": "ollama-key"},
		},
	}
}

// TestHelmRendersAndDecodes: the chart renders with each set of values, and every object
// decodes into its Kubernetes API type with unknown fields rejected. The objects a default
// installation needs are there.
func TestHelmRendersAndDecodes(t *testing.T) {
	t.Parallel()
	forEachValueSet(t, func(t *testing.T, m *manifest) {
		for component := range chartComponents {
			deployment(t, m, component)
			if _, ok := m.services[objectName(component)]; !ok {
				t.Errorf("no Service for %s", component)
			}
			if _, ok := m.pdbs[objectName(component)]; !ok {
				t.Errorf("no PodDisruptionBudget for %s", component)
			}
		}
		if len(m.serviceAccounts) != 1 {
			t.Errorf("%d ServiceAccounts, want 1", len(m.serviceAccounts))
		}
		t.Logf("%d objects: %v", len(m.objects), m.objects)
	})
}

// TestHelmLint runs helm lint on the chart, with the defaults and with the production-like
// values: no warning and no error (information, such as a missing icon, passes).
func TestHelmLint(t *testing.T) {
	t.Parallel()
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	for name, vals := range map[string]map[string]any{"defaults": {}, "production": readValues(t, productionValues)} {
		t.Run(name, func(t *testing.T) {
			linter := lint.RunAll(chartDir, vals, releaseNamespace, lint.WithKubeVersion(kv))
			for _, msg := range linter.Messages {
				if msg.Severity > support.InfoSev {
					t.Errorf("helm lint: %v", msg)
				} else {
					t.Logf("helm lint: %v", msg)
				}
			}
		})
	}
}

// TestHelmRefusesBrokenValues: values that cannot work stop the rendering with a message
// that says what to set, instead of rendering pods that crash.
func TestHelmRefusesBrokenValues(t *testing.T) {
	t.Parallel()
	for name, tc := range map[string]struct {
		vals map[string]any
		want string
	}{
		"folder storage with several retrieve replicas": {map[string]any{"retrieve": map[string]any{"replicas": 2}}, "lakefs.url"},
		"lakeFS without a repository":                   {map[string]any{"lakefs": map[string]any{"url": "http://lakefs:8000", "existingSecret": "s"}}, "lakefs.repo"},
		"lakeFS without credentials":                    {map[string]any{"lakefs": map[string]any{"url": "http://lakefs:8000", "repo": "r"}}, "lakefs.user"},
		"Ollama without a model":                        {map[string]any{"ollama": map[string]any{"host": "http://ollama:11434"}}, "ollama.model"},
		"mutual TLS without a certificate":              {map[string]any{"mtls": map[string]any{"enabled": true}}, "mtls.secretName"},
		"an image tagged latest":                        {map[string]any{"gateway": map[string]any{"image": map[string]any{"tag": "latest"}}}, "latest"},
		"an unknown autoscaling metric":                 {map[string]any{"invoke": map[string]any{"autoscaling": map[string]any{"metric": "memory"}}}, "inFlight"},
		"a misspelt key (values.schema.json)":           {map[string]any{"gateway": map[string]any{"replica": 3}}, "replica"},
		"TLS required without a certificate":            {map[string]any{"gateway": map[string]any{"tls": map[string]any{"mode": "required"}}}, "gateway.tls.secretName"},
		"a port that is not a number":                   {map[string]any{"gateway": map[string]any{"port": "doip"}}, "/gateway/port"},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			vals := tc.vals
			if name != "folder storage with several retrieve replicas" {
				vals = merge(map[string]any{"retrieve": map[string]any{"replicas": 1}}, vals)
			}
			_, err := renderChart(t, vals)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("rendering gave %v, want an error naming %q", err, tc.want)
			}
		})
	}
}

// merge returns a copy of a with b laid over it, maps merged key by key.
func merge(a, b map[string]any) map[string]any {
	out := maps.Clone(a)
	for k, v := range b {
		if bm, ok := v.(map[string]any); ok {
			if am, ok := out[k].(map[string]any); ok {
				out[k] = merge(am, bm)
				continue
			}
		}
		out[k] = v
	}
	return out
}

// readDefaults returns the chart's values.yaml.
func readDefaults(t *testing.T) map[string]any {
	t.Helper()
	return readValues(t, filepath.Join(chartDir, "values.yaml"))
}

// TestHelmValuesDocumented: values.yaml is documented line by line, like config.example.yaml:
// every key of the first two levels (gateway, gateway.replicas) has a comment at its own
// indent above it, which the keys of one block may share (requests and limits); deeper keys
// (resources.requests.cpu) may be covered by their documented parent's comment.
func TestHelmValuesDocumented(t *testing.T) {
	t.Parallel()
	text, err := os.ReadFile(filepath.Join(chartDir, "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(string(text), "\n")
	key := regexp.MustCompile(`^(\s*)([A-Za-z][A-Za-z0-9.]*):`)
	documented := map[int]bool{}
	for i, line := range lines {
		m := key.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		indent := len(m[1])
		for j := i - 1; j >= 0; j-- {
			prev := lines[j]
			trimmed := strings.TrimSpace(prev)
			prevIndent := len(prev) - len(strings.TrimLeft(prev, " "))
			if trimmed == "" {
				if indent == 0 {
					break // a top-level key's comment sits right above it
				}
				continue
			}
			if strings.HasPrefix(trimmed, "#") && prevIndent == indent {
				documented[i] = true
				break
			}
			if prevIndent < indent && !strings.HasPrefix(trimmed, "#") {
				documented[i] = indent > 2 && documented[j] // a deep key: its parent's comment covers it
				break
			}
		}
		if !documented[i] {
			t.Errorf("values.yaml:%d: %s has no comment", i+1, strings.TrimSpace(line))
		}
	}
}

// TestHelmChecksHaveTeeth: the strict decoding and the linter reject what they should, so a
// passing run means something: a misspelt field in a Deployment fails to decode, and lint
// reports a template that does not render to YAML.
func TestHelmChecksHaveTeeth(t *testing.T) {
	t.Parallel()
	var m manifest
	m.deployments = map[string]*appsv1.Deployment{}
	obj, _, ok := m.newObject("apps/v1", "Deployment", "x")
	if !ok {
		t.Fatal("no type for apps/v1 Deployment")
	}
	doc := "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: x\nspec:\n  replica: 2\n"
	if err := yaml.UnmarshalStrict([]byte(doc), obj); err == nil || !strings.Contains(err.Error(), "replica") {
		t.Errorf("a Deployment with spec.replica decoded: %v", err)
	}
	// helm lint renders in lint mode, where fail and required only log: it catches what
	// Kubernetes could not read. A copy of the chart with one template that is not YAML.
	dir := filepath.Join(t.TempDir(), "doip-gateway")
	if err := os.CopyFS(dir, os.DirFS(chartDir)); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "templates", "broken.yaml"), []byte("kind: Service\nmetadata: [name\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	kv, err := common.ParseKubeVersion(kubeVersion)
	if err != nil {
		t.Fatal(err)
	}
	linter := lint.RunAll(dir, nil, releaseNamespace, lint.WithKubeVersion(kv))
	if linter.HighestSeverity < support.ErrorSev {
		t.Errorf("helm lint passed a template that is not YAML: %v", linter.Messages)
	}
}

// TestHelmKubeVersion: the chart is tested against the oldest Kubernetes its kubeVersion
// admits (so helm install refuses clusters it was not checked for), and not one older: the
// preStop sleep it uses needs 1.30.
func TestHelmKubeVersion(t *testing.T) {
	t.Parallel()
	ch, err := loader.Load(chartDir)
	if err != nil {
		t.Fatal(err)
	}
	constraint := ch.Metadata.KubeVersion
	if !chartv2util.IsCompatibleRange(constraint, kubeVersion) {
		t.Errorf("Chart.yaml kubeVersion %q does not admit %s, the version the tests render for", constraint, kubeVersion)
	}
	if chartv2util.IsCompatibleRange(constraint, "v1.29.15") {
		t.Errorf("Chart.yaml kubeVersion %q admits 1.29, which has no preStop sleep", constraint)
	}
}
