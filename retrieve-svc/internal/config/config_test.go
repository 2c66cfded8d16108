package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/slogapp"

	"github.com/fdo-doip/doip-gateway/shared/settings/settingstest"
)

// env returns a getenv over key, value pairs.
var env = settingstest.Env

func TestLoadDefaults(t *testing.T) {
	t.Parallel()
	got, err := Load(nil, env())
	if err != nil {
		t.Fatal(err)
	}
	want := Config{
		Listen:        "127.0.0.1:50051",
		DataDir:       "data",
		Branch:        "main",
		FDOAPI:        "",
		FDOTimeout:    10 * time.Second,
		CacheTTL:      5 * time.Minute,
		CacheSize:     1000,
		SeedSamples:   true,
		LogLevel:      slog.LevelInfo,
		LogFormat:     slogapp.FormatAuto,
		DrainTimeout:  10 * time.Second,
		AdminAddr:     "127.0.0.1:9551",
		Storage:       StorageFolder,
		S3Timeout:     30 * time.Second,
		S3PartSize:    16 << 20,
		PresignExpiry: 5 * time.Minute,
		CacheBytes:    32 << 20,
		CacheBlobTTL:  30 * time.Second,

		Search:            SearchIndex,
		SearchTimeout:     5 * time.Second,
		SearchMaxPageSize: 1000,
		IDPrefix:          "Q99",
		MaxElementSize:    4 << 30,
		MaxElements:       64,
	}
	if got != want {
		t.Errorf("Load() =\n%+v\nwant\n%+v", got, want)
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	settingstest.CheckLayers(t, Load, []settingstest.Layer[Config]{
		{Name: "flag", Args: []string{"--listen", "127.0.0.1:0"}, Env: env(), Check: func(c Config) bool { return c.Listen == "127.0.0.1:0" }},
		{Name: "single dash", Args: []string{"-listen=127.0.0.1:1"}, Env: env(), Check: func(c Config) bool { return c.Listen == "127.0.0.1:1" }},
		{Name: "env", Args: nil, Env: env("RETRIEVE_LISTEN", "[::1]:9000"), Check: func(c Config) bool { return c.Listen == "[::1]:9000" }},
		{Name: "flag over env", Args: []string{"--listen=127.0.0.1:2"}, Env: env("RETRIEVE_LISTEN", "127.0.0.1:3"), Check: func(c Config) bool { return c.Listen == "127.0.0.1:2" }},
		{Name: "empty env is unset", Args: nil, Env: env("DATA_DIR", ""), Check: func(c Config) bool { return c.DataDir == "data" }},
		{Name: "data dir", Args: nil, Env: env("DATA_DIR", "/srv/fdo"), Check: func(c Config) bool { return c.DataDir == "/srv/fdo" }},
		{Name: "branch", Args: []string{"--branch", "dev-1"}, Env: env("LAKEFS_BRANCH", "x"), Check: func(c Config) bool { return c.Branch == "dev-1" }},
		{Name: "branch env", Args: nil, Env: env("LAKEFS_BRANCH", "feature_x"), Check: func(c Config) bool { return c.Branch == "feature_x" }},
		{Name: "fdo api slash added", Args: nil, Env: env("FDO_API", "https://fdo.example.org/fdo"), Check: func(c Config) bool { return c.FDOAPI == "https://fdo.example.org/fdo/" }},
		{Name: "fdo api kept", Args: []string{"--fdo-api", "http://127.0.0.1:8080/"}, Env: env(), Check: func(c Config) bool { return c.FDOAPI == "http://127.0.0.1:8080/" }},
		{Name: "durations", Args: []string{"--fdo-timeout=2s", "--cache-ttl=0", "--drain-timeout=1m"}, Env: env(), Check: func(c Config) bool {
			return c.FDOTimeout == 2*time.Second && c.CacheTTL == 0 && c.DrainTimeout == time.Minute
		}},
		{Name: "duration env", Args: nil, Env: env("FDO_TIMEOUT", "3s", "RETRIEVE_CACHE_TTL", "1h", "RETRIEVE_DRAIN_TIMEOUT", "0s"), Check: func(c Config) bool {
			return c.FDOTimeout == 3*time.Second && c.CacheTTL == time.Hour && c.DrainTimeout == 0
		}},
		{Name: "cache size", Args: []string{"--cache-size", "0"}, Env: env("RETRIEVE_CACHE_SIZE", "5"), Check: func(c Config) bool { return c.CacheSize == 0 }},
		{Name: "cache size env", Args: nil, Env: env("RETRIEVE_CACHE_SIZE", "5"), Check: func(c Config) bool { return c.CacheSize == 5 }},
		{Name: "seed bool flag", Args: []string{"--seed-samples"}, Env: env("SEED_SAMPLES", "false"), Check: func(c Config) bool { return c.SeedSamples }},
		{Name: "seed false flag", Args: []string{"--seed-samples=false"}, Env: env(), Check: func(c Config) bool { return !c.SeedSamples }},
		{Name: "seed env", Args: nil, Env: env("SEED_SAMPLES", "0"), Check: func(c Config) bool { return !c.SeedSamples }},
		{Name: "log", Args: []string{"--log-level", "DEBUG"}, Env: env("LOG_FORMAT", "json"), Check: func(c Config) bool { return c.LogLevel == slog.LevelDebug && c.LogFormat == slogapp.FormatJSON }},
		{Name: "log env", Args: nil, Env: env("LOG_LEVEL", "warn", "LOG_FORMAT", "TEXT"), Check: func(c Config) bool { return c.LogLevel == slog.LevelWarn && c.LogFormat == slogapp.FormatText }},
		{Name: "admin env", Args: nil, Env: env("ADMIN_ADDR", "0.0.0.0:9100"), Check: func(c Config) bool { return c.AdminAddr == "0.0.0.0:9100" }},
		{Name: "admin flag over env", Args: []string{"--admin-addr", "127.0.0.1:0"}, Env: env("ADMIN_ADDR", "0.0.0.0:9100"), Check: func(c Config) bool { return c.AdminAddr == "127.0.0.1:0" }},
		{Name: "admin disabled", Args: []string{"--admin-addr="}, Env: env("ADMIN_ADDR", "0.0.0.0:9100"), Check: func(c Config) bool { return c.AdminAddr == "" }},
	})
}

func TestLoadErrors(t *testing.T) {
	t.Parallel()
	settingstest.CheckProblems(t, Load, []settingstest.Problem{
		{Name: "bad listen flag", Args: []string{"--listen", "nope"}, Env: env(), Want: []string{`--listen / RETRIEVE_LISTEN = "nope" (from flag --listen): want host:port`}},
		{Name: "bad listen env", Args: nil, Env: env("RETRIEVE_LISTEN", "nope"), Want: []string{`--listen / RETRIEVE_LISTEN = "nope" (from environment RETRIEVE_LISTEN)`}},
		{Name: "empty data dir", Args: []string{"--data-dir="}, Env: env(), Want: []string{`--data-dir / DATA_DIR = "" (from flag --data-dir): must not be empty`}},
		{Name: "bad branch", Args: nil, Env: env("LAKEFS_BRANCH", "../x"), Want: []string{`--branch / LAKEFS_BRANCH = "../x" (from environment LAKEFS_BRANCH)`}},
		{Name: "bad url", Args: nil, Env: env("FDO_API", "ftp://x/"), Want: []string{`--fdo-api / FDO_API = "ftp://x/" (from environment FDO_API): want an http or https URL`}},
		{Name: "url without host", Args: []string{"--fdo-api=http://"}, Env: env(), Want: []string{`--fdo-api`, `want an http or https URL with a host`}},
		{Name: "url with query", Args: []string{"--fdo-api=http://x/?k=v"}, Env: env(), Want: []string{`must not have a query`}},
		{Name: "bad duration", Args: []string{"--fdo-timeout=soon"}, Env: env(), Want: []string{`--fdo-timeout / FDO_TIMEOUT = "soon" (from flag --fdo-timeout): want a positive duration`}},
		{Name: "zero timeout", Args: nil, Env: env("FDO_TIMEOUT", "0s"), Want: []string{`--fdo-timeout / FDO_TIMEOUT = "0s" (from environment FDO_TIMEOUT)`}},
		{Name: "negative ttl", Args: []string{"--cache-ttl=-1s"}, Env: env(), Want: []string{`--cache-ttl`, `0 or more`}},
		{Name: "bad size", Args: nil, Env: env("RETRIEVE_CACHE_SIZE", "lots"), Want: []string{`--cache-size / RETRIEVE_CACHE_SIZE = "lots" (from environment RETRIEVE_CACHE_SIZE)`}},
		{Name: "negative size", Args: []string{"--cache-size=-1"}, Env: env(), Want: []string{`--cache-size`}},
		{Name: "bad bool", Args: nil, Env: env("SEED_SAMPLES", "maybe"), Want: []string{`--seed-samples / SEED_SAMPLES = "maybe" (from environment SEED_SAMPLES): want true or false`}},
		{Name: "bad level", Args: nil, Env: env("LOG_LEVEL", "loud"), Want: []string{`--log-level / LOG_LEVEL = "loud" (from environment LOG_LEVEL)`}},
		{Name: "bad format", Args: []string{"--log-format=xml"}, Env: env(), Want: []string{`--log-format / LOG_FORMAT = "xml" (from flag --log-format)`}},
		{Name: "bad admin addr", Args: []string{"--admin-addr=9551"}, Env: env(), Want: []string{`--admin-addr / ADMIN_ADDR = "9551" (from flag --admin-addr): want host:port`}},
		{Name: "admin port out of range", Args: nil, Env: env("ADMIN_ADDR", "127.0.0.1:99999"), Want: []string{`--admin-addr / ADMIN_ADDR = "127.0.0.1:99999" (from environment ADMIN_ADDR)`}},
		{Name: "unknown flag", Args: []string{"--port=1"}, Env: env(), Want: []string{"flag provided but not defined: -port"}},
		{Name: "positional", Args: []string{"extra"}, Env: env(), Want: []string{`unexpected argument "extra"`}},
		{Name: "all at once", Args: []string{"--listen=x", "--cache-size=y"}, Env: env("LOG_LEVEL", "z", "FDO_API", "gopher://q"), Want: []string{"--listen", "--cache-size", "--log-level", "--fdo-api"}},
	})
}

func TestLoadHelp(t *testing.T) {
	t.Parallel()
	for _, arg := range []string{"-h", "--help"} {
		if _, err := Load([]string{arg}, env()); !errors.Is(err, flag.ErrHelp) {
			t.Errorf("Load(%s) error = %v; want flag.ErrHelp", arg, err)
		}
	}
	usage := Usage()
	for _, s := range table {
		if !strings.Contains(usage, "--"+s.Flag) || !strings.Contains(usage, s.Env) {
			t.Errorf("usage lacks --%s / %s:\n%s", s.Flag, s.Env, usage)
		}
	}
}

// TestSecretsMasked checks that user info in FDO_API shows nowhere: not in String, not in
// LogValue, not in an error about the URL.
func TestSecretsMasked(t *testing.T) {
	t.Parallel()
	c, err := Load(nil, env("FDO_API", "https://bob:hunter2@fdo.example.org/fdo", "SEED_SAMPLES", "no"))
	if err == nil || strings.Contains(err.Error(), "hunter2") {
		t.Errorf("unrelated error shows or lacks: %v", err)
	}
	c, err = Load(nil, env("FDO_API", "https://bob:hunter2@fdo.example.org/fdo"))
	if err != nil {
		t.Fatal(err)
	}
	if c.FDOAPI != "https://bob:hunter2@fdo.example.org/fdo/" {
		t.Errorf("FDOAPI = %q; the real value must be kept for the client", c.FDOAPI)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", c)
	for name, s := range map[string]string{"String": c.String(), "fmt": fmt.Sprint(c), "LogValue": logs.String()} {
		if strings.Contains(s, "hunter2") || strings.Contains(s, "bob") {
			t.Errorf("%s shows the user info: %s", name, s)
		}
		if !strings.Contains(s, "fdo.example.org") {
			t.Errorf("%s lacks the host: %s", name, s)
		}
	}
	_, err = Load([]string{"--fdo-api", "https://tok3n@fdo.example.org/fdo?key=abc"}, env())
	if err == nil || strings.Contains(err.Error(), "tok3n") || strings.Contains(err.Error(), "abc") {
		t.Errorf("error about a URL shows its secrets: %v", err)
	}
}

// s3env is a complete S3 configuration.
func s3env(kv ...string) func(string) string {
	return env(append([]string{"LAKEFS_URL", "http://127.0.0.1:8000", "LAKEFS_REPO", "sandbox",
		"LAKEFS_USER", "AKIAIOSFODNN7EXAMPLE", "LAKEFS_PASSWORD", "wJalrXUtnFEMI"}, kv...)...)
}

func TestLoadStorage(t *testing.T) {
	t.Parallel()
	settingstest.CheckLayers(t, Load, []settingstest.Layer[Config]{
		{Name: "auto is folder without LAKEFS_URL", Args: nil, Env: env("LAKEFS_REPO", "sandbox"), Check: func(c Config) bool { return c.Storage == StorageFolder }},
		{Name: "auto is s3 with LAKEFS_URL", Args: nil, Env: s3env(), Check: func(c Config) bool {
			return c.Storage == StorageS3 && c.LakeFSURL == "http://127.0.0.1:8000" && c.LakeFSRepo == "sandbox" &&
				c.LakeFSUser == "AKIAIOSFODNN7EXAMPLE" && c.LakeFSPassword == "wJalrXUtnFEMI"
		}},
		{Name: "auto from the flag", Args: []string{"--lakefs-url", "lakefs.example.org"}, Env: s3env("LAKEFS_URL", ""), Check: func(c Config) bool { return c.Storage == StorageS3 && c.LakeFSURL == "lakefs.example.org" }},
		{Name: "explicit folder with LAKEFS_URL", Args: []string{"--storage", "folder"}, Env: env("LAKEFS_URL", "http://h:1"), Check: func(c Config) bool { return c.Storage == StorageFolder }},
		{Name: "explicit s3", Args: nil, Env: s3env("STORAGE", "S3"), Check: func(c Config) bool { return c.Storage == StorageS3 }},
		{Name: "explicit auto", Args: []string{"--storage=auto"}, Env: env(), Check: func(c Config) bool { return c.Storage == StorageFolder }},
		{Name: "flags over env", Args: []string{"--lakefs-repo", "other-repo", "--lakefs-user", "me"}, Env: s3env(), Check: func(c Config) bool { return c.LakeFSRepo == "other-repo" && c.LakeFSUser == "me" }},
		{Name: "lakeFS API URL", Args: nil, Env: s3env("LAKEFS_URL", "https://lakefs.example.org/api/v1"), Check: func(c Config) bool { return c.LakeFSURL == "https://lakefs.example.org/api/v1" }},
		{Name: "timeout and part size", Args: []string{"--s3-timeout", "5s", "--s3-part-size", "8MiB"}, Env: s3env(), Check: func(c Config) bool { return c.S3Timeout == 5*time.Second && c.S3PartSize == 8<<20 }},
		{Name: "part size env in bytes", Args: nil, Env: s3env("S3_PART_SIZE", "5242880", "S3_TIMEOUT", "1m"), Check: func(c Config) bool { return c.S3PartSize == 5<<20 && c.S3Timeout == time.Minute }},
		{Name: "part size units", Args: []string{"--s3-part-size=1g"}, Env: env(), Check: func(c Config) bool { return c.S3PartSize == 1<<30 }},
	})
}

func TestLoadStorageErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  func(string) string
		want []string
	}{
		{"s3 without anything", []string{"--storage", "s3"}, env(), []string{
			"storage s3 (from flag --storage) needs --lakefs-url / LAKEFS_URL",
			"needs --lakefs-repo / LAKEFS_REPO", "needs --lakefs-user / LAKEFS_USER", "needs LAKEFS_PASSWORD"}},
		{"auto s3 without credentials", nil, env("LAKEFS_URL", "http://h:8000", "LAKEFS_REPO", "sandbox"), []string{
			"storage s3 (from auto, as LAKEFS_URL is set) needs --lakefs-user / LAKEFS_USER", "needs LAKEFS_PASSWORD"}},
		{"bad storage", nil, env("STORAGE", "tape"), []string{`--storage / STORAGE = "tape" (from environment STORAGE): want folder, s3, lakefs or auto`}},
		{"bad url scheme", nil, s3env("LAKEFS_URL", "ftp://h"), []string{`--lakefs-url / LAKEFS_URL = "ftp://h" (from environment LAKEFS_URL)`}},
		{"url with a path", []string{"--lakefs-url=http://h/some/path"}, s3env(), []string{`--lakefs-url`, `must not have a path`}},
		{"url with user info", nil, s3env("LAKEFS_URL", "http://key:pw@h:8000"), []string{`--lakefs-url`, `must not contain user info`}},
		{"bad repo", nil, s3env("LAKEFS_REPO", "Sandbox_1"), []string{`--lakefs-repo / LAKEFS_REPO = "Sandbox_1"`, "lakeFS repository name"}},
		{"zero timeout", []string{"--s3-timeout=0s"}, s3env(), []string{`--s3-timeout / S3_TIMEOUT = "0s" (from flag --s3-timeout)`}},
		{"small part", nil, s3env("S3_PART_SIZE", "1MiB"), []string{`--s3-part-size / S3_PART_SIZE = "1MiB"`, "from 5MiB to 5GiB"}},
		{"huge part", []string{"--s3-part-size=6GiB"}, s3env(), []string{`--s3-part-size`}},
		{"bad part", []string{"--s3-part-size=lots"}, s3env(), []string{`--s3-part-size`}},
		{"no password flag", []string{"--lakefs-password=x"}, s3env(), []string{"flag provided but not defined: -lakefs-password"}},
		{"missing ones and bad ones together", []string{"--storage=s3", "--listen=x"}, env("LAKEFS_REPO", "sandbox", "LAKEFS_USER", "u"),
			[]string{"--listen", "needs --lakefs-url / LAKEFS_URL", "needs LAKEFS_PASSWORD"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Load(tt.args, tt.env)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
			for _, secret := range []string{"wJalrXUtnFEMI", "pw"} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error shows a secret %q: %v", secret, err)
				}
			}
		})
	}
	// exactly one error per missing setting
	_, err := Load([]string{"--storage", "s3"}, env())
	if n := strings.Count(err.Error(), "needs"); n != 4 {
		t.Errorf("%d 'needs' errors; want 4:\n%v", n, err)
	}
}

