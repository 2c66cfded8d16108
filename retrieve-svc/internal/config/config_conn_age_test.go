package config

import (
	"strings"
	"testing"
	"time"
)

// TestLoadMaxConnectionAge: the maximum connection age and its grace are off by default (make
// run keeps its connections), and come from the environment or the flags.
func TestLoadMaxConnectionAge(t *testing.T) {
	t.Parallel()
	c, err := Load([]string{"--config="}, env())
	if err != nil || c.MaxConnectionAge != 0 || c.MaxConnectionAgeGrace != 0 {
		t.Fatalf("defaults: age %v, grace %v, %v; want 0, 0", c.MaxConnectionAge, c.MaxConnectionAgeGrace, err)
	}
	c, err = Load([]string{"--config="}, env("GRPC_MAX_CONNECTION_AGE", "30s", "GRPC_MAX_CONNECTION_AGE_GRACE", "5m"))
	if err != nil || c.MaxConnectionAge != 30*time.Second || c.MaxConnectionAgeGrace != 5*time.Minute {
		t.Fatalf("environment: age %v, grace %v, %v; want 30s, 5m", c.MaxConnectionAge, c.MaxConnectionAgeGrace, err)
	}
	c, err = Load([]string{"--config=", "--max-connection-age=1m"}, env("GRPC_MAX_CONNECTION_AGE", "30s"))
	if err != nil || c.MaxConnectionAge != time.Minute {
		t.Fatalf("flag: age %v, %v; want 1m", c.MaxConnectionAge, err)
	}
	_, err = Load([]string{"--config="}, env("GRPC_MAX_CONNECTION_AGE_GRACE", "-1s"))
	if err == nil || !strings.Contains(err.Error(), "GRPC_MAX_CONNECTION_AGE_GRACE") {
		t.Errorf("GRPC_MAX_CONNECTION_AGE_GRACE=-1s: error %v, want one naming the variable", err)
	}
}
