package deploy_test

import (
	"maps"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/loader"
	"github.com/compose-spec/compose-go/v2/types"
)

// dockerfile builds the images that run our own binaries: each is the stage named after its
// service, built with the build arg COMMAND naming the package of its binary.
const dockerfile = "Dockerfile"

// The services whose images run our own binaries, and the COMMAND each is built with.
var ownServices = map[string]string{
	"gateway":      "gateway/cmd/doip-gateway",
	"retrieve-svc": "retrieve-svc/cmd/retrieve-svc",
	"invoke-svc":   "invoke-svc/cmd/invoke-svc",
}

// adminPort is the port of each service's admin HTTP server (/metrics, /healthz, /readyz): the
// port of its default ADMIN_ADDR (127.0.0.1:PORT), which the image's HEALTHCHECK asks, and the
// port docker-compose.yml binds on every interface for Prometheus.
var adminPort = map[string]string{
	"gateway":      "9567",
	"retrieve-svc": "9551",
	"invoke-svc":   "9552",
}

// readinessURL is the URL the health checks of the images and of docker-compose.yml probe:
// /readyz of the admin server, on loopback inside the container.
func readinessURL(port string) string {
	return "http://" + net.JoinHostPort("127.0.0.1", port) + "/readyz"
}

// probeTimeout is the default timeout of cmd/healthprobe; a healthcheck must allow more, so
// that the probe reports its own reason instead of being killed.
const probeTimeout = 3 * time.Second

// repoRoot is the repository root: the folder of docker-compose.yml and every build context.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return root
}

func composeDetails(t *testing.T, env map[string]string) types.ConfigDetails {
	t.Helper()
	root := repoRoot(t)
	return types.ConfigDetails{
		WorkingDir:  root,
		ConfigFiles: []types.ConfigFile{{Filename: filepath.Join(root, "docker-compose.yml")}},
		Environment: env,
	}
}

// loadCompose loads docker-compose.yml as `docker compose config` does: schema validation,
// interpolation from env (and only env: the test's own environment never leaks in),
// normalisation, paths resolved against the repository root, and the consistency checks
// (every depends_on names a service, every named volume is declared).
func loadCompose(t *testing.T, env map[string]string) *types.Project {
	t.Helper()
	p, err := loader.LoadWithContext(t.Context(), composeDetails(t, env), func(o *loader.Options) {
		o.SetProjectName("doip-gateway", true)
	})
	if err != nil {
		t.Fatalf("loading docker-compose.yml: %v", err)
	}
	return p
}

// rawCompose is the file as written: no interpolation, so ${VAR:-default} stays visible.
func rawCompose(t *testing.T) map[string]any {
	t.Helper()
	m, err := loader.LoadModelWithContext(t.Context(), composeDetails(t, map[string]string{}), func(o *loader.Options) {
		o.SetProjectName("doip-gateway", true)
		o.SkipInterpolation = true
		o.SkipNormalization = true
		o.SkipResolveEnvironment = true
	})
	if err != nil {
		t.Fatalf("loading docker-compose.yml uninterpolated: %v", err)
	}
	return m
}

func service(t *testing.T, p *types.Project, name string) types.ServiceConfig {
	t.Helper()
	s, ok := p.Services[name]
	if !ok {
		t.Fatalf("docker-compose.yml has no service %q", name)
	}
	return s
}

// env returns the value of an environment variable of a service, failing when it is unset.
func env(t *testing.T, s types.ServiceConfig, key string) string {
	t.Helper()
	v, ok := s.Environment[key]
	if !ok || v == nil {
		t.Fatalf("service %s: environment %s is not set", s.Name, key)
	}
	return *v
}

func TestComposeLoads(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, map[string]string{})
	for _, name := range []string{"gateway", "retrieve-svc", "invoke-svc", "lakefs", "lakefs-setup", "ollama"} {
		service(t, p, name)
	}
	if p.Name != "doip-gateway" {
		t.Errorf("project name %q, want doip-gateway (volume names derive from it)", p.Name)
	}
}

