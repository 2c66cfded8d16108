// Package config loads the configuration of retrieve-svc from flags and environment
// variables, in that order of precedence, over the defaults in [settings]. Every problem is
// reported at once, each naming the flag or variable and where its value came from.
//
// The system-wide config.yaml of DESIGN.md §5 is not read yet.
package config

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/slogapp"
)

// Config is the configuration of one retrieve-svc process.
type Config struct {
	Listen       string         // gRPC listen address, host:port
	DataDir      string         // the folder backend's root: components and, without a façade, records
	Branch       string         // the lakeFS branch, the first segment of every storage key
	FDOAPI       string         // the façade's base URL, ending in "/"; empty: records from DataDir
	FDOTimeout   time.Duration  // one façade request
	CacheTTL     time.Duration  // how long a record stays cached; 0 disables the cache
	CacheSize    int            // how many records the cache holds; 0 disables the cache
	SeedSamples  bool           // write the embedded sample objects into an empty DataDir
	LogLevel     slog.Level     // the lowest level logged
	LogFormat    slogapp.Format // text, json or auto
	DrainTimeout time.Duration  // how long in-flight RPCs may run on shutdown
}

// setting is one configuration key: its flag, its environment variable, its default and how
// it is stored into a Config.
type setting struct {
	flag, env, def, usage string
	isBool                bool
	apply                 func(c *Config, v string) error
}

// settings lists every key, with its default: the one place defaults live.
var settings = []setting{
	{"listen", "RETRIEVE_LISTEN", "127.0.0.1:50051", "gRPC listen address (host:port)", false, func(c *Config, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return errors.New("want host:port")
		}
		c.Listen = v
		return nil
	}},
	{"data-dir", "DATA_DIR", "data", "folder with records/ and the component tree", false, func(c *Config, v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("must not be empty")
		}
		c.DataDir = v
		return nil
	}},
	{"branch", "LAKEFS_BRANCH", "main", "lakeFS branch, the first segment of storage keys", false, func(c *Config, v string) error {
		if !branchRE.MatchString(v) {
			return errors.New("want letters, digits, - and _ (a lakeFS branch name)")
		}
		c.Branch = v
		return nil
	}},
	{"fdo-api", "FDO_API", "", "FDO façade base URL; empty reads records from <data-dir>/records", false, func(c *Config, v string) error {
		u, err := checkURL(v)
		c.FDOAPI = u
		return err
	}},
	{"fdo-timeout", "FDO_TIMEOUT", "10s", "timeout of one façade request", false, positiveDuration(func(c *Config) *time.Duration { return &c.FDOTimeout })},
	{"cache-ttl", "RETRIEVE_CACHE_TTL", "5m", "how long a record stays cached (0 disables)", false, nonNegativeDuration(func(c *Config) *time.Duration { return &c.CacheTTL })},
	{"cache-size", "RETRIEVE_CACHE_SIZE", "1000", "how many records the cache holds (0 disables)", false, func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errors.New("want a whole number, 0 or more")
		}
		c.CacheSize = n
		return nil
	}},
	{"seed-samples", "SEED_SAMPLES", "true", "write the sample objects into an empty or missing data dir", true, func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		c.SeedSamples = b
		return nil
	}},
	{"log-level", "LOG_LEVEL", "info", "debug, info, warn or error", false, func(c *Config, v string) error {
		l, err := slogapp.ParseLevel(v)
		if err != nil {
			return errors.New("want debug, info, warn or error")
		}
		c.LogLevel = l
		return nil
	}},
	{"log-format", "LOG_FORMAT", "auto", "auto (text on a terminal, else json), text or json", false, func(c *Config, v string) error {
		f, err := slogapp.ParseFormat(v)
		if err != nil {
			return errors.New("want auto, text or json")
		}
		c.LogFormat = f
		return nil
	}},
	{"drain-timeout", "RETRIEVE_DRAIN_TIMEOUT", "10s", "how long in-flight calls may finish on shutdown", false, nonNegativeDuration(func(c *Config) *time.Duration { return &c.DrainTimeout })},
}

var branchRE = regexp.MustCompile(`^\w[-\w]*$`)

func positiveDuration(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d <= 0 {
			return errors.New("want a positive duration such as 10s")
		}
		*field(c) = d
		return nil
	}
}

