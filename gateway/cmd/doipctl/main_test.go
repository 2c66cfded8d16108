package main

import (
	"bytes"
	"crypto/tls"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/envelope"
	"github.com/fdo-doip/doip-gateway/gateway/internal/tlsconf"
)

// result is what one in-process run of doipctl printed, and its exit status.
type result struct {
	out, err string
	code     int
}

// ctl runs doipctl in-process with args, an empty environment, and no terminal.
func ctl(t *testing.T, args ...string) result {
	t.Helper()
	return ctlWith(t, nil, nil, args...)
}

// ctlWith runs doipctl with env as its environment; terminal, if not nil, says which of
// stdout ("stdout") and stderr ("stderr") are terminals.
func ctlWith(t *testing.T, env map[string]string, terminal map[string]bool, args ...string) result {
	t.Helper()
	var out, errb bytes.Buffer
	a := &app{
		stdout: &out, stderr: &errb,
		getenv: func(k string) string { return env[k] },
		isTerminal: func(w io.Writer) bool {
			return w == &out && terminal["stdout"] || w == &errb && terminal["stderr"]
		},
	}
	code := a.run(t.Context(), args)
	return result{out: out.String(), err: errb.String(), code: code}
}

// at returns the flags that point doipctl at addr.
func at(addr string) []string {
	host, port, _ := net.SplitHostPort(addr)
	return []string{"--host", host, "--port", port}
}

// fakeGateway answers binary envelope requests with answer, and counts them.
type fakeGateway struct {
	addr     string
	requests atomic.Int32
}

func startFake(t *testing.T, answer func(req *envelope.Message) *envelope.Message) *fakeGateway {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = l.Close() })
	g := &fakeGateway{addr: l.Addr().String()}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				fr := envelope.NewFramer(c, c)
				for {
					m, err := fr.ReadMessage()
					if err != nil {
						return
					}
					g.requests.Add(1)
					if fr.WriteMessage(answer(m)) != nil {
						return
					}
				}
			}()
		}
	}()
	return g
}

// componentAnswer answers every request with one component holding content.
func componentAnswer(id, mediaType string, content []byte) func(*envelope.Message) *envelope.Message {
	return func(req *envelope.Message) *envelope.Message {
		return &envelope.Message{
			Header:   envelope.Header{Version: envelope.Version, Type: envelope.TypeResponse, Op: req.Header.Op},
			ObjectID: req.ObjectID,
			Blocks: []envelope.Block{
				&envelope.MetadataBlock{JSON: []byte(`{"status":"ok"}`)},
				&envelope.ComponentBlock{ID: id, MediaType: mediaType, Content: content},
			},
		}
	}
}

func jsonAnswer(js string) func(*envelope.Message) *envelope.Message {
	return func(req *envelope.Message) *envelope.Message {
		return &envelope.Message{
			Header:   envelope.Header{Version: envelope.Version, Type: envelope.TypeResponse, Op: req.Header.Op},
			ObjectID: req.ObjectID,
			Blocks:   []envelope.Block{&envelope.MetadataBlock{JSON: []byte(js)}},
		}
	}
}

// pdf starts like a PDF: a binary comment line, then a stream with a NUL byte.
var pdf = []byte("%PDF-1.5\n%\xe2\xe3\xcf\xd3\n1 0 obj\nstream\n\x00\x01\x02endstream\n")

func TestHelpPerCommandGoesToStdout(t *testing.T) {
	t.Parallel()
	for _, args := range [][]string{
		{"hello", "--help"}, {"list-ops", "--help"}, {"retrieve", "--help"}, {"invoke", "-h"},
		{"purge", "--help"}, {"help", "retrieve"}, {"--help"}, {"completion", "--help"},
	} {
		r := ctl(t, args...)
		name := args[0]
		if name == "help" {
			name = args[1]
		}
		if r.code != 0 || r.err != "" || !strings.Contains(r.out, "Usage:") {
			t.Errorf("%q: status %d, stderr %q, stdout %.80q; want 0, help on stdout", args, r.code, r.err, r.out)
		}
		if name != "--help" && name != "completion" && !strings.Contains(r.out, "Examples:\n  doipctl "+name) {
			t.Errorf("%q: no examples of %s in the help:\n%s", args, name, r.out)
		}
	}
}

func TestNoCommandPrintsHelpAndFails(t *testing.T) {
	t.Parallel()
	r := ctl(t)
	if r.code != exitUsage || r.out != "" || !strings.Contains(r.err, "Available Commands:") {
		t.Errorf("status %d, stdout %q, stderr %.80q; want 1 and the help on stderr", r.code, r.out, r.err)
	}
}

