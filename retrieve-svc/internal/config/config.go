// Package config loads the configuration of retrieve-svc: the retrieve-svc
// section of config.yaml, then environment variables, then flags, each later source
// overriding the earlier, over the defaults in its table (the engine is [settings]). Every
// problem is reported at once,
// each naming the flag or variable and where its value came from (a flag, a variable, or the
// file's name and line). Secrets (LAKEFS_PASSWORD, user info in URLs) may come from the
// environment or the file, never from a flag, and are masked in every message and in String
// and LogValue.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storages3"
	"github.com/fdo-doip/doip-gateway/shared/configfile"
	"github.com/fdo-doip/doip-gateway/shared/settings"
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

	// IDPrefix starts the ids of objects created through the gateway: "Q" and digits.
	IDPrefix string
	// ClientIDs lets a create name the new object's id.
	ClientIDs bool
	// MaxElementSize bounds one element of a create or update, in bytes.
	MaxElementSize uint64
	// MaxElements bounds the elements of one object.
	MaxElements int
	// Search is the search backend: SearchIndex, SearchMediaWiki or SearchOff.
	Search string
	// SearchIndexDir is the embedded index's folder; empty: "search-index" in DataDir.
	SearchIndexDir string
	// SearchTimeout bounds one search; SearchMaxPageSize caps a page of results.
	SearchTimeout     time.Duration
	SearchMaxPageSize int
	// MediaWikiAPI is the api.php URL of the MediaWiki whose search answers (SearchMediaWiki).
	MediaWikiAPI string
	// MediaWikiProfileItems maps MaRDI profile names to the wiki's items that name them:
	// "name=QID" pairs separated by commas, checked ([Config.ProfileItems] reads them).
	MediaWikiProfileItems string
}

// Search backends.
const (
	SearchIndex     = "index"     // the embedded full-text index, kept in step with every write
	SearchMediaWiki = "mediawiki" // a MediaWiki's full-text search (a MaRDI portal)
	SearchOff       = "off"       // no search service
)

// SearchIndexPath is the embedded index's folder.
func (c Config) SearchIndexPath() string {
	if c.SearchIndexDir != "" {
		return c.SearchIndexDir
	}
	return filepath.Join(c.DataDir, "search-index")
}

// idPrefixRE is an id prefix: Q and up to 8 digits, leaving at least 4 random ones.
var idPrefixRE = regexp.MustCompile(`^Q[1-9][0-9]{0,7}$`)

