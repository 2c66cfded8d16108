package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/fdo-doip/doip-gateway/shared/logtest"
	"github.com/fdo-doip/doip-gateway/shared/tooltest"
)

// lakefsDir holds the lakefs and lakectl binaries TestComposeRun runs; "" when not found.
var lakefsDir string

func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() {
		lakefsDir = findLakeFS()
		if lakefsDir == "" {
			// Said on stdout, so that `make test` shows it without -v.
			fmt.Println("deploy: *** lakeFS not found: TestComposeRun (docker-compose.yml run natively) is SKIPPED;" +
				" `make tools` installs lakefs and lakectl into .tmp/bin ***")
		}
	}
	code := m.Run()
	if workspace.dir != "" {
		_ = os.RemoveAll(workspace.dir)
	}
	os.Exit(code)
}

// findLakeFS returns the folder holding lakefs and lakectl: $LAKEFS_BIN_DIR, else .tmp/bin
// of this repository or one above it, else the PATH.
func findLakeFS() string {
	both := func(dir string) bool {
		for _, b := range []string{"lakefs", "lakectl"} {
			if fi, err := os.Stat(filepath.Join(dir, b)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("LAKEFS_BIN_DIR"); d != "" && both(d) {
		return d
	}
	if d := tooltest.Dir("lakefs", "lakectl"); d != "" {
		return d
	}
	if p, err := exec.LookPath("lakefs"); err == nil && both(filepath.Dir(p)) {
		return filepath.Dir(p)
	}
	return ""
}

// TestComposeRun runs docker-compose.yml as written, without a container engine: each
// service's command (the compose command, else its image's entrypoint) starts natively on
// loopback with the environment compose gives it (its image's ENV, then the compose
// environment), in depends_on order, each condition waited for by running the service's own
// healthcheck. What a container gives implicitly is emulated and nothing else:
//
//   - network: every service:port and 0.0.0.0/127.0.0.1:port in an environment value or a
//     healthcheck, and an environment value that is a published port of the service, is
//     rewritten to 127.0.0.1 and a free port of that service (a service's ports P and P+1
//     stay neighbours); listeners the images bind on
//     every interface implicitly bind loopback (DOIP_HOST, LAKEFS_LISTEN_ADDRESS);
//   - file system: each service gets a root folder; its mounts appear there (bind sources
//     that exist, else an empty folder; one folder per named volume) and every absolute path
//     in its environment, and every mount path in its command, is taken below that root;
//   - images: our images run the binaries built from this workspace (their ENTRYPOINT, and
//     /usr/local/bin/healthprobe in the healthchecks); treeverse/lakefs runs lakefs and
//     lakectl of `make tools` (the tag must be the version the Makefile pins) and the shell of
//     this machine; ollama/ollama is a fake that answers as Ollama does. A healthcheck
//     command none of these images has fails the test.
//
// Then doipctl drives hello, retrieve (record and component bytes, read from lakeFS), invoke
// (echo; equation_extraction, its result written to lakeFS; and with the Ollama backend, which
// must reach the ollama service with the configured model) and purge through the gateway;
// doipy's and MaRDI's captured searches find Q123 by title and formula, and their captured
// writes succeed with the write token of ACCESS_TOKENS, each version a commit in lakeFS
// (gatewayUnderTest). A wrong key, variable name, command, port or health check in the
// compose file makes a service fail to start, never become healthy, or answer wrongly.
func TestComposeRun(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the whole system: skipped under -short")
	}
	if lakefsDir == "" {
		tooltest.Missing(t, "lakeFS not found (make tools installs it); CI must run TestComposeRun", "lakeFS not found: make tools installs it")
	}
	begin := time.Now()
	root := repoRoot(t)
	r := &composeRun{t: t, project: loadCompose(t, map[string]string{}), root: root, lakefs: lakefsDir,
		bin: buildWorkspace(t, root), dir: t.TempDir(), procs: map[string]*runProc{}, healthy: map[string]bool{}}
	r.checkLakeFSVersion()
	r.allocatePorts()
	r.up()
	t.Logf("system up in %s", time.Since(begin).Round(time.Millisecond))
	r.drive()
	t.Logf("compose run: %s in all", time.Since(begin).Round(time.Millisecond))
}

// workspace is the folder buildWorkspace built into, once for all tests; TestMain removes it.
var workspace struct {
	sync.Mutex
	dir string
}

// buildWorkspace builds our binaries and the health probe into a temporary folder, once.
func buildWorkspace(t *testing.T, root string) string {
	t.Helper()
	workspace.Lock()
	defer workspace.Unlock()
	if workspace.dir != "" {
		return workspace.dir
	}
	dir, err := os.MkdirTemp("", "deploy-bin-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("go", "build", "-o", dir+string(filepath.Separator),
		"./gateway/cmd/doip-gateway", "./gateway/cmd/doipctl", "./retrieve-svc/cmd/retrieve-svc",
		"./invoke-svc/cmd/invoke-svc", "./deploy/cmd/healthprobe")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		_ = os.RemoveAll(dir)
		t.Fatalf("building the workspace: %v\n%s", err, out)
	}
	workspace.dir = dir
	return dir
}

type composeRun struct {
	t       *testing.T
	project *types.Project
	root    string // the repository
	bin     string // our binaries
	lakefs  string // lakefs and lakectl
	dir     string // roots and volumes of the services
	ports   map[string]map[int]int
	procs   map[string]*runProc
	healthy map[string]bool
	ollama  *http.Server
	chatsMu sync.Mutex
	chats   []ollamaChat // what the Ollama stand-in was asked
}

// ollamaChat is what the Ollama stand-in saw of one chat request.
type ollamaChat struct {
	Model string          `json:"model"`
	Think json.RawMessage `json:"think"`
}

// runProc is one started service.
type runProc struct {
	name string
	cmd  *exec.Cmd
	out  *logtest.Buffer
	done chan struct{}
	err  error // Wait's result, set before done closes
}

// hostPortRE matches host:port in values: a service name, or an address of the container itself.
var hostPortRE = regexp.MustCompile(`([A-Za-z0-9][A-Za-z0-9_.-]*):([0-9]{1,5})\b`)

func isSelf(host string) bool { return host == "0.0.0.0" || host == "127.0.0.1" || host == "localhost" }

// checkLakeFSVersion: the lakeFS images must be the version `make tools` installs.
func (r *composeRun) checkLakeFSVersion() {
	mk, err := os.ReadFile(filepath.Join(r.root, "Makefile"))
	if err != nil {
		r.t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^LAKEFS_VERSION \?= v(\S+)$`).FindSubmatch(mk)
	if m == nil {
		r.t.Fatal("Makefile: no LAKEFS_VERSION ?= vX.Y.Z")
	}
	for _, s := range r.project.Services {
		if img, tag, _ := strings.Cut(s.Image, ":"); img == "treeverse/lakefs" && tag != string(m[1]) {
			r.t.Fatalf("service %s runs lakeFS %s, but make tools installs %s", s.Name, tag, m[1])
		}
	}
}

// allocatePorts gives every container port a service is reached at a free loopback port.
func (r *composeRun) allocatePorts() {
	want := map[string]map[int]bool{}
	add := func(svc string, port int) {
		if want[svc] == nil {
			want[svc] = map[int]bool{}
		}
		want[svc][port] = true
	}
	scan := func(self, v string) {
		for _, m := range hostPortRE.FindAllStringSubmatch(v, -1) {
			port, _ := strconv.Atoi(m[2])
			switch {
			case isSelf(m[1]):
				add(self, port)
			case r.project.Services[m[1]].Name != "":
				add(m[1], port)
			}
		}
	}
	for name, s := range r.project.Services {
		for _, p := range s.Ports {
			add(name, int(p.Target))
		}
		for _, v := range s.Environment {
			if v != nil {
				scan(name, *v)
			}
		}
		if s.HealthCheck != nil {
			scan(name, strings.Join(s.HealthCheck.Test, " "))
		}
	}
	r.ports = map[string]map[int]int{}
	for _, name := range slices.Sorted(maps.Keys(want)) {
		r.ports[name] = map[int]int{}
		ports := slices.Sorted(maps.Keys(want[name]))
		for _, p := range ports {
			if _, ok := r.ports[name][p]; ok {
				continue
			}
			if want[name][p+1] {
				a := freePortPair(r.t)
				r.ports[name][p], r.ports[name][p+1] = a, a+1
			} else {
				r.ports[name][p] = freePortPair(r.t)
			}
		}
	}
	r.t.Logf("ports: %v", r.ports)
}

// freePortPair returns a loopback port p such that p and p+1 were both free.
func freePortPair(t *testing.T) int {
	t.Helper()
	for range 100 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		p := l.Addr().(*net.TCPAddr).Port
		l2, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(p+1))
		l.Close()
		if err == nil {
			l2.Close()
			return p
		}
	}
	t.Fatal("no two neighbouring free ports")
	return 0
}

// rewriteAddrs maps service:port and the container's own addresses to loopback ports.
func (r *composeRun) rewriteAddrs(self, v string) string {
	return hostPortRE.ReplaceAllStringFunc(v, func(s string) string {
		m := hostPortRE.FindStringSubmatch(s)
		port, _ := strconv.Atoi(m[2])
		svc := m[1]
		if isSelf(svc) {
			svc = self
		} else if r.project.Services[svc].Name == "" {
			return s
		}
		if hp, ok := r.ports[svc][port]; ok {
			return "127.0.0.1:" + strconv.Itoa(hp)
		}
		return s
	})
}

// rewritePort maps a value that is a bare port of the service (DOIP_PORT: "3567") to its
// loopback port.
func (r *composeRun) rewritePort(self, v string) string {
	if p, err := strconv.Atoi(v); err == nil {
		if hp, ok := r.ports[self][p]; ok {
			return strconv.Itoa(hp)
		}
	}
	return v
}

// serviceRoot builds the root folder of a service with its mounts in place.
func (r *composeRun) serviceRoot(s types.ServiceConfig) string {
	root := filepath.Join(r.dir, "root", s.Name)
	if err := os.MkdirAll(root, 0o755); err != nil {
		r.t.Fatal(err)
	}
	for _, v := range s.Volumes {
		var src string
		switch v.Type {
		case types.VolumeTypeBind:
			src = v.Source
			if _, err := os.Stat(src); err != nil {
				// Docker creates a missing bind source as an empty folder; never in the repository.
				src = filepath.Join(r.dir, "bind-"+strings.ReplaceAll(strings.Trim(v.Target, "/"), "/", "-"))
			}
		case types.VolumeTypeVolume:
			src = filepath.Join(r.dir, "volume-"+v.Source)
		default:
			r.t.Fatalf("service %s: a %s mount cannot run natively", s.Name, v.Type)
		}
		if err := os.MkdirAll(src, 0o755); err != nil {
			r.t.Fatal(err)
		}
		dst := filepath.Join(root, filepath.FromSlash(v.Target))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			r.t.Fatal(err)
		}
		if v.Type == types.VolumeTypeBind && v.ReadOnly {
			// A read-only bind mount is a snapshot as the container sees it: copied, not
			// linked, since a link would lead out of a folder that the service opens
			// within its root (records under the data folder), as a real mount does not.
			if err := os.CopyFS(dst, os.DirFS(src)); err != nil {
				r.t.Fatalf("service %s: mount %s: %v", s.Name, v.Target, err)
			}
			continue
		}
		if err := os.Symlink(src, dst); err != nil {
			r.t.Fatalf("service %s: mount %s: %v", s.Name, v.Target, err)
		}
	}
	return root
}

// rewritePaths takes every absolute path of a value below the service's root ("/dev/" aside).
func rewritePath(root, v string) string {
	if strings.HasPrefix(v, "/") && !strings.HasPrefix(v, "/dev/") {
		return filepath.Join(root, filepath.FromSlash(v))
	}
	return v
}

// rewriteMounts takes the mount paths named in a command below the service's root.
func rewriteMounts(s types.ServiceConfig, root, v string) string {
	for _, m := range s.Volumes {
		v = regexp.MustCompile(`(^|[\s"'=:])`+regexp.QuoteMeta(m.Target)+`(/|$|[\s"'])`).
			ReplaceAllString(v, "${1}"+filepath.Join(root, filepath.FromSlash(m.Target))+"${2}")
	}
	return v
}

// image is what the test knows of each image: its entrypoint as a native command, and its ENV.
func (r *composeRun) image(s types.ServiceConfig) (entrypoint []string, env []string) {
	for own := range ownServices {
		if s.Name != own {
			continue
		}
		stages := parseDockerfile(r.t, filepath.Join(r.root, dockerfile))
		for _, in := range imageStage(r.t, stages, own).insts {
			switch in.cmd {
			case "ENTRYPOINT":
				if err := json.Unmarshal([]byte(in.args), &entrypoint); err != nil {
					r.t.Fatalf("%s: ENTRYPOINT %s: %v", dockerfile, in.args, err)
				}
			case "ENV":
				env = append(env, strings.Fields(in.args)...)
			}
		}
		return entrypoint, env
	}
	img, _, _ := strings.Cut(s.Image, ":")
	switch img {
	case "treeverse/lakefs":
		return []string{filepath.Join(r.lakefs, "lakefs")}, nil
	}
	r.t.Fatalf("service %s: image %s cannot run natively", s.Name, s.Image)
	return nil, nil
}

// native maps an executable of an image to this machine.
func (r *composeRun) native(s types.ServiceConfig, exe string) string {
	if name, ok := strings.CutPrefix(exe, "/usr/local/bin/"); ok {
		if _, own := ownServices[s.Name]; own {
			return filepath.Join(r.bin, name)
		}
	}
	if exe == "/bin/sh" {
		return "/bin/sh"
	}
	if strings.HasPrefix(exe, "/") && !strings.HasPrefix(exe, r.dir) && !strings.HasPrefix(exe, r.bin) && !strings.HasPrefix(exe, r.lakefs) {
		r.t.Fatalf("service %s: %s is not in its image as this test knows it", s.Name, exe)
	}
	return exe
}

// up starts every service in depends_on order.
func (r *composeRun) up() {
	started := map[string]bool{}
	var visit func(name string, path []string)
	visit = func(name string, path []string) {
		if started[name] {
			return
		}
		if slices.Contains(path, name) {
			r.t.Fatalf("depends_on cycle: %v", append(path, name))
		}
		s := r.project.Services[name]
		for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
			visit(dep, append(path, name))
		}
		for _, dep := range slices.Sorted(maps.Keys(s.DependsOn)) {
			r.await(dep, s.DependsOn[dep].Condition, name)
		}
		r.start(s)
		started[name] = true
	}
	for _, name := range slices.Sorted(maps.Keys(r.project.Services)) {
		visit(name, nil)
	}
	// As `docker compose up --wait`: every service with a healthcheck becomes healthy.
	for _, name := range slices.Sorted(maps.Keys(r.project.Services)) {
		if hc := r.project.Services[name].HealthCheck; hc != nil && !hc.Disable {
			r.awaitHealthy(name, "docker compose up --wait")
		}
	}
}

// await waits for a depends_on condition.
func (r *composeRun) await(dep, condition, by string) {
	p := r.procs[dep]
	switch condition {
	case types.ServiceConditionStarted, "":
	case types.ServiceConditionCompletedSuccessfully:
		select {
		case <-p.done:
		case <-time.After(2 * time.Minute):
			r.t.Fatalf("%s (needed by %s) did not complete within 2 minutes:\n%s", dep, by, p.out)
		}
		if p.err != nil {
			r.t.Fatalf("%s (needed by %s) did not complete successfully: %v\n%s", dep, by, p.err, p.out)
		}
	case types.ServiceConditionHealthy:
		r.awaitHealthy(dep, by)
	default:
		r.t.Fatalf("%s: depends_on condition %q is unknown", by, condition)
	}
}

// awaitHealthy runs a service's healthcheck until it passes, as compose does.
func (r *composeRun) awaitHealthy(name, by string) {
	if r.healthy[name] {
		return
	}
	s := r.project.Services[name]
	hc := s.HealthCheck
	if hc == nil || hc.Disable || len(hc.Test) == 0 {
		r.t.Fatalf("%s waits for %s to be healthy, but %s has no healthcheck", by, name, name)
	}
	retries := 3
	if hc.Retries != nil {
		retries = int(*hc.Retries)
	}
	wait := func(d *types.Duration, def time.Duration) time.Duration {
		if d == nil {
			return def
		}
		return time.Duration(*d)
	}
	deadline := time.Now().Add(wait(hc.StartPeriod, 0) + time.Duration(retries)*wait(hc.Interval, 30*time.Second))
	timeout := wait(hc.Timeout, 30*time.Second)
	var last error
	for {
		select {
		case <-r.procs[name].done:
			r.t.Fatalf("%s exited before it was healthy (needed by %s): %v\n%s", name, by, r.procs[name].err, r.procs[name].out)
		default:
		}
		if last = r.healthcheck(s, timeout); last == nil {
			r.healthy[name] = true
			return
		}
		if time.Now().After(deadline) {
			r.t.Fatalf("%s did not become healthy (needed by %s): %v\n%s", name, by, last, r.procs[name].out)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// healthcheck runs a service's healthcheck test once.
func (r *composeRun) healthcheck(s types.ServiceConfig, timeout time.Duration) error {
	test := s.HealthCheck.Test
	if test[0] != "CMD" || len(test) < 2 {
		return fmt.Errorf("healthcheck %q: only the exec form [CMD …] runs natively", test)
	}
	argv := make([]string, 0, len(test)-1)
	for _, a := range test[1:] {
		argv = append(argv, r.rewriteAddrs(s.Name, a))
	}
	ctx, cancel := context.WithTimeout(r.t.Context(), timeout)
	defer cancel()
	switch {
	case argv[0] == "wget":
		return nativeWget(ctx, argv[1:])
	case argv[0] == "ollama" && len(argv) == 2 && argv[1] == "list":
		// The CLI in the image asks its own server: GET /api/tags on OLLAMA_HOST's default.
		return httpGet(ctx, "http://127.0.0.1:"+strconv.Itoa(r.ports[s.Name][11434])+"/api/tags")
	}
	out, err := exec.CommandContext(ctx, r.native(s, argv[0]), argv[1:]...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("healthcheck %q: %v: %s", argv, err, out)
	}
	return nil
}

// nativeWget does what busybox wget -q -O FILE URL does for a health check: one GET, which
// succeeds on a 2xx answer.
func nativeWget(ctx context.Context, args []string) error {
	var u string
	for i := 0; i < len(args); i++ {
		switch a := args[i]; {
		case a == "-q" || a == "--spider":
		case a == "-O" || a == "-T":
			i++
		case strings.HasPrefix(a, "-"):
			return fmt.Errorf("wget %s: an option this test does not know", a)
		default:
			u = a
		}
	}
	return httpGet(ctx, u)
}

func httpGet(ctx context.Context, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("GET %s: %s", u, resp.Status)
	}
	return nil
}

// start starts one service.
func (r *composeRun) start(s types.ServiceConfig) {
	t := r.t
	if img, _, _ := strings.Cut(s.Image, ":"); img == "ollama/ollama" {
		r.startOllama(s)
		return
	}
	root := r.serviceRoot(s)
	entrypoint, imageEnv := r.image(s)
	if s.Entrypoint != nil {
		entrypoint = s.Entrypoint
	}
	argv := append(slices.Clone(entrypoint), s.Command...)
	if len(argv) == 0 {
		t.Fatalf("service %s: no command", s.Name)
	}
	for i := range argv {
		argv[i] = rewriteMounts(s, root, r.rewriteAddrs(s.Name, argv[i]))
	}
	argv[0] = r.native(s, argv[0])

	envMap := map[string]string{}
	for _, kv := range imageEnv {
		k, v, _ := strings.Cut(kv, "=")
		envMap[k] = v
	}
	for k, v := range s.Environment {
		if v != nil {
			envMap[k] = *v
		}
	}
	env := []string{
		"PATH=" + r.lakefs + string(os.PathListSeparator) + "/usr/bin:/bin",
		"HOME=" + filepath.Join(root, "home"),
		// The loopback bind of what a container binds on every interface.
		"DOIP_HOST=127.0.0.1",
	}
	if hp, ok := r.ports[s.Name][8000]; ok && strings.HasPrefix(s.Image, "treeverse/lakefs") {
		env = append(env, "LAKEFS_LISTEN_ADDRESS=127.0.0.1:"+strconv.Itoa(hp))
	}
	for _, k := range slices.Sorted(maps.Keys(envMap)) {
		env = append(env, k+"="+rewritePath(root, r.rewritePort(s.Name, r.rewriteAddrs(s.Name, envMap[k]))))
	}

	p := &runProc{name: s.Name, out: &logtest.Buffer{}, done: make(chan struct{})}
	p.cmd = exec.Command(argv[0], argv[1:]...)
	p.cmd.Env, p.cmd.Dir = env, root
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("service %s: starting %q: %v", s.Name, argv, err)
	}
	go func() { p.err = p.cmd.Wait(); close(p.done) }()
	r.procs[s.Name] = p
	grace := 10 * time.Second
	if s.StopGracePeriod != nil {
		grace = time.Duration(*s.StopGracePeriod)
	}
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			select {
			case <-p.done:
			case <-time.After(grace):
				t.Errorf("%s did not stop within its stop_grace_period %s", s.Name, grace)
				_ = p.cmd.Process.Kill()
				<-p.done
			}
		}
		if t.Failed() {
			t.Logf("--- output of %s:\n%s", s.Name, p.out)
		}
	})
}