func TestComposeGatewayPorts(t *testing.T) {
	t.Parallel()
	gw := service(t, loadCompose(t, map[string]string{}), "gateway")
	for _, want := range []uint32{3567, 3568, 3569} {
		found := false
		for _, p := range gw.Ports {
			if p.Target == want && p.Published == strconv.FormatUint(uint64(want), 10) && (p.Protocol == "" || p.Protocol == "tcp") {
				found = true
			}
		}
		if !found {
			t.Errorf("gateway does not publish %d on host port %d: ports %+v", want, want, gw.Ports)
		}
	}
	if got := env(t, gw, "DOIP_PORT"); got != "3567" {
		t.Errorf("gateway DOIP_PORT %q, want 3567 (3568 is port + 1)", got)
	}
}

// TestComposeInvokeScales: `docker compose up --scale invoke-svc=4` needs a service without a
// fixed container name or host port, and a gateway that dials every replica.
func TestComposeInvokeScales(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, map[string]string{})
	inv := service(t, p, "invoke-svc")
	if inv.ContainerName != "" {
		t.Errorf("invoke-svc has container_name %q: --scale would fail", inv.ContainerName)
	}
	if len(inv.Ports) != 0 {
		t.Errorf("invoke-svc publishes host ports %+v: replicas would collide", inv.Ports)
	}
	if inv.Deploy != nil && inv.Deploy.Replicas != nil {
		t.Errorf("invoke-svc fixes deploy.replicas: leave the count to --scale")
	}
	if got := env(t, service(t, p, "gateway"), "INVOKE_ADDR"); got != "dns:///invoke-svc:50052" {
		t.Errorf("gateway INVOKE_ADDR %q, want dns:///invoke-svc:50052 (round robin over every replica)", got)
	}
	if got := env(t, inv, "INVOKE_LISTEN"); got != "0.0.0.0:50052" {
		t.Errorf("invoke-svc INVOKE_LISTEN %q, want 0.0.0.0:50052", got)
	}
}

// TestComposeWiring: every address one service dials names another service and the port it
// listens on.
func TestComposeWiring(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, map[string]string{})
	gw, rs, inv := service(t, p, "gateway"), service(t, p, "retrieve-svc"), service(t, p, "invoke-svc")

	if got := env(t, rs, "RETRIEVE_LISTEN"); got != "0.0.0.0:50051" {
		t.Errorf("retrieve-svc RETRIEVE_LISTEN %q, want 0.0.0.0:50051", got)
	}
	for _, s := range []types.ServiceConfig{gw, inv} {
		if got := env(t, s, "RETRIEVE_ADDR"); got != "retrieve-svc:50051" {
			t.Errorf("%s RETRIEVE_ADDR %q, want retrieve-svc:50051", s.Name, got)
		}
	}
	if got := env(t, inv, "OLLAMA_HOST"); got != "http://ollama:11434" {
		t.Errorf("invoke-svc OLLAMA_HOST %q, want http://ollama:11434", got)
	}
	if env(t, inv, "OLLAMA_MODEL") == "" {
		t.Errorf("invoke-svc OLLAMA_MODEL is empty: invoke-svc refuses to start with a host and no model")
	}
}

func TestComposeRetrieveUsesLakeFS(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, map[string]string{})
	rs := service(t, p, "retrieve-svc")

	u, err := url.Parse(env(t, rs, "LAKEFS_URL"))
	if err != nil || u.Scheme != "http" || u.Hostname() != "lakefs" || u.Port() != "8000" {
		t.Errorf("retrieve-svc LAKEFS_URL %q, want http://lakefs:8000", env(t, rs, "LAKEFS_URL"))
	}
	// lakefs, not s3: derived outputs become commits, and reads can name versions.
	if got := env(t, rs, "STORAGE"); got != "lakefs" {
		t.Errorf("retrieve-svc STORAGE %q, want lakefs", got)
	}
	for _, key := range []string{"LAKEFS_REPO", "LAKEFS_BRANCH", "LAKEFS_USER", "LAKEFS_PASSWORD"} {
		if env(t, rs, key) == "" {
			t.Errorf("retrieve-svc %s is empty by default", key)
		}
	}
	if _, ok := rs.Environment["FDO_API"]; !ok {
		t.Errorf("retrieve-svc does not pass FDO_API through")
	}
	if got := env(t, rs, "FDO_API"); got != "" {
		t.Errorf("retrieve-svc FDO_API %q by default, want empty (records from the folder)", got)
	}
}

