// Package admin is the small HTTP server each process runs beside its real ports
// for operators and orchestrators only:
//
//   - GET /metrics: the process's Prometheus registry, in the text or OpenMetrics format;
//   - GET /healthz: 200 "ok" while the process runs (liveness);
//   - GET /readyz: 200 "ok" when the process is ready for traffic, else 503 with the reason
//     (readiness; a draining process is not ready). The reason in the body has every
//     address, URL and path taken out ([Redact]); the whole of it is logged.
//
// It has no authentication: bind it to loopback or an internal network.
package admin

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"regexp"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// ReadyFunc reports whether the process is ready: nil, or an error whose message says why not.
// It must return within the context's deadline.
type ReadyFunc func(ctx context.Context) error

// ReadyTimeout bounds one readiness check.
const ReadyTimeout = 3 * time.Second

// Timeouts of the admin HTTP server. Scrapes and probes are small; a client that is slower
// than this is cut off.
const (
	ReadHeaderTimeout = 5 * time.Second
	ReadTimeout       = 10 * time.Second
	WriteTimeout      = 30 * time.Second
	IdleTimeout       = 60 * time.Second
)

// NewHandler returns the admin endpoints: /metrics for reg (with the scrape's own
// promhttp_metric_handler_* metrics registered there too), /healthz, and /readyz asking
// ready, which may be nil for "always ready".
func NewHandler(reg *prometheus.Registry, ready ReadyFunc, logger *slog.Logger) http.Handler {
	mux := http.NewServeMux()
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		ErrorHandling:     promhttp.ContinueOnError,
		Registry:          reg,
		EnableOpenMetrics: true,
		Timeout:           WriteTimeout - time.Second,
	})
	mux.Handle("GET /metrics", promhttp.InstrumentMetricHandler(reg, metrics))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		text(w, http.StatusOK, "ok")
	})
	var lastWhy lastReason
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if ready != nil {
			ctx, cancel := context.WithTimeout(r.Context(), ReadyTimeout)
			defer cancel()
			if err := ready(ctx); err != nil {
				if lastWhy.changed(err.Error()) {
					logger.Warn("not ready", slog.Any("err", err))
				}
				text(w, http.StatusServiceUnavailable, "not ready: "+Redact(err.Error()))
				return
			}
		}
		lastWhy.changed("")
		text(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, _ *http.Request) {
		text(w, http.StatusOK, "/metrics /healthz /readyz")
	})
	return mux
}

// lastReason remembers the last reason for not being ready, so that frequent probes log a
// reason once, when it changes, rather than at every probe.
type lastReason struct {
	mu  sync.Mutex
	why string
}

func (l *lastReason) changed(why string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if why == l.why {
		return false
	}
	l.why = why
	return true
}

// redactions match what a readiness reason must not show to whoever can reach the admin
// port: URLs, IPv6 and IPv4 addresses, host:port pairs and absolute paths.
var redactions = []*regexp.Regexp{
	regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://\S*`),
	regexp.MustCompile(`\[[0-9A-Za-z:.%_-]+\](:\d+)?`),
	regexp.MustCompile(`(?:[0-9A-Fa-f]{1,4})?::(?:[0-9A-Fa-f]{1,4}(?::[0-9A-Fa-f]{1,4})*)?(?:%[0-9A-Za-z_.-]+)?|(?:[0-9A-Fa-f]{1,4}:){7}[0-9A-Fa-f]{1,4}`),
	regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}(:\d+)?\b`),
	regexp.MustCompile(`\b[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*:\d{1,5}\b`),
	regexp.MustCompile(`(^|[\s"'=(])/[^\s"')]+`),
}

// Redact returns s with every URL, network address and absolute path replaced by "[…]".
func Redact(s string) string {
	for i, re := range redactions {
		if i == len(redactions)-1 {
			s = re.ReplaceAllString(s, "$1[…]")
			continue
		}
		s = re.ReplaceAllString(s, "[…]")
	}
	return s
}

func text(w http.ResponseWriter, code int, body string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_, _ = io.WriteString(w, body+"\n")
}

// Server is a running admin server.
type Server struct {
	srv    *http.Server
	lis    net.Listener
	logger *slog.Logger

	done chan struct{} // closed when Serve has returned
	err  error         // Serve's error unless it is http.ErrServerClosed; set before done closes
	once sync.Once
}

// Start listens on addr (host:port; port 0 picks one) and serves h there until
// [Server.Shutdown]. It fails at once when the address cannot be bound, so a port in use
// stops start-up with a clear message.
func Start(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) (*Server, error) {
	var lc net.ListenConfig
	lis, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin: listen on %s: %w", addr, err)
	}
	s := &Server{
		srv: &http.Server{
			Handler:           h,
			ReadHeaderTimeout: ReadHeaderTimeout,
			ReadTimeout:       ReadTimeout,
			WriteTimeout:      WriteTimeout,
			IdleTimeout:       IdleTimeout,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelDebug),
			BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
		},
		lis:    lis,
		logger: logger,
		done:   make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		if err := s.srv.Serve(lis); !errors.Is(err, http.ErrServerClosed) {
			s.err = fmt.Errorf("admin: serve on %s: %w", lis.Addr(), err)
			logger.Error("admin server stopped", slog.Any("err", err))
		}
	}()
	logger.Info("admin listening", slog.String("admin_addr", lis.Addr().String()))
	return s, nil
}

// ShutdownTimeout bounds the admin server's shutdown in [Serve], after the process's own
// servers stopped.
const ShutdownTimeout = 5 * time.Second

// Serve runs a process's own servers beside the admin server, the one way every process
// does: it starts the admin server on addr serving h ("" runs none), failing at once when
// addr cannot be bound; then it calls run with the admin server's address (nil when there is
// none), and when run returns it shuts the admin server down within [ShutdownTimeout]. The
// admin server stops last, so that /readyz answers 503 while the process drains. It returns
// the error of starting the admin server, or run's.
func Serve(ctx context.Context, addr string, h http.Handler, logger *slog.Logger, run func(adminAddr net.Addr) error) error {
	if addr == "" {
		return run(nil)
	}
	adm, err := Start(ctx, addr, h, logger)
	if err != nil {
		return err
	}
	defer func() {
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		if err := adm.Shutdown(sctx); err != nil {
			logger.Warn("admin server", slog.Any("err", err))
		}
	}()
	return run(adm.Addr())
}

// Addr returns the address the server listens on.
func (s *Server) Addr() net.Addr { return s.lis.Addr() }

// Shutdown stops the server: it stops accepting, waits for the requests in flight until ctx
// ends, then closes what is left. It returns an error if serving had failed earlier.
func (s *Server) Shutdown(ctx context.Context) error {
	var err error
	s.once.Do(func() {
		if serr := s.srv.Shutdown(ctx); serr != nil {
			_ = s.srv.Close()
		}
		<-s.done
		err = s.err
	})
	return err
}
