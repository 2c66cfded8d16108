package settings_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/shared/settings"
	"github.com/fdo-doip/doip-gateway/shared/settings/settingstest"
)

var table = &settings.Table{
	Program: "retrieve-svc",
	Section: "retrieve-svc",
	Settings: []settings.Setting{
		{Flag: "listen", Env: "RETRIEVE_LISTEN", Default: "127.0.0.1:50051", Usage: "gRPC listen address"},
		{Flag: "cache-size", Env: "RETRIEVE_CACHE_SIZE", Default: "1000", Usage: "records cached"},
		{Flag: "seed-samples", Env: "SEED_SAMPLES", Default: "true", Usage: "write samples", Bool: true},
		{Flag: "fdo-api", Env: "FDO_API", Usage: "façade URL"},
		{Flag: "invoke-addr", Env: "INVOKE_ADDR", Usage: "addresses", List: true},
		{Env: "LAKEFS_PASSWORD", Usage: "secret key", Secret: true},
	},
}

var env = settingstest.Env

func TestLoadLayers(t *testing.T) {
	t.Parallel()
	path := settingstest.WriteConfig(t, "retrieve-svc:\n  listen: 127.0.0.1:7001\n  RETRIEVE_CACHE_SIZE: 7\n  invoke-addr: [a:1, b:2]\n  lakefs-password: fromfile\n")
	tests := []struct {
		name              string
		args              []string
		env               func(string) string
		key, text, source string
	}{
		{"default", []string{"--config="}, env(), "listen", "127.0.0.1:50051", "default"},
		{"file", []string{"--config", path}, env(), "listen", "127.0.0.1:7001", "config.yaml:2 (retrieve-svc.listen)"},
		{"file under the variable's name", []string{"--config", path}, env(), "cache-size", "7", "config.yaml:3 (retrieve-svc.RETRIEVE_CACHE_SIZE)"},
		{"file list", []string{"--config", path}, env(), "invoke-addr", "a:1,b:2", "config.yaml:4 (retrieve-svc.invoke-addr)"},
		{"file secret", []string{"--config", path}, env(), "lakefs-password", "fromfile", "config.yaml:5 (retrieve-svc.lakefs-password)"},
		{"environment over file", []string{"--config", path}, env("RETRIEVE_LISTEN", "127.0.0.1:2"), "listen", "127.0.0.1:2", "environment RETRIEVE_LISTEN"},
		{"empty environment is unset", []string{"--config", path}, env("RETRIEVE_LISTEN", ""), "listen", "127.0.0.1:7001", "config.yaml:2 (retrieve-svc.listen)"},
		{"flag over environment", []string{"--config", path, "-listen=127.0.0.1:3"}, env("RETRIEVE_LISTEN", "127.0.0.1:2"), "listen", "127.0.0.1:3", "flag --listen"},
		{"file named by DOIP_CONFIG", nil, env("DOIP_CONFIG", path), "cache-size", "7", "config.yaml:3 (retrieve-svc.RETRIEVE_CACHE_SIZE)"},
		{"bool flag alone", []string{"--config=", "--seed-samples"}, env("SEED_SAMPLES", "false"), "seed-samples", "true", "flag --seed-samples"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			v, err := table.Load(tt.args, tt.env)
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Err(); err != nil {
				t.Fatal(err)
			}
			if got := v.Text(tt.key); got != tt.text {
				t.Errorf("Text(%s) = %q; want %q", tt.key, got, tt.text)
			}
			if got := v.Source(tt.key); !strings.HasSuffix(got, tt.source) {
				t.Errorf("Source(%s) = %q; want …%q", tt.key, got, tt.source)
			}
		})
	}
}

// TestProblemsNameSettingValueAndSource: every problem names the setting by flag and
// variable, the value (masked) and where it came from, file problems included, all at once.
func TestProblemsNameSettingValueAndSource(t *testing.T) {
	t.Parallel()
	path := settingstest.WriteConfig(t, "retrieve-svc:\n  cache-sise: 1\n  listen: nope\n  lakefs-password: hunter2\nretreive-svc: {}\n")
	v, err := table.Load([]string{"--config", path, "--fdo-api", "https://bob:pw@h/?key=abc"}, env("RETRIEVE_CACHE_SIZE", "lots"))
	if err != nil {
		t.Fatal(err)
	}
	v.Apply("listen", func(string) error { return errors.New("want host:port") })
	v.Apply("cache-size", func(s string) error { _, err := strconv.Atoi(s); return err })
	v.Bad("fdo-api", "want no query")
	v.Bad("lakefs-password", "too short")
	v.Apply("seed-samples", func(string) error { return nil })
	v.Errorf("storage s3 needs %s", "LAKEFS_USER")
	err = v.Err()
	if err == nil {
		t.Fatal("no error")
	}
	for _, want := range []string{
		"config.yaml:2: unknown key retrieve-svc.cache-sise (did you mean cache-size?)",
		`config.yaml:5: unknown section "retreive-svc" (did you mean retrieve-svc?)`,
		`config: --listen / RETRIEVE_LISTEN = "nope" (from ` + path + `:3 (retrieve-svc.listen)): want host:port`,
		`config: --cache-size / RETRIEVE_CACHE_SIZE = "lots" (from environment RETRIEVE_CACHE_SIZE): strconv.Atoi`,
		`config: --fdo-api / FDO_API = "https://xxxxx@h/?key=xxxxx" (from flag --fdo-api): want no query`,
		`config: LAKEFS_PASSWORD = "xxxxx" (from ` + path + `:4 (retrieve-svc.lakefs-password)): too short`,
		"config: storage s3 needs LAKEFS_USER",
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q\nlacks %q", err, want)
		}
	}
	for _, secret := range []string{"hunter2", "bob", "abc"} {
		if strings.Contains(err.Error(), secret) {
			t.Errorf("error shows %q: %v", secret, err)
		}
	}
	if strings.Contains(err.Error(), "seed-samples") {
		t.Errorf("a good value is reported: %v", err)
	}
}

func TestCommandLineErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--port=1"}, "config: flag provided but not defined: -port (run with -h for the flags)"},
		{[]string{"--lakefs-password=x"}, "flag provided but not defined: -lakefs-password"},
		{[]string{"--listen"}, "flag needs an argument: -listen"},
		{[]string{"serve"}, `config: unexpected argument "serve"`},
		{[]string{"serve", "now"}, `config: unexpected arguments ["serve" "now"]`},
	} {
		if _, err := table.Load(tt.args, env()); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Load(%q) = %v; want %q", tt.args, err, tt.want)
		}
	}
	v, err := table.Load([]string{"--config", missing}, env())
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Err(); !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "(from flag --config): no such file") {
		t.Errorf("missing file: %v", err)
	}
}

// TestHelp: -h and --help give the usage, on stdout, with status 0, in every process.
func TestHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "--help", "-help"} {
		_, err := table.Load([]string{"--listen=x", arg}, env())
		if !errors.Is(err, settings.ErrHelp) {
			t.Fatalf("Load(%s) = %v; want ErrHelp", arg, err)
		}
		var stdout, stderr bytes.Buffer
		if code := settings.Exit("retrieve-svc", fmt.Errorf("wrapped: %w", err), &stdout, &stderr); code != 0 {
			t.Errorf("Exit(%s) = %d; want 0", arg, code)
		}
		if stderr.Len() != 0 || stdout.String() != table.Usage() {
			t.Errorf("Exit(%s): stdout %q, stderr %q", arg, stdout.String(), stderr.String())
		}
	}
	usage := table.Usage()
	for _, want := range []string{
		"Usage: retrieve-svc [--config FILE]", "DOIP_CONFIG", "retrieve-svc section",
		"--listen / RETRIEVE_LISTEN (key listen)", `(default "127.0.0.1:50051")`, "LAKEFS_PASSWORD (key lakefs-password)",
	} {
		if !strings.Contains(usage, want) {
			t.Errorf("usage lacks %q:\n%s", want, usage)
		}
	}
	if strings.Contains(usage, "--lakefs-password") {
		t.Errorf("usage offers a flag for a secret:\n%s", usage)
	}
}

func TestExit(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := settings.Exit("invoke-svc", nil, &stdout, &stderr); code != 0 || stdout.Len()+stderr.Len() != 0 {
		t.Errorf("Exit(nil) = %d, %q, %q", code, stdout.String(), stderr.String())
	}
	if code := settings.Exit("invoke-svc", errors.New("config: bad"), &stdout, &stderr); code != 1 ||
		stdout.Len() != 0 || stderr.String() != "invoke-svc: config: bad\n" {
		t.Errorf("Exit(err) = %d, %q, %q", code, stdout.String(), stderr.String())
	}
}

func TestUnknownKeyPanics(t *testing.T) {
	t.Parallel()
	v, err := table.Load([]string{"--config="}, env())
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if recover() == nil {
			t.Error("Text of a key the table lacks did not panic")
		}
	}()
	v.Text("port")
}

func TestRedact(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"", ""},
		{"127.0.0.1:50051", "127.0.0.1:50051"},
		{"https://fdo.example.org/fdo/", "https://fdo.example.org/fdo/"},
		{"https://u:p@h/x/", "https://xxxxx@h/x/"},
		{"https://token@h/", "https://xxxxx@h/"},
		{"https://h/?api_key=s", "https://h/?api_key=xxxxx"},
		{"https://h/?", "https://h/?"},
		{"https://h/?a=1&b=2#frag", "https://h/?a=xxxxx&b=xxxxx#frag"},
		{"dns://bob:hunter2@resolver/retrieve:50051", "dns://xxxxx@resolver/retrieve:50051"},
		{"tok3n@invoke:1", "xxxxx@invoke:1"},
		{"key:hunter2@h:8000", "xxxxx@h:8000"},
	}
	for _, tt := range tests {
		if got := settings.Redact(tt.in); got != tt.want {
			t.Errorf("Redact(%q) = %q; want %q", tt.in, got, tt.want)
		}
	}
}

func TestSecretIsMasked(t *testing.T) {
	t.Parallel()
	const key = "sk-very-secret"
	s := settings.Secret(key)
	if s.Reveal() != key {
		t.Fatalf("Reveal = %q", s.Reveal())
	}
	js, err := json.Marshal(struct{ K settings.Secret }{s})
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "key", s)
	for how, out := range map[string]string{
		"%v": fmt.Sprintf("%v", s), "%s": fmt.Sprintf("%s", s), "%q": fmt.Sprintf("%q", s), "%#v": fmt.Sprintf("%#v", s),
		"json": string(js), "slog": logs.String(),
	} {
		if strings.Contains(out, "very-secret") || !strings.Contains(out, settings.Mask) {
			t.Errorf("%s: %s", how, out)
		}
	}
	if settings.Secret("").String() != "" {
		t.Error("an empty secret does not print as empty")
	}
}
