package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/settings/settingstest"
)

// getenv returns a getenv over key, value pairs.
var getenv = settingstest.Env

const fileText = `gateway:
  port: 4100
invoke-svc:
  listen: 127.0.0.1:7001
  max-concurrent: 2
  DRAIN_TIMEOUT: 1m
  ollama-host: gpu-box
  OLLAMA_MODEL: qwen2.5:7b
  ollama-vision-model: qwen2.5vl:7b
retrieve-svc: {}
`

func TestLoadFileLayers(t *testing.T) {
	t.Parallel()
	path := settingstest.WriteConfig(t, fileText)
	settingstest.CheckLayers(t, Load, []settingstest.Layer[Config]{
		{Name: "file only", Args: []string{"--config", path}, Env: getenv(), Check: func(c Config) bool {
			return c.Listen == "127.0.0.1:7001" && c.MaxConcurrent == 2 && c.DrainTimeout == time.Minute &&
				c.Ollama.Host == "http://gpu-box:11434" && c.Ollama.Model == "qwen2.5:7b" && c.Ollama.VisionModel == "qwen2.5vl:7b" && c.RetrieveAddr == "127.0.0.1:50051"
		}},
		{Name: "file named by DOIP_CONFIG", Args: nil, Env: getenv("DOIP_CONFIG", path), Check: func(c Config) bool { return c.MaxConcurrent == 2 }},
		{Name: "file and environment", Args: []string{"--config", path}, Env: getenv("MAX_CONCURRENT", "5", "OLLAMA_HOST", "http://other:1"), Check: func(c Config) bool {
			return c.MaxConcurrent == 5 && c.Ollama.Host == "http://other:1" && c.DrainTimeout == time.Minute
		}},
		{Name: "file, environment and flag", Args: []string{"--config", path, "--max-concurrent", "9"}, Env: getenv("MAX_CONCURRENT", "5", "INVOKE_LISTEN", "127.0.0.1:7002"), Check: func(c Config) bool { return c.MaxConcurrent == 9 && c.Listen == "127.0.0.1:7002" }},
		{Name: "empty --config reads no file", Args: []string{"--config="}, Env: getenv("DOIP_CONFIG", path), Check: func(c Config) bool { return c.MaxConcurrent == 4 }},
		{Name: "no file here is fine", Args: nil, Env: getenv(), Check: func(c Config) bool { return c.MaxConcurrent == 4 }},
	})
}

func TestLoadFileErrors(t *testing.T) {
	t.Parallel()
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	settingstest.CheckProblems(t, Load, []settingstest.Problem{
		{Name: "bad value names file, line and key", File: "invoke-svc:\n  listen: 127.0.0.1:1\n  max-concurrent: 0\n",
			Want: []string{`config: --max-concurrent / MAX_CONCURRENT = "0" (from `, `config.yaml:3 (invoke-svc.max-concurrent)): want at least 1`}},
		{Name: "bad value under its variable name", File: "invoke-svc:\n  OLLAMA_HOST: ftp://x\n",
			Want: []string{`OLLAMA_HOST = "ftp://x" (from `, `config.yaml:2 (invoke-svc.OLLAMA_HOST)): scheme "ftp"`}},
		{Name: "unknown key", File: "invoke-svc:\n  max-concurent: 1\n", Want: []string{"config.yaml:2: unknown key invoke-svc.max-concurent (did you mean max-concurrent?)"}},
		{Name: "unknown section", File: "invoke:\n  listen: x\n", Want: []string{`config.yaml:1: unknown section "invoke"`}},
		{Name: "mapping for a value", File: "invoke-svc:\n  ollama-host:\n    url: x\n", Want: []string{"invoke-svc.ollama-host: want a single value, not a mapping"}},
		{Name: "explicit missing file", Args: []string{"--config", missing}, Want: []string{"config: file " + missing + " (from flag --config): no such file"}},
		{Name: "missing file named by the environment", Env: getenv("DOIP_CONFIG", missing), Want: []string{"(from environment DOIP_CONFIG): no such file"}},
		{Name: "secrets in the file not shown", File: "invoke-svc:\n  ollama-api-key: sk-very-secret\n  ollama-host: http://me:hunter2@ollama\n  max-concurrent: x\n",
			Want: []string{"OLLAMA_HOST", "--max-concurrent"}, Absent: []string{"very-secret", "hunter2"}},
	})
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
	settingstest.CheckImplicitFile(t, Load, fileText, func(c Config) bool { return c.MaxConcurrent == 2 })
}

func TestUsageListsConfig(t *testing.T) {
	t.Parallel()
	settingstest.CheckUsage(t, Usage(), "--config FILE", "DOIP_CONFIG", "invoke-svc section", "OLLAMA_API_KEY (key ollama-api-key)")
}

// TestExampleFile checks config.example.yaml at the repository root against the code: its
// invoke-svc section lists every setting with its default, and loads to the defaults.
func TestExampleFile(t *testing.T) {
	t.Parallel()
	settingstest.CheckExampleLoadsDefaults(t, Settings, "../../../config.example.yaml", Load)
}
