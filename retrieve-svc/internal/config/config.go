// Package config loads the configuration of retrieve-svc: the retrieve-svc
// section of config.yaml, then environment variables, then flags, each later source
// overriding the earlier, over the defaults in [settings]. Every problem is reported at once,
// each naming the flag or variable and where its value came from (a flag, a variable, or the
// file's name and line). Secrets (LAKEFS_PASSWORD, user info in URLs) may come from the
// environment or the file, never from a flag, and are masked in every message and in String
// and LogValue.
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

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storages3"
	"github.com/fdo-doip/doip-gateway/shared/configfile"
	"github.com/fdo-doip/doip-gateway/shared/slogapp"
)

// Storage backends for component bytes.
const (
	StorageFolder = "folder" // the folder at DataDir
	StorageS3     = "s3"     // any S3 server, lakeFS's S3 gateway included, without versions
	StorageLakeFS = "lakefs" // lakeFS: bytes through its S3 gateway, commits and versions through its API
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
	AdminAddr    string         // admin HTTP address (/metrics, /healthz, /readyz); empty: none

	Storage        string        // StorageFolder, StorageS3 or StorageLakeFS
	LakeFSURL      string        // the S3 endpoint: lakeFS's URL, with or without scheme
	LakeFSRepo     string        // the lakeFS repository, which is the S3 bucket
	LakeFSUser     string        // the access key id
	LakeFSPassword string        // the secret access key; from the environment or the file, never shown
	S3Timeout      time.Duration // how long S3 may make no progress
	S3PartSize     uint64        // the largest single PUT and the multipart part size, in bytes
	PresignExpiry  time.Duration // how long presigned component URLs handed to the gateway last; 0: never hand off
	CacheBytes     uint64        // the small-component cache's size in bytes; 0: no cache
	// GRPCTLSCert, GRPCTLSKey and GRPCTLSCA turn on mutual TLS for gRPC (all or none).
	GRPCTLSCert, GRPCTLSKey, GRPCTLSCA string
	CacheBlobTTL                       time.Duration // how long a small component stays cached
	// MaxConnectionAge ends each client connection after about this long, so that clients
	// resolve the service's name again and spread over the replicas there are now; 0: never.
	// MaxConnectionAgeGrace is how long the calls on such a connection may still run; 0: as
	// long as they take.
	MaxConnectionAge, MaxConnectionAgeGrace time.Duration
}

// setting is one configuration key: its flag, its environment variable, its default and how
// it is stored into a Config. Its key in config.yaml is [configfile.KeyName]: the flag name,
// or for a setting without a flag the variable in lower case (lakefs-password). A setting
// without a flag is read from the file and the environment only; secret ones are never shown.
type setting struct {
	flag, env, def, usage string
	isBool                bool
	apply                 func(c *Config, v string) error
	secret                bool
}

// name is how messages refer to the setting.
func (s setting) name() string {
	if s.flag == "" {
		return s.env
	}
	return "--" + s.flag + " / " + s.env
}