// TestComposeCredentialsAgree: lakeFS's installation key pair, the key pair retrieve-svc
// signs with and the one lakefs-setup uses are the same variables, by default and when set,
// and the repository lakefs-setup creates is the one retrieve-svc reads.
func TestComposeCredentialsAgree(t *testing.T) {
	t.Parallel()
	override := map[string]string{
		"LAKEFS_USER":     "key-from-env",
		"LAKEFS_PASSWORD": "secret-from-env",
		"LAKEFS_REPO":     "repo-from-env",
		"LAKEFS_BRANCH":   "branch-from-env",
	}
	for name, vars := range map[string]map[string]string{"defaults": {}, "from the environment": override} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			p := loadCompose(t, vars)
			rs, lk, setup := service(t, p, "retrieve-svc"), service(t, p, "lakefs"), service(t, p, "lakefs-setup")
			pairs := []struct{ what, a, b, c string }{
				{"access key", env(t, rs, "LAKEFS_USER"), env(t, lk, "LAKEFS_INSTALLATION_ACCESS_KEY_ID"), env(t, setup, "LAKECTL_CREDENTIALS_ACCESS_KEY_ID")},
				{"secret key", env(t, rs, "LAKEFS_PASSWORD"), env(t, lk, "LAKEFS_INSTALLATION_SECRET_ACCESS_KEY"), env(t, setup, "LAKECTL_CREDENTIALS_SECRET_ACCESS_KEY")},
				{"repository", env(t, rs, "LAKEFS_REPO"), env(t, setup, "REPO"), env(t, setup, "REPO")},
				{"branch", env(t, rs, "LAKEFS_BRANCH"), env(t, setup, "BRANCH"), env(t, setup, "BRANCH")},
			}
			for _, pr := range pairs {
				if pr.a != pr.b || pr.a != pr.c {
					t.Errorf("%s differs: retrieve-svc %q, lakefs %q, lakefs-setup %q", pr.what, pr.a, pr.b, pr.c)
				}
			}
			if v, ok := vars["LAKEFS_PASSWORD"]; ok && env(t, rs, "LAKEFS_PASSWORD") != v {
				t.Errorf("LAKEFS_PASSWORD from the environment did not reach retrieve-svc")
			}
			if v, ok := vars["LAKEFS_REPO"]; ok && env(t, rs, "LAKEFS_REPO") != v {
				t.Errorf("LAKEFS_REPO from the environment did not reach retrieve-svc")
			}
			if got := env(t, setup, "LAKECTL_SERVER_ENDPOINT_URL"); got != env(t, rs, "LAKEFS_URL") {
				t.Errorf("lakefs-setup talks to %q, retrieve-svc to %q", got, env(t, rs, "LAKEFS_URL"))
			}
		})
	}
}