// startOllama runs the Ollama stand-in on the service's port 11434 (Ollama's default, which
// the ollama image listens on): a fresh server with no model pulled, answering as Ollama does.
func (r *composeRun) startOllama(s types.ServiceConfig) {
	port, ok := r.ports[s.Name][11434]
	if !ok {
		r.t.Fatalf("nothing reaches %s on Ollama's port 11434", s.Name)
	}
	l, err := net.Listen("tcp", "127.0.0.1:"+strconv.Itoa(port))
	if err != nil {
		r.t.Fatal(err)
	}
	mux := http.NewServeMux()
	answer := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Type", "application/json; charset=utf-8")
			_, _ = w.Write([]byte(body))
		}
	}
	mux.HandleFunc("GET /api/tags", answer(`{"models":[]}`))
	mux.HandleFunc("GET /api/version", answer(`{"version":"0.32.15"}`))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("Ollama is running"))
	})
	// No model is pulled on a fresh server: every chat is Ollama's 404 for an unknown model.
	mux.HandleFunc("POST /api/chat", func(w http.ResponseWriter, req *http.Request) {
		var body ollamaChat
		_ = json.NewDecoder(req.Body).Decode(&body)
		r.chatsMu.Lock()
		r.chats = append(r.chats, body)
		r.chatsMu.Unlock()
		w.Header().Set("Content-Type", "application/json; charset=utf-8")
		w.WriteHeader(http.StatusNotFound)
		b, _ := json.Marshal(map[string]string{"error": fmt.Sprintf("model '%s' not found", body.Model)})
		_, _ = w.Write(b)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusNotFound)
		_, _ = w.Write([]byte("404 page not found"))
	})
	r.ollama = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = r.ollama.Serve(l) }()
	p := &runProc{name: s.Name, out: &logtest.Buffer{}, done: make(chan struct{})}
	r.procs[s.Name] = p
	r.t.Cleanup(func() { _ = r.ollama.Close() })
}

