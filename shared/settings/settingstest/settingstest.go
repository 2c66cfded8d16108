// Package settingstest checks a process's settings table against the example configuration
// file, so that the file stays in step with the code.
package settingstest

import (
	"os"
	"path/filepath"
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
