package config

import (
	"bytes"
	"errors"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/settings"
	"github.com/fdo-doip/doip-gateway/shared/settings/settingstest"
)

const fileText = `# a comment
gateway:
  port: 4100
  retrieve-addr: file:1
  invoke-addr: [i1:1, i2:2]
  IDLE_TIMEOUT: 1m
retrieve-svc:
  cache-ttl: 1h
`

func TestLoadFileLayers(t *testing.T) {
	t.Parallel()
	path := settingstest.WriteConfig(t, fileText)
	tests := []struct {
		name  string
		args  []string
		env   map[string]string
		check func(Config) bool
	}{
		{"file only", []string{"--config", path}, nil, func(c Config) bool {
			return c.Port == 4100 && c.RetrieveAddr == "file:1" && reflect.DeepEqual(c.InvokeAddrs, []string{"i1:1", "i2:2"}) &&
				c.IdleTimeout == time.Minute && c.ServiceID == "fdo-gateway"
		}},
		{"file named by DOIP_CONFIG", nil, map[string]string{"DOIP_CONFIG": path}, func(c Config) bool { return c.Port == 4100 }},
		{"file named by CONFIG", nil, map[string]string{"CONFIG": path}, func(c Config) bool { return c.Port == 4100 }},
		{"--config= form", []string{"--config=" + path}, nil, func(c Config) bool { return c.Port == 4100 }},
		{"file and environment", []string{"-config", path}, map[string]string{"DOIP_PORT": "4200", "INVOKE_ADDR": "e:1"}, func(c Config) bool {
			return c.Port == 4200 && c.RetrieveAddr == "file:1" && reflect.DeepEqual(c.InvokeAddrs, []string{"e:1"})
		}},
		{"file, environment and flag", []string{"--config", path, "--port", "4300"}, map[string]string{"DOIP_PORT": "4200", "RETRIEVE_ADDR": "env:1"}, func(c Config) bool {
			return c.Port == 4300 && c.RetrieveAddr == "env:1" && c.IdleTimeout == time.Minute
		}},
		{"empty environment does not hide the file", []string{"--config", path}, map[string]string{"DOIP_PORT": ""}, func(c Config) bool { return c.Port == 4100 }},
		{"empty --config reads no file", []string{"--config="}, map[string]string{"DOIP_CONFIG": path}, func(c Config) bool { return c.Port == 3567 }},
		{"no file here is fine", nil, nil, func(c Config) bool { return c.Port == 3567 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(tt.args, env(tt.env))
			if err != nil {
				t.Fatal(err)
			}
			if !tt.check(c) {
				t.Errorf("Load(%q) = %+v", tt.args, c)
			}
		})
	}
}

func TestLoadFileErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	tests := []struct {
		name string
		file string // written to a file named by --config, unless args are given
		args []string
		env  map[string]string
		want []string
	}{
		{name: "bad value names file, line and key", file: "gateway:\n  port: 4100\n  idle-timeout: soon\n",
			want: []string{`config: --idle-timeout / IDLE_TIMEOUT = "soon" (from `, `config.yaml:3 (gateway.idle-timeout)): want a positive duration`}},
		{name: "bad value under its variable name", file: "gateway:\n  DOIP_PORT: 70000\n",
			want: []string{`--port / DOIP_PORT = "70000" (from `, `config.yaml:2 (gateway.DOIP_PORT)): want a whole number`}},
		{name: "bad file value hidden by a good flag", file: "gateway:\n  port: x\n  tls-mode: maybe\n", args: []string{"--port", "1"},
			want: []string{`--tls-mode / TLS_MODE = "maybe" (from `, `config.yaml:3 (gateway.tls-mode)): want auto`}},
		{name: "unknown key", file: "gateway:\n  prot: 1\n", want: []string{"config.yaml:2: unknown key gateway.prot (did you mean port?)"}},
		{name: "unknown section", file: "gatewya:\n  port: 1\n", want: []string{`config.yaml:1: unknown section "gatewya" (did you mean gateway?)`}},
		{name: "list for a single value", file: "gateway:\n  port: [1, 2]\n", want: []string{"config.yaml:2: gateway.port: want a single value, not a list"}},
		{name: "syntax error", file: "gateway:\n  port: 1\n port: 2\n", want: []string{"config.yaml: yaml: line"}},
		{name: "file errors and value errors together", file: "gateway:\n  prot: 1\n  read-timeout: never\n",
			env:  map[string]string{"MAX_CONNS": "0"},
			want: []string{"unknown key gateway.prot", "(gateway.read-timeout)", `--max-conns / MAX_CONNS = "0" (from environment MAX_CONNS)`}},
		{name: "explicit missing file", args: []string{"--config", missing},
			want: []string{"config: file " + missing + " (from flag --config): no such file"}},
		{name: "missing file named by the environment", env: map[string]string{"DOIP_CONFIG": missing},
			want: []string{"(from environment DOIP_CONFIG): no such file"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args := tt.args
			if tt.file != "" {
				args = append([]string{"--config", settingstest.WriteConfig(t, tt.file)}, args...)
			}
			_, err := Load(args, env(tt.env))
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
	_, err := Load([]string{"--config", missing}, env(nil))
	if !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v does not wrap fs.ErrNotExist", err)
	}
}

// TestLoadImplicitFile reads ./config.yaml; it changes the working directory, so it does not
// run in parallel.
func TestLoadImplicitFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if _, err := Load(nil, env(nil)); err != nil {
		t.Fatalf("no ./config.yaml: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte("gateway:\n  port: 4400\n  max-conns: 0\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := Load(nil, env(nil))
	if err == nil || !strings.Contains(err.Error(), `--max-conns / MAX_CONNS = "0" (from config.yaml:3 (gateway.max-conns))`) {
		t.Errorf("./config.yaml with a bad value: %v", err)
	}
	c, err := Load([]string{"--max-conns", "7"}, env(nil))
	if err != nil || c.Port != 4400 || c.MaxConns != 7 {
		t.Errorf("./config.yaml: %+v, %v", c, err)
	}
}

func TestUsageListsConfig(t *testing.T) {
	t.Parallel()
	var help *settings.HelpError
	if _, err := Load([]string{"-h"}, env(nil)); !errors.As(err, &help) || help.Usage != Usage() {
		t.Fatalf("Load(-h) = %v", err)
	}
	for _, want := range []string{"-config", "DOIP_CONFIG", "gateway section", "-port", "DOIP_PORT", "AUTH_TOKENS (key auth-tokens)"} {
		if !strings.Contains(help.Usage, want) {
			t.Errorf("usage lacks %q:\n%s", want, help.Usage)
		}
	}
	if strings.Contains(help.Usage, "--auth-tokens") {
		t.Errorf("usage offers a flag for a secret:\n%s", help.Usage)
	}
}

// TestAddressUserInfoMasked checks that user info in a backend address, from the file, shows
// in neither the log line nor an error.
func TestAddressUserInfoMasked(t *testing.T) {
	t.Parallel()
	path := settingstest.WriteConfig(t, "gateway:\n  retrieve-addr: dns://bob:hunter2@resolver/retrieve:50051\n  invoke-addr: [tok3n@invoke:1]\n")
	c, err := Load([]string{"--config", path}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.RetrieveAddr != "dns://bob:hunter2@resolver/retrieve:50051" {
		t.Errorf("RetrieveAddr = %q; the real value must be kept for dialing", c.RetrieveAddr)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", c)
	for _, secret := range []string{"hunter2", "bob", "tok3n"} {
		if strings.Contains(logs.String(), secret) {
			t.Errorf("log shows %q: %s", secret, logs.String())
		}
	}
	if !strings.Contains(logs.String(), "resolver/retrieve:50051") || !strings.Contains(logs.String(), "xxxxx@invoke:1") {
		t.Errorf("log lacks the masked addresses: %s", logs.String())
	}
	_, err = Load([]string{"--config", path, "--port", "x"}, env(nil))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("error: %v", err)
	}
}

// TestExampleFile checks config.example.yaml at the repository root against the code: its
// gateway section lists every setting with its default, and loads to the defaults.
func TestExampleFile(t *testing.T) {
	t.Parallel()
	const example = "../../../config.example.yaml"
	settingstest.CheckExample(t, Settings, example)
	got, err := Load([]string{"--config", example}, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	want, err := Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s loads to\n%+v\nnot the defaults\n%+v", example, got, want)
	}
}
