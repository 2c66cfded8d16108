// Package config loads the configuration of invoke-svc: each setting has a
// default, a key in the invoke-svc section of config.yaml that overrides the default, an
// environment variable that overrides the file, and, for most, a flag that overrides all.
// [Load] reads everything once, checks everything, and reports every bad value at once,
// naming the flag or variable and where the value came from (a flag, a variable, or the
// file's name and line).
//
// Components get plain values from [Config], never this package.
package config

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/configfile"
	"github.com/fdo-doip/doip-gateway/shared/settings"
	"github.com/fdo-doip/doip-gateway/shared/slogapp"
)

// Config is the configuration of one invoke-svc process.
type Config struct {
	// Listen is the gRPC listen address, host:port.
	Listen string
	// RetrieveAddr is the gRPC target of retrieve-svc, through which workflows read source
	// bytes and write derived components: host:port or a gRPC target URI (dns:///host:port).
	RetrieveAddr string
	// GRPCTLSCert, GRPCTLSKey and GRPCTLSCA turn on mutual TLS for gRPC (all or none).
	GRPCTLSCert, GRPCTLSKey, GRPCTLSCA string
	// MaxConcurrent bounds the workflows that run at once; at least 1.
	MaxConcurrent int
	// LogLevel and LogFormat configure the logger (shared/slogapp).
	LogLevel  slog.Level
	LogFormat slogapp.Format
	// DrainTimeout is how long in-flight invocations may run on after shutdown begins.
	DrainTimeout time.Duration
	// AdminAddr is the host:port of the admin HTTP server (/metrics, /healthz, /readyz);
	// empty: no admin server.
	AdminAddr string
	// MaxConnectionAge ends each client connection after about this long, so that clients
	// resolve the service's name again and spread over the replicas there are now; 0: never.
	// MaxConnectionAgeGrace is how long the calls on such a connection may still run; 0: as
	// long as they take.
	MaxConnectionAge, MaxConnectionAgeGrace time.Duration
	// Ollama is the optional model backend of the workflows.
	Ollama Ollama
	// Limits bound the work of each run.
	Limits Limits
}

// Limits bound the memory, time and output of the workflow runs of one process.
type Limits struct {
	// MemoryLimit is this process's memory budget in bytes: the Go runtime's soft limit,
	// and the budget that runs are admitted by (their expected size in this process).
	MemoryLimit int64
	// Isolation is "process" (extraction runs in a child process with the Extract*
	// budgets) or "none" (in this process, bounded only by the extractor's own budgets).
	Isolation string
	// ExtractMemory, ExtractCPU and ExtractTimeout bound one child process: memory in
	// bytes, CPU time, and wall time.
	ExtractMemory  int64
	ExtractCPU     time.Duration
	ExtractTimeout time.Duration
	// MaxSource caps the bytes of a source a run reads.
	MaxSource int64
	// MaxDerived caps the bytes of one derived document.
	MaxDerived int64
	// DerivedSlots is how many stored results of a workflow one object may hold.
	DerivedSlots int
}

// Ollama configures the optional Ollama backend. Host empty means no Ollama.
type Ollama struct {
	// Host is the base URL, normalized the way Ollama reads OLLAMA_HOST: a value without a
	// scheme is http with port 11434 unless it names one ("gpu-box" → http://gpu-box:11434);
	// a value with a scheme keeps that scheme's port. Empty when not configured.
	Host string
	// Model is the model to ask, e.g. "qwen2.5:7b"; empty leaves the choice to the workflow.
	Model string
	// APIKey authenticates to a hosted Ollama; it is masked wherever it is printed.
	APIKey Secret
	// VisionModel, when set, is the model the equation workflow asks instead of Model,
	// shown each PDF display's region of the page as a PNG image beside the text (a vision
	// model, e.g. "qwen2.5vl:7b"). The pages are rendered with poppler's pdftoppm, which
	// must then be on the PATH: invoke-svc does not start without it.
	VisionModel string
}

// RefineModel is the model that the equation workflow asks: VisionModel when set, else
// Model.
func (o Ollama) RefineModel() string {
	if o.VisionModel != "" {
		return o.VisionModel
	}
	return o.Model
}

// Enabled reports whether an Ollama host is configured.
func (o Ollama) Enabled() bool { return o.Host != "" }