// TestS3SecretsMasked checks that LAKEFS_PASSWORD shows nowhere, and user info in LAKEFS_URL
// nowhere, not even in an error about it.
func TestS3SecretsMasked(t *testing.T) {
	t.Parallel()
	c, err := Load(nil, s3env())
	if err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("config", "cfg", c)
	for name, s := range map[string]string{"String": c.String(), "fmt": fmt.Sprint(c), "fmt %+v": fmt.Sprintf("%v", c), "LogValue": logs.String()} {
		if strings.Contains(s, "wJalrXUtnFEMI") {
			t.Errorf("%s shows the password: %s", name, s)
		}
		for _, want := range []string{"127.0.0.1:8000", "sandbox", "s3"} {
			if !strings.Contains(s, want) {
				t.Errorf("%s lacks %q: %s", name, want, s)
			}
		}
	}
	for _, bad := range []string{"http://key:hunter2@h:8000", "key:hunter2@h:8000", "https://h/?token=hunter2"} {
		_, err := Load(nil, s3env("LAKEFS_URL", bad))
		if err == nil || strings.Contains(err.Error(), "hunter2") {
			t.Errorf("LAKEFS_URL=%s: error %v; want one that hides the secret", bad, err)
		}
	}
	// an unrelated error does not show the password either
	_, err = Load([]string{"--cache-size=x"}, s3env())
	if err == nil || strings.Contains(err.Error(), "wJalrXUtnFEMI") {
		t.Errorf("error: %v", err)
	}
	if usage := Usage(); !strings.Contains(usage, "LAKEFS_PASSWORD") || strings.Contains(usage, "--lakefs-password") {
		t.Errorf("usage:\n%s", usage)
	}
}