func TestUsageErrorsAreOneLineAndAHint(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"retrieve", "Q123", "--bogus"}, "doipctl: unknown flag: --bogus\nSee 'doipctl retrieve --help'.\n"},
		{[]string{"retrieve"}, "doipctl: retrieve needs an object id, e.g. doipctl retrieve Q123\nSee 'doipctl retrieve --help'.\n"},
		{[]string{"purge"}, "doipctl: purge needs an object id, e.g. doipctl purge Q123\nSee 'doipctl purge --help'.\n"},
		{[]string{"retrieve", "Q1", "Q2"}, "doipctl: retrieve takes one object id, got 2: [\"Q1\" \"Q2\"] (flags start with --)\nSee 'doipctl retrieve --help'.\n"},
		{[]string{"hello", "x"}, "doipctl: hello takes no arguments, got [\"x\"]\nSee 'doipctl hello --help'.\n"},
		{[]string{"list-ops", "a", "b"}, "doipctl: list-ops takes at most one object id, got 2: [\"a\" \"b\"]\nSee 'doipctl list-ops --help'.\n"},
		{[]string{"retreive", "Q123"}, "doipctl: unknown command \"retreive\": did you mean retrieve?\nSee 'doipctl --help'.\n"},
		{[]string{"frobnicate"}, "doipctl: unknown command \"frobnicate\": the commands are completion, create, delete, hash-password, hello, history, invoke, list-ops, purge, retrieve, search, update\nSee 'doipctl --help'.\n"},
		{[]string{"-timeout", "5", "hello"}, "doipctl: unknown shorthand flag: 't' in -timeout: long flags take two dashes: --timeout\nSee 'doipctl --help'.\n"},
		{[]string{"hello", "--timeout", "soon"}, "doipctl: invalid argument \"soon\" for \"--timeout\" flag: want a duration such as 30s, 2m or 1m30s, or a number of seconds\nSee 'doipctl hello --help'.\n"},
		{[]string{"hello", "--port", "http"}, "doipctl: --port \"http\" is not a port number: use 3567 (binary envelope) or 3568 (standard DOIP), or the port the gateway was started with\nSee 'doipctl hello --help'.\n"},
		{[]string{"invoke", "Q123"}, "doipctl: invoke needs --workflow NAME (doipctl list-ops Q123 lists the workflows)\nSee 'doipctl invoke --help'.\n"},
		{[]string{"invoke", "Q123", "--workflow", "echo", "--params", "[1]"}, "doipctl: --params must be a JSON object, such as '{\"pages\":[1]}': json: cannot unmarshal array into Go value of type map[string]interface {}\nSee 'doipctl invoke --help'.\n"},
		{[]string{"retrieve", "Q123", "-o", "x.json"}, "doipctl: -o writes a component's bytes: add --component ID (the record is printed on stdout; redirect it with > FILE)\nSee 'doipctl retrieve --help'.\n"},
		{[]string{"--standard", "invoke", "Q123", "--workflow", "echo", "-o", "."}, "doipctl: invoke -o DIR writes derived components with the binary envelope only: leave out --standard, or -o\nSee 'doipctl invoke --help'.\n"},
		{[]string{"--standard", "purge", "Q123"}, "doipctl: purge has no standard DOIP form: leave out --standard\nSee 'doipctl purge --help'.\n"},
	} {
		r := ctl(t, tc.args...)
		if r.code != exitUsage || r.out != "" || r.err != tc.want {
			t.Errorf("%q: status %d, stdout %q, stderr\n%s want status 1 and stderr\n%s", tc.args, r.code, r.out, r.err, tc.want)
		}
	}
}

func TestTimeoutTakesSecondsOrADuration(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{"5": 5 * time.Second, "1.5": 1500 * time.Millisecond, "2m": 2 * time.Minute, "90s": 90 * time.Second} {
		var s seconds
		if err := s.Set(in); err != nil || time.Duration(s) != want {
			t.Errorf("Set(%q) = %v, %v; want %v", in, time.Duration(s), err, want)
		}
	}
	for _, in := range []string{"", "soon", "0", "-5", "-1s"} {
		var s seconds
		if err := s.Set(in); err == nil {
			t.Errorf("Set(%q) accepted %v", in, time.Duration(s))
		}
	}
	// --timeout 5 reaches the request.
	g := startFake(t, jsonAnswer(`{"server":"fake"}`))
	var out bytes.Buffer
	a := &app{stdout: &out, stderr: io.Discard, getenv: func(string) string { return "" }, isTerminal: func(io.Writer) bool { return false }}
	if code := a.run(t.Context(), append([]string{"hello", "--timeout", "5"}, at(g.addr)...)); code != 0 || a.opts.timeout != 5*time.Second {
		t.Errorf("hello --timeout 5: status %d, timeout %v; want 0 and 5s", code, a.opts.timeout)
	}
}