func TestComposeLakeFS(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, map[string]string{})
	lk := service(t, p, "lakefs")
	if env(t, lk, "LAKEFS_DATABASE_TYPE") != "local" || env(t, lk, "LAKEFS_BLOCKSTORE_TYPE") != "local" {
		t.Errorf("lakefs: want the local database and blockstore")
	}
	if lk.HealthCheck == nil || !strings.Contains(strings.Join(lk.HealthCheck.Test, " "), "/_health") {
		t.Errorf("lakefs: want a healthcheck on /_health, have %+v", lk.HealthCheck)
	}
	// The local database and blockstore must live in the named volume, or a restart loses them.
	var volTarget string
	for _, v := range lk.Volumes {
		if v.Type == types.VolumeTypeVolume {
			volTarget = v.Target
		}
	}
	if volTarget == "" {
		t.Fatalf("lakefs has no named volume")
	}
	for _, key := range []string{"LAKEFS_DATABASE_LOCAL_PATH", "LAKEFS_BLOCKSTORE_LOCAL_PATH"} {
		if got := env(t, lk, key); !strings.HasPrefix(got, volTarget+"/") {
			t.Errorf("lakefs %s %q is outside the volume at %s", key, got, volTarget)
		}
	}

	setup := service(t, p, "lakefs-setup")
	if setup.Image != lk.Image {
		t.Errorf("lakefs-setup image %q, want lakefs's %q (its lakectl)", setup.Image, lk.Image)
	}
	if setup.Restart != "" && setup.Restart != "no" {
		t.Errorf("lakefs-setup restart %q: a one-shot must not restart", setup.Restart)
	}
	script := strings.Join(setup.Command, "\n")
	for _, want := range []string{"lakectl repo create", "lakectl fs upload", "lakectl commit", "${REPO}", "${BRANCH}"} {
		if !strings.Contains(script, want) {
			t.Errorf("lakefs-setup script lacks %q:\n%s", want, script)
		}
	}
}

// TestComposeAdmin: each of our services binds its admin server on every interface of its
// container, so that Prometheus on the compose network can scrape it, on the port of its
// image's default; and the port is not published to the host (the endpoints have no
// authentication).
func TestComposeAdmin(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, map[string]string{})
	listen := map[string][]string{"gateway": {"3567", "3568", "3569"}, "retrieve-svc": {"50051"}, "invoke-svc": {"50052"}}
	for name := range ownServices {
		s := service(t, p, name)
		addr := env(t, s, "ADMIN_ADDR")
		host, port, err := net.SplitHostPort(addr)
		if err != nil {
			t.Errorf("%s: ADMIN_ADDR %q is not host:port: %v", name, addr, err)
			continue
		}
		if ip := net.ParseIP(host); ip == nil || !ip.IsUnspecified() {
			t.Errorf("%s: ADMIN_ADDR %q, want 0.0.0.0:%s: Prometheus on the compose network cannot reach %s", name, addr, adminPort[name], host)
		}
		if port != adminPort[name] {
			t.Errorf("%s: ADMIN_ADDR port %s, want %s (the image's default, which its HEALTHCHECK asks)", name, port, adminPort[name])
		}
		if slices.Contains(listen[name], port) {
			t.Errorf("%s: ADMIN_ADDR port %s is one of the service's own ports %v", name, port, listen[name])
		}
		for _, pc := range s.Ports {
			if strconv.FormatUint(uint64(pc.Target), 10) == port {
				t.Errorf("%s publishes the admin port %s (%+v): it has no authentication; keep it on the compose network", name, port, pc)
			}
		}
	}
}

// TestComposeHealthchecks: the three services of ours have a healthcheck that runs the probe
// binary of their image against /readyz of their admin server, on the port ADMIN_ADDR sets.
func TestComposeHealthchecks(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, map[string]string{})
	for name := range ownServices {
		s := service(t, p, name)
		hc := s.HealthCheck
		if hc == nil || hc.Disable || len(hc.Test) < 3 {
			t.Errorf("%s: no usable healthcheck: %+v", name, hc)
			continue
		}
		if hc.Test[0] != "CMD" || hc.Test[1] != "/usr/local/bin/healthprobe" {
			t.Errorf("%s: healthcheck %q, want [CMD /usr/local/bin/healthprobe ...] (distroless has no shell)", name, hc.Test)
			continue
		}
		if hc.Test[2] != "http" || len(hc.Test) != 4 {
			t.Errorf("%s: healthcheck %q, want [CMD /usr/local/bin/healthprobe http URL] (the readiness endpoint)", name, hc.Test)
			continue
		}
		_, port, err := net.SplitHostPort(env(t, s, "ADMIN_ADDR"))
		if err != nil {
			t.Errorf("%s: ADMIN_ADDR: %v", name, err)
			continue
		}
		u, err := url.Parse(hc.Test[3])
		if err != nil || u.Scheme != "http" || u.Hostname() != "127.0.0.1" || u.Port() != port || u.Path != "/readyz" || u.RawQuery != "" {
			t.Errorf("%s: healthcheck probes %q, want %s: /readyz on the ADMIN_ADDR port, over loopback", name, hc.Test[3], readinessURL(port))
		}
		if hc.Timeout == nil || time.Duration(*hc.Timeout) <= probeTimeout {
			t.Errorf("%s: healthcheck timeout %v, want more than the probe's own %s", name, hc.Timeout, probeTimeout)
		}
	}
}