func TestParseSize(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]uint64{"0": 0, "1": 1, "16MiB": 16 << 20, "16 MiB": 16 << 20, "5m": 5 << 20,
		"2GB": 2 << 30, "7kib": 7 << 10, "12b": 12} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "MiB", "-1", "1.5MiB", "1TiB", "99999999999999999999", "17179869184GiB"} {
		if got, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q) = %d; want an error", in, got)
		}
	}
}

func TestSearchSettings(t *testing.T) {
	t.Parallel()
	c, err := Load([]string{"--search", "mediawiki", "--mediawiki-api", "https://wiki.example.org/w/api.php",
		"--mediawiki-profile-items", "publication=Q5976449, dataset=Q5984635", "--search-max-page-size", "50"}, env())
	if err != nil {
		t.Fatal(err)
	}
	if c.Search != SearchMediaWiki || c.ProfileItems()["dataset"] != "Q5984635" || c.SearchMaxPageSize != 50 {
		t.Fatalf("%+v", c)
	}
	if c.SearchIndexPath() != filepath.Join("data", "search-index") {
		t.Fatalf("index path %s", c.SearchIndexPath())
	}
	for _, args := range [][]string{
		{"--search", "mediawiki"},
		{"--search", "solr"},
		{"--search-max-page-size", "0"},
		{"--mediawiki-profile-items", "publication"},
		{"--mediawiki-api", "ftp://x"},
		{"--search-timeout", "0s"},
	} {
		if _, err := Load(args, env()); err == nil {
			t.Errorf("%v accepted", args)
		}
	}
}
