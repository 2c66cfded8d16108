package configfile

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var testKeys = []Key{
	{Name: "port", Env: "DOIP_PORT"},
	{Name: "invoke-addr", Env: "INVOKE_ADDR", List: true},
	{Name: "seed-samples", Env: "SEED_SAMPLES"},
	{Name: "drain-timeout", Env: "DRAIN_TIMEOUT"},
	{Name: "fdo-api", Env: "FDO_API"},
	{Name: "lakefs-password", Env: "LAKEFS_PASSWORD"},
}

func TestParse(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		section string
		yaml    string
		want    Values
	}{
		{"empty file", "gateway", "", Values{}},
		{"comments only", "gateway", "# nothing\n\n# here\n", Values{}},
		{"null document", "gateway", "~\n", Values{}},
		{"no such section in the file", "invoke-svc", "gateway:\n  port: 1\n", Values{}},
		{"empty section", "gateway", "gateway:\nretrieve-svc: {}\n", Values{}},
		{
			"scalars of every kind", "gateway",
			"gateway:\n  port: 4000\n  seed-samples: true\n  drain-timeout: 1m30s\n  fdo-api: \"https://x/\"\n  lakefs-password:\n",
			Values{
				"port":            {"4000", "f.yaml:2 (gateway.port)"},
				"seed-samples":    {"true", "f.yaml:3 (gateway.seed-samples)"},
				"drain-timeout":   {"1m30s", "f.yaml:4 (gateway.drain-timeout)"},
				"fdo-api":         {"https://x/", "f.yaml:5 (gateway.fdo-api)"},
				"lakefs-password": {"", "f.yaml:6 (gateway.lakefs-password)"},
			},
		},
		{
			"environment names as keys", "retrieve-svc", "retrieve-svc:\n  FDO_API: http://h/\n  LAKEFS_PASSWORD: 's3cr3t'\n",
			Values{
				"fdo-api":         {"http://h/", "f.yaml:2 (retrieve-svc.FDO_API)"},
				"lakefs-password": {"s3cr3t", "f.yaml:3 (retrieve-svc.LAKEFS_PASSWORD)"},
			},
		},
		{
			"list joined with commas", "gateway", "gateway:\n  invoke-addr:\n    - a:1\n    - b:2\n",
			Values{"invoke-addr": {"a:1,b:2", "f.yaml:2 (gateway.invoke-addr)"}},
		},
		{"flow list", "gateway", "gateway: {invoke-addr: [a:1, 'b:2']}\n", Values{"invoke-addr": {"a:1,b:2", "f.yaml:1 (gateway.invoke-addr)"}}},
		{"empty list", "gateway", "gateway:\n  invoke-addr: []\n", Values{"invoke-addr": {"", "f.yaml:2 (gateway.invoke-addr)"}}},
		{"list key given one value", "gateway", "gateway:\n  invoke-addr: a:1,b:2\n", Values{"invoke-addr": {"a:1,b:2", "f.yaml:2 (gateway.invoke-addr)"}}},
		{
			"other sections are not checked against our keys", "invoke-svc",
			"gateway:\n  whatever: 1\nretrieve-svc:\n  x: [1, 2]\ninvoke-svc:\n  port: 9\n",
			Values{"port": {"9", "f.yaml:6 (invoke-svc.port)"}},
		},
		{
			"aliases", "retrieve-svc", "gateway:\n  port: &p 7000\nretrieve-svc:\n  port: *p\n",
			Values{"port": {"7000", "f.yaml:4 (retrieve-svc.port)"}},
		},
		{"byte order mark", "gateway", "\ufeffgateway:\n  port: 1\n", Values{"port": {"1", "f.yaml:2 (gateway.port)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := Parse("f.yaml", []byte(tt.yaml), tt.section, testKeys)
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(got, tt.want) {
				t.Errorf("Parse =\n%v\nwant\n%v", got, tt.want)
			}
		})
	}
}

func TestParseErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		section string
		yaml    string
		want    []string // each must appear in the error
	}{
		{"unknown key", "gateway", "gateway:\n  port: 1\n  prot: 2\n", []string{"config: f.yaml:3: unknown key gateway.prot (did you mean port?)"}},
		{"unknown key, no suggestion", "gateway", "gateway:\n  colour: blue\n", []string{"f.yaml:2: unknown key gateway.colour"}},
		{"env spelling suggested", "gateway", "gateway:\n  fdo_api: x\n", []string{"f.yaml:2: unknown key gateway.fdo_api (did you mean fdo-api?)"}},
		{"unknown section", "gateway", "gatway:\n  port: 1\n", []string{`f.yaml:1: unknown section "gatway" (did you mean gateway?); sections are gateway, retrieve-svc, invoke-svc`}},
		{"unknown section elsewhere", "gateway", "gateway: {}\nlogging:\n  level: x\n", []string{`f.yaml:2: unknown section "logging"`}},
		{"section not a mapping", "gateway", "gateway: 3567\n", []string{"f.yaml:1: section gateway: want a mapping of settings"}},
		{"other section not a mapping", "gateway", "invoke-svc: [a]\n", []string{"f.yaml:1: section invoke-svc: want a mapping"}},
		{"top level not a mapping", "gateway", "- gateway\n", []string{"f.yaml:1: want a mapping of sections"}},
		{"list for a single value", "gateway", "gateway:\n\n  port: [1, 2]\n", []string{"f.yaml:3: gateway.port: want a single value, not a list"}},
		{"mapping for a value", "gateway", "gateway:\n  port:\n    x: 1\n", []string{"f.yaml:2: gateway.port: want a single value, not a mapping"}},
		{"nested list item", "gateway", "gateway:\n  invoke-addr:\n    - [a]\n", []string{"f.yaml:2: gateway.invoke-addr: line 3: want each list item"}},
		{"null list item", "gateway", "gateway:\n  invoke-addr: [a, ~]\n", []string{"gateway.invoke-addr", "want each list item"}},
		{"duplicate key", "gateway", "gateway:\n  port: 1\n  DOIP_PORT: 2\n", []string{"f.yaml:3: gateway.DOIP_PORT: port is set again (first at line 2)"}},
		{"duplicate section", "gateway", "gateway: {}\ngateway: {}\n", []string{"f.yaml:2: section gateway again (first at line 1)"}},
		{"binary tag", "gateway", "gateway:\n  port: !!binary aGk=\n", []string{"f.yaml:2: gateway.port: the tag !!binary is not supported"}},
		{"syntax error", "gateway", "gateway:\n  port: 1\n port: 2\n", []string{"config: f.yaml: yaml: line"}},
		{"two documents", "gateway", "gateway: {}\n---\ngateway: {}\n", []string{"f.yaml:2: a second YAML document"}},
		{"bad section asked for", "logging", "", []string{`no section "logging"`}},
		{"every problem at once", "gateway", "gateway:\n  a: 1\n  b: 2\nfoo: {}\n", []string{"f.yaml:2: unknown key gateway.a", "f.yaml:3: unknown key gateway.b", `f.yaml:4: unknown section "foo"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			_, err := Parse("f.yaml", []byte(tt.yaml), tt.section, testKeys)
			if err == nil {
				t.Fatal("Parse succeeded")
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

// TestParseKeepsGoodValues checks that a file with a problem still yields its good values,
// so the caller can report bad values in the same pass.
func TestParseKeepsGoodValues(t *testing.T) {
	t.Parallel()
	got, err := Parse("f.yaml", []byte("gateway:\n  port: x\n  typo: 1\n"), "gateway", testKeys)
	if err == nil || got["port"].Text != "x" {
		t.Errorf("Parse = %v, %v", got, err)
	}
}

// TestErrorsShowNoValues checks that no error from the file shows a value, secret or not.
func TestErrorsShowNoValues(t *testing.T) {
	t.Parallel()
	for _, y := range []string{
		"gateway:\n  lakefs-password: [hunter2]\n",
		"gateway:\n  lakefs-password: {hunter2: 1}\n",
		"gateway:\n  lakefs-password: !secret hunter2\n",
		"gateway:\n  passwd: hunter2\n",
		"gateway:\n  lakefs-password: hunter2\n  LAKEFS_PASSWORD: hunter2\n",
		"gateway:\n  lakefs-password: hunter2\n  port: [1]\n",
		"gateway:\n  lakefs-password: hunter2\n\"unclosed\n",
	} {
		_, err := Parse("f.yaml", []byte(y), "gateway", testKeys)
		if err == nil {
			t.Errorf("%q: no error", y)
		} else if strings.Contains(err.Error(), "hunter2") {
			t.Errorf("%q: error shows the value: %v", y, err)
		}
	}
}

func TestLoad(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	good := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(good, []byte("gateway:\n  port: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	v, err := Load(good, "gateway", testKeys)
	if err != nil || v["port"] != (Value{"1", good + ":2 (gateway.port)"}) {
		t.Errorf("Load = %v, %v", v, err)
	}

	big := filepath.Join(dir, "big.yaml")
	if err := os.WriteFile(big, []byte("gateway:\n  port: 1\n"+strings.Repeat("#", MaxSize)), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(big, "gateway", testKeys); err == nil || !strings.Contains(err.Error(), "larger than the limit") {
		t.Errorf("Load(big) = %v; want a size error", err)
	}

	missing := filepath.Join(dir, "missing.yaml")
	_, err = Location{Path: missing, Explicit: true, Source: "flag --config"}.Load("gateway", testKeys)
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "config: file "+missing+" (from flag --config): ") {
		t.Errorf("missing file: %v", err)
	}
	_, err = Location{Path: dir, Explicit: true, Source: "environment CONFIG"}.Load("gateway", testKeys)
	if err == nil || !strings.Contains(err.Error(), "(from environment CONFIG): is a directory") {
		t.Errorf("directory: %v", err)
	}
	if v, err := (Location{}).Load("gateway", testKeys); err != nil || len(v) != 0 {
		t.Errorf("no file: %v, %v", v, err)
	}
	// problems inside the file are not wrapped with the location
	bad := filepath.Join(dir, "bad.yaml")
	if err := os.WriteFile(bad, []byte("gateway:\n  prot: 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := (Location{Path: bad, Source: "flag --config"}).Load("gateway", testKeys); err == nil ||
		!strings.HasPrefix(err.Error(), "config: "+bad+":2: unknown key gateway.prot") {
		t.Errorf("bad file: %v", err)
	}
}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

// TestFind changes the working directory, so it does not run in parallel.
func TestFind(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	tests := []struct {
		name      string
		flag      string
		flagGiven bool
		env       map[string]string
		want      Location
	}{
		{"nothing, no file here", "", false, nil, Location{Source: "the working directory"}},
		{"flag", "/etc/doip.yaml", true, map[string]string{"DOIP_CONFIG": "x", "CONFIG": "y"}, Location{"/etc/doip.yaml", true, "flag --config"}},
		{"empty flag reads nothing", "", true, map[string]string{"DOIP_CONFIG": "x"}, Location{"", true, "flag --config"}},
		{"DOIP_CONFIG before CONFIG", "", false, map[string]string{"DOIP_CONFIG": "x", "CONFIG": "y"}, Location{"x", true, "environment DOIP_CONFIG"}},
		{"CONFIG", "", false, map[string]string{"DOIP_CONFIG": "", "CONFIG": "y"}, Location{"y", true, "environment CONFIG"}},
	}
	for _, tt := range tests {
		if got := Find(tt.flag, tt.flagGiven, env(tt.env)); got != tt.want {
			t.Errorf("%s: Find = %+v, want %+v", tt.name, got, tt.want)
		}
	}
	if err := os.WriteFile(DefaultPath, []byte("gateway: {}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	want := Location{Path: DefaultPath, Source: "the working directory"}
	if got := Find("", false, env(nil)); got != want {
		t.Errorf("with ./config.yaml: Find = %+v, want %+v", got, want)
	}
}

func TestKeyName(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ flag, env, want string }{
		{"port", "DOIP_PORT", "port"},
		{"", "LAKEFS_PASSWORD", "lakefs-password"},
		{"", "OLLAMA_API_KEY", "ollama-api-key"},
	} {
		if got := KeyName(tt.flag, tt.env); got != tt.want {
			t.Errorf("KeyName(%q, %q) = %q, want %q", tt.flag, tt.env, got, tt.want)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("gateway:\n  port: 1\n  invoke-addr: [a, b]\n"))
	f.Add([]byte("a: &x [*x]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, _ := Parse("f.yaml", data, "gateway", testKeys)
		for k := range v {
			if k != "port" && k != "invoke-addr" && k != "seed-samples" && k != "drain-timeout" && k != "fdo-api" && k != "lakefs-password" {
				t.Errorf("unknown key %q returned", k)
			}
		}
	})
}
