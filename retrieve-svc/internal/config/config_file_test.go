package config

import (
	"bytes"
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

const fileText = `gateway:
  port: 4100
retrieve-svc:
  listen: 127.0.0.1:7001
  cache-ttl: 1h
  RETRIEVE_CACHE_SIZE: 7
  seed-samples: false
  s3-part-size: 8MiB
invoke-svc:
  max-concurrent: 2
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
		{"file only", []string{"--config", path}, env(), func(c Config) bool {
			return c.Listen == "127.0.0.1:7001" && c.CacheTTL == time.Hour && c.CacheSize == 7 && !c.SeedSamples &&
				c.S3PartSize == 8<<20 && c.DataDir == "data"
		}},
		{"file named by DOIP_CONFIG", nil, env("DOIP_CONFIG", path), func(c Config) bool { return c.CacheSize == 7 }},
		{"file and environment", []string{"--config=" + path}, env("RETRIEVE_CACHE_TTL", "2m", "DATA_DIR", "/srv"), func(c Config) bool {
			return c.CacheTTL == 2*time.Minute && c.DataDir == "/srv" && c.CacheSize == 7
		}},
		{"file, environment and flag", []string{"--config", path, "--cache-ttl", "3s", "--seed-samples"},
			env("RETRIEVE_CACHE_TTL", "2m", "RETRIEVE_LISTEN", "127.0.0.1:7002"), func(c Config) bool {
				return c.CacheTTL == 3*time.Second && c.SeedSamples && c.Listen == "127.0.0.1:7002" && c.CacheSize == 7
			}},
		{"empty --config reads no file", []string{"--config="}, env("CONFIG", path), func(c Config) bool { return c.CacheSize == 1000 }},
		{"no file here is fine", nil, env(), func(c Config) bool { return c.CacheSize == 1000 }},
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

// TestLoadFileStorage reads the whole lakeFS configuration, password included, from the file.
func TestLoadFileStorage(t *testing.T) {
	t.Parallel()
	path := settingstest.WriteConfig(t, `retrieve-svc:
  lakefs-url: http://127.0.0.1:8000
  lakefs-repo: sandbox
  LAKEFS_USER: AKIAIOSFODNN7EXAMPLE
  lakefs-password: wJalrXUtnFEMI
`)
	c, err := Load([]string{"--config", path}, env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Storage != StorageS3 || c.LakeFSUser != "AKIAIOSFODNN7EXAMPLE" || c.LakeFSPassword != "wJalrXUtnFEMI" {
		t.Errorf("Load = %+v", c)
	}
	c, err = Load([]string{"--config", path}, env("LAKEFS_PASSWORD", "fromenv"))
	if err != nil || c.LakeFSPassword != "fromenv" {
		t.Errorf("environment over file: %q, %v", c.LakeFSPassword, err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", c)
	for name, s := range map[string]string{"String": c.String(), "fmt": fmt.Sprint(c), "LogValue": logs.String()} {
		if strings.Contains(s, "wJalrXUtnFEMI") || strings.Contains(s, "fromenv") {
			t.Errorf("%s shows the password: %s", name, s)
		}
	}
	// s3 resolved from the file says so
	path = settingstest.WriteConfig(t, "retrieve-svc:\n  lakefs-url: http://127.0.0.1:8000\n")
	_, err = Load([]string{"--config", path}, env())
	if err == nil || !strings.Contains(err.Error(), "storage s3 (from auto, as lakefs-url is set from ") ||
		!strings.Contains(err.Error(), "config.yaml:2 (retrieve-svc.lakefs-url)) needs LAKEFS_PASSWORD") {
		t.Errorf("error: %v", err)
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
		{name: "bad value names file, line and key", file: "retrieve-svc:\n  listen: 127.0.0.1:1\n  cache-ttl: soon\n",
			want: []string{`config: --cache-ttl / RETRIEVE_CACHE_TTL = "soon" (from `, `config.yaml:3 (retrieve-svc.cache-ttl)): want a duration`}},
		{name: "bad value under its variable name", file: "retrieve-svc:\n  SEED_SAMPLES: maybe\n",
			want: []string{`config.yaml:2 (retrieve-svc.SEED_SAMPLES)): want true or false`}},
		{name: "unknown key", file: "retrieve-svc:\n  cache-tll: 1m\n", want: []string{"config.yaml:2: unknown key retrieve-svc.cache-tll (did you mean cache-ttl?)"}},
		{name: "a key of another process", file: "retrieve-svc:\n  port: 1\n", want: []string{"config.yaml:2: unknown key retrieve-svc.port"}},
		{name: "unknown section", file: "retreive-svc:\n  listen: x\n", want: []string{`config.yaml:1: unknown section "retreive-svc" (did you mean retrieve-svc?)`}},
		{name: "list for a single value", file: "retrieve-svc:\n  data-dir: [a, b]\n", want: []string{"retrieve-svc.data-dir: want a single value, not a list"}},
		{name: "explicit missing file", args: []string{"--config", missing}, want: []string{"config: file " + missing + " (from flag --config): no such file"}},
		{name: "missing file named by the environment", env: env("CONFIG", missing), want: []string{"(from environment CONFIG): no such file"}},
		{name: "secret in the file not shown", file: "retrieve-svc:\n  lakefs-password: wJalrXUtnFEMI\n  fdo-api: https://bob:hunter2@h/?key=abc\n  cache-size: x\n",
			want: []string{"--fdo-api", "--cache-size"}, absent: []string{"wJalrXUtnFEMI", "hunter2", "bob", "abc"}},
		{name: "secret with a shape problem not shown", file: "retrieve-svc:\n  lakefs-password: [wJalrXUtnFEMI]\n",
			want: []string{"retrieve-svc.lakefs-password: want a single value"}, absent: []string{"wJalrXUtnFEMI"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			args, getenv := tt.args, tt.env
			if tt.file != "" {
				args = append([]string{"--config", settingstest.WriteConfig(t, tt.file)}, args...)
			}
			if getenv == nil {
				getenv = env()
			}
			_, err := Load(args, getenv)
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
	if _, err := Load([]string{"--config", missing}, env()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v does not wrap fs.ErrNotExist", err)
	}
}

// TestLoadImplicitFile reads ./config.yaml; it changes the working directory, so it does not
// run in parallel.
func TestLoadImplicitFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if _, err := Load(nil, env()); err != nil {
		t.Fatalf("no ./config.yaml: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(fileText), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := Load(nil, env())
	if err != nil || c.CacheSize != 7 {
		t.Errorf("./config.yaml: %+v, %v", c, err)
	}
}

func TestUsageListsConfig(t *testing.T) {
	t.Parallel()
	for _, want := range []string{"--config FILE", "DOIP_CONFIG", "retrieve-svc section", "lakefs-password"} {
		if !strings.Contains(Usage(), want) {
			t.Errorf("usage lacks %q:\n%s", want, Usage())
		}
	}
}

// TestExampleFile checks config.example.yaml at the repository root against the code: its
// retrieve-svc section lists every setting with its default, and loads to the defaults.
func TestExampleFile(t *testing.T) {
	t.Parallel()
	const example = "../../../config.example.yaml"
	settingstest.CheckExample(t, Settings, example)
	got, err := Load([]string{"--config", example}, env())
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := Load(nil, env()); got != want {
		t.Errorf("%s loads to\n%+v\nnot the defaults\n%+v", example, got, want)
	}
}