// table lists every key, with its default (the one place defaults live), and how its value is
// checked and stored into a Config. A setting without a flag is read from the file and the
// environment only; secret ones are never shown.
var table = []settings.Field[Config]{
	{Setting: settings.Setting{Flag: "listen", Env: "RETRIEVE_LISTEN", Default: "127.0.0.1:50051", Usage: "gRPC listen address (host:port)"}, Set: func(c *Config, v string) error {
		if _, _, err := net.SplitHostPort(v); err != nil {
			return errors.New("want host:port")
		}
		c.Listen = v
		return nil
	}},
	{Setting: settings.Setting{Flag: "data-dir", Env: "DATA_DIR", Default: "data", Usage: "folder with records/ and the component tree"}, Set: func(c *Config, v string) error {
		if strings.TrimSpace(v) == "" {
			return errors.New("must not be empty")
		}
		c.DataDir = v
		return nil
	}},
	{Setting: settings.Setting{Flag: "branch", Env: "LAKEFS_BRANCH", Default: "main", Usage: "lakeFS branch, the first segment of storage keys"}, Set: func(c *Config, v string) error {
		if !branchRE.MatchString(v) {
			return errors.New("want letters, digits, - and _ (a lakeFS branch name)")
		}
		c.Branch = v
		return nil
	}},
	{Setting: settings.Setting{Flag: "fdo-api", Env: "FDO_API", Usage: "FDO façade base URL; empty reads records from <data-dir>/records"}, Set: func(c *Config, v string) error {
		u, err := checkURL(v)
		c.FDOAPI = u
		return err
	}},
	{Setting: settings.Setting{Flag: "fdo-timeout", Env: "FDO_TIMEOUT", Default: "10s", Usage: "timeout of one façade request"}, Set: positiveDuration(func(c *Config) *time.Duration { return &c.FDOTimeout })},
	{Setting: settings.Setting{Flag: "cache-ttl", Env: "RETRIEVE_CACHE_TTL", Default: "5m", Usage: "how long a record stays cached (0 disables)"}, Set: nonNegativeDuration(func(c *Config) *time.Duration { return &c.CacheTTL })},
	{Setting: settings.Setting{Flag: "cache-size", Env: "RETRIEVE_CACHE_SIZE", Default: "1000", Usage: "how many records the cache holds (0 disables)"}, Set: func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return errors.New("want a whole number, 0 or more")
		}
		c.CacheSize = n
		return nil
	}},
	{Setting: settings.Setting{Flag: "seed-samples", Env: "SEED_SAMPLES", Default: "true", Usage: "write the sample objects into an empty or missing data dir", Bool: true}, Set: settings.Parse(strconv.ParseBool, "want true or false", func(c *Config) *bool { return &c.SeedSamples })},
	{Setting: settings.Setting{Flag: "id-prefix", Env: "ID_PREFIX", Default: "Q99", Usage: "start of the ids of created objects: Q and 1 to 8 digits, the rest random"}, Set: func(c *Config, v string) error {
		if !idPrefixRE.MatchString(v) {
			return errors.New("want Q followed by 1 to 8 digits, the first not 0")
		}
		c.IDPrefix = v
		return nil
	}},
	{Setting: settings.Setting{Flag: "client-ids", Env: "CLIENT_IDS", Default: "false", Usage: "let a create name the new object's id (a QID not yet taken)", Bool: true}, Set: func(c *Config, v string) error {
		b, err := strconv.ParseBool(v)
		if err != nil {
			return errors.New("want true or false")
		}
		c.ClientIDs = b
		return nil
	}},
	{Setting: settings.Setting{Flag: "max-element-size", Env: "MAX_ELEMENT_SIZE", Default: "4GiB", Usage: "largest element a create or update stores"}, Set: func(c *Config, v string) error {
		n, err := parseSize(v)
		if err != nil || n == 0 || n > 1<<40 {
			return errors.New("want a size from 1 byte to 1TiB, such as 4GiB")
		}
		c.MaxElementSize = n
		return nil
	}},
	{Setting: settings.Setting{Flag: "max-elements", Env: "MAX_ELEMENTS", Default: "64", Usage: "most elements of one object, and of one write"}, Set: func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return errors.New("want a number from 1 to 10000")
		}
		c.MaxElements = n
		return nil
	}},
	{Setting: settings.Setting{Flag: "log-level", Env: "LOG_LEVEL", Default: "info", Usage: "debug, info, warn or error"}, Set: settings.Parse(slogapp.ParseLevel, "want debug, info, warn or error", func(c *Config) *slog.Level { return &c.LogLevel })},
	{Setting: settings.Setting{Flag: "log-format", Env: "LOG_FORMAT", Default: "auto", Usage: "auto (text on a terminal, else json), text or json"}, Set: settings.Parse(slogapp.ParseFormat, "want auto, text or json", func(c *Config) *slogapp.Format { return &c.LogFormat })},
	{Setting: settings.Setting{Flag: "drain-timeout", Env: "RETRIEVE_DRAIN_TIMEOUT", Default: "10s", Usage: "how long in-flight calls may finish on shutdown"}, Set: nonNegativeDuration(func(c *Config) *time.Duration { return &c.DrainTimeout })},
	{Setting: settings.Setting{Flag: "admin-addr", Env: "ADMIN_ADDR", Default: "127.0.0.1:9551", Usage: "admin HTTP address (host:port) serving /metrics, /healthz and /readyz; empty disables"}, Set: func(c *Config, v string) error {
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
	}},
	{Setting: settings.Setting{Flag: "max-connection-age", Env: "GRPC_MAX_CONNECTION_AGE", Default: "0s", Usage: "end each gRPC client connection after about this long, so clients re-resolve the service name and reach new replicas; 0 never"}, Set: nonNegativeDuration(func(c *Config) *time.Duration { return &c.MaxConnectionAge })},
	{Setting: settings.Setting{Flag: "max-connection-age-grace", Env: "GRPC_MAX_CONNECTION_AGE_GRACE", Default: "0s", Usage: "how long the calls on a connection ended by max-connection-age may still take; 0 as long as they take"}, Set: nonNegativeDuration(func(c *Config) *time.Duration { return &c.MaxConnectionAgeGrace })},
	{Setting: settings.Setting{Flag: "storage", Env: "STORAGE", Default: "auto", Usage: "component storage: folder, s3 (plain S3) or lakefs (S3 gateway plus commits and versions); auto is s3 when --lakefs-url / LAKEFS_URL is set, else folder"}, Set: func(c *Config, v string) error {
		switch v = strings.ToLower(v); v {
		case "auto":
			v = ""
		case StorageFolder, StorageS3, StorageLakeFS:
		default:
			return errors.New("want folder, s3, lakefs or auto")
		}
		c.Storage = v
		return nil
	}},
	{Setting: settings.Setting{Flag: "lakefs-url", Env: "LAKEFS_URL", Usage: "lakeFS URL, the S3 endpoint (http:// or https://; without a scheme https, or http for a loopback host)"}, Set: func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		if _, _, err := storages3.ParseEndpoint(v); err != nil {
			return err
		}
		c.LakeFSURL = strings.TrimSpace(v)
		return nil
	}},
	{Setting: settings.Setting{Flag: "lakefs-repo", Env: "LAKEFS_REPO", Usage: "lakeFS repository, the S3 bucket"}, Set: func(c *Config, v string) error {
		if v != "" && !repoRE.MatchString(v) {
			return errors.New("want 3 to 63 lower-case letters, digits and -, starting with a letter or digit (a lakeFS repository name)")
		}
		c.LakeFSRepo = v
		return nil
	}},
	{Setting: settings.Setting{Flag: "grpc-tls-cert", Env: "GRPC_TLS_CERT", Usage: "certificate (PEM) this service presents; with key and CA set, gRPC requires mutual TLS"}, Set: settings.Text(func(c *Config) *string { return &c.GRPCTLSCert })},
	{Setting: settings.Setting{Flag: "grpc-tls-key", Env: "GRPC_TLS_KEY", Usage: "key (PEM) of grpc-tls-cert"}, Set: settings.Text(func(c *Config) *string { return &c.GRPCTLSKey })},
	{Setting: settings.Setting{Flag: "grpc-tls-ca", Env: "GRPC_TLS_CA", Usage: "CA (PEM) that client certificates must chain to"}, Set: settings.Text(func(c *Config) *string { return &c.GRPCTLSCA })},
	{Setting: settings.Setting{Flag: "lakefs-user", Env: "LAKEFS_USER", Usage: "lakeFS access key id"}, Set: settings.Text(func(c *Config) *string { return &c.LakeFSUser })},
	{Setting: settings.Setting{Env: "LAKEFS_PASSWORD", Usage: "lakeFS secret access key (environment or config file, no flag; never shown)", Secret: true}, Set: settings.Text(func(c *Config) *string { return &c.LakeFSPassword })},
	{Setting: settings.Setting{Flag: "s3-timeout", Env: "S3_TIMEOUT", Default: "30s", Usage: "how long S3 may make no progress (connecting, answering, sending bytes)"}, Set: positiveDuration(func(c *Config) *time.Duration { return &c.S3Timeout })},
	{Setting: settings.Setting{Flag: "component-cache-size", Env: "COMPONENT_CACHE_SIZE", Default: "32MiB", Usage: "memory for caching components of up to 1 MiB (0: no cache)"}, Set: func(c *Config, v string) error {
		n, err := parseSize(v)
		if err != nil || n > 16<<30 {
			return errors.New("want a size up to 16GiB, such as 64MiB, or 0")
		}
		c.CacheBytes = n
		return nil
	}},
	{Setting: settings.Setting{Flag: "component-cache-ttl", Env: "COMPONENT_CACHE_TTL", Default: "30s", Usage: "how long a cached component is served before storage is asked again"}, Set: nonNegativeDuration(func(c *Config) *time.Duration { return &c.CacheBlobTTL })},
	{Setting: settings.Setting{Flag: "presign-expiry", Env: "PRESIGN_EXPIRY", Default: "5m", Usage: "with S3: callers that allow it read components straight from S3 through presigned URLs valid this long (0: always stream through this service)"}, Set: nonNegativeDuration(func(c *Config) *time.Duration { return &c.PresignExpiry })},
	{Setting: settings.Setting{Flag: "s3-part-size", Env: "S3_PART_SIZE", Default: "16MiB", Usage: "largest single PUT and multipart part size (5MiB to 5GiB; memory per write)"}, Set: func(c *Config, v string) error {
		n, err := parseSize(v)
		if err != nil || n < storages3.MinPartSize || n > storages3.MaxPartSize {
			return errors.New("want a size from 5MiB to 5GiB, such as 16MiB or 8388608")
		}
		c.S3PartSize = n
		return nil
	}},
}