// LogValue logs the configuration; the API key is masked.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("listen", c.Listen),
		slog.String("retrieve_addr", c.RetrieveAddr),
		slog.Int("max_concurrent", c.MaxConcurrent),
		slog.String("log_level", c.LogLevel.String()),
		slog.String("log_format", string(c.LogFormat)),
		slog.Duration("drain_timeout", c.DrainTimeout),
		slog.String("admin_addr", c.AdminAddr),
		slog.Group("limits",
			slog.Int64("memory_limit", c.Limits.MemoryLimit),
			slog.String("isolation", c.Limits.Isolation),
			slog.Int64("extract_memory", c.Limits.ExtractMemory),
			slog.Duration("extract_cpu", c.Limits.ExtractCPU),
			slog.Duration("extract_timeout", c.Limits.ExtractTimeout),
			slog.Int64("max_source", c.Limits.MaxSource),
			slog.Int64("max_derived", c.Limits.MaxDerived),
			slog.Int("derived_slots", c.Limits.DerivedSlots),
		),
		slog.Duration("max_connection_age", c.MaxConnectionAge),
		slog.Duration("max_connection_age_grace", c.MaxConnectionAgeGrace),
		slog.Group("ollama",
			slog.String("host", c.Ollama.Host),
			slog.String("model", c.Ollama.Model),
			slog.String("vision_model", c.Ollama.VisionModel),
			slog.Any("api_key", c.Ollama.APIKey),
		),
	)
}

// Secret is a credential, masked wherever it is printed ([settings.Secret]).
type Secret = settings.Secret