// settings lists every key, with its default: the one place defaults live.
var settings = []setting{
	{"listen", "RETRIEVE_LISTEN", "127.0.0.1:50051", "gRPC listen address (host:port)", false, func(c *Config, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return errors.New("want host:port")
		}
		c.Listen = v
		return nil
	}, false},
	{"data-dir", "DATA_DIR", "data", "folder with records/ and the component tree", false, func(c *Config, v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("must not be empty")
		}
		c.DataDir = v
		return nil
	}, false},
	{"branch", "LAKEFS_BRANCH", "main", "lakeFS branch, the first segment of storage keys", false, func(c *Config, v string) error {
		if !branchRE.MatchString(v) {
			return errors.New("want letters, digits, - and _ (a lakeFS branch name)")
		}
		c.Branch = v
		return nil
	}, false},
	{"fdo-api", "FDO_API", "", "FDO façade base URL; empty reads records from <data-dir>/records", false, func(c *Config, v string) error {
		u, err := checkURL(v)
		c.FDOAPI = u
		return err
	}, false},
	{"fdo-timeout", "FDO_TIMEOUT", "10s", "timeout of one façade request", false, positiveDuration(func(c *Config) *time.Duration { return &c.FDOTimeout }), false},
	{"cache-ttl", "RETRIEVE_CACHE_TTL", "5m", "how long a record stays cached (0 disables)", false, nonNegativeDuration(func(c *Config) *time.Duration { return &c.CacheTTL }), false},
	{"cache-size", "RETRIEVE_CACHE_SIZE", "1000", "how many records the cache holds (0 disables)", false, func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errors.New("want a whole number, 0 or more")
		}
		c.CacheSize = n
		return nil
	}, false},
	{"seed-samples", "SEED_SAMPLES", "true", "write the sample objects into an empty or missing data dir", true, func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		c.SeedSamples = b
		return nil
	}, false},
	{"log-level", "LOG_LEVEL", "info", "debug, info, warn or error", false, func(c *Config, v string) error {
		l, err := slogapp.ParseLevel(v)
		if err != nil {
			return errors.New("want debug, info, warn or error")
		}
		c.LogLevel = l
		return nil
	}, false},
	{"log-format", "LOG_FORMAT", "auto", "auto (text on a terminal, else json), text or json", false, func(c *Config, v string) error {
		f, err := slogapp.ParseFormat(v)
		if err != nil {
			return errors.New("want auto, text or json")
		}
		c.LogFormat = f
		return nil
	}, false},
	{"drain-timeout", "RETRIEVE_DRAIN_TIMEOUT", "10s", "how long in-flight calls may finish on shutdown", false, nonNegativeDuration(func(c *Config) *time.Duration { return &c.DrainTimeout }), false},
	{"admin-addr", "ADMIN_ADDR", "127.0.0.1:9551", "admin HTTP address (host:port) serving /metrics, /healthz and /readyz; empty disables", false, func(c *Config, v string) error {
		v = strings.TrimSpace(v)
		if v == "" {
			c.AdminAddr = ""
			return nil
		}
		_, port, err := net.SplitHostPort(v)
		if n, perr := strconv.Atoi(port); err != nil || perr != nil || n < 0 || n > 65535 {
			return errors.New("want host:port with a port from 0 to 65535, or empty to disable")
		}
		c.AdminAddr = v
		return nil
	}, false},
	{"max-connection-age", "GRPC_MAX_CONNECTION_AGE", "0s", "end each gRPC client connection after about this long, so clients re-resolve the service name and reach new replicas; 0 never", false, nonNegativeDuration(func(c *Config) *time.Duration { return &c.MaxConnectionAge }), false},
	{"max-connection-age-grace", "GRPC_MAX_CONNECTION_AGE_GRACE", "0s", "how long the calls on a connection ended by max-connection-age may still take; 0 as long as they take", false, nonNegativeDuration(func(c *Config) *time.Duration { return &c.MaxConnectionAgeGrace }), false},
	{"storage", "STORAGE", "auto", "component storage: folder, s3 (plain S3) or lakefs (S3 gateway plus commits and versions); auto is s3 when --lakefs-url / LAKEFS_URL is set, else folder", false, func(c *Config, v string) error {
		switch v = strings.ToLower(v); v {
		case "auto":
			v = ""
		case StorageFolder, StorageS3, StorageLakeFS:
		default:
			return errors.New("want folder, s3, lakefs or auto")
		}
		c.Storage = v
		return nil
	}, false},
	{"lakefs-url", "LAKEFS_URL", "", "lakeFS URL, the S3 endpoint (http:// or https://; without a scheme https, or http for a loopback host)", false, func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		if _, _, err := storages3.ParseEndpoint(v); err != nil {
			return err
		}
		c.LakeFSURL = strings.TrimSpace(v)
		return nil
	}, false},
	{"lakefs-repo", "LAKEFS_REPO", "", "lakeFS repository, the S3 bucket", false, func(c *Config, v string) error {
		if v != "" && !repoRE.MatchString(v) {
			return errors.New("want 3 to 63 lower-case letters, digits and -, starting with a letter or digit (a lakeFS repository name)")
		}
		c.LakeFSRepo = v
		return nil
	}, false},
	{"grpc-tls-cert", "GRPC_TLS_CERT", "", "certificate (PEM) this service presents; with key and CA set, gRPC requires mutual TLS", false, func(c *Config, v string) error {
		c.GRPCTLSCert = v
		return nil
	}, false},
	{"grpc-tls-key", "GRPC_TLS_KEY", "", "key (PEM) of grpc-tls-cert", false, func(c *Config, v string) error {
		c.GRPCTLSKey = v
		return nil
	}, false},
	{"grpc-tls-ca", "GRPC_TLS_CA", "", "CA (PEM) that client certificates must chain to", false, func(c *Config, v string) error {
		c.GRPCTLSCA = v
		return nil
	}, false},
	{"lakefs-user", "LAKEFS_USER", "", "lakeFS access key id", false, func(c *Config, v string) error {
		c.LakeFSUser = v
		return nil
	}, false},
	{"", "LAKEFS_PASSWORD", "", "lakeFS secret access key (environment or config file, no flag; never shown)", false, func(c *Config, v string) error {
		c.LakeFSPassword = v
		return nil
	}, true},
	{"s3-timeout", "S3_TIMEOUT", "30s", "how long S3 may make no progress (connecting, answering, sending bytes)", false, positiveDuration(func(c *Config) *time.Duration { return &c.S3Timeout }), false},
	{"component-cache-size", "COMPONENT_CACHE_SIZE", "32MiB", "memory for caching components of up to 1 MiB (0: no cache)", false, func(c *Config, v string) error {
		n, err := parseSize(v)
		if err != nil || n > 16<<30 {
			return errors.New("want a size up to 16GiB, such as 64MiB, or 0")
		}
		c.CacheBytes = n
		return nil
	}, false},
	{"component-cache-ttl", "COMPONENT_CACHE_TTL", "30s", "how long a cached component is served before storage is asked again", false, nonNegativeDuration(func(c *Config) *time.Duration { return &c.CacheBlobTTL }), false},
	{"presign-expiry", "PRESIGN_EXPIRY", "5m", "with S3: callers that allow it read components straight from S3 through presigned URLs valid this long (0: always stream through this service)", false, nonNegativeDuration(func(c *Config) *time.Duration { return &c.PresignExpiry }), false},
	{"s3-part-size", "S3_PART_SIZE", "16MiB", "largest single PUT and multipart part size (5MiB to 5GiB; memory per write)", false, func(c *Config, v string) error {
		n, err := parseSize(v)
		if err != nil || n < storages3.MinPartSize || n > storages3.MaxPartSize {
			return errors.New("want a size from 5MiB to 5GiB, such as 16MiB or 8388608")
		}
		c.S3PartSize = n
		return nil
	}, false},
}

var repoRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{2,62}$`)

// parseSize reads a number of bytes with an optional unit (configfile.ParseSize).
func parseSize(v string) (uint64, error) { return configfile.ParseSize(v) }

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

// section is retrieve-svc's section in config.yaml.
const section = "retrieve-svc"

// fileKeys are the keys the retrieve-svc section of config.yaml accepts.
func fileKeys() []configfile.Key {
	keys := make([]configfile.Key, len(settings))
	for i, s := range settings {
		keys[i] = configfile.Key{Name: configfile.KeyName(s.flag, s.env), Env: s.env}
	}
	return keys
}

// Load returns the configuration from args (without the program name), the environment
// read through getenv, and the configuration file (see [configfile.Find]: --config,
// DOIP_CONFIG, CONFIG or ./config.yaml). Flags override environment variables, which
// override the file, which overrides the defaults; an environment variable set to "" counts
// as unset. For -h or --help it returns an error wrapping flag.ErrHelp; print [Usage] then.
func Load(args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet("retrieve-svc", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	configPath := fs.String("config", "", configfile.FlagUsage)
	values := make([]*value, len(settings))
	for i, s := range settings {
		values[i] = &value{isBool: s.isBool}
		if s.flag != "" {
			fs.Var(values[i], s.flag, s.usage)
		}
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
	file, err := configfile.Find(*configPath, set["config"], getenv).Load(section, fileKeys())
	if err != nil {
		errs = append(errs, err)
	}
	from := map[string]string{} // env name → where its value came from
	for i, s := range settings {
		v, src := s.def, "default"
		if fv, ok := file[configfile.KeyName(s.flag, s.env)]; ok {
			v, src = fv.Text, fv.Source
		}
		if e := getenv(s.env); e != "" {
			v, src = e, "environment "+s.env
		}
		if s.flag != "" && set[s.flag] {
			v, src = values[i].s, "flag --"+s.flag
		}
		from[s.env] = src
		if err := s.apply(&c, v); err != nil {
			shown := v
			switch {
			case s.secret:
				shown = "xxxxx"
			case s.env == "FDO_API" || s.env == "LAKEFS_URL":
				shown = maskURL(v)
			}
			errs = append(errs, fmt.Errorf("config: %s = %q (from %s): %w", s.name(), shown, src, err))
		}
	}
	errs = append(errs, c.resolveStorage(from)...)
	if err := errors.Join(errs...); err != nil {
		return Config{}, err
	}
	return c, nil
}

// resolveStorage turns storage "auto" into folder or s3 and checks that s3 has what it needs,
// one error per missing setting.
func (c *Config) resolveStorage(from map[string]string) []error {
	why := from["STORAGE"]
	if c.Storage == "" {
		c.Storage = StorageFolder
		if c.LakeFSURL != "" {
			c.Storage = StorageS3
			why = "auto, as LAKEFS_URL is set"
			if src := from["LAKEFS_URL"]; !strings.HasPrefix(src, "environment ") {
				why = "auto, as lakefs-url is set from " + src
			}
		}
	}
	if c.Storage != StorageS3 && c.Storage != StorageLakeFS {
		return nil
	}
	var errs []error
	for _, m := range []struct {
		name    string
		missing bool
	}{
		{"--lakefs-url / LAKEFS_URL", c.LakeFSURL == ""},
		{"--lakefs-repo / LAKEFS_REPO", c.LakeFSRepo == ""},
		{"--lakefs-user / LAKEFS_USER", c.LakeFSUser == ""},
		{"LAKEFS_PASSWORD", c.LakeFSPassword == ""},
	} {
		if m.missing {
			errs = append(errs, fmt.Errorf("config: storage %s (from %s) needs %s", c.Storage, why, m.name))
		}
	}
	return errs
}

// Usage writes the flags, their environment variables, config.yaml keys and defaults to w.
func Usage(w io.Writer) {
	fmt.Fprintf(w, "Usage: retrieve-svc [--config FILE] [flags]\n\n"+
		"Each setting is read from the %s section of the configuration file (by its key, or\n"+
		"its environment variable's name), then from its environment variable, then from its\n"+
		"flag; each later source overrides the earlier.\n\n"+
		"  --config FILE  %s\n\n", section, configfile.FlagUsage)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "flag\tenvironment\tkey in config file\tdefault\t")
	for _, s := range settings {
		f := "(none)"
		if s.flag != "" {
			f = "--" + s.flag
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", f, s.env, configfile.KeyName(s.flag, s.env), cmp.Or(s.def, `""`), s.usage)
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
	if u.Opaque != "" && strings.ContainsAny(v, "@?") { // "user:pw@host" without a scheme
		return "(URL with user info, hidden)"
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

// LakeFSURLMasked returns the lakeFS URL with any user info masked, for display.
func (c Config) LakeFSURLMasked() string { return maskURL(c.LakeFSURL) }

// lakeFSPasswordMasked shows whether the secret is set, never what it is.
func (c Config) lakeFSPasswordMasked() string {
	if c.LakeFSPassword == "" {
		return ""
	}
	return "xxxxx"
}

// String returns the configuration on one line, secrets masked.
func (c Config) String() string {
	return fmt.Sprintf("listen=%s data-dir=%s branch=%s fdo-api=%s fdo-timeout=%s cache-ttl=%s cache-size=%d "+
		"seed-samples=%t log-level=%s log-format=%s drain-timeout=%s admin-addr=%s storage=%s lakefs-url=%s lakefs-repo=%s "+
		"lakefs-user=%s lakefs-password=%s s3-timeout=%s s3-part-size=%d presign-expiry=%s component-cache-size=%d component-cache-ttl=%s",
		c.Listen, c.DataDir, c.Branch, c.FDOAPIMasked(), c.FDOTimeout, c.CacheTTL, c.CacheSize,
		c.SeedSamples, c.LogLevel, c.LogFormat, c.DrainTimeout, c.AdminAddr, c.Storage, c.LakeFSURLMasked(), c.LakeFSRepo,
		c.LakeFSUser, c.lakeFSPasswordMasked(), c.S3Timeout, c.S3PartSize, c.PresignExpiry, c.CacheBytes, c.CacheBlobTTL)
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
		slog.String("admin_addr", c.AdminAddr),
		slog.String("storage", c.Storage),
		slog.String("lakefs_url", c.LakeFSURLMasked()),
		slog.String("lakefs_repo", c.LakeFSRepo),
		slog.String("lakefs_user", c.LakeFSUser),
		slog.String("lakefs_password", c.lakeFSPasswordMasked()),
		slog.Duration("s3_timeout", c.S3Timeout),
		slog.Uint64("s3_part_size", c.S3PartSize),
		slog.Duration("presign_expiry", c.PresignExpiry),
	)
}