// searchTable holds the search settings.
var searchTable = []settings.Field[Config]{
	{Setting: settings.Setting{Flag: "search", Env: "SEARCH_BACKEND", Default: "index", Usage: "search backend: index (embedded full-text index of records and derived equations), mediawiki (a MediaWiki's search, with --mediawiki-api) or off"}, Set: func(c *Config, v string) error {
		switch v = strings.ToLower(strings.TrimSpace(v)); v {
		case SearchIndex, SearchMediaWiki, SearchOff:
			c.Search = v
			return nil
		}
		return errors.New("want index, mediawiki or off")
	}},
	{Setting: settings.Setting{Flag: "search-index-dir", Env: "SEARCH_INDEX_DIR", Usage: "folder of the embedded search index; empty: search-index in the data dir"}, Set: func(c *Config, v string) error {
		c.SearchIndexDir = strings.TrimSpace(v)
		return nil
	}},
	{Setting: settings.Setting{Flag: "search-timeout", Env: "SEARCH_TIMEOUT", Default: "5s", Usage: "time limit of one search"}, Set: positiveDuration(func(c *Config) *time.Duration { return &c.SearchTimeout })},
	{Setting: settings.Setting{Flag: "search-max-page-size", Env: "SEARCH_MAX_PAGE_SIZE", Default: "1000", Usage: "largest page of search results (1 to 10000)"}, Set: func(c *Config, v string) error {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 10000 {
			return errors.New("want a whole number from 1 to 10000")
		}
		c.SearchMaxPageSize = n
		return nil
	}},
	{Setting: settings.Setting{Flag: "mediawiki-api", Env: "MEDIAWIKI_API_URL", Usage: "api.php URL of the MediaWiki whose search answers with --search mediawiki"}, Set: func(c *Config, v string) error {
		if v == "" {
			return nil
		}
		u, err := url.Parse(v)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return errors.New("want an http or https URL with a host")
		}
		c.MediaWikiAPI = v
		return nil
	}},
	{Setting: settings.Setting{Flag: "mediawiki-profile-items", Env: "MEDIAWIKI_PROFILE_ITEMS", Usage: "profile names and the wiki items that name them, such as publication=Q5976449,dataset=Q5984635 (person and software are built in)"}, Set: func(c *Config, v string) error {
		if _, err := profileItems(v); err != nil {
			return err
		}
		c.MediaWikiProfileItems = v
		return nil
	}},
}

