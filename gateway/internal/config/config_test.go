package config

import (
	"strings"
	"testing"
	"time"
)

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

func TestDefaults(t *testing.T) {
	t.Parallel()
	c, err := Load(nil, env(nil), nil)
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
	c, err := Load([]string{"--port", "4000"}, env(map[string]string{"DOIP_PORT": "5000", "INVOKE_ADDR": "a:1, b:2", "RETRIEVE_ADDR": "r:9"}), nil)
	if err != nil {
		t.Fatal(err)
	}
	if c.Port != 4000 || c.RetrieveAddr != "r:9" || strings.Join(c.InvokeAddrs, "|") != "a:1|b:2" {
		t.Errorf("got %+v", c)
	}
}

func TestErrorsNameKeyAndSource(t *testing.T) {
	t.Parallel()
	_, err := Load([]string{"--idle-timeout", "soon"}, env(map[string]string{"DOIP_PORT": "70000", "TLS_MODE": "maybe"}), nil)
	if err == nil {
		t.Fatal("bad values accepted")
	}
	for _, want := range []string{
		`idle-timeout (from flag --idle-timeout): "soon"`,
		`port (from environment DOIP_PORT): "70000"`,
		`tls-mode (from environment TLS_MODE): "maybe"`,
	} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q lacks %q", err, want)
		}
	}
}

func TestUnexpectedArgument(t *testing.T) {
	t.Parallel()
	if _, err := Load([]string{"extra"}, env(nil), nil); err == nil {
		t.Error("a stray argument was accepted")
	}
}