// table lists every key with its default (the one place defaults live), and how its value is
// checked and stored.
var table = []settings.Field[Config]{
	{Setting: settings.Setting{Flag: "listen", Env: "INVOKE_LISTEN", Default: "127.0.0.1:50052", Usage: "gRPC listen address, host:port"},
		Set: func(c *Config, v string) (err error) { c.Listen, err = parseListen(v); return err }},
	{Setting: settings.Setting{Flag: "grpc-tls-cert", Env: "GRPC_TLS_CERT", Default: "", Usage: "certificate (PEM) this worker presents, as server and as retrieve-svc's client; with key and CA set, gRPC uses mutual TLS"},
		Set: settings.Text(func(c *Config) *string { return &c.GRPCTLSCert })},
	{Setting: settings.Setting{Flag: "grpc-tls-key", Env: "GRPC_TLS_KEY", Default: "", Usage: "key (PEM) of grpc-tls-cert"},
		Set: settings.Text(func(c *Config) *string { return &c.GRPCTLSKey })},
	{Setting: settings.Setting{Flag: "grpc-tls-ca", Env: "GRPC_TLS_CA", Default: "", Usage: "CA (PEM) that peer certificates must chain to"},
		Set: settings.Text(func(c *Config) *string { return &c.GRPCTLSCA })},
	{Setting: settings.Setting{Flag: "retrieve-addr", Env: "RETRIEVE_ADDR", Default: "127.0.0.1:50051", Usage: "retrieve-svc gRPC address, host:port or a gRPC target URI"},
		Set: func(c *Config, v string) (err error) { c.RetrieveAddr, err = parseTarget(v); return err }},
	{Setting: settings.Setting{Flag: "max-concurrent", Env: "MAX_CONCURRENT", Default: "4", Usage: "workflows that may run at once, at least 1"},
		Set: func(c *Config, v string) (err error) { c.MaxConcurrent, err = parseMaxConcurrent(v); return err }},
	{Setting: settings.Setting{Flag: "log-level", Env: "LOG_LEVEL", Default: "info", Usage: "debug, info, warn or error"},
		Set: func(c *Config, v string) (err error) { c.LogLevel, err = slogapp.ParseLevel(v); return err }},
	{Setting: settings.Setting{Flag: "log-format", Env: "LOG_FORMAT", Default: "auto", Usage: "auto (text on a terminal, else JSON), text or json"},
		Set: func(c *Config, v string) (err error) { c.LogFormat, err = slogapp.ParseFormat(v); return err }},
	{Setting: settings.Setting{Flag: "drain-timeout", Env: "DRAIN_TIMEOUT", Default: "10s", Usage: "how long in-flight invocations may finish at shutdown"},
		Set: func(c *Config, v string) (err error) { c.DrainTimeout, err = parsePositiveDuration(v); return err }},
	{Setting: settings.Setting{Flag: "admin-addr", Env: "ADMIN_ADDR", Default: "127.0.0.1:9552", Usage: "admin HTTP address, host:port, serving /metrics, /healthz and /readyz; empty disables"},
		Set: func(c *Config, v string) (err error) { c.AdminAddr, err = parseAdminAddr(v); return err }},
	{Setting: settings.Setting{Flag: "memory-limit", Env: "MEMORY_LIMIT", Default: "1GiB", Usage: "memory budget of this process (the Go runtime's soft limit; runs are admitted by their expected size within it), e.g. 1GiB"},
		Set: func(c *Config, v string) (err error) {
			c.Limits.MemoryLimit, err = parseSizeAtLeast(v, 64<<20)
			return err
		}},
	{Setting: settings.Setting{Flag: "extract-isolation", Env: "EXTRACT_ISOLATION", Default: "process", Usage: "process (each extraction in a child process with its own memory, CPU and time budget) or none"},
		Set: func(c *Config, v string) error {
			switch v = strings.TrimSpace(v); v {
			case "process", "none":
				c.Limits.Isolation = v
				return nil
			}
			return errors.New("want process or none")
		}},
	{Setting: settings.Setting{Flag: "extract-memory", Env: "EXTRACT_MEMORY", Default: "1GiB", Usage: "memory budget of one extraction's child process"},
		Set: func(c *Config, v string) (err error) {
			c.Limits.ExtractMemory, err = parseSizeAtLeast(v, 64<<20)
			return err
		}},
	{Setting: settings.Setting{Flag: "extract-cpu", Env: "EXTRACT_CPU", Default: "90s", Usage: "CPU-time budget of one extraction's child process (whole seconds)"},
		Set: func(c *Config, v string) (err error) {
			c.Limits.ExtractCPU, err = parsePositiveDuration(v)
			if err == nil && c.Limits.ExtractCPU < time.Second {
				err = errors.New("want at least 1s")
			}
			return err
		}},
	{Setting: settings.Setting{Flag: "extract-timeout", Env: "EXTRACT_TIMEOUT", Default: "2m", Usage: "wall-time budget of one extraction"},
		Set: func(c *Config, v string) (err error) {
			c.Limits.ExtractTimeout, err = parsePositiveDuration(v)
			return err
		}},
	{Setting: settings.Setting{Flag: "max-source", Env: "MAX_SOURCE", Default: "64MiB", Usage: "largest source component a run reads"},
		Set: func(c *Config, v string) (err error) { c.Limits.MaxSource, err = parseSizeAtLeast(v, 1); return err }},
	{Setting: settings.Setting{Flag: "max-derived", Env: "MAX_DERIVED", Default: "16MiB", Usage: "largest derived document a run writes"},
		Set: func(c *Config, v string) (err error) {
			c.Limits.MaxDerived, err = parseSizeAtLeast(v, 1<<10)
			return err
		}},
	{Setting: settings.Setting{Flag: "derived-slots", Env: "DERIVED_SLOTS", Default: "16", Usage: "stored results one object may hold per workflow (distinct params share them)"},
		Set: func(c *Config, v string) (err error) { c.Limits.DerivedSlots, err = parseMaxConcurrent(v); return err }},
	{Setting: settings.Setting{Flag: "max-connection-age", Env: "GRPC_MAX_CONNECTION_AGE", Default: "0s", Usage: "end each gRPC client connection after about this long, so clients re-resolve the service name and reach new replicas; 0 never"},
		Set: func(c *Config, v string) (err error) {
			c.MaxConnectionAge, err = parseNonNegativeDuration(v)
			return err
		}},
	{Setting: settings.Setting{Flag: "max-connection-age-grace", Env: "GRPC_MAX_CONNECTION_AGE_GRACE", Default: "0s", Usage: "how long the runs on a connection ended by max-connection-age may still take; 0 as long as they take"},
		Set: func(c *Config, v string) (err error) {
			c.MaxConnectionAgeGrace, err = parseNonNegativeDuration(v)
			return err
		}},
	{Setting: settings.Setting{Env: "OLLAMA_HOST", Usage: "Ollama base URL, e.g. http://127.0.0.1:11434; empty for none"},
		Set: func(c *Config, v string) (err error) { c.Ollama.Host, err = parseOllamaHost(v); return err }},
	{Setting: settings.Setting{Env: "OLLAMA_MODEL", Usage: "Ollama model the workflows ask"},
		Set: func(c *Config, v string) error { c.Ollama.Model = strings.TrimSpace(v); return nil }},
	{Setting: settings.Setting{Env: "OLLAMA_VISION_MODEL", Usage: "Ollama vision model that the equation workflow asks instead of OLLAMA_MODEL, shown each PDF display's region as a PNG; needs pdftoppm (poppler-utils) on the PATH; empty: text only"},
		Set: func(c *Config, v string) error { c.Ollama.VisionModel = strings.TrimSpace(v); return nil }},
	{Setting: settings.Setting{Env: "OLLAMA_API_KEY", Usage: "Ollama API key (a secret; never printed)", Secret: true},
		Set: func(c *Config, v string) error { c.Ollama.APIKey = Secret(strings.TrimSpace(v)); return nil }},
}

// ErrHelp is matched by the error of [Load] for -h or --help (a [*settings.HelpError]).
var ErrHelp = settings.ErrHelp

// section is invoke-svc's section in config.yaml.
const section = "invoke-svc"

// fields are invoke-svc's settings with their checks.
var fields = settings.NewFields("invoke-svc", section, table)

// Settings is invoke-svc's table of settings.
var Settings = fields.Table

