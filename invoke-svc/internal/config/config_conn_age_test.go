package config_test

import (
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/invoke-svc/internal/config"
)

// TestLoadMaxConnectionAge: the maximum connection age and its grace are off by default (make
// run keeps its connections), and come from the environment or the flags.
func TestLoadMaxConnectionAge(t *testing.T) {
	t.Parallel()
	c, err := config.Load([]string{"--config="}, env(nil))
	if err != nil || c.MaxConnectionAge != 0 || c.MaxConnectionAgeGrace != 0 {
		t.Fatalf("defaults: age %v, grace %v, %v; want 0, 0", c.MaxConnectionAge, c.MaxConnectionAgeGrace, err)
	}
	c, err = config.Load([]string{"--config="}, env(map[string]string{"GRPC_MAX_CONNECTION_AGE": "30s", "GRPC_MAX_CONNECTION_AGE_GRACE": "10m"}))
	if err != nil || c.MaxConnectionAge != 30*time.Second || c.MaxConnectionAgeGrace != 10*time.Minute {
		t.Fatalf("environment: age %v, grace %v, %v; want 30s, 10m", c.MaxConnectionAge, c.MaxConnectionAgeGrace, err)
	}
	c, err = config.Load([]string{"--config=", "--max-connection-age=1m", "--max-connection-age-grace=0s"}, env(map[string]string{"GRPC_MAX_CONNECTION_AGE_GRACE": "10m"}))
	if err != nil || c.MaxConnectionAge != time.Minute || c.MaxConnectionAgeGrace != 0 {
		t.Fatalf("flags: age %v, grace %v, %v; want 1m, 0", c.MaxConnectionAge, c.MaxConnectionAgeGrace, err)
	}
	for _, bad := range []string{"-1s", "soon"} {
		_, err := config.Load([]string{"--config="}, env(map[string]string{"GRPC_MAX_CONNECTION_AGE": bad}))
		if err == nil || !strings.Contains(err.Error(), "GRPC_MAX_CONNECTION_AGE") {
			t.Errorf("GRPC_MAX_CONNECTION_AGE=%s: error %v, want one naming the variable", bad, err)
		}
	}
}
