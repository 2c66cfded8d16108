package config_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/config"
	"github.com/fdo-doip/doip-gateway/shared/settings"
	"github.com/fdo-doip/doip-gateway/shared/settings/settingstest"
	"github.com/fdo-doip/doip-gateway/shared/slogapp"
)

// env returns a getenv over m.
func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

// defaults is the configuration with nothing set.
func defaults() config.Config {
	return config.Config{
		Listen:        "127.0.0.1:50052",
		RetrieveAddr:  "127.0.0.1:50051",
		MaxConcurrent: 4,
		LogLevel:      slog.LevelInfo,
		LogFormat:     slogapp.FormatAuto,
		DrainTimeout:  10 * time.Second,
		AdminAddr:     "127.0.0.1:9552",
		Limits:        defaultLimits,
	}
}

var defaultLimits = config.Limits{
	MemoryLimit: 1 << 30, Isolation: "process",
	ExtractMemory: 1 << 30, ExtractCPU: 90 * time.Second, ExtractTimeout: 2 * time.Minute,
	MaxSource: 64 << 20, MaxDerived: 16 << 20, DerivedSlots: 16,
}

// with returns the defaults changed by f.
func with(f func(c *config.Config)) config.Config {
	c := defaults()
	f(&c)
	return c
}

func TestLoad(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want config.Config
	}{
		{name: "defaults", want: defaults()},
		{
			name: "environment",
			env: map[string]string{
				"INVOKE_LISTEN":  "0.0.0.0:6000",
				"RETRIEVE_ADDR":  "retrieve-svc:50051",
				"MAX_CONCURRENT": "8",
				"LOG_LEVEL":      "debug",
				"LOG_FORMAT":     "json",
				"DRAIN_TIMEOUT":  "1m",
				"ADMIN_ADDR":     "0.0.0.0:9100",
				"OLLAMA_HOST":    "http://ollama:11434",
				"OLLAMA_MODEL":   "qwen2.5vl:7b",
				"OLLAMA_API_KEY": "sk-123",
			},
			want: config.Config{
				Listen:        "0.0.0.0:6000",
				RetrieveAddr:  "retrieve-svc:50051",
				MaxConcurrent: 8,
				LogLevel:      slog.LevelDebug,
				LogFormat:     slogapp.FormatJSON,
				DrainTimeout:  time.Minute,
				AdminAddr:     "0.0.0.0:9100",
				Ollama:        config.Ollama{Host: "http://ollama:11434", Model: "qwen2.5vl:7b", APIKey: "sk-123"},
				Limits:        defaultLimits,
			},
		},
		{
			name: "flags",
			args: []string{"--listen", "127.0.0.1:0", "--retrieve-addr=dns:///retrieve:50051", "-max-concurrent", "1",
				"--log-level", "WARN", "--log-format", "text", "--drain-timeout", "250ms", "--admin-addr="},
			want: config.Config{
				Listen:        "127.0.0.1:0",
				RetrieveAddr:  "dns:///retrieve:50051",
				MaxConcurrent: 1,
				LogLevel:      slog.LevelWarn,
				LogFormat:     slogapp.FormatText,
				DrainTimeout:  250 * time.Millisecond,
				AdminAddr:     "",
				Limits:        defaultLimits,
			},
		},
		{
			name: "limits",
			args: []string{"--memory-limit", "512MiB", "--extract-isolation", "none", "--extract-cpu", "30s", "--derived-slots", "4"},
			env:  map[string]string{"EXTRACT_MEMORY": "256m", "EXTRACT_TIMEOUT": "45s", "MAX_SOURCE": "8MiB", "MAX_DERIVED": "1 MiB"},
			want: with(func(c *config.Config) {
				c.Limits = config.Limits{MemoryLimit: 512 << 20, Isolation: "none", ExtractMemory: 256 << 20, ExtractCPU: 30 * time.Second,
					ExtractTimeout: 45 * time.Second, MaxSource: 8 << 20, MaxDerived: 1 << 20, DerivedSlots: 4}
			}),
		},
		{
			name: "flags override environment",
			args: []string{"--max-concurrent", "2", "--listen", ":7000"},
			env:  map[string]string{"MAX_CONCURRENT": "16", "INVOKE_LISTEN": "127.0.0.1:1", "LOG_LEVEL": "error"},
			want: with(func(c *config.Config) { c.MaxConcurrent = 2; c.Listen = ":7000"; c.LogLevel = slog.LevelError }),
		},
		{
			name: "empty environment variables count as unset",
			env:  map[string]string{"MAX_CONCURRENT": "", "INVOKE_LISTEN": "", "OLLAMA_HOST": ""},
			want: defaults(),
		},
		{name: "ollama host without scheme or port", env: map[string]string{"OLLAMA_HOST": "gpu-box"},
			want: with(func(c *config.Config) { c.Ollama.Host = "http://gpu-box:11434" })},
		{name: "ollama host with port", env: map[string]string{"OLLAMA_HOST": "0.0.0.0:8080"},
			want: with(func(c *config.Config) { c.Ollama.Host = "http://0.0.0.0:8080" })},
		{name: "ollama https with path", env: map[string]string{"OLLAMA_HOST": "https://ollama.example.org/api/"},
			want: with(func(c *config.Config) { c.Ollama.Host = "https://ollama.example.org/api" })},
		{name: "ollama http keeps its default port", env: map[string]string{"OLLAMA_HOST": "http://ollama"},
			want: with(func(c *config.Config) { c.Ollama.Host = "http://ollama" })},
		{name: "ollama vision model", env: map[string]string{"OLLAMA_HOST": "gpu-box", "OLLAMA_VISION_MODEL": " qwen2.5vl:7b "},
			want: with(func(c *config.Config) {
				c.Ollama = config.Ollama{Host: "http://gpu-box:11434", VisionModel: "qwen2.5vl:7b"}
			})},
		{name: "ollama ipv6", env: map[string]string{"OLLAMA_HOST": "[::1]:11434"},
			want: with(func(c *config.Config) { c.Ollama.Host = "http://[::1]:11434" })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := config.Load(tt.args, env(tt.env))
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if got != tt.want {
				t.Errorf("Load =\n %#v\nwant\n %#v", got, tt.want)
			}
			if got.Ollama.APIKey.Reveal() != tt.want.Ollama.APIKey.Reveal() {
				t.Errorf("APIKey = %q, want %q", got.Ollama.APIKey.Reveal(), tt.want.Ollama.APIKey.Reveal())
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	settingstest.CheckProblems(t, config.Load, []settingstest.Problem{
		{
			Name: "max-concurrent zero from environment",
			Env:  env(map[string]string{"MAX_CONCURRENT": "0"}),
			Want: []string{`--max-concurrent / MAX_CONCURRENT = "0" (from environment MAX_CONCURRENT): want at least 1`},
		},
		{
			Name: "max-concurrent not a number from flag",
			Args: []string{"--max-concurrent", "many"},
			Want: []string{`= "many" (from flag --max-concurrent): want a whole number`},
		},
		{Name: "listen without port", Args: []string{"--listen", "localhost"}, Want: []string{`--listen / INVOKE_LISTEN = "localhost" (from flag --listen): want host:port`}},
		{Name: "listen bad port", Env: env(map[string]string{"INVOKE_LISTEN": "127.0.0.1:99999"}), Want: []string{"INVOKE_LISTEN", `port "99999"`}},
		{Name: "listen empty flag", Args: []string{"--listen="}, Want: []string{`= "" (from flag --listen)`}},
		{Name: "retrieve without host", Env: env(map[string]string{"RETRIEVE_ADDR": ":50051"}), Want: []string{"RETRIEVE_ADDR", "host is empty"}},
		{Name: "log level", Env: env(map[string]string{"LOG_LEVEL": "loud"}), Want: []string{`--log-level / LOG_LEVEL = "loud" (from environment LOG_LEVEL)`}},
		{Name: "log format", Args: []string{"--log-format", "xml"}, Want: []string{`= "xml" (from flag --log-format)`}},
		{Name: "drain timeout", Args: []string{"--drain-timeout", "10"}, Want: []string{`--drain-timeout / DRAIN_TIMEOUT = "10" (from flag --drain-timeout): want a duration`}},
		{Name: "drain timeout zero", Env: env(map[string]string{"DRAIN_TIMEOUT": "0s"}), Want: []string{"DRAIN_TIMEOUT", "above zero"}},
		{Name: "ollama scheme", Env: env(map[string]string{"OLLAMA_HOST": "ftp://ollama"}), Want: []string{`OLLAMA_HOST = "ftp://ollama" (from environment OLLAMA_HOST): scheme "ftp"`}},
		{
			Name:   "ollama password is not echoed",
			Env:    env(map[string]string{"OLLAMA_HOST": "http://me:hunter2@ollama:11434"}),
			Want:   []string{"OLLAMA_HOST", "without user"},
			Absent: []string{"hunter2"},
		},
		{Name: "ollama bad port", Env: env(map[string]string{"OLLAMA_HOST": "ollama:0"}), Want: []string{"OLLAMA_HOST", `port "0"`}},
		{Name: "ollama no host", Env: env(map[string]string{"OLLAMA_HOST": "http://:11434"}), Want: []string{"OLLAMA_HOST", "host is empty"}},
		{Name: "ollama vision model without a host", Env: env(map[string]string{"OLLAMA_VISION_MODEL": "qwen2.5vl:7b"}),
			Want: []string{`OLLAMA_VISION_MODEL = "qwen2.5vl:7b" (from environment OLLAMA_VISION_MODEL): needs OLLAMA_HOST`}},
		{Name: "admin addr without port", Args: []string{"--admin-addr", "9552"}, Want: []string{`--admin-addr / ADMIN_ADDR = "9552" (from flag --admin-addr): want host:port, or empty to disable`}},
		{Name: "admin addr bad port", Env: env(map[string]string{"ADMIN_ADDR": "127.0.0.1:99999"}), Want: []string{"ADMIN_ADDR", `port "99999"`}},
		{Name: "memory limit unit", Env: env(map[string]string{"MEMORY_LIMIT": "1TB"}), Want: []string{`--memory-limit / MEMORY_LIMIT = "1TB" (from environment MEMORY_LIMIT): unknown unit`}},
		{Name: "memory limit too small", Args: []string{"--extract-memory", "1MiB"}, Want: []string{"--extract-memory", "want a size from 67108864 bytes"}},
		{Name: "isolation", Args: []string{"--extract-isolation", "docker"}, Want: []string{"--extract-isolation", "want process or none"}},
		{Name: "extract cpu", Env: env(map[string]string{"EXTRACT_CPU": "500ms"}), Want: []string{"EXTRACT_CPU", "at least 1s"}},
		{Name: "derived slots", Args: []string{"--derived-slots", "0"}, Want: []string{"--derived-slots", "at least 1"}},
		{Name: "unknown flag", Args: []string{"--port", "1"}, Want: []string{"flag provided but not defined: -port"}},
		{Name: "flag without value", Args: []string{"--listen"}, Want: []string{"flag needs an argument: -listen"}},
		{Name: "extra arguments", Args: []string{"serve"}, Want: []string{`unexpected argument "serve"`}},
		{
			Name: "every problem at once",
			Args: []string{"--log-level", "loud"},
			Env:  env(map[string]string{"MAX_CONCURRENT": "-1", "INVOKE_LISTEN": "nope", "DRAIN_TIMEOUT": "soon"}),
			Want: []string{"MAX_CONCURRENT", "INVOKE_LISTEN", "--log-level", "DRAIN_TIMEOUT"},
		},
	})
}

func TestLoadHelp(t *testing.T) {
	t.Parallel()
	_, err := config.Load([]string{"-h"}, env(nil))
	if !errors.Is(err, config.ErrHelp) {
		t.Fatalf("Load(-h) = %v, want ErrHelp", err)
	}
	for _, s := range []string{"--listen / INVOKE_LISTEN", `(default "127.0.0.1:50052")`, "--max-concurrent / MAX_CONCURRENT", "OLLAMA_API_KEY"} {
		if !strings.Contains(err.Error(), s) {
			t.Errorf("help %q does not contain %q", err, s)
		}
	}
}

func TestSecretIsMasked(t *testing.T) {
	t.Parallel()
	const key = "sk-very-secret"
	c, err := config.Load(nil, env(map[string]string{"OLLAMA_API_KEY": key, "OLLAMA_HOST": "ollama"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Ollama.APIKey.Reveal(); got != key {
		t.Fatalf("Reveal = %q, want %q", got, key)
	}
	js, err := json.Marshal(c)
	if err != nil {
		t.Fatal(err)
	}
	var text, jsonLog bytes.Buffer
	slog.New(slog.NewTextHandler(&text, nil)).Info("config", "config", c, "key", c.Ollama.APIKey)
	slog.New(slog.NewJSONHandler(&jsonLog, nil)).Info("config", "config", c, "key", c.Ollama.APIKey)
	printed := map[string]string{
		"String":       c.Ollama.APIKey.String(),
		"%v":           fmt.Sprintf("%v", c),
		"%+v":          fmt.Sprintf("%+v", c),
		"%#v":          fmt.Sprintf("%#v", c),
		"%s key":       fmt.Sprintf("%s", c.Ollama.APIKey),
		"%q key":       fmt.Sprintf("%q", c.Ollama.APIKey),
		"json":         string(js),
		"slog text":    text.String(),
		"slog json":    jsonLog.String(),
		"LogValue key": c.Ollama.APIKey.LogValue().String(),
	}
	for how, out := range printed {
		if strings.Contains(out, key) || strings.Contains(out, "very-secret") {
			t.Errorf("%s shows the key: %s", how, out)
		}
		if !strings.Contains(out, settings.Mask) {
			t.Errorf("%s shows no mask: %s", how, out)
		}
	}
	if !strings.Contains(jsonLog.String(), `"ollama":{"host":"http://ollama:11434"`) {
		t.Errorf("slog json does not log the config as a group: %s", jsonLog.String())
	}
	if got := config.Secret("").String(); got != "" {
		t.Errorf(`empty Secret String = %q, want ""`, got)
	}
}

func TestRefineModel(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		o    config.Ollama
		want string
	}{
		{config.Ollama{Model: "qwen2.5:7b"}, "qwen2.5:7b"},
		{config.Ollama{Model: "qwen2.5:7b", VisionModel: "qwen2.5vl:7b"}, "qwen2.5vl:7b"},
		{config.Ollama{VisionModel: "qwen2.5vl:7b"}, "qwen2.5vl:7b"},
		{config.Ollama{}, ""},
	} {
		if got := tt.o.RefineModel(); got != tt.want {
			t.Errorf("%+v.RefineModel() = %q, want %q", tt.o, got, tt.want)
		}
	}
}