func nonNegativeDuration(field func(*Config) *time.Duration) func(*Config, string) error {
	return func(c *Config, v string) error {
		d, err := time.ParseDuration(v)
		if err != nil || d < 0 {
			return errors.New("want a duration such as 5m, 0 or more")
		}
		*field(c) = d
		return nil
	}
}

// checkURL validates a façade base URL and returns it with a trailing "/".
func checkURL(v string) (string, error) {
	if v == "" {
		return "", nil
	}
	u, err := url.Parse(v)
	if err != nil {
		return "", errors.New("not a URL") // url's error would repeat the value, secrets and all
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return "", errors.New("want an http or https URL with a host")
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("must not have a query or fragment")
	}
	if !strings.HasSuffix(v, "/") {
		v += "/"
	}
	return v, nil
}

// value is a flag.Value that only remembers the text it was given; settings parse it later,
// so that flags and environment variables go through the same checks.
type value struct {
	s      string
	isBool bool
}

func (v *value) String() string     { return v.s }
func (v *value) Set(s string) error { v.s = s; return nil }
func (v *value) IsBoolFlag() bool   { return v.isBool }

// Load returns the configuration from args (without the program name) and the environment
// read through getenv. Flags override environment variables, which override the defaults.
// For -h or --help it returns an error wrapping flag.ErrHelp; print [Usage] then.
func Load(args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("retrieve-svc", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	values := make([]*value, len(settings))
	for i, s := range settings {
		values[i] = &value{isBool: s.isBool}
		fs.Var(values[i], s.flag, s.usage)
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, fmt.Errorf("config: %w", err)
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })

	var c Config
	var errs []error
	for i, s := range settings {
		v, from := s.def, "default"
		switch {
		case set[s.flag]:
			v, from = values[i].s, "flag --"+s.flag
		case getenv(s.env) != "":
			v, from = getenv(s.env), "environment "+s.env
		}
		if err := s.apply(&c, v); err != nil {
			shown := v
			if s.flag == "fdo-api" {
				shown = maskURL(v)
			}
			errs = append(errs, fmt.Errorf("config: --%s / %s = %q (from %s): %w", s.flag, s.env, shown, from, err))
		}
	}
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// Usage writes the flags, their environment variables and defaults to w.
func Usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: retrieve-svc [flags]\n\nEach flag falls back to its environment variable, then to its default.\n\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "flag\tenvironment\tdefault\t")
	for _, s := range settings {
		fmt.Fprintf(tw, "--%s\t%s\t%s\t%s\n", s.flag, s.env, cmp.Or(s.def, `""`), s.usage)
	}
	tw.Flush()
}

// maskURL hides a URL's user info (a token may be the user name) and every query value.
func maskURL(v string) string {
	u, err := url.Parse(v)
	if err != nil {
		if strings.ContainsAny(v, "@?") {
			return "(unparsable URL, hidden)"
		}
		return v
	}
	if u.RawQuery != "" {
		q := u.Query()
		for k := range q {
			q[k] = []string{"xxxxx"}
		}
		u.RawQuery = q.Encode()
	}
	if u.User != nil {
		u.User = url.User("xxxxx")
	}
	return u.String()
}

// FDOAPIMasked returns the façade URL with its user info masked, for display.
func (c Config) FDOAPIMasked() string { return maskURL(c.FDOAPI) }

// String returns the configuration on one line, secrets masked.
func (c Config) String() string {
	return fmt.Sprintf("listen=%s data-dir=%s branch=%s fdo-api=%s fdo-timeout=%s cache-ttl=%s cache-size=%d "+
		"seed-samples=%t log-level=%s log-format=%s drain-timeout=%s",
		c.Listen, c.DataDir, c.Branch, c.FDOAPIMasked(), c.FDOTimeout, c.CacheTTL, c.CacheSize,
		c.SeedSamples, c.LogLevel, c.LogFormat, c.DrainTimeout)
}

// LogValue implements slog.LogValuer, secrets masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("listen", c.Listen),
		slog.String("data_dir", c.DataDir),
		slog.String("branch", c.Branch),
		slog.String("fdo_api", c.FDOAPIMasked()),
		slog.Duration("fdo_timeout", c.FDOTimeout),
		slog.Duration("cache_ttl", c.CacheTTL),
		slog.Int("cache_size", c.CacheSize),
		slog.Bool("seed_samples", c.SeedSamples),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("log_format", string(c.LogFormat)),
		slog.Duration("drain_timeout", c.DrainTimeout),
	)
}