// TestComposeStartOrder: depends_on waits for health where a later service needs an earlier
// one ready, and each service waited on that way has a healthcheck (else compose never starts
// the dependent one).
func TestComposeStartOrder(t *testing.T) {
	t.Parallel()
	p := loadCompose(t, map[string]string{})
	want := []struct{ from, to, condition string }{
		{"gateway", "retrieve-svc", types.ServiceConditionHealthy},
		{"gateway", "invoke-svc", types.ServiceConditionHealthy},
		{"retrieve-svc", "lakefs", types.ServiceConditionHealthy},
		{"retrieve-svc", "lakefs-setup", types.ServiceConditionCompletedSuccessfully},
		{"lakefs-setup", "lakefs", types.ServiceConditionHealthy},
	}
	for _, w := range want {
		dep, ok := service(t, p, w.from).DependsOn[w.to]
		if !ok {
			t.Errorf("%s does not depend on %s", w.from, w.to)
			continue
		}
		if dep.Condition != w.condition {
			t.Errorf("%s depends on %s with %q, want %q", w.from, w.to, dep.Condition, w.condition)
		}
	}
	for name, s := range p.Services {
		for to, dep := range s.DependsOn {
			if dep.Condition != types.ServiceConditionHealthy {
				continue
			}
			if hc := service(t, p, to).HealthCheck; hc == nil || hc.Disable || len(hc.Test) == 0 {
				t.Errorf("%s waits for %s to be healthy, but %s has no healthcheck", name, to, to)
			}
		}
	}
}

// TestComposeCerts: certs/ is mounted read-only into the gateway, and TLS_CERT and TLS_KEY
// point into that mount.
func TestComposeCerts(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	gw := service(t, loadCompose(t, map[string]string{}), "gateway")
	var mount *types.ServiceVolumeConfig
	for i, v := range gw.Volumes {
		if v.Type == types.VolumeTypeBind && v.Source == filepath.Join(root, "certs") {
			mount = &gw.Volumes[i]
		}
	}
	if mount == nil {
		t.Fatalf("gateway does not mount ./certs: volumes %+v", gw.Volumes)
	}
	if !mount.ReadOnly {
		t.Errorf("gateway mounts ./certs read-write, want read-only")
	}
	for _, key := range []string{"TLS_CERT", "TLS_KEY"} {
		got := env(t, gw, key)
		if !strings.HasPrefix(got, mount.Target+"/") {
			t.Errorf("gateway %s %q is not inside the certificate mount %s", key, got, mount.Target)
		}
	}
	if env(t, gw, "TLS_CERT") != mount.Target+"/server.crt" || env(t, gw, "TLS_KEY") != mount.Target+"/server.key" {
		t.Errorf("gateway TLS_CERT/TLS_KEY, want %[1]s/server.crt and %[1]s/server.key, the names docs/deploy.md gives", mount.Target)
	}
}