func TestEnvironmentPicksTheGateway(t *testing.T) {
	t.Parallel()
	g := startFake(t, jsonAnswer(`{"server":"fake"}`))
	host, port, _ := net.SplitHostPort(g.addr)
	r := ctlWith(t, map[string]string{"DOIP_HOST": host, "DOIP_PORT": port}, nil, "hello")
	if r.code != 0 || !strings.Contains(r.out, `"server": "fake"`) {
		t.Errorf("hello with DOIP_HOST and DOIP_PORT: %+v", r)
	}
}

func TestBinaryComponentIsNotDumpedIntoATerminal(t *testing.T) {
	t.Parallel()
	g := startFake(t, componentAnswer("main-pdf", "application/pdf", pdf))
	args := append([]string{"retrieve", "Q123", "--component", "main-pdf"}, at(g.addr)...)

	r := ctlWith(t, nil, map[string]bool{"stdout": true}, args...)
	if r.code != exitUsage || r.out != "" || r.err != "doipctl: main-pdf (application/pdf) looks binary and stdout is a terminal: save it with -o FILE, or pipe it into a program; -o - writes it here regardless\n" {
		t.Errorf("binary to a terminal: %+v; want status 1, nothing on stdout, a hint to use -o", r)
	}
	// -o - insists; a pipe is no terminal.
	for name, r := range map[string]result{
		"-o -":   ctlWith(t, nil, map[string]bool{"stdout": true}, append(args, "-o", "-")...),
		"a pipe": ctlWith(t, nil, nil, args...),
	} {
		if r.code != 0 || r.out != string(pdf) {
			t.Errorf("%s: status %d, stderr %q, %d bytes; want the bytes on stdout", name, r.code, r.err, len(r.out))
		}
	}
	// Text goes to a terminal.
	tex := startFake(t, componentAnswer("source.tex", "application/x-tex", []byte("\\documentclass{article}\n% é\n")))
	r = ctlWith(t, nil, map[string]bool{"stdout": true}, append([]string{"retrieve", "Q123", "--component", "source.tex"}, at(tex.addr)...)...)
	if r.code != 0 || !strings.HasPrefix(r.out, "\\documentclass") {
		t.Errorf("text to a terminal: %+v", r)
	}
}

func TestLooksBinary(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"":                            false,
		"plain text\n":                false,
		"tab\tand CRLF\r\n":           false,
		"é ü 数学":                      false,
		"cut at the end \xe6\x95":     false, // the rest of the character is in the next chunk
		"NUL \x00 inside":             true,
		"\x1f\x8b\x08 gzip":           true,
		"%PDF-1.5\n%\xe2\xe3\xcf\xd3": true,
		"\xff\xfe not UTF-8":          true,
	} {
		if got := looksBinary([]byte(in)); got != want {
			t.Errorf("looksBinary(%q) = %v, want %v", in, got, want)
		}
	}
}

func TestDownloadToFile(t *testing.T) {
	t.Parallel()
	g := startFake(t, componentAnswer("main-pdf", "application/pdf", pdf))
	file := filepath.Join(t.TempDir(), "paper.pdf")
	r := ctlWith(t, nil, map[string]bool{"stdout": true, "stderr": true}, append([]string{"retrieve", "Q123", "--component", "main-pdf", "-o", file}, at(g.addr)...)...)
	if r.code != 0 || !strings.Contains(r.out, `"file": "`+file+`"`) {
		t.Fatalf("download: %+v", r)
	}
	if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, pdf) {
		t.Errorf("the file holds %q (%v)", got, err)
	}
	if !strings.Contains(r.err, "100.0%") {
		t.Errorf("no progress bar on a terminal: stderr %q", r.err)
	}
	entries, _ := os.ReadDir(filepath.Dir(file))
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
}

