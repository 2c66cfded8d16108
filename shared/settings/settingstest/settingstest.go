// Package settingstest checks a process's settings table against the example configuration
// file, so that the file stays in step with the code.
package settingstest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/shared/configfile"
	"github.com/fdo-doip/doip-gateway/shared/settings"
)

// CheckExample fails t unless the file at path gives, in table's section, every setting of
// table with its default, and nothing the file's shape forbids.
func CheckExample(t testing.TB, table *settings.Table, path string) {
	t.Helper()
	vals, err := configfile.Load(path, table.Section, table.Keys())
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range table.Settings {
		v, ok := vals[s.Key()]
		switch {
		case !ok:
			t.Errorf("%s lacks %s.%s", path, table.Section, s.Key())
		case v.Text != s.Default:
			t.Errorf("%s: %s = %q; the default is %q", path, v.Source, v.Text, s.Default)
		}
	}
}

// WriteConfig writes text as a configuration file into a fresh folder and returns its path.
func WriteConfig(t testing.TB, text string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// Env returns a getenv over key, value pairs.
func Env(kv ...string) func(string) string {
	m := map[string]string{}
	for i := 0; i+1 < len(kv); i += 2 {
		m[kv[i]] = kv[i+1]
	}
	return func(k string) string { return m[k] }
}

// Loader is a process's configuration loader, its config.Load.
type Loader[C any] func(args []string, getenv func(string) string) (C, error)

// Layer is a case of [CheckLayers].
type Layer[C any] struct {
	Name  string
	Args  []string
	Env   func(string) string
	Check func(C) bool // accepts the configuration loaded
}

// CheckLayers loads the configuration of each case, in parallel subtests: it must load, and
// to what Check accepts.
func CheckLayers[C any](t *testing.T, load Loader[C], cases []Layer[C]) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			c, err := load(tt.Args, tt.Env)
			if err != nil {
				t.Fatal(err)
			}
			if !tt.Check(c) {
				t.Errorf("Load(%q) = %+v", tt.Args, c)
			}
		})
	}
}

// Problem is a case of [CheckProblems].
type Problem struct {
	Name   string
	File   string // written to a file named by --config, before Args
	Args   []string
	Env    func(string) string // nil: an empty environment
	Want   []string            // what the error must say
	Absent []string            // what it must not show
}

// CheckProblems loads the configuration of each case, in parallel subtests: it must fail
// with an error that says each of Want and none of Absent.
func CheckProblems[C any](t *testing.T, load Loader[C], cases []Problem) {
	t.Helper()
	for _, tt := range cases {
		t.Run(tt.Name, func(t *testing.T) {
			t.Parallel()
			args, getenv := tt.Args, tt.Env
			if tt.File != "" {
				args = append([]string{"--config", WriteConfig(t, tt.File)}, args...)
			}
			if getenv == nil {
				getenv = Env()
			}
			_, err := load(args, getenv)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			for _, w := range tt.Want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
			for _, a := range tt.Absent {
				if strings.Contains(err.Error(), a) {
					t.Errorf("error %q\nshows %q", err, a)
				}
			}
		})
	}
}

// CheckImplicitFile loads the configuration in a fresh working directory, first without a
// file, then with text in ./config.yaml, to what check accepts. It changes the working
// directory, so its test must not run in parallel.
func CheckImplicitFile[C any](t *testing.T, load Loader[C], text string, check func(C) bool) {
	t.Helper()
	dir := t.TempDir()
	t.Chdir(dir)
	if _, err := load(nil, Env()); err != nil {
		t.Fatalf("no ./config.yaml: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yaml"), []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := load(nil, Env())
	if err != nil || !check(c) {
		t.Errorf("./config.yaml: %+v, %v", c, err)
	}
}

// CheckExampleLoadsDefaults is [CheckExample], and then the file at path must load to the
// defaults.
func CheckExampleLoadsDefaults[C comparable](t *testing.T, table *settings.Table, path string, load Loader[C]) {
	t.Helper()
	CheckExample(t, table, path)
	got, err := load([]string{"--config", path}, Env())
	if err != nil {
		t.Fatal(err)
	}
	if want, _ := load(nil, Env()); got != want {
		t.Errorf("%s loads to\n%+v\nnot the defaults\n%+v", path, got, want)
	}
}

// CheckUsage fails t unless the usage text says each of want.
func CheckUsage(t testing.TB, usage string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(usage, w) {
			t.Errorf("usage lacks %q:\n%s", w, usage)
		}
	}
}