var qidRE = regexp.MustCompile(`^Q[0-9]+$`)

// ProfileItems returns MediaWikiProfileItems as a map.
func (c Config) ProfileItems() map[string]string {
	m, _ := profileItems(c.MediaWikiProfileItems)
	return m
}

func profileItems(v string) (map[string]string, error) {
	m := map[string]string{}
	for pair := range strings.SplitSeq(v, ",") {
		if pair = strings.TrimSpace(pair); pair == "" {
			continue
		}
		name, item, ok := strings.Cut(pair, "=")
		if !ok || strings.TrimSpace(name) == "" || !qidRE.MatchString(strings.TrimSpace(item)) {
			return nil, errors.New("want name=QID pairs separated by commas, such as publication=Q5976449")
		}
		m[strings.TrimSpace(name)] = strings.TrimSpace(item)
	}
	return m, nil
}

// allSettings is every table of settings.
func allSettings() []settings.Field[Config] { return append(slices.Clip(table), searchTable...) }

var repoRE = regexp.MustCompile(`^[a-z0-9][a-z0-9-]{2,62}$`)

// parseSize reads a number of bytes with an optional unit (configfile.ParseSize).
func parseSize(v string) (uint64, error) { return configfile.ParseSize(v) }

var branchRE = regexp.MustCompile(`^\w[-\w]*$`)