// TestComposeBindMounts: every folder bind-mounted from the repository exists, except certs/,
// which holds local files only (created empty by compose when missing: self-signed TLS).
func TestComposeBindMounts(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	p := loadCompose(t, map[string]string{})
	for name, s := range p.Services {
		for _, v := range s.Volumes {
			if v.Type != types.VolumeTypeBind || v.Source == filepath.Join(root, "certs") {
				continue
			}
			rel, err := filepath.Rel(root, v.Source)
			if err != nil || strings.HasPrefix(rel, "..") {
				t.Errorf("%s mounts %s, outside the repository", name, v.Source)
				continue
			}
			if _, err := os.Stat(v.Source); err != nil {
				t.Errorf("%s mounts ./%s, which does not exist: %v", name, rel, err)
			}
			if !v.ReadOnly {
				t.Errorf("%s mounts ./%s read-write; a container must not write into the repository", name, rel)
			}
		}
	}
	// What the mounts must hold for the sample objects to be served.
	for _, f := range []string{
		"retrieve-svc/internal/sampledata/objects/records/Q123.json",
		"retrieve-svc/internal/sampledata/objects/main/00/01/23/Q123/components/main-pdf",
	} {
		if _, err := os.Stat(filepath.Join(root, f)); err != nil {
			t.Errorf("sample data: %v", err)
		}
	}
}