// retrieve --version sends the version in the request's metadata block, as the binary
// envelope carries it, and leaves it out when not given.
func TestRetrieveAtAVersion(t *testing.T) {
	t.Parallel()
	var mu sync.Mutex
	var seen []string
	g := startFake(t, func(req *envelope.Message) *envelope.Message {
		mu.Lock()
		defer mu.Unlock()
		for _, b := range req.Blocks {
			if m, ok := b.(*envelope.MetadataBlock); ok {
				seen = append(seen, string(m.JSON))
			}
		}
		return jsonAnswer(`{"status":"ok"}`)(req)
	})
	for _, args := range [][]string{{"retrieve", "Q123", "--version", "c0ffee"}, {"retrieve", "Q123"}} {
		if r := ctl(t, append(args, at(g.addr)...)...); r.code != 0 {
			t.Fatalf("%v: %+v", args, r)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || !strings.Contains(seen[0], `"version":"c0ffee"`) || strings.Contains(seen[1], "version") {
		t.Errorf("metadata sent: %q", seen)
	}
}

func TestOutputIsCheckedBeforeAnythingIsSent(t *testing.T) {
	t.Parallel()
	g := startFake(t, componentAnswer("equations.json", "application/json", []byte(`{}`)))
	dir := t.TempDir()
	file := filepath.Join(dir, "a-file")
	if err := os.WriteFile(file, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"invoke", "Q123", "--workflow", "equation_extraction", "-o", missing},
			"doipctl: -o " + missing + ": folder " + missing + " does not exist: create it first (mkdir -p " + missing + "); nothing was sent\n"},
		{[]string{"invoke", "Q123", "--workflow", "equation_extraction", "-o", file},
			"doipctl: -o " + file + ": " + file + " is a file, not a folder; nothing was sent\n"},
		{[]string{"retrieve", "Q123", "--component", "main-pdf", "-o", filepath.Join(missing, "paper.pdf")},
			"doipctl: -o " + filepath.Join(missing, "paper.pdf") + ": folder " + missing + " does not exist: create it first (mkdir -p " + missing + "); nothing was sent\n"},
		{[]string{"retrieve", "Q123", "--component", "main-pdf", "-o", dir},
			"doipctl: -o " + dir + " is a folder: give a file name, such as -o " + filepath.Join(dir, "main-pdf") + "\nSee 'doipctl retrieve --help'.\n"},
	} {
		r := ctl(t, append(tc.args, at(g.addr)...)...)
		if r.code != exitUsage || r.err != tc.want {
			t.Errorf("%q: status %d, stderr\n%s want 1 and\n%s", tc.args, r.code, r.err, tc.want)
		}
	}
	if n := g.requests.Load(); n != 0 {
		t.Errorf("the gateway got %d requests; a bad -o must stop doipctl before it sends", n)
	}
	// An existing folder takes the derived components.
	r := ctl(t, append([]string{"invoke", "Q123", "--workflow", "equation_extraction", "-o", dir}, at(g.addr)...)...)
	if got, err := os.ReadFile(filepath.Join(dir, "equations.json")); r.code != 0 || err != nil || string(got) != "{}" {
		t.Errorf("invoke -o DIR: %+v, file %q (%v)", r, got, err)
	}
}

func TestDOIPErrorExitsTwo(t *testing.T) {
	t.Parallel()
	g := startFake(t, func(req *envelope.Message) *envelope.Message {
		return &envelope.Message{
			Header:   envelope.Header{Version: envelope.Version, Type: envelope.TypeError, Op: req.Header.Op},
			ObjectID: req.ObjectID,
			Blocks:   []envelope.Block{&envelope.MetadataBlock{JSON: []byte(`{"error":"NotFound","message":"no object Q999"}`)}},
		}
	})
	r := ctl(t, append([]string{"retrieve", "Q999"}, at(g.addr)...)...)
	if r.code != exitDOIP || r.err != "doipctl: NotFound: no object Q999\n" {
		t.Errorf("%+v; want status 2 and the kind and message", r)
	}
}

