package deploy_test

import (
	"bufio"
	"encoding/json"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"
)

// The images' bases: pinned by digest, distroless at the end. A digest may follow either tag.
const (
	builderImage = "golang:1.26.8-bookworm"
	finalImage   = "gcr.io/distroless/static-debian12:nonroot"
)

// What each image listens on: its service ports, and the admin port (adminPort) after them.
var exposed = map[string][]string{
	"gateway":      {"3567", "3568", "3569", "9567"},
	"retrieve-svc": {"50051", "9551"},
	"invoke-svc":   {"50052", "9552"},
}

// What a final stage may hold besides the two binaries.
var extraPaths = map[string][]string{
	"retrieve-svc": {"/data"}, // an empty folder owned by uid 65532, for a volume mounted there
}

func ep0(ep []string) string {
	if len(ep) == 0 {
		return ""
	}
	return ep[0]
}

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int    // where it starts, 1-based
	cmd  string // upper case: FROM, COPY, RUN, …
	args string
}

// stage is one FROM and the instructions up to the next.
type stage struct {
	image string // as written after FROM, without --platform
	name  string // after AS, if any
	insts []instruction
}

// parseDockerfile reads the instructions of a Dockerfile: comments and blank lines dropped,
// lines ending in a backslash joined with the next. That is all of the syntax ours use.
func parseDockerfile(t *testing.T, path string) []stage {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		stages []stage
		cur    strings.Builder
		start  int
	)
	add := func() {
		text := strings.TrimSpace(cur.String())
		cur.Reset()
		if text == "" {
			return
		}
		cmd, args, _ := strings.Cut(text, " ")
		in := instruction{line: start, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			var st stage
			fields := strings.Fields(in.args)
			for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
				fields = fields[1:]
			}
			if len(fields) > 0 {
				st.image = fields[0]
			}
			if len(fields) == 3 && strings.EqualFold(fields[1], "AS") {
				st.name = fields[2]
			}
			stages = append(stages, st)
		}
		if len(stages) == 0 {
			if in.cmd != "ARG" {
				t.Errorf("%s:%d: %s before the first FROM", path, in.line, in.cmd)
			}
			return
		}
		stages[len(stages)-1].insts = append(stages[len(stages)-1].insts, in)
	}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(line, "#") || (line == "" && cur.Len() == 0) {
			continue
		}
		if cur.Len() == 0 {
			start = n
		}
		if cont, ok := strings.CutSuffix(line, `\`); ok {
			cur.WriteString(cont + " ")
			continue
		}
		cur.WriteString(line)
		add()
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	add()
	return stages
}

// imageStage returns the stage named name as the image it builds: its FROM followed through
// the stages it builds on to a base image, and their instructions before its own.
func imageStage(t *testing.T, stages []stage, name string) stage {
	t.Helper()
	for i, st := range stages {
		if st.name != name {
			continue
		}
		for _, base := range stages[:i] {
			if base.name == st.image {
				b := imageStage(t, stages, base.name)
				return stage{image: b.image, name: name, insts: append(slices.Clip(b.insts), st.insts...)}
			}
		}
		return st
	}
	t.Fatalf("%s: no stage %s", dockerfile, name)
	return stage{}
}

// dockerfileFlag returns the value of --name=value among the leading flags of an
// instruction's arguments (HEALTHCHECK --timeout=5s CMD …), or "" when it is absent.
func dockerfileFlag(args, name string) string {
	for _, f := range strings.Fields(args) {
		if !strings.HasPrefix(f, "--") {
			break
		}
		if k, v, ok := strings.Cut(strings.TrimPrefix(f, "--"), "="); ok && k == name {
			return v
		}
	}
	return ""
}

// copyArgs splits the arguments of a COPY into its flags (--from=build → "from": "build"),
// sources and destination.
func copyArgs(args string) (flags map[string]string, srcs []string, dst string) {
	flags = map[string]string{}
	fields := strings.Fields(args)
	for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
		k, v, _ := strings.Cut(strings.TrimPrefix(fields[0], "--"), "=")
		flags[k] = v
		fields = fields[1:]
	}
	if len(fields) < 2 {
		return flags, nil, ""
	}
	return flags, fields[:len(fields)-1], fields[len(fields)-1]
}

// imageIs reports whether ref names image, optionally pinned by a digest.
func imageIs(ref, image string) bool {
	return ref == image || regexp.MustCompile(`^`+regexp.QuoteMeta(image)+`@sha256:[0-9a-f]{64}$`).MatchString(ref)
}

// dockerignore is the list of patterns of the repository's .dockerignore.
type dockerignore []struct {
	re      *regexp.Regexp
	exclude bool // false for a "!" pattern, which includes again
}

func readDockerignore(t *testing.T, root string) dockerignore {
	t.Helper()
	text, err := os.ReadFile(filepath.Join(root, ".dockerignore"))
	if err != nil {
		t.Fatal(err)
	}
	var di dockerignore
	for line := range strings.Lines(string(text)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		exclude := true
		if rest, ok := strings.CutPrefix(line, "!"); ok {
			line, exclude = rest, false
		}
		pat := strings.TrimPrefix(filepath.ToSlash(filepath.Clean(line)), "/")
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(pat); i++ {
			switch c := pat[i]; {
			case strings.HasPrefix(pat[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(pat[i:], "**"):
				re.WriteString(".*")
				i++
			case c == '*':
				re.WriteString("[^/]*")
			case c == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(string(c)))
			}
		}
		re.WriteString("$")
		di = append(di, struct {
			re      *regexp.Regexp
			exclude bool
		}{regexp.MustCompile(re.String()), exclude})
	}
	return di
}

// excludes reports whether the build context lacks rel (slash-separated, relative to the
// root): the last pattern that matches rel or one of its parent folders decides, as in
// Docker.
func (di dockerignore) excludes(rel string) bool {
	rel = strings.Trim(filepath.ToSlash(filepath.Clean(rel)), "/")
	excluded := false
	for _, p := range di {
		for prefix := rel; prefix != "." && prefix != ""; prefix = filepath.ToSlash(filepath.Dir(prefix)) {
			if p.re.MatchString(prefix) {
				excluded = p.exclude
				break
			}
		}
	}
	return excluded
}

// workspaceModules returns the folders of the modules go.work uses, relative to the root.
func workspaceModules(t *testing.T, root string) []string {
	t.Helper()
	cmd := exec.CommandContext(t.Context(), "go", "work", "edit", "-json")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(root, "go.work"))
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go work edit -json: %v", err)
	}
	var work struct{ Use []struct{ DiskPath string } }
	if err := json.Unmarshal(out, &work); err != nil {
		t.Fatal(err)
	}
	var dirs []string
	for _, u := range work.Use {
		dirs = append(dirs, filepath.ToSlash(filepath.Clean(u.DiskPath)))
	}
	return dirs
}

// buildTargets returns the packages a RUN builds (the ./path arguments of go build).
func buildTargets(run string) []string {
	var pkgs []string
	for _, cmd := range strings.Split(run, "&&") {
		fields := strings.Fields(cmd)
		i := slices.Index(fields, "go")
		if i < 0 || i+1 >= len(fields) || fields[i+1] != "build" {
			continue
		}
		for _, f := range fields[i+2:] {
			if strings.HasPrefix(f, "./") {
				pkgs = append(pkgs, f)
			}
		}
	}
	return pkgs
}

// TestComposeDockerfiles checks each service's image in the Dockerfile: the builder and final images, the
// layer order that keeps the module download cached, a static stripped build, a final stage
// that holds only the two binaries and runs as non-root, the ports, the entrypoint and a
// readiness health check that needs no shell and agrees with docker-compose.yml's.
func TestComposeDockerfiles(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	modules := workspaceModules(t, root)
	project := loadCompose(t, map[string]string{})
	for name := range ownServices {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			df := dockerfile
			stages := parseDockerfile(t, filepath.Join(root, df))
			if len(stages) < 2 {
				t.Fatalf("%s: %d stages, want a multi-stage build", df, len(stages))
			}
			build, final := stages[0], imageStage(t, stages, name)
			if !imageIs(build.image, builderImage) || build.name == "" {
				t.Errorf("%s: builder FROM %q AS %q, want %s AS <name>", df, build.image, build.name, builderImage)
			}
			if !imageIs(final.image, finalImage) {
				t.Errorf("%s: final FROM %q, want %s", df, final.image, finalImage)
			}

			// Builder: go.work, go.work.sum and every module's go.mod and go.sum before the
			// download; sources after it; a static, stripped, path-free build.
			copied := map[string]bool{}
			downloaded, built := false, false
			for _, in := range build.insts {
				switch in.cmd {
				case "COPY":
					_, srcs, _ := copyArgs(in.args)
					for _, s := range srcs {
						copied[s] = true
					}
					if !downloaded && slices.ContainsFunc(srcs, func(s string) bool { return strings.HasSuffix(s, ".go") || strings.HasSuffix(s, "/") }) {
						t.Errorf("%s:%d: sources copied before go mod download: every change would download again", df, in.line)
					}
				case "RUN":
					if strings.Contains(in.args, "go mod download") {
						downloaded = true
						want := []string{"go.work", "go.work.sum"}
						for _, m := range modules {
							want = append(want, m+"/go.mod", m+"/go.sum")
						}
						for _, w := range want {
							if !copied[w] {
								t.Errorf("%s:%d: %s is not copied before go mod download", df, in.line, w)
							}
						}
					}
					if strings.Contains(in.args, "go build") {
						built = true
						for _, cmd := range strings.Split(in.args, "&&") {
							if !strings.Contains(cmd, "go build") {
								continue
							}
							for _, want := range []string{"CGO_ENABLED=0", "-trimpath", "-s -w"} {
								if !strings.Contains(cmd, want) {
									t.Errorf("%s:%d: go build without %s: %s", df, in.line, want, strings.TrimSpace(cmd))
								}
							}
						}
					}
				}
			}
			if !downloaded || !built {
				t.Errorf("%s: want RUN go mod download, then RUN go build", df)
			}

			// Final stage: only files from the builder, a non-root user, the ports, an
			// exec-form entrypoint and health check whose binaries are in the image.
			inImage := map[string]bool{}
			var user, entrypoint, healthcheck string
			var ports []string
			for _, in := range final.insts {
				switch in.cmd {
				case "COPY", "ADD":
					flags, srcs, dst := copyArgs(in.args)
					if in.cmd == "ADD" || flags["from"] != build.name {
						t.Errorf("%s:%d: the final stage takes files only from the %s stage: %s %s", df, in.line, build.name, in.cmd, in.args)
					}
					for _, s := range srcs {
						if strings.HasSuffix(dst, "/") {
							inImage[dst+filepath.Base(s)] = true
						} else {
							inImage[dst] = true
						}
					}
				case "USER":
					user = in.args
				case "EXPOSE":
					ports = append(ports, strings.Fields(in.args)...)
				case "ENTRYPOINT":
					entrypoint = in.args
				case "HEALTHCHECK":
					healthcheck = in.args
				case "RUN":
					t.Errorf("%s:%d: RUN in the final stage: distroless has no shell", df, in.line)
				}
			}
			if u, _, _ := strings.Cut(user, ":"); u != "65532" && u != "nonroot" {
				t.Errorf("%s: final USER %q, want 65532 or nonroot", df, user)
			}
			slices.Sort(ports)
			if want := slices.Sorted(slices.Values(exposed[name])); !slices.Equal(ports, want) {
				t.Errorf("%s: EXPOSE %v, want %v", df, ports, want)
			}
			if !slices.Contains(ports, adminPort[name]) {
				t.Errorf("%s: EXPOSE %v lacks the admin port %s", df, ports, adminPort[name])
			}
			var ep []string
			if err := json.Unmarshal([]byte(entrypoint), &ep); err != nil || len(ep) == 0 || !inImage[ep[0]] {
				t.Errorf("%s: ENTRYPOINT %s: want the exec form of a binary copied into the image", df, entrypoint)
			}
			_, hcJSON, ok := strings.Cut(healthcheck, "CMD ")
			var hc []string
			if !ok || json.Unmarshal([]byte(hcJSON), &hc) != nil || len(hc) < 3 || !inImage[hc[0]] || filepath.Base(hc[0]) != "healthprobe" {
				t.Errorf("%s: HEALTHCHECK %q: want CMD [\"/…/healthprobe\", …] in exec form, with the probe copied into the image", df, healthcheck)
			}
			// The image's process binds its admin server on 127.0.0.1:adminPort by default:
			// the check asks /readyz there.
			if want := []string{"/usr/local/bin/healthprobe", "http", readinessURL(adminPort[name])}; !slices.Equal(hc, want) {
				t.Errorf("%s: HEALTHCHECK runs %q, want %q: readiness on the default admin address", df, hc, want)
			}
			if timeout, err := time.ParseDuration(dockerfileFlag(healthcheck, "timeout")); err != nil || timeout <= probeTimeout {
				t.Errorf("%s: HEALTHCHECK --timeout %q, want more than the probe's own %s", df, dockerfileFlag(healthcheck, "timeout"), probeTimeout)
			}
			// The same probe as the compose service's healthcheck, and on the port its
			// ADMIN_ADDR binds.
			var composeTest []string
			if chc := service(t, project, name).HealthCheck; chc != nil && !chc.Disable {
				composeTest = chc.Test
			}
			if len(composeTest) < 2 || composeTest[0] != "CMD" || !slices.Equal(composeTest[1:], hc) {
				t.Errorf("%s: HEALTHCHECK runs %q, docker-compose.yml's %s healthcheck %q: want the same probe", df, hc, name, composeTest)
			}
			if _, port, err := net.SplitHostPort(env(t, service(t, project, name), "ADMIN_ADDR")); err != nil || !slices.Contains(ports, port) {
				t.Errorf("%s: EXPOSE %v lacks the admin port docker-compose.yml's ADMIN_ADDR binds (%v)", df, ports, port)
			}
			want := append([]string{ep0(ep), "/usr/local/bin/healthprobe"}, extraPaths[name]...)
			slices.Sort(want)
			if got := slices.Sorted(maps.Keys(inImage)); !slices.Equal(got, want) {
				t.Errorf("%s: the final stage holds %v, want %v: the service binary, healthprobe and nothing else", df, got, want)
			}
		})
	}
}

// TestComposeDockerfileSources checks that each image builds from the repository root as
// its context: every COPY source exists and is not left out by .dockerignore, and every
// package `go build` compiles (the binary's packages in our modules, and the files they embed)
// is inside what the builder copies and what the context holds.
func TestComposeDockerfileSources(t *testing.T) {
	t.Parallel()
	root := repoRoot(t)
	ignore := readDockerignore(t, root)
	for name, command := range ownServices {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			df := dockerfile
			stages := parseDockerfile(t, filepath.Join(root, df))
			var copiedDirs, targets []string
			for _, st := range stages {
				for _, in := range st.insts {
					switch in.cmd {
					case "COPY", "ADD":
						flags, srcs, _ := copyArgs(in.args)
						if _, fromStage := flags["from"]; fromStage {
							continue
						}
						for _, s := range srcs {
							if strings.ContainsAny(s, "*?[") {
								t.Errorf("%s:%d: COPY %s: name sources exactly, so this test can check them", df, in.line, s)
								continue
							}
							if _, err := os.Stat(filepath.Join(root, s)); err != nil {
								t.Errorf("%s:%d: COPY source %s is not in the repository: %v", df, in.line, s, err)
							}
							if ignore.excludes(s) {
								t.Errorf("%s:%d: COPY source %s is excluded by .dockerignore", df, in.line, s)
							}
							if strings.HasSuffix(s, "/") {
								copiedDirs = append(copiedDirs, strings.TrimSuffix(s, "/"))
							}
						}
					case "RUN":
						targets = append(targets, buildTargets(strings.ReplaceAll(in.args, "${COMMAND}", command))...)
					}
				}
			}
			if len(targets) != 2 || !slices.Contains(targets, "./deploy/cmd/healthprobe") {
				t.Fatalf("%s: go build targets %v, want the service and ./deploy/cmd/healthprobe", df, targets)
			}

			// The packages each target compiles, as the linux/amd64 static build sees them.
			args := append([]string{"list", "-deps", "-f", "{{if not .Standard}}{{.ImportPath}}\t{{.Dir}}\t{{.Name}}\t{{join .GoFiles \",\"}}\t{{join .EmbedFiles \",\"}}{{end}}"}, targets...)
			cmd := exec.CommandContext(t.Context(), "go", args...)
			cmd.Dir = root
			cmd.Env = append(os.Environ(), "GOWORK="+filepath.Join(root, "go.work"), "CGO_ENABLED=0", "GOOS=linux")
			out, err := cmd.Output()
			if err != nil {
				t.Fatalf("go list %v: %v", targets, err)
			}
			mains := 0
			for line := range strings.Lines(string(out)) {
				f := strings.Split(strings.TrimRight(line, "\n"), "\t")
				if len(f) != 5 {
					continue
				}
				importPath, dir, pkgName := f[0], f[1], f[2]
				rel, err := filepath.Rel(root, dir)
				if err != nil || strings.HasPrefix(rel, "..") {
					continue // a dependency from the module cache
				}
				rel = filepath.ToSlash(rel)
				if pkgName == "main" {
					mains++
				}
				if !slices.ContainsFunc(copiedDirs, func(d string) bool { return rel == d || strings.HasPrefix(rel, d+"/") }) {
					t.Errorf("%s: %s (%s) is compiled but not copied into the builder", df, importPath, rel)
				}
				for _, file := range slices.Concat(strings.Split(f[3], ","), strings.Split(f[4], ",")) {
					if file == "" {
						continue
					}
					if p := rel + "/" + filepath.ToSlash(file); ignore.excludes(p) {
						t.Errorf("%s: %s is needed to build %s but .dockerignore leaves it out", df, p, importPath)
					}
				}
			}
			if mains != 2 {
				t.Errorf("%s: %d main packages among the build targets %v, want 2", df, mains, targets)
			}
		})
	}
}

// TestComposeDockerignore keeps secrets and local state out of every build context.
func TestComposeDockerignore(t *testing.T) {
	t.Parallel()
	ignore := readDockerignore(t, repoRoot(t))
	for _, p := range []string{".git/config", "certs/server.key", "certs/server.crt", "gateway/internal/x/tls.key", ".env", "data/records/Q1.json", "bin/doip-gateway", ".tmp/bin/buf"} {
		if !ignore.excludes(p) {
			t.Errorf(".dockerignore lets %s into the build context", p)
		}
	}
	for _, p := range []string{"go.work", "shared/go.mod", "gateway/cmd/doip-gateway/main.go", "deploy/cmd/healthprobe/main.go", "retrieve-svc/internal/sampledata/objects/records/Q123.json"} {
		if ignore.excludes(p) {
			t.Errorf(".dockerignore leaves out %s, which a build needs", p)
		}
	}
}