// drive uses the system through the gateway with doipctl.
func (r *composeRun) drive() {
	t := r.t
	gw := r.project.Services["gateway"]
	var doipPort int
	for _, p := range gw.Ports {
		if p.Published == strconv.Itoa(int(p.Target)) && doipPort == 0 {
			doipPort = r.ports["gateway"][int(p.Target)]
		}
	}
	if doipPort == 0 {
		t.Fatal("the gateway publishes no port")
	}
	g := &gatewayUnderTest{t: t, root: r.root, doipctl: filepath.Join(r.bin, "doipctl"),
		binary:   "127.0.0.1:" + strconv.Itoa(doipPort),
		segments: "127.0.0.1:" + strconv.Itoa(r.ports["gateway"][3568]),
		token:    writeToken(t, *gw.Environment["ACCESS_TOKENS"])}
	ctl := g.mustCtl
	if out := ctl("hello"); !strings.Contains(out, `"availableOperations"`) || !strings.Contains(out, "equation_extraction") {
		t.Errorf("hello: %s", out)
	}
	if out := ctl("retrieve", "Q123"); !strings.Contains(out, `"fdo:hasComponent"`) {
		t.Errorf("retrieve Q123: %s", out)
	}
	file := filepath.Join(t.TempDir(), "paper.pdf")
	ctl("retrieve", "Q123", "--component", "main-pdf", "-o", file)
	got, err := os.ReadFile(file)
	want, werr := os.ReadFile(filepath.Join(r.root, "retrieve-svc", "internal", "sampledata", "objects", "main", "00", "01", "23", "Q123", "components", "main-pdf"))
	if err != nil || werr != nil || !bytes.Equal(got, want) {
		t.Errorf("main-pdf from lakeFS: %d bytes (%v), want the %d sample bytes (%v)", len(got), err, len(want), werr)
	}
	if out := ctl("invoke", "Q123", "--workflow", "echo", "--params", `{"hello":"compose"}`); !strings.Contains(out, "compose") {
		t.Errorf("invoke echo: %s", out)
	}
	if out := ctl("invoke", "Q123", "--workflow", "equation_extraction"); !strings.Contains(out, "equations") {
		t.Errorf("invoke equation_extraction: %s", out)
	}
	if out := ctl("retrieve", "Q123", "--component", "equations.json"); !strings.Contains(out, `"equations"`) {
		t.Errorf("retrieve the derived equations.json (written to lakeFS): %.200s", out)
	}
	// doipy and MaRDI's client find Q123 by its title and by a formula the extraction found.
	g.searches()
	// Their writes, with the token the compose file configures, each a commit in lakeFS.
	g.writes(r.lakeFSCommit)
	// The Ollama backend reaches the ollama service with the compose default model; it has
	// not been pulled, so the builtin result comes back with a note saying so.
	out := ctl("invoke", "Q123", "--workflow", "equation_extraction", "--params", `{"component":"main-pdf","backend":"ollama","pages":[1]}`)
	wantModel := "model '" + *r.project.Services["invoke-svc"].Environment["OLLAMA_MODEL"] + "' not found"
	if !strings.Contains(out, wantModel) {
		t.Errorf("invoke with the Ollama backend: %.400s; want a note with %q", out, wantModel)
	}
	r.chatsMu.Lock()
	for _, c := range r.chats {
		if string(c.Think) != "false" {
			t.Errorf("a chat sent think %s; want false", c.Think)
		}
	}
	if len(r.chats) == 0 {
		t.Error("the Ollama service was never asked")
	}
	r.chatsMu.Unlock()
	if out := ctl("purge", "Q123"); !strings.Contains(out, "purge") {
		t.Errorf("purge Q123: %s", out)
	}
}

// lakeFSCommit checks, through lakeFS's own API with retrieve-svc's credentials, that a
// version the gateway answered is a commit of the repository retrieve-svc writes to.
func (r *composeRun) lakeFSCommit(version string) {
	r.t.Helper()
	env := r.project.Services["retrieve-svc"].Environment
	u := r.rewriteAddrs("retrieve-svc", *env["LAKEFS_URL"]) + "/api/v1/repositories/" + *env["LAKEFS_REPO"] + "/commits/" + version
	req, err := http.NewRequestWithContext(r.t.Context(), http.MethodGet, u, nil)
	if err != nil {
		r.t.Fatal(err)
	}
	req.SetBasicAuth(*env["LAKEFS_USER"], *env["LAKEFS_PASSWORD"])
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		r.t.Fatal(err)
	}
	defer resp.Body.Close()
	var c struct {
		ID string `json:"id"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&c); err != nil || resp.StatusCode != http.StatusOK || c.ID != version {
		r.t.Errorf("version %s is not a commit of lakeFS: %s, %+v (%v)", version, resp.Status, c, err)
	}
}
