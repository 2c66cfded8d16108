package settings_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/shared/settings"
)

type fieldsConfig struct {
	Listen    string
	CacheSize int
	Seed      bool
}

var fields = settings.NewFields("retrieve-svc", "retrieve-svc", []settings.Field[fieldsConfig]{
	{Setting: settings.Setting{Flag: "listen", Env: "RETRIEVE_LISTEN", Default: "127.0.0.1:50051", Usage: "gRPC listen address"},
		Set: settings.Text(func(c *fieldsConfig) *string { return &c.Listen })},
	{Setting: settings.Setting{Flag: "cache-size", Env: "RETRIEVE_CACHE_SIZE", Default: "1000", Usage: "records cached"},
		Set: settings.Parse(strconv.Atoi, "want a whole number", func(c *fieldsConfig) *int { return &c.CacheSize })},
	{Setting: settings.Setting{Flag: "seed-samples", Env: "SEED_SAMPLES", Default: "true", Usage: "write samples", Bool: true},
		Set: settings.Parse(strconv.ParseBool, "want true or false", func(c *fieldsConfig) *bool { return &c.Seed })},
})

// TestFields: each field's Set stores its value; every problem, the Set functions' and
// check's, comes in one error naming the setting and its source.
func TestFields(t *testing.T) {
	t.Parallel()
	if got := len(fields.Table.Settings); got != 3 {
		t.Fatalf("the table has %d settings, want 3", got)
	}
	c, err := fields.Load([]string{"--cache-size", "7"}, env("SEED_SAMPLES", "false"), nil)
	if err != nil || c != (fieldsConfig{Listen: "127.0.0.1:50051", CacheSize: 7, Seed: false}) {
		t.Errorf("Load = %+v, %v", c, err)
	}
	check := func(c *fieldsConfig, v *settings.Values) {
		if c.Seed {
			v.Errorf("seed-samples does not go with cache-size %d", c.CacheSize)
		}
	}
	_, err = fields.Load([]string{"--cache-size", "many"}, env("SEED_SAMPLES", "yes"), check)
	for _, want := range []string{
		`config: --cache-size / RETRIEVE_CACHE_SIZE = "many" (from flag --cache-size): want a whole number`,
		`config: --seed-samples / SEED_SAMPLES = "yes" (from environment SEED_SAMPLES): want true or false`,
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %s", err, want)
		}
	}
	if _, err := fields.Load(nil, env(), check); err == nil || !strings.Contains(err.Error(), "config: seed-samples does not go with cache-size 1000") {
		t.Errorf("check's problem: %v", err)
	}
	if _, err := fields.Load([]string{"-h"}, env(), nil); err == nil {
		t.Error("-h gave no HelpError")
	}
}