func positiveDuration(field func(*Config) *time.Duration) func(*Config, string) error {
	return settings.Parse(durationAbove(0), "want a positive duration such as 10s", field)
}

func nonNegativeDuration(field func(*Config) *time.Duration) func(*Config, string) error {
	return settings.Parse(durationAbove(-1), "want a duration such as 5m, 0 or more", field)
}

// durationAbove parses a duration greater than floor (-1: zero or more).
func durationAbove(floor time.Duration) func(string) (time.Duration, error) {
	return func(v string) (time.Duration, error) {
		d, err := time.ParseDuration(v)
		if err == nil && d <= floor {
			err = errors.New("too short")
		}
		return d, err
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

// section is retrieve-svc's section in config.yaml.
const section = "retrieve-svc"

// fields are retrieve-svc's settings with their checks.
var fields = settings.NewFields("retrieve-svc", section, allSettings())

// Settings is retrieve-svc's table of settings.
var Settings = fields.Table

// Load returns the configuration from args (without the program name), the environment
// read through getenv, and the configuration file, as [settings.Table.Load] does: flags
// override environment variables, which override the file, which overrides the defaults.
// Every problem is reported at once. For -h or --help it returns a [*settings.HelpError].
func Load(args []string, getenv func(string) string) (Config, error) {
	return fields.Load(args, getenv, func(c *Config, vals *settings.Values) {
		c.resolveStorage(vals)
		if c.Search == SearchMediaWiki && c.MediaWikiAPI == "" {
			vals.Errorf("search mediawiki (from %s) needs %s", vals.Source("search"), Settings.Setting("mediawiki-api").Name())
		}
	})
}

// resolveStorage turns storage "auto" into folder or s3 and checks that s3 has what it needs,
// one problem per missing setting.
func (c *Config) resolveStorage(vals *settings.Values) {
	why := vals.Source("storage")
	if c.Storage == "" {
		c.Storage = StorageFolder
		if c.LakeFSURL != "" {
			c.Storage = StorageS3
			why = "auto, as LAKEFS_URL is set"
			if src := vals.Source("lakefs-url"); !strings.HasPrefix(src, "environment ") {
				why = "auto, as lakefs-url is set from " + src
			}
		}
	}
	if c.Storage != StorageS3 && c.Storage != StorageLakeFS {
		return
	}
	for _, m := range []struct {
		key     string
		missing bool
	}{
		{"lakefs-url", c.LakeFSURL == ""},
		{"lakefs-repo", c.LakeFSRepo == ""},
		{"lakefs-user", c.LakeFSUser == ""},
		{"lakefs-password", c.LakeFSPassword == ""},
	} {
		if m.missing {
			vals.Errorf("storage %s (from %s) needs %s", c.Storage, why, Settings.Setting(m.key).Name())
		}
	}
}

// Usage describes every setting: flag, variable, key in the file, default and meaning.
func Usage() string { return Settings.Usage() }

// FDOAPIMasked returns the façade URL with its user info masked, for display.
func (c Config) FDOAPIMasked() string { return settings.Redact(c.FDOAPI) }

// LakeFSURLMasked returns the lakeFS URL with any user info masked, for display.
func (c Config) LakeFSURLMasked() string { return settings.Redact(c.LakeFSURL) }

// lakeFSPasswordMasked shows whether the secret is set, never what it is.
func (c Config) lakeFSPasswordMasked() string {
	return settings.Secret(c.LakeFSPassword).String()
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
		slog.String("search", c.Search),
		slog.String("search_index", c.SearchIndexPath()),
		slog.String("mediawiki_api", settings.Redact(c.MediaWikiAPI)),
	)
}
