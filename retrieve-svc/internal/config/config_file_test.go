package config

import (
	"bytes"
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
	settingstest.CheckLayers(t, Load, []settingstest.Layer[Config]{
		{Name: "file only", Args: []string{"--config", path}, Env: env(), Check: func(c Config) bool {
			return c.Listen == "127.0.0.1:7001" && c.CacheTTL == time.Hour && c.CacheSize == 7 && !c.SeedSamples &&
				c.S3PartSize == 8<<20 && c.DataDir == "data"
		}},
		{Name: "file named by DOIP_CONFIG", Args: nil, Env: env("DOIP_CONFIG", path), Check: func(c Config) bool { return c.CacheSize == 7 }},
		{Name: "file and environment", Args: []string{"--config=" + path}, Env: env("RETRIEVE_CACHE_TTL", "2m", "DATA_DIR", "/srv"), Check: func(c Config) bool {
			return c.CacheTTL == 2*time.Minute && c.DataDir == "/srv" && c.CacheSize == 7
		}},
		{Name: "file, environment and flag", Args: []string{"--config", path, "--cache-ttl", "3s", "--seed-samples"}, Env: env("RETRIEVE_CACHE_TTL", "2m", "RETRIEVE_LISTEN", "127.0.0.1:7002"), Check: func(c Config) bool {
			return c.CacheTTL == 3*time.Second && c.SeedSamples && c.Listen == "127.0.0.1:7002" && c.CacheSize == 7
		}},
		{Name: "empty --config reads no file", Args: []string{"--config="}, Env: env("CONFIG", path), Check: func(c Config) bool { return c.CacheSize == 1000 }},
		{Name: "no file here is fine", Args: nil, Env: env(), Check: func(c Config) bool { return c.CacheSize == 1000 }},
	})
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
	settingstest.CheckProblems(t, Load, []settingstest.Problem{
		{Name: "bad value names file, line and key", File: "retrieve-svc:\n  listen: 127.0.0.1:1\n  cache-ttl: soon\n",
			Want: []string{`config: --cache-ttl / RETRIEVE_CACHE_TTL = "soon" (from `, `config.yaml:3 (retrieve-svc.cache-ttl)): want a duration`}},
		{Name: "bad value under its variable name", File: "retrieve-svc:\n  SEED_SAMPLES: maybe\n",
			Want: []string{`config.yaml:2 (retrieve-svc.SEED_SAMPLES)): want true or false`}},
		{Name: "unknown key", File: "retrieve-svc:\n  cache-tll: 1m\n", Want: []string{"config.yaml:2: unknown key retrieve-svc.cache-tll (did you mean cache-ttl?)"}},
		{Name: "a key of another process", File: "retrieve-svc:\n  port: 1\n", Want: []string{"config.yaml:2: unknown key retrieve-svc.port"}},
		{Name: "unknown section", File: "retreive-svc:\n  listen: x\n", Want: []string{`config.yaml:1: unknown section "retreive-svc" (did you mean retrieve-svc?)`}},
		{Name: "list for a single value", File: "retrieve-svc:\n  data-dir: [a, b]\n", Want: []string{"retrieve-svc.data-dir: want a single value, not a list"}},
		{Name: "explicit missing file", Args: []string{"--config", missing}, Want: []string{"config: file " + missing + " (from flag --config): no such file"}},
		{Name: "missing file named by the environment", Env: env("CONFIG", missing), Want: []string{"(from environment CONFIG): no such file"}},
		{Name: "secret in the file not shown", File: "retrieve-svc:\n  lakefs-password: wJalrXUtnFEMI\n  fdo-api: https://bob:hunter2@h/?key=abc\n  cache-size: x\n",
			Want: []string{"--fdo-api", "--cache-size"}, Absent: []string{"wJalrXUtnFEMI", "hunter2", "bob", "abc"}},
		{Name: "secret with a shape problem not shown", File: "retrieve-svc:\n  lakefs-password: [wJalrXUtnFEMI]\n",
			Want: []string{"retrieve-svc.lakefs-password: want a single value"}, Absent: []string{"wJalrXUtnFEMI"}},
	})
	if _, err := Load([]string{"--config", missing}, env()); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v does not wrap fs.ErrNotExist", err)
	}
}

// TestLoadImplicitFile reads ./config.yaml; it changes the working directory, so it does not
// run in parallel.
func TestLoadImplicitFile(t *testing.T) {
	settingstest.CheckImplicitFile(t, Load, fileText, func(c Config) bool { return c.CacheSize == 7 })
}

func TestUsageListsConfig(t *testing.T) {
	t.Parallel()
	settingstest.CheckUsage(t, Usage(), "--config FILE", "DOIP_CONFIG", "retrieve-svc section", "lakefs-password")
}

// TestExampleFile checks config.example.yaml at the repository root against the code: its
// retrieve-svc section lists every setting with its default, and loads to the defaults.
func TestExampleFile(t *testing.T) {
	t.Parallel()
	settingstest.CheckExampleLoadsDefaults(t, Settings, "../../../config.example.yaml", Load)
}