// The connection problems a new user meets each get a line that says what to do.
func TestConnectionProblemsSayWhatToDo(t *testing.T) {
	t.Parallel()
	refused := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		_ = l.Close()
		return addr
	}()
	tlsServer := httptest.NewUnstartedServer(http.NotFoundHandler())
	tlsServer.Config.ErrorLog = log.New(io.Discard, "", 0) // the refused handshakes are the point
	tlsServer.StartTLS()
	t.Cleanup(tlsServer.Close)
	// replier answers whatever comes first with reply and hangs up; with a TLS config, it
	// does so after the handshake.
	replier := func(reply string, cfg *tls.Config) string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		if cfg != nil {
			l = tls.NewListener(l, cfg)
		}
		t.Cleanup(func() { _ = l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				_, _ = c.Read(make([]byte, 64))
				_, _ = io.WriteString(c, reply)
				_ = c.Close()
			}
		}()
		return l.Addr().String()
	}
	httpServer := replier("HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n", nil)
	hangUp := replier("", nil)
	tlsAlert := replier("\x15\x03\x03\x00\x02\x02\x28", nil) // shorter than an envelope header
	// gatewayTLS has the certificate a gateway without certificate files makes.
	cert, err := tlsconf.SelfSigned("fdo-gateway")
	if err != nil {
		t.Fatal(err)
	}
	gatewayTLS := replier("", tlsconf.Config(cert))
	hostPort := func(u string) string { return strings.TrimPrefix(strings.TrimPrefix(u, "https://"), "http://") }

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"refused", append([]string{"hello"}, at(refused)...),
			"nothing listens on " + refused + ": is the gateway running (make run)? Are --host and --port right?"},
		{"self-signed", append([]string{"hello", "--tls"}, at(hostPort(tlsServer.URL))...),
			"the server's certificate is not trusted (a gateway without certificate files makes a self-signed one): add --insecure to accept it, or --ca FILE to trust the CA that signed it"},
		{"self-signed, standard", append([]string{"--standard", "hello"}, at(hostPort(tlsServer.URL))...),
			"add --insecure to accept it, or --ca FILE"},
		{"the gateway's self-signed certificate", append([]string{"hello", "--tls"}, at(gatewayTLS)...),
			"the server's certificate is not trusted (a gateway without certificate files makes a self-signed one): add --insecure"},
		{"the gateway's self-signed certificate, standard", append([]string{"--standard", "hello"}, at(gatewayTLS)...),
			"the server's certificate is not trusted (a gateway without certificate files makes a self-signed one): add --insecure"},
		{"standard, hung up", append([]string{"--standard", "--insecure", "hello"}, at(gatewayTLS)...),
			"the server closed the connection without a standard DOIP answer: is --port right? 3568 is the standard port"},
		{"wrong port", append([]string{"hello"}, at(httpServer)...),
			"this port speaks another protocol (HTTP? TLS? standard DOIP?): is --port right? 3567 is the binary port, 3568 the standard one (with --standard)"},
		{"a short answer", append([]string{"hello"}, at(tlsAlert)...),
			"this port speaks another protocol (HTTP? TLS? standard DOIP?): is --port right?"},
		{"TLS to plaintext", append([]string{"hello", "--tls"}, at(httpServer)...),
			"the server does not speak TLS on this port: leave out --tls, or is --port right?"},
		{"standard to plaintext", append([]string{"--standard", "--insecure", "hello"}, at(httpServer)...),
			"standard DOIP runs over TLS, and this port does not speak it"},
		{"hang-up", append([]string{"hello"}, at(hangUp)...),
			"the server closed the connection without answering: if it requires TLS, add --tls (and --insecure for a self-signed certificate)"},
	} {
		r := ctl(t, append(tc.args, "--timeout", "10s")...)
		lines := strings.Split(strings.TrimSuffix(r.err, "\n"), "\n")
		if r.code != exitUsage || len(lines) != 2 || !strings.HasPrefix(lines[0], "doipctl: ") || !strings.Contains(lines[1], tc.want) {
			t.Errorf("%s: status %d, stderr\n%s\nwant status 1, the error and a line with %q", tc.name, r.code, r.err, tc.want)
		}
	}
}

func TestCompletionScripts(t *testing.T) {
	t.Parallel()
	for shell, want := range map[string]string{"bash": "bash completion V2 for doipctl", "zsh": "#compdef doipctl", "fish": "fish completion for doipctl"} {
		if r := ctl(t, "completion", shell); r.code != 0 || !strings.Contains(r.out, want) {
			t.Errorf("completion %s: status %d, stderr %q, stdout %.60q", shell, r.code, r.err, r.out)
		}
	}
	// A bad DOIP_PORT does not break the completion script a shell loads at start.
	if r := ctlWith(t, map[string]string{"DOIP_PORT": "x"}, nil, "completion", "bash"); r.code != 0 {
		t.Errorf("completion bash with DOIP_PORT=x: %+v", r)
	}
	if r := ctlWith(t, map[string]string{"DOIP_PORT": "x"}, nil, "hello"); r.code != exitUsage || !strings.Contains(r.err, `--port "x" is not a port number`) {
		t.Errorf("hello with DOIP_PORT=x: %+v", r)
	}
	// Commands and flag values complete.
	if r := ctl(t, "__complete", "re"); !strings.Contains(r.out, "retrieve") {
		t.Errorf("completing re: %q", r.out)
	}
	if r := ctl(t, "__complete", "invoke", "Q123", "--workflow", ""); !strings.Contains(r.out, "equation_extraction") {
		t.Errorf("completing --workflow: %q", r.out)
	}
}