// TestComposeBuilds: each of our services is built from the Dockerfile with the repository
// root as the context, its stage as the target and its package as COMMAND, and only those
// are built.
func TestComposeBuilds(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	p := loadCompose(t, map[string]string{})
	for name, s := range p.Services {
		command, ours := ownServices[name]
		if s.Build == nil {
			if ours {
				t.Errorf("%s has no build section", name)
			}
			continue
		}
		if !ours {
			t.Errorf("%s is built, but only %v are ours", name, slices.Sorted(maps.Keys(ownServices)))
			continue
		}
		if s.Build.Context != root {
			t.Errorf("%s: build context %s, want the repository root %s (go.work and shared/)", name, s.Build.Context, root)
		}
		df := s.Build.Dockerfile
		if !filepath.IsAbs(df) {
			df = filepath.Join(s.Build.Context, df)
		}
		if df != filepath.Join(root, dockerfile) {
			t.Errorf("%s: dockerfile %s, want %s", name, df, dockerfile)
		}
		if s.Build.Target != name {
			t.Errorf("%s: build target %q, want the stage %s", name, s.Build.Target, name)
		}
		if arg := s.Build.Args["COMMAND"]; arg == nil || *arg != command {
			t.Errorf("%s: build arg COMMAND %v, want %s", name, arg, command)
		}
		if _, err := os.Stat(df); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

// TestComposeImagesPinned: every image pulled from a registry names a version, never latest.
func TestComposeImagesPinned(t *testing.T) {
	t.Parallel()
	pinned := regexp.MustCompile(`^[a-z0-9./-]+(:v?[0-9]+\.[0-9]+\.[0-9]+[A-Za-z0-9.-]*)?(@sha256:[0-9a-f]{64})?$`)
	for name, s := range loadCompose(t, map[string]string{}).Services {
		if s.Build != nil {
			continue
		}
		if !pinned.MatchString(s.Image) || (!strings.Contains(s.Image, ":") && !strings.Contains(s.Image, "@")) {
			t.Errorf("%s: image %q is not pinned to a version", name, s.Image)
		}
	}
}

// variableRef matches one interpolation in the file: ${NAME}, ${NAME:-default}, ${NAME-default},
// ${NAME:?err} or $NAME. "$$" (a literal dollar for the container's shell) is removed first.
var variableRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?+])?([^}]*)\}|\$([A-Za-z_][A-Za-z0-9_]*)`)

// secretKey names environment variables that hold credentials.
var secretKey = regexp.MustCompile(`PASSWORD|SECRET|ACCESS_KEY|API_KEY|TOKEN`)

// TestComposeSecrets: the file commits no secret. Each credential comes from a variable
// whose default says it is for local use only, every variable has a default (so `docker
// compose up` works with none set), and nothing in the file looks like a real key.
func TestComposeSecrets(t *testing.T) {
	t.Parallel()
	raw := rawCompose(t)
	services, _ := raw["services"].(map[string]any)
	if len(services) == 0 {
		t.Fatal("no services in the raw model")
	}
	checked := 0
	for name, sv := range services {
		s, _ := sv.(map[string]any)
		for key, str := range rawEnvironment(s["environment"]) {
			if !secretKey.MatchString(key) {
				continue
			}
			checked++
			m := variableRef.FindStringSubmatch(str)
			if m == nil || m[0] != str || m[2] != ":-" {
				t.Errorf("%s %s = %q: a credential must be ${VARIABLE:-local-only-default}", name, key, str)
				continue
			}
			if !strings.HasPrefix(m[3], "local-only-") {
				t.Errorf("%s %s: default %q does not say it is local-only", name, key, m[3])
			}
		}
	}
	if checked < 6 {
		t.Errorf("found %d credentials in the environment sections, want at least 6 (lakeFS, retrieve-svc and lakefs-setup keys)", checked)
	}

	text, err := os.ReadFile(filepath.Join(repoRoot(t), "docker-compose.yml"))
	if err != nil {
		t.Fatal(err)
	}
	src := strings.ReplaceAll(string(text), "$$", "")
	for _, m := range variableRef.FindAllStringSubmatch(src, -1) {
		if m[4] != "" || m[2] != ":-" {
			t.Errorf("%s: every variable needs a default, ${%s:-...}", m[0], m[1]+m[4])
		}
	}
	for _, bad := range []struct{ what, re string }{
		{"an AWS-style access key id", `AKIA[0-9A-Z]{16}`},
		{"the AWS documentation's example secret", `wJalrXUtnFEMI`},
		{"a PEM block", `-----BEGIN`},
	} {
		if loc := regexp.MustCompile(bad.re).FindString(string(text)); loc != "" {
			t.Errorf("docker-compose.yml holds %s: %q", bad.what, loc)
		}
	}
	// A generated key or token: long, and mixing digits with upper and lower case letters.
	for _, tok := range regexp.MustCompile(`[A-Za-z0-9+/=_]{24,}`).FindAllString(string(text), -1) {
		if strings.ContainsAny(tok, "0123456789") && strings.ContainsAny(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") &&
			strings.ContainsAny(tok, "abcdefghijklmnopqrstuvwxyz") {
			t.Errorf("docker-compose.yml holds what looks like a generated key: %q", tok)
		}
	}
}

// rawEnvironment returns an environment section as written, in either of its forms (a
// mapping, or a list of KEY=VALUE).
func rawEnvironment(v any) map[string]string {
	out := map[string]string{}
	switch env := v.(type) {
	case map[string]any:
		for k, val := range env {
			s, _ := val.(string)
			out[k] = s
		}
	case []any:
		for _, item := range env {
			s, _ := item.(string)
			k, val, _ := strings.Cut(s, "=")
			out[k] = val
		}
	}
	return out
}

// accessKeyVars name the environment variables that carry the lakeFS access key id.
var accessKeyVars = map[string]bool{
	"LAKEFS_USER": true, "LAKEFS_INSTALLATION_ACCESS_KEY_ID": true, "LAKECTL_CREDENTIALS_ACCESS_KEY_ID": true,
}

// TestComposeAccessKeyLength: lakeFS's S3 gateway accepts SigV4 access key ids of 3 to 20
// characters only (its REST API takes longer ones). A longer default made every component
// read fail with "400 MissingFields" while lakectl, and so the setup job, worked.
func TestComposeAccessKeyLength(t *testing.T) {
	t.Parallel()
	raw := rawCompose(t)
	services, _ := raw["services"].(map[string]any)
	checked := 0
	for name, sv := range services {
		s, _ := sv.(map[string]any)
		for key, str := range rawEnvironment(s["environment"]) {
			if !accessKeyVars[key] {
				continue
			}
			checked++
			m := variableRef.FindStringSubmatch(str)
			if m == nil || m[1] != "LAKEFS_USER" {
				t.Errorf("%s %s = %q: want ${LAKEFS_USER:-...}, so that every service uses the same key", name, key, str)
				continue
			}
			if n := len(m[3]); n < 3 || n > 20 {
				t.Errorf("%s %s: default access key id %q has %d characters; lakeFS's S3 gateway accepts 3 to 20", name, key, m[3], n)
			}
		}
	}
	if checked < 3 {
		t.Errorf("found %d access key ids, want 3 (lakefs, lakefs-setup, retrieve-svc)", checked)
	}
}
