// Package config loads the gateway's configuration: the gateway section of
// config.yaml, then environment variables, then flags, each later source overriding the
// earlier, over the defaults in its table (the engine is [settings]). Every problem is
// reported at once, naming the setting, its value and where it came from (a flag, a
// variable, or the file's name and line). It never exits the process.
package config

import (
	"log/slog"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/settings"
	"github.com/fdo-doip/doip-gateway/shared/slogapp"
)

// Config is the whole gateway configuration.
type Config struct {
	Host string // interface to listen on; empty means all
	Port int    // binary envelope port; the segment port is Port+1 (both random when 0)
	// HTTPPort is the port of DOIP over HTTP and the web pages: Port+2 by default (random
	// when Port is 0), -1 when turned off.
	HTTPPort     int
	RetrieveAddr string
	InvokeAddrs  []string
	ServiceID    string
	// DNSMinResolutionInterval is the least time between two DNS resolutions of one dns:///
	// target: how soon after a connection ends the gateway can learn of added workers.
	DNSMinResolutionInterval time.Duration
	// AdvertiseHost is the address the standard hello announces; empty: the listening host,
	// or 127.0.0.1 when listening on all interfaces.
	AdvertiseHost string

	TLSMode string // auto, required, optional or off
	TLSCert string
	TLSKey  string

	HandshakeTimeout time.Duration
	ReadTimeout      time.Duration
	IdleTimeout      time.Duration
	WriteTimeout     time.Duration
	CallTimeout      time.Duration
	InvokeTimeout    time.Duration
	DrainTimeout     time.Duration

	MaxPayload    int64
	MaxSegment    int64
	MaxConns      int
	MaxConnsPerIP int // 0: no limit
	// MaxBackendCalls bounds concurrent calls and streams to the services.
	MaxBackendCalls int
	// GRPCTLSCert, GRPCTLSKey and GRPCTLSCA turn on mutual TLS to the services (all or none).
	GRPCTLSCert, GRPCTLSKey, GRPCTLSCA string
	// DirectReads lets retrieve-svc hand component reads off to presigned storage URLs.
	DirectReads bool
	// AuthTokens may do everything (read, invoke, write, purge); with none, anyone may invoke
	// and purge. Secret: never printed.
	AuthTokens []string
	// Users are "name:bcrypt-hash:permissions" entries; AccessTokens "name:token:permissions".
	// Secret: never printed.
	Users, AccessTokens []string
	// Anonymous is what a client without credentials may do ("read" by default).
	Anonymous string
	// OIDCIssuer, OIDCJWKSURL and OIDCAudience accept OIDC access tokens (JWTs) of that
	// issuer, verified with the keys at the JWKS URL, with OIDCPermissions.
	OIDCIssuer, OIDCJWKSURL, OIDCAudience, OIDCPermissions string
	// MaxUpload bounds the bytes of one create or update.
	MaxUpload int64

	LogLevel  slog.Level
	LogFormat slogapp.Format
	// LogBuffer is how many bytes of log records are held before they are written; 0 writes
	// each record at once. LogFlushInterval bounds how long a record waits in that buffer.
	LogBuffer        int
	LogFlushInterval time.Duration

	// AdminAddr is the host:port of the admin HTTP server (/metrics, /healthz, /readyz);
	// empty: no admin server.
	AdminAddr string
}

// LogValue lists the configuration for a start-up log line. User info in the backend
// addresses (gRPC target URIs may carry it) is masked; credentials added later must be
// masked here too.
func (c Config) LogValue() slog.Value {
	invoke := make([]string, len(c.InvokeAddrs))
	for i, a := range c.InvokeAddrs {
		invoke[i] = settings.Redact(a)
	}
	return slog.GroupValue(
		slog.String("host", c.Host), slog.Int("port", c.Port), slog.Int("http_port", c.HTTPPort),
		slog.String("retrieve_addr", settings.Redact(c.RetrieveAddr)), slog.String("invoke_addrs", strings.Join(invoke, ",")),
		slog.String("service_id", c.ServiceID), slog.String("tls_mode", c.TLSMode),
		slog.Int64("max_payload", c.MaxPayload), slog.Int("max_conns", c.MaxConns), slog.Int("max_conns_per_ip", c.MaxConnsPerIP),
		slog.String("admin_addr", c.AdminAddr),
		slog.Int("auth_tokens", len(c.AuthTokens)), // how many, never which
		slog.Int("users", len(c.Users)), slog.Int("access_tokens", len(c.AccessTokens)),
		slog.String("anonymous", c.Anonymous), slog.String("oidc_issuer", c.OIDCIssuer),
	)
}

