package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/settings/settingstest"
)

// getenv returns a getenv over key, value pairs.
func getenv(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

const fileText = `gateway:
  port: 4100
invoke-svc:
  listen: 127.0.0.1:7001
  max-concurrent: 2
  DRAIN_TIMEOUT: 1m
  ollama-host: gpu-box
  OLLAMA_MODEL: qwen2.5vl:7b
retrieve-svc: {}
`

func TestLoadFileLayers(t *testing.T) {
	t.Parallel()
	path := settingstest.WriteConfig(t, fileText)
	tests := []struct {
		name  string
		args  []string
		env   func(string) string
		check func(Config) bool
	}{
		{"file only", []string{"--config", path}, getenv(), func(c Config) bool {
			return c.Listen == "127.0.0.1:7001" && c.MaxConcurrent == 2 && c.DrainTimeout == time.Minute &&
				c.Ollama.Host == "http://gpu-box:11434" && c.Ollama.Model == "qwen2.5vl:7b" && c.RetrieveAddr == "127.0.0.1:50051"
		}},
		{"file named by DOIP_CONFIG", nil, getenv("DOIP_CONFIG", path), func(c Config) bool { return c.MaxConcurrent == 2 }},
		{"file and environment", []string{"--config", path}, getenv("MAX_CONCURRENT", "5", "OLLAMA_HOST", "http://other:1"), func(c Config) bool {
			return c.MaxConcurrent == 5 && c.Ollama.Host == "http://other:1" && c.DrainTimeout == time.Minute
		}},
		{"file, environment and flag", []string{"--config", path, "--max-concurrent", "9"}, getenv("MAX_CONCURRENT", "5", "INVOKE_LISTEN", "127.0.0.1:7002"),
			func(c Config) bool { return c.MaxConcurrent == 9 && c.Listen == "127.0.0.1:7002" }},
		{"empty --config reads no file", []string{"--config="}, getenv("DOIP_CONFIG", path), func(c Config) bool { return c.MaxConcurrent == 4 }},
		{"no file here is fine", nil, getenv(), func(c Config) bool { return c.MaxConcurrent == 4 }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := Load(tt.args, tt.env)
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
		name   string
		file   string // written to a file named by --config, unless args are given
		args   []string
		env    func(string) string
		want   []string
		absent []string
	}{
		{name: "bad value names file, line and key", file: "invoke-svc:\n  listen: 127.0.0.1:1\n  max-concurrent: 0\n",
			want: []string{`config: --max-concurrent / MAX_CONCURRENT = "0" (from `, `config.yaml:3 (invoke-svc.max-concurrent)): want at least 1`}},
		{name: "bad value under its variable name", file: "invoke-svc:\n  OLLAMA_HOST: ftp://x\n",
			want: []string{`OLLAMA_HOST = "ftp://x" (from `, `config.yaml:2 (invoke-svc.OLLAMA_HOST)): scheme "ftp"`}},
		{name: "unknown key", file: "invoke-svc:\n  max-concurent: 1\n", want: []string{"config.yaml:2: unknown key invoke-svc.max-concurent (did you mean max-concurrent?)"}},
		{name: "unknown section", file: "invoke:\n  listen: x\n", want: []string{`config.yaml:1: unknown section "invoke"`}},
		{name: "mapping for a value", file: "invoke-svc:\n  ollama-host:\n    url: x\n", want: []string{"invoke-svc.ollama-host: want a single value, not a mapping"}},
		{name: "explicit missing file", args: []string{"--config", missing}, want: []string{"config: file " + missing + " (from flag --config): no such file"}},
		{name: "missing file named by the environment", env: getenv("DOIP_CONFIG", missing), want: []string{"(from environment DOIP_CONFIG): no such file"}},
		{name: "secrets in the file not shown", file: "invoke-svc:\n  ollama-api-key: sk-very-secret\n  ollama-host: http://me:hunter2@ollama\n  max-concurrent: x\n",
			want: []string{"OLLAMA_HOST", "--max-concurrent"}, absent: []string{"very-secret", "hunter2"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args, env := tt.args, tt.env
			if tt.file != "" {
				args = append([]string{"--config", settingstest.WriteConfig(t, tt.file)}, args...)
			}
			if env == nil {
				env = getenv()
			}
			_, err := Load(args, env)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			for _, a := range tt.absent {
				if strings.Contains(err.Error(), a) {
					t.Errorf("error %q\nshows %q", err, a)
				}
			}
		})
	}
	if _, err := Load([]string{"--config", missing}, getenv()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v does not wrap fs.ErrNotExist", err)
	}
}

// TestSecretFromFileMasked reads the API key from the file and checks it is kept but
// printed nowhere.
func TestSecretFromFileMasked(t *testing.T) {
	t.Parallel()
	const key = "sk-very-secret"
	path := settingstest.WriteConfig(t, "invoke-svc:\n  ollama-api-key: "+key+"\n  ollama-host: ollama\n")
	c, err := Load([]string{"--config", path}, getenv())
	if err != nil {
		t.Fatal(err)
	}
	if c.Ollama.APIKey.Reveal() != key {
		t.Fatalf("APIKey = %q", c.Ollama.APIKey.Reveal())
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "config", c)
	for how, out := range map[string]string{"%+v": fmt.Sprintf("%+v", c), "%#v": fmt.Sprintf("%#v", c), "json": string(js), "slog": logs.String()} {
		if strings.Contains(out, "very-secret") {
			t.Errorf("%s shows the key: %s", how, out)
		}
	}
}

// TestLoadImplicitFile reads ./config.yaml; it changes the working directory, so it does not
// run in parallel.
func TestLoadImplicitFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if _, err := Load(nil, getenv()); err != nil {
		t.Fatalf("no ./config.yaml: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(fileText), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(nil, getenv())
	if err != nil || c.MaxConcurrent != 2 {
		t.Errorf("./config.yaml: %+v, %v", c, err)
	}
}

func TestUsageListsConfig(t *testing.T) {
	t.Parallel()
	for _, want := range []string{"--config FILE", "DOIP_CONFIG", "invoke-svc section", "OLLAMA_API_KEY (key ollama-api-key)"} {
		if !strings.Contains(Usage(), want) {
			t.Errorf("usage lacks %q:\n%s", want, Usage())
		}
	}
}

// TestExampleFile checks config.example.yaml at the repository root against the code: its
// invoke-svc section lists every setting with its default, and loads to the defaults.
func TestExampleFile(t *testing.T) {
	t.Parallel()
	const example = "../../../config.example.yaml"
	settingstest.CheckExample(t, Settings, example)
	got, err := Load([]string{"--config", example}, getenv())
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := Load(nil, getenv()); got != want {
		t.Errorf("%s loads to\n%+v\nnot the defaults\n%+v", example, got, want)
	}
}