// Load reads the configuration from args (the command line without the program name),
// getenv, and the configuration file, as [settings.Table.Load] does. Every problem is
// reported in one error (errors.Join), each naming the flag or variable, the value and where
// it came from. Load never exits the process; on -h it returns a [*settings.HelpError].
func Load(args []string, getenv func(string) string) (Config, error) {
	return fields.Load(args, getenv, check)
}

// check looks at the settings that go together: a vision model asks the Ollama host.
func check(c *Config, vals *settings.Values) {
	if c.Ollama.VisionModel != "" && c.Ollama.Host == "" {
		vals.Bad("ollama-vision-model", "needs OLLAMA_HOST, the Ollama server to ask")
	}
}

// Usage describes every key: flag, variable, default and meaning.
func Usage() string { return Settings.Usage() }

func parseListen(v string) (string, error) {
	if err := checkHostPort(v, false); err != nil {
		return "", err
	}
	return v, nil
}

// parseTarget accepts host:port (host required) or a gRPC target URI such as dns:///host:port.
func parseTarget(v string) (string, error) {
	if strings.Contains(v, "://") {
		u, err := url.Parse(v)
		if err != nil {
			return "", fmt.Errorf("not a gRPC target URI: %w", err)
		}
		if u.Scheme == "" {
			return "", errors.New("not a gRPC target URI: no scheme")
		}
		return v, nil
	}
	if err := checkHostPort(v, true); err != nil {
		return "", err
	}
	return v, nil
}

// checkHostPort checks host:port with a numeric port in 0..65535.
func checkHostPort(v string, needHost bool) error {
	host, p, err := net.SplitHostPort(v)
	if err != nil {
		return errors.New("want host:port")
	}
	if needHost && host == "" {
		return errors.New("want host:port, the host is empty")
	}
	if port, err := strconv.Atoi(p); err != nil || port < 0 || port > 65535 {
		return fmt.Errorf("port %q: want a number from 0 to 65535", p)
	}
	return nil
}

// parseAdminAddr accepts host:port (the host may be empty) or "" for no admin server.
func parseAdminAddr(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	if err := checkHostPort(v, false); err != nil {
		return "", fmt.Errorf("%w, or empty to disable", err)
	}
	return v, nil
}

func parseMaxConcurrent(v string) (int, error) {
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, errors.New("want a whole number")
	}
	if n < 1 {
		return 0, errors.New("want at least 1")
	}
	return n, nil
}

// parseDuration reads a Go duration; the callers bound it.
func parseDuration(v string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(v))
	if err != nil {
		return 0, errors.New("want a duration such as 10s or 1m30s")
	}
	return d, nil
}

func parseNonNegativeDuration(v string) (time.Duration, error) {
	d, err := parseDuration(v)
	if err == nil && d < 0 {
		return 0, errors.New("want a duration of zero or more")
	}
	return d, err
}

func parsePositiveDuration(v string) (time.Duration, error) {
	d, err := parseDuration(v)
	if err == nil && d <= 0 {
		return 0, errors.New("want a duration above zero")
	}
	return d, err
}

// ollamaPort is the port Ollama listens on by default, assumed when OLLAMA_HOST has neither
// scheme nor port.
const ollamaPort = "11434"

// parseOllamaHost normalizes OLLAMA_HOST as Ollama itself reads it: "host" and "host:port"
// mean http, with port 11434 when none is given; "scheme://host[:port][/path]" is used as
// written (http or https, the scheme's own default port). Empty means no Ollama.
func parseOllamaHost(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	raw, bare := v, !strings.Contains(v, "://")
	if bare {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return "", errors.New("want a URL such as http://127.0.0.1:11434")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", fmt.Errorf("scheme %q: want http or https", u.Scheme)
	}
	if u.Hostname() == "" {
		return "", errors.New("want a URL such as http://127.0.0.1:11434, the host is empty")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" {
		return "", errors.New("want scheme://host:port[/path], without user, query or fragment")
	}
	switch port := u.Port(); {
	case port == "" && bare:
		u.Host = net.JoinHostPort(u.Hostname(), ollamaPort)
	case port == "":
	default:
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return "", fmt.Errorf("port %q: want a number from 1 to 65535", port)
		}
	}
	u.Path = strings.TrimRight(u.Path, "/")
	return u.String(), nil
}

// parseSizeAtLeast reads a size (configfile.ParseSize) of at least min bytes.
func parseSizeAtLeast(v string, min int64) (int64, error) {
	n, err := configfile.ParseSize(v)
	if err != nil {
		return 0, fmt.Errorf("%w: want a size such as 512MiB or 1GiB", err)
	}
	if n > 1<<50 || int64(n) < min {
		return 0, fmt.Errorf("want a size from %d bytes to 1 PiB", min)
	}
	return int64(n), nil
}