// validHostPort reports whether a is host:port with a numeric port (the host may be empty).
func validHostPort(a string) bool {
	_, port, err := net.SplitHostPort(a)
	if err != nil {
		return false
	}
	n, err := strconv.Atoi(port)
	return err == nil && n >= 0 && n <= 65535
}

// setting is one flag with its environment variable; its key in the gateway section of
// config.yaml is the flag name (the variable's name is accepted too).
type setting struct {
	flag, env, usage string
	def              string
	list             bool // a comma-separated list; config.yaml may give a YAML list
	// secret settings come from the environment or config.yaml only: a flag would show in
	// the process list. They are never printed.
	secret bool
}

// table lists every key with its default: the one place defaults live.
var table = []setting{
	{flag: "host", env: "DOIP_HOST", def: "", usage: "interface to listen on (empty: all)"},
	{flag: "port", env: "DOIP_PORT", def: "3567", usage: "binary envelope port; port+1 serves JSON segments"},
	{flag: "http-port", env: "HTTP_PORT", def: "auto", usage: "port of DOIP over HTTP(S) and the web pages (auto: port+2; off: none); HTTPS with the DOIP ports' certificate unless tls-mode is off"},
	{flag: "retrieve-addr", env: "RETRIEVE_ADDR", def: "127.0.0.1:50051", usage: "retrieve-svc gRPC address"},
	{flag: "invoke-addr", env: "INVOKE_ADDR", def: "127.0.0.1:50052", usage: "invoke-svc gRPC address(es), comma-separated; empty disables invoke", list: true},
	{flag: "dns-min-resolution-interval", env: "DNS_MIN_RESOLUTION_INTERVAL", def: "2s", usage: "least time between two DNS resolutions of a dns:/// service address; a worker added behind the name gets runs within about this plus the services' maximum connection age"},
	{flag: "service-id", env: "SERVICE_ID", def: "fdo-gateway", usage: "DOIP service id (hello, TLS certificate subject)"},
	{flag: "advertise-host", env: "ADVERTISE_HOST", def: "", usage: "address announced in the standard hello (empty: the listening host, or 127.0.0.1)"},
	{flag: "tls-mode", env: "TLS_MODE", def: "auto", usage: "auto, required, optional or off (auto: required when the certificate files exist, else optional with a self-signed certificate)"},
	{flag: "tls-cert", env: "TLS_CERT", def: "certs/server.crt", usage: "TLS certificate file (PEM)"},
	{flag: "tls-key", env: "TLS_KEY", def: "certs/server.key", usage: "TLS private key file (PEM)"},
	{flag: "handshake-timeout", env: "HANDSHAKE_TIMEOUT", def: "10s", usage: "deadline for the first byte and the TLS handshake"},
	{flag: "read-timeout", env: "READ_TIMEOUT", def: "30s", usage: "deadline for reading one request"},
	{flag: "idle-timeout", env: "IDLE_TIMEOUT", def: "5m", usage: "deadline for the next request on an open connection"},
	{flag: "write-timeout", env: "WRITE_TIMEOUT", def: "60s", usage: "deadline for each write to a client"},
	{flag: "call-timeout", env: "CALL_TIMEOUT", def: "10s", usage: "deadline for a backend call (and a stream's first message)"},
	{flag: "invoke-timeout", env: "INVOKE_TIMEOUT", def: "10m", usage: "deadline for a whole workflow run"},
	{flag: "drain-timeout", env: "DRAIN_TIMEOUT", def: "15s", usage: "how long shutdown waits for in-flight requests"},
	{flag: "max-payload", env: "MAX_PAYLOAD", def: "16777216", usage: "largest request payload in bytes"},
	{flag: "max-segment", env: "MAX_SEGMENT", def: "1048576", usage: "largest JSON segment, metadata block or object id in bytes"},
	{flag: "max-conns", env: "MAX_CONNS", def: "4096", usage: "most open connections per port"},
	{flag: "max-backend-calls", env: "MAX_BACKEND_CALLS", def: "1024", usage: "most backend calls and component streams open at once; more wait up to call-timeout, then get Unavailable"},
	{flag: "direct-reads", env: "DIRECT_READS", def: "true", usage: "let retrieve-svc hand large component reads off to presigned storage URLs (S3), fetched by the gateway"},
	{flag: "max-conns-per-ip", env: "MAX_CONNS_PER_IP", def: "256", usage: "most open connections per port from one client address (0: no limit)"},
	{flag: "auth-tokens", env: "AUTH_TOKENS", def: "", usage: "bearer tokens that may invoke workflows and purge records, comma-separated; empty: no token needed", list: true, secret: true},
	{flag: "users", env: "USERS", def: "", usage: "users who log in with a password: name:bcrypt-hash:permissions entries (permissions read, invoke, write, admin joined by +), comma-separated", list: true, secret: true},
	{flag: "access-tokens", env: "ACCESS_TOKENS", def: "", usage: "bearer tokens with permissions: name:token:permissions entries, comma-separated", list: true, secret: true},
	{flag: "anonymous", env: "ANONYMOUS", def: "read", usage: "what clients without credentials may do (read, invoke, write, admin joined by +; none); invoke and purge stay open while AUTH_TOKENS is empty"},
	{flag: "oidc-issuer", env: "OIDC_ISSUER", def: "", usage: "accept OIDC access tokens (JWTs) of this issuer (the iss claim); empty: none"},
	{flag: "oidc-jwks-url", env: "OIDC_JWKS_URL", def: "", usage: "the issuer's JWKS URL, whose keys verify the tokens"},
	{flag: "oidc-audience", env: "OIDC_AUDIENCE", def: "", usage: "the aud claim tokens must carry; empty: any"},
	{flag: "oidc-permissions", env: "OIDC_PERMISSIONS", def: "read+write", usage: "what holders of a valid OIDC access token may do"},
	{flag: "max-upload", env: "MAX_UPLOAD", def: "4294967296", usage: "largest create or update in bytes, elements included"},
	{flag: "log-level", env: "LOG_LEVEL", def: "info", usage: "debug, info, warn or error"},
	{flag: "log-format", env: "LOG_FORMAT", def: "auto", usage: "auto, text or json"},
	{flag: "log-buffer", env: "LOG_BUFFER", def: "65536", usage: "bytes of log records held in memory and written together (0: each record at once); everything is written at shutdown"},
	{flag: "log-flush-interval", env: "LOG_FLUSH_INTERVAL", def: "200ms", usage: "longest time a log record waits in the log buffer"},
	{flag: "grpc-tls-cert", env: "GRPC_TLS_CERT", def: "", usage: "certificate (PEM) the gateway presents to retrieve-svc and invoke-svc; with key and CA set, internal gRPC uses mutual TLS"},
	{flag: "grpc-tls-key", env: "GRPC_TLS_KEY", def: "", usage: "key (PEM) of grpc-tls-cert"},
	{flag: "grpc-tls-ca", env: "GRPC_TLS_CA", def: "", usage: "CA (PEM) that the services' certificates must chain to"},
	{flag: "admin-addr", env: "ADMIN_ADDR", def: "127.0.0.1:9567", usage: "admin HTTP address (host:port) serving /metrics, /healthz and /readyz; empty disables"},
}

