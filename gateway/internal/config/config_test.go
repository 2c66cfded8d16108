package config

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(nil, env(nil))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 3567 || c.RetrieveAddr != "127.0.0.1:50051" || len(c.InvokeAddrs) != 1 || c.TLSMode != "auto" ||
		c.IdleTimeout != 5*time.Minute || c.MaxPayload != 16<<20 || c.TLSCert != "certs/server.crt" {
		t.Errorf("defaults = %+v", c)
	}
}

func TestPrecedenceFlagOverEnv(t *testing.T) {
	t.Parallel()
	c, err := Load([]string{"--port", "4000"}, env(map[string]string{"DOIP_PORT": "5000", "INVOKE_ADDR": "a:1, b:2", "RETRIEVE_ADDR": "r:9"}))
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 4000 || c.RetrieveAddr != "r:9" || strings.Join(c.InvokeAddrs, "|") != "a:1|b:2" {
		t.Errorf("got %+v", c)
	}
}

func TestErrorsNameKeyAndSource(t *testing.T) {
	t.Parallel()
	_, err := Load([]string{"--idle-timeout", "soon"}, env(map[string]string{"DOIP_PORT": "70000", "TLS_MODE": "maybe", "LOG_LEVEL": "loud", "LOG_FORMAT": "xml"}))
	if err == nil {
		t.Fatal("bad values accepted")
	}
	for _, want := range []string{
		`--idle-timeout / IDLE_TIMEOUT = "soon" (from flag --idle-timeout)`,
		`--port / DOIP_PORT = "70000" (from environment DOIP_PORT)`,
		`--tls-mode / TLS_MODE = "maybe" (from environment TLS_MODE)`,
		// the log settings are checked with the others, not later by main
		`--log-level / LOG_LEVEL = "loud" (from environment LOG_LEVEL)`,
		`--log-format / LOG_FORMAT = "xml" (from environment LOG_FORMAT)`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestUnexpectedArgument(t *testing.T) {
	t.Parallel()
	if _, err := Load([]string{"extra"}, env(nil)); err == nil {
		t.Error("a stray argument was accepted")
	}
}

func TestAdminAddr(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
		want string
	}{
		{"default", nil, nil, "127.0.0.1:9567"},
		{"environment", nil, map[string]string{"ADMIN_ADDR": "0.0.0.0:9100"}, "0.0.0.0:9100"},
		{"flag over environment", []string{"--admin-addr", ":9200"}, map[string]string{"ADMIN_ADDR": "0.0.0.0:9100"}, ":9200"},
		{"empty flag disables", []string{"--admin-addr="}, map[string]string{"ADMIN_ADDR": "0.0.0.0:9100"}, ""},
	}
	for _, tt := range tests {
		c, err := Load(tt.args, env(tt.env))
		if err != nil || c.AdminAddr != tt.want {
			t.Errorf("%s: AdminAddr = %q, %v; want %q", tt.name, c.AdminAddr, err, tt.want)
		}
	}
	for _, bad := range []string{"9567", "host:port", "127.0.0.1:70000"} {
		_, err := Load([]string{"--admin-addr", bad}, env(nil))
		if err == nil || !strings.Contains(err.Error(), "--admin-addr / ADMIN_ADDR = "+strconv.Quote(bad)+" (from flag --admin-addr)") {
			t.Errorf("--admin-addr %q: %v", bad, err)
		}
	}
}
