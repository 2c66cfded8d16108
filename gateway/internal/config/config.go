// Package config loads the gateway's configuration: flags, each falling back to an
// environment variable, then to a default. Every problem is reported at once, naming the
// setting and where its value came from. It never exits the process.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// Config is the whole gateway configuration.
type Config struct {
	Host         string // interface to listen on; empty means all
	Port         int    // binary envelope port; the segment port is Port+1 (both random when 0)
	RetrieveAddr string
	InvokeAddrs  []string
	ServiceID    string
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

	MaxPayload int64
	MaxSegment int64
	MaxConns   int

	LogLevel  string
	LogFormat string
}

// LogValue lists the configuration for a start-up log line. Nothing in it is secret yet;
// credentials added later must be masked here.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("host", c.Host), slog.Int("port", c.Port),
		slog.String("retrieve_addr", c.RetrieveAddr), slog.String("invoke_addrs", strings.Join(c.InvokeAddrs, ",")),
		slog.String("service_id", c.ServiceID), slog.String("tls_mode", c.TLSMode),
		slog.Int64("max_payload", c.MaxPayload), slog.Int("max_conns", c.MaxConns),
	)
}

// setting is one flag with its environment variable.
type setting struct {
	flag, env, usage string
	def              string
	val              *string
}

// Load parses args (without the program name), consulting getenv for every setting not
// given as a flag. Usage text goes to usage, if not nil.
func Load(args []string, getenv func(string) string, usage io.Writer) (Config, error) {
	settings := []*setting{
		{flag: "host", env: "DOIP_HOST", def: "", usage: "interface to listen on (empty: all)"},
		{flag: "port", env: "DOIP_PORT", def: "3567", usage: "binary envelope port; port+1 serves JSON segments"},
		{flag: "retrieve-addr", env: "RETRIEVE_ADDR", def: "127.0.0.1:50051", usage: "retrieve-svc gRPC address"},
		{flag: "invoke-addr", env: "INVOKE_ADDR", def: "127.0.0.1:50052", usage: "invoke-svc gRPC address(es), comma-separated; empty disables invoke"},
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
		{flag: "log-level", env: "LOG_LEVEL", def: "info", usage: "debug, info, warn or error"},
		{flag: "log-format", env: "LOG_FORMAT", def: "auto", usage: "auto, text or json"},
	}
	fs := flag.NewFlagSet("doip-gateway", flag.ContinueOnError)
	if usage == nil {
		usage = io.Discard
	}
	fs.SetOutput(usage)
	for _, s := range settings {
		s.val = fs.String(s.flag, s.def, s.usage+" (env "+s.env+")")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("config: unexpected argument %q", fs.Arg(0))
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	source := map[string]string{}
	for _, s := range settings {
		switch {
		case given[s.flag]:
			source[s.flag] = "flag --" + s.flag
		case getenv(s.env) != "":
			*s.val = getenv(s.env)
			source[s.flag] = "environment " + s.env
		default:
			source[s.flag] = "default"
		}
	}
	get := func(name string) string {
		for _, s := range settings {
			if s.flag == name {
				return strings.TrimSpace(*s.val)
			}
		}
		panic("config: no setting " + name)
	}
	var errs []error
	bad := func(name, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s (from %s): %s", name, source[name], fmt.Sprintf(format, args...)))
	}
	dur := func(name string) time.Duration {
		d, err := time.ParseDuration(get(name))
		if err != nil || d <= 0 {
			bad(name, "%q is not a positive duration such as 30s or 5m", get(name))
		}
		return d
	}
	integer := func(name string, lo, hi int64) int64 {
		n, err := strconv.ParseInt(get(name), 10, 64)
		if err != nil || n < lo || n > hi {
			bad(name, "%q is not a whole number from %d to %d", get(name), lo, hi)
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
		LogLevel:         get("log-level"),
		LogFormat:        get("log-format"),
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
		bad("tls-mode", "%q is not one of auto, required, optional, off", c.TLSMode)
	}
	return c, errors.Join(errs...)
}