// section is the gateway's section in config.yaml.
const section = "gateway"

// Settings is the gateway's table of settings.
var Settings = func() *settings.Table {
	t := &settings.Table{Program: "doip-gateway", Section: section}
	for _, s := range table {
		f := s.flag
		if s.secret {
			f = "" // no flag; the key in the file stays the same
		}
		t.Settings = append(t.Settings, settings.Setting{Flag: f, Env: s.env, Default: s.def, Usage: s.usage, List: s.list, Secret: s.secret})
	}
	return t
}()

// Usage describes every setting: flag, variable, key in the file, default and meaning.
func Usage() string { return Settings.Usage() }

// Load parses args (without the program name) over the configuration file and the
// environment read through getenv: each setting comes from its flag, else its environment
// variable, else the gateway section of config.yaml (see [settings.Table.Load]), else its default.
// For -h or --help it returns a [*settings.HelpError] carrying the usage.
func Load(args []string, getenv func(string) string) (Config, error) {
	vals, err := Settings.Load(args, getenv)
	if err != nil {
		return Config{}, err
	}
	get := func(name string) string { return strings.TrimSpace(vals.Text(name)) }
	bad := vals.Bad
	dur := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d <= 0 {
			bad(name, "want a positive duration such as 30s or 5m")
		}
		return d
	}
	boolean := func(name string) bool {
		b, err := strconv.ParseBool(get(name))
		if err != nil {
			bad(name, "want true or false")
		}
		return b
	}
	integer := func(name string, lo, hi int64) int64 {
		n, err := strconv.ParseInt(get(name), 10, 64)
		if err != nil || n < lo || n > hi {
			bad(name, "want a whole number from %d to %d", lo, hi)
		}
		return n
	}
	c := Config{
		Host:             get("host"),
		Port:             int(integer("port", 0, 65534)),
		RetrieveAddr:     get("retrieve-addr"),
		ServiceID:        get("service-id"),
		AdvertiseHost:    get("advertise-host"),
		TLSMode:          strings.ToLower(get("tls-mode")),
		TLSCert:          get("tls-cert"),
		TLSKey:           get("tls-key"),
		HandshakeTimeout: dur("handshake-timeout"),
		ReadTimeout:      dur("read-timeout"),
		IdleTimeout:      dur("idle-timeout"),
		WriteTimeout:     dur("write-timeout"),
		CallTimeout:      dur("call-timeout"),
		InvokeTimeout:    dur("invoke-timeout"),
		DrainTimeout:     dur("drain-timeout"),
		MaxPayload:       integer("max-payload", 1024, 1<<32-1),
		MaxSegment:       integer("max-segment", 1024, 64<<20),
		MaxConns:         int(integer("max-conns", 1, 1<<20)),
		MaxConnsPerIP:    int(integer("max-conns-per-ip", 0, 1<<20)),
		DirectReads:      boolean("direct-reads"),
		MaxBackendCalls:  int(integer("max-backend-calls", 1, 1<<20)),
		GRPCTLSCert:      get("grpc-tls-cert"),
		GRPCTLSKey:       get("grpc-tls-key"),
		GRPCTLSCA:        get("grpc-tls-ca"),
		AdminAddr:        get("admin-addr"),
		LogBuffer:        int(integer("log-buffer", 0, 64<<20)),
		LogFlushInterval: dur("log-flush-interval"),
	}
	c.DNSMinResolutionInterval = dur("dns-min-resolution-interval")
	switch hp := strings.ToLower(get("http-port")); hp {
	case "auto", "":
		c.HTTPPort = c.Port + 2
		if c.Port == 0 {
			c.HTTPPort = 0
		}
	case "off":
		c.HTTPPort = -1
	default:
		c.HTTPPort = int(integer("http-port", 0, 65535))
	}
	c.MaxUpload = integer("max-upload", 1024, 1<<40)
	c.Anonymous = get("anonymous")
	c.OIDCIssuer, c.OIDCJWKSURL, c.OIDCAudience, c.OIDCPermissions = get("oidc-issuer"), get("oidc-jwks-url"), get("oidc-audience"), get("oidc-permissions")
	if (c.OIDCIssuer == "") != (c.OIDCJWKSURL == "") {
		bad("oidc-jwks-url", "set oidc-issuer and oidc-jwks-url together")
	}
	for _, list := range []struct {
		name string
		dst  *[]string
	}{{"users", &c.Users}, {"access-tokens", &c.AccessTokens}} {
		for _, e := range strings.Split(get(list.name), ",") {
			if e = strings.TrimSpace(e); e != "" {
				*list.dst = append(*list.dst, e)
			}
		}
	}
	for _, tok := range strings.Split(get("auth-tokens"), ",") {
		if tok = strings.TrimSpace(tok); tok != "" {
			c.AuthTokens = append(c.AuthTokens, tok)
		}
	}
	for _, a := range strings.Split(get("invoke-addr"), ",") {
		if a = strings.TrimSpace(a); a != "" {
			c.InvokeAddrs = append(c.InvokeAddrs, a)
		}
	}
	if c.RetrieveAddr == "" {
		bad("retrieve-addr", "must not be empty")
	}
	if c.ServiceID == "" {
		bad("service-id", "must not be empty")
	}
	switch c.TLSMode {
	case "auto", "required", "optional", "off":
	default:
		bad("tls-mode", "want auto, required, optional or off")
	}
	if c.AdminAddr != "" && !validHostPort(c.AdminAddr) {
		bad("admin-addr", "want host:port with a port from 0 to 65535, or empty to disable")
	}
	vals.Apply("log-level", func(v string) (err error) { c.LogLevel, err = slogapp.ParseLevel(v); return err })
	vals.Apply("log-format", func(v string) (err error) { c.LogFormat, err = slogapp.ParseFormat(v); return err })
	return c, vals.Err()
}
