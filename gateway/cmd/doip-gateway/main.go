// Command doip-gateway is the DOIP edge of the FDO system: it terminates TLS, speaks the
// binary envelope on --port (3567), JSON segments on port+1, and DOIP over HTTPS with a web
// page per object on port+2 (--http-port), and turns each request into
// gRPC calls to retrieve-svc and invoke-svc. An admin HTTP server on --admin-addr
// (127.0.0.1:9567) serves /metrics, /healthz and /readyz.
package main

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/config"
	"github.com/fdo-doip/doip-gateway/gateway/internal/dispatch"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doiptext"
	"github.com/fdo-doip/doip-gateway/gateway/internal/envelope"
	"github.com/fdo-doip/doip-gateway/gateway/internal/gateway"
	"github.com/fdo-doip/doip-gateway/gateway/internal/httpapi"
	"github.com/fdo-doip/doip-gateway/gateway/internal/segment"
	"github.com/fdo-doip/doip-gateway/gateway/internal/tlsconf"
	"github.com/fdo-doip/doip-gateway/shared/admin"
	"github.com/fdo-doip/doip-gateway/shared/backend"
	invokev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/invoke/v1"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	searchv1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/search/v1"
	"github.com/fdo-doip/doip-gateway/shared/metrics"
	"github.com/fdo-doip/doip-gateway/shared/mtls"
	"github.com/fdo-doip/doip-gateway/shared/settings"
	"github.com/fdo-doip/doip-gateway/shared/slogapp"
	"golang.org/x/net/netutil"
	"google.golang.org/grpc"
	"google.golang.org/grpc/resolver/dns"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	settings.Main("doip-gateway", run)
}

// The flow-control windows of the second connection to retrieve-svc, on which component
// streams start (dispatch.Dispatcher.RetrieveSmall). A stream there holds at most
// SmallStreamWindow bytes in the gateway, plus the chunk being written (retrieve-svc's
// chunks are just under 64 KiB), so a slow reader pins under 512 KiB here, its connection's
// buffers included. A client that proves fast moves to the first connection, whose windows
// of 2 MiB (shared/grpcapp) keep a stream moving on a busy machine.
const (
	SmallStreamWindow = 128 << 10
	SmallConnWindow   = 8 << 20
)

// readyCacheTTL is how long the retrieve-svc health answer behind /readyz is reused.
const readyCacheTTL = 3 * time.Second

// run runs the gateway until ctx is done, then drains its listeners and stops the admin
// server last. It returns nil after a clean shutdown; for -h, a [*settings.HelpError]
// carrying the usage.
func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := config.Load(args, getenv)
	if err != nil { // a *settings.HelpError for -h: main prints the usage
		return err
	}
	if cfg.LogBuffer > 0 {
		// One write per batch of records rather than per request; all is written on return.
		bw := slogapp.NewBufferedWriter(stderr, cfg.LogBuffer, cfg.LogFlushInterval)
		defer bw.Close()
		stderr = bw
	}
	logger := slogapp.New(stderr, cfg.LogLevel, cfg.LogFormat, "gateway")

	tlsCfg, mode, selfSigned, err := tlsconf.Setup(cfg.TLSMode, cfg.TLSCert, cfg.TLSKey, cfg.ServiceID)
	if err != nil {
		return err
	}

	reg := metrics.NewRegistry()
	b, err := dialBackends(cfg, backend.WithDialOptions(metrics.NewGRPCClient(reg).DialOptions()...))
	if err != nil {
		return err
	}
	defer b.close()
	d := newDispatcher(cfg, b, tlsCfg, logger)
	if d.Access, err = newAccessPolicy(ctx, cfg); err != nil {
		return err
	}

	envL, segL, err := listen(cfg)
	if err != nil {
		return err
	}
	gm := gateway.NewMetrics(reg)
	servers := newServers(cfg, d, tlsCfg, mode, segL.Addr().(*net.TCPAddr).Port, gm, logger)
	listeners := []net.Listener{envL, segL}

	err = admin.Serve(ctx, cfg.AdminAddr, admin.NewHandler(reg, readiness(servers, b), logger), logger, func(net.Addr) error {
		for i, srv := range servers {
			logger.Info("listening", slog.String("listener", srv.Name), slog.String("addr", listeners[i].Addr().String()),
				slog.String("tls", string(mode)), slog.Bool("self_signed", selfSigned))
		}
		// After the DOIP ports' lines, which is what their watchers wait for.
		if cfg.HTTPPort >= 0 {
			stopHTTP, err := startHTTP(ctx, cfg, d, tlsCfg, gm, logger)
			if err != nil {
				return err
			}
			defer stopHTTP()
		}
		return serve(ctx, servers, listeners, cfg.DrainTimeout, func() {
			logger.Info("gateway started", slog.String("version", version), slog.Any("config", cfg))
		}, logger)
	})
	if err != nil {
		for _, l := range listeners {
			_ = l.Close() // the admin address could not be bound, or serving failed and closed it
		}
	}
	return err
}

// backends are the gRPC connections to the services behind the gateway: retrieve-svc twice
// (the second with the small windows of component streams that start there), and invoke-svc
// when it is configured (invoke is nil otherwise).
type backends struct {
	retrieve, small, invoke *grpc.ClientConn
}

// close closes the connections, in the reverse order of dialling.
func (b *backends) close() {
	if b.invoke != nil {
		_ = b.invoke.Close()
	}
	_ = b.small.Close()
	_ = b.retrieve.Close()
}

// dialBackends dials retrieve-svc and invoke-svc, with grpcMetrics and, when configured,
// mutual TLS. It closes what it dialled when a later dial fails.
func dialBackends(cfg config.Config, grpcMetrics backend.Option) (*backends, error) {
	retrieveService := retrievev1.RetrieveService_ServiceDesc.ServiceName
	internalTLS, err := mtls.Load(mtls.Files{Cert: cfg.GRPCTLSCert, Key: cfg.GRPCTLSKey, CA: cfg.GRPCTLSCA})
	if err != nil {
		return nil, err
	}
	dialTLS := backend.WithDialOptions()
	if internalTLS != nil {
		dialTLS = backend.WithDialOptions(internalTLS.DialOption())
	}
	// Before any dial: how soon a dns:/// target is resolved again after a connection ends
	// (gRPC's default is 30 s), so that added workers get runs within seconds.
	dns.SetMinResolutionInterval(cfg.DNSMinResolutionInterval)
	retrieveConn, err := backend.Dial(cfg.RetrieveAddr, backend.RetryOnUnavailable(retrieveService), grpcMetrics, dialTLS)
	if err != nil {
		return nil, fmt.Errorf("retrieve-svc at %s: %w", cfg.RetrieveAddr, err)
	}
	smallConn, err := backend.Dial(cfg.RetrieveAddr, backend.RetryOnUnavailable(retrieveService), grpcMetrics, dialTLS,
		backend.WithDialOptions(grpc.WithInitialWindowSize(SmallStreamWindow), grpc.WithInitialConnWindowSize(SmallConnWindow)))
	if err != nil {
		_ = retrieveConn.Close()
		return nil, fmt.Errorf("retrieve-svc at %s: %w", cfg.RetrieveAddr, err)
	}
	b := &backends{retrieve: retrieveConn, small: smallConn}
	if len(cfg.InvokeAddrs) > 0 {
		invokeConn, err := backend.Dial(backend.Target(cfg.InvokeAddrs), grpcMetrics, dialTLS)
		if err != nil {
			b.close()
			return nil, fmt.Errorf("invoke-svc at %v: %w", cfg.InvokeAddrs, err)
		}
		b.invoke = invokeConn
	}
	return b, nil
}

// newDispatcher is the gateway's one Handler, calling the backends in b.
func newDispatcher(cfg config.Config, b *backends, tlsCfg *tls.Config, logger *slog.Logger) *dispatch.Dispatcher {
	d := &dispatch.Dispatcher{
		Retrieve:        retrievev1.NewRetrieveServiceClient(b.retrieve),
		RetrieveSmall:   retrievev1.NewRetrieveServiceClient(b.small),
		Search:          searchv1.NewSearchServiceClient(b.retrieve), // served by retrieve-svc, beside its storage
		ServiceID:       cfg.ServiceID,
		Server:          "doip-gateway",
		Version:         version,
		CallTimeout:     cfg.CallTimeout,
		InvokeTimeout:   cfg.InvokeTimeout,
		Tokens:          dispatch.NewTokens(cfg.AuthTokens...),
		DirectReads:     cfg.DirectReads,
		MaxBackendCalls: cfg.MaxBackendCalls,
		Direct:          dispatch.NewDirectClient(cfg.CallTimeout),
		Logger:          logger,
	}
	if tlsCfg != nil {
		d.PublicKey = tlsconf.PublicJWK(tlsCfg.Certificates[0])
	}
	if b.invoke != nil {
		d.Invoke = invokev1.NewInvokeServiceClient(b.invoke)
	}
	return d
}

// listen opens both DOIP ports, the binary envelope's and port+1 for JSON segments, before
// anything is served: the standard framing advertises the real port in hello.
func listen(cfg config.Config) (envL, segL net.Listener, err error) {
	envL, err = net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.Port)))
	if err != nil {
		return nil, nil, fmt.Errorf("listen for the binary envelope on port %d: %w", cfg.Port, err)
	}
	segPort := cfg.Port + 1
	if cfg.Port == 0 {
		segPort = 0
	}
	segL, err = net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(segPort)))
	if err != nil {
		_ = envL.Close()
		return nil, nil, fmt.Errorf("listen for JSON segments on port %d: %w", segPort, err)
	}
	return envL, segL, nil
}

// newServers makes the two DOIP servers, both answering with h: the binary envelope's, and
// the JSON segments' of port+1, whose standard framing advertises segPort in hello.
func newServers(cfg config.Config, h doip.Handler, tlsCfg *tls.Config, mode tlsconf.Mode, segPort int, m *gateway.Metrics, logger *slog.Logger) []*gateway.Server {
	lim := doip.Limits{MaxPayload: uint32(cfg.MaxPayload), MaxSegment: uint32(cfg.MaxSegment), MaxUpload: uint64(cfg.MaxUpload)}
	newServer := func(name string, codec gateway.CodecFactory) *gateway.Server {
		return &gateway.Server{
			Name: name, Handler: h, NewCodec: codec, TLSConfig: tlsCfg, TLSMode: mode,
			HandshakeTimeout: cfg.HandshakeTimeout, ReadTimeout: cfg.ReadTimeout,
			IdleTimeout: cfg.IdleTimeout, WriteTimeout: cfg.WriteTimeout,
			Limits: lim, MaxConns: cfg.MaxConns, MaxConnsPerIP: cfg.MaxConnsPerIP, Logger: logger, Metrics: m,
		}
	}
	advertise := doiptext.Options{
		Limits:        lim,
		AdvertiseIP:   advertiseHost(cfg.AdvertiseHost, cfg.Host),
		AdvertisePort: segPort,
		ServiceID:     cfg.ServiceID,
	}
	return []*gateway.Server{newServer("envelope", envelopeCodec), newServer("segments", segmentsCodec(advertise))}
}

// The HTTP listener's bounds on what a client may send before its request is read.
const (
	httpMaxHeaderBytes = 64 << 10
)

// startHTTP serves DOIP over HTTP and the web pages on cfg.HTTPPort with d, over TLS with
// tlsCfg unless it is nil. When ctx ends it drains, beside the DOIP listeners: Shutdown
// within the drain timeout, then Close. The returned function drains it now if ctx has not
// ended, and waits for the drain.
func startHTTP(ctx context.Context, cfg config.Config, d doip.Handler, tlsCfg *tls.Config, m *gateway.Metrics, logger *slog.Logger) (stop func(), err error) {
	l, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(cfg.HTTPPort)))
	if err != nil {
		return nil, fmt.Errorf("listen for HTTP on port %d: %w", cfg.HTTPPort, err)
	}
	// At most max-conns open connections, as on each DOIP port: further ones wait to be
	// accepted.
	l = netutil.LimitListener(l, cfg.MaxConns)
	api := httpapi.New(httpapi.Options{
		Handler: d, ServiceID: cfg.ServiceID,
		Limits:      doip.Limits{MaxPayload: uint32(cfg.MaxPayload), MaxSegment: uint32(cfg.MaxSegment), MaxUpload: uint64(cfg.MaxUpload)},
		ReadTimeout: cfg.ReadTimeout, WriteTimeout: cfg.WriteTimeout, Metrics: m, Listener: "http", Logger: logger,
	})
	srv := &http.Server{
		Handler: api,
		// No ReadTimeout: its deadline would cut a long download; the API bounds each body
		// read with cfg.ReadTimeout itself.
		ReadHeaderTimeout: cfg.HandshakeTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    httpMaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelInfo),
	}
	scheme := "http"
	if tlsCfg != nil {
		srv.TLSConfig = tlsCfg.Clone()
		scheme = "https"
	}
	logger.Info("listening", slog.String("listener", "http"), slog.String("addr", l.Addr().String()), slog.String("scheme", scheme))
	done := make(chan struct{})
	go func() {
		defer close(done)
		var err error
		if tlsCfg != nil {
			err = srv.ServeTLS(l, "", "")
		} else {
			err = srv.Serve(l)
		}
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error("http listener failed", slog.Any("err", err))
		}
	}()
	var once sync.Once
	drain := func() {
		once.Do(func() {
			sctx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
			defer cancel()
			if err := srv.Shutdown(sctx); err != nil {
				logger.Warn("http drain timed out, closing connections", slog.Any("err", err))
				_ = srv.Close()
			}
		})
	}
	stopWatch := context.AfterFunc(ctx, drain)
	return func() {
		stopWatch()
		drain()
		<-done
	}, nil
}

// readiness is the gateway's /readyz: ready while every DOIP server is serving and
// retrieve-svc answers its health check.
func readiness(servers []*gateway.Server, b *backends) admin.ReadyFunc {
	probe := backend.NewHealthProbe(b.retrieve, retrievev1.RetrieveService_ServiceDesc.ServiceName, readyCacheTTL)
	return func(ctx context.Context) error {
		for _, s := range servers {
			if !s.Serving() {
				return fmt.Errorf("listener %s is not serving", s.Name)
			}
		}
		return probe.Check(ctx)
	}
}

// serve runs each server on its listener (servers[i] on listeners[i]) and calls started once
// all run. It returns the first server's failure, closing all; or, when ctx ends, drains
// them: Shutdown within drainTimeout, then Close for those still busy.
func serve(ctx context.Context, servers []*gateway.Server, listeners []net.Listener, drainTimeout time.Duration, started func(), logger *slog.Logger) error {
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		l := listeners[i]
		go func() { errc <- srv.Serve(l) }()
	}
	started()

	select {
	case err := <-errc:
		for _, s := range servers {
			_ = s.Close()
		}
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", slog.Duration("drain_timeout", drainTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), drainTimeout)
	defer cancel()
	for _, s := range servers {
		if err := s.Shutdown(sctx); err != nil {
			logger.Warn("drain timed out, closing connections", slog.String("listener", s.Name), slog.Any("err", err))
			_ = s.Close()
		}
	}
	for range servers {
		if err := <-errc; err != nil && !errors.Is(err, gateway.ErrServerClosed) {
			return err
		}
	}
	logger.Info("stopped")
	return nil
}

// segmentsCodec chooses the framing of a connection to port+1 by its first byte: "{"
// starts a standard DOIP v2.0 text message, anything else a length prefix.
func segmentsCodec(opts doiptext.Options) gateway.CodecFactory {
	return func(r *bufio.Reader, w *bufio.Writer, lim doip.Limits) (doip.ServerCodec, error) {
		b, err := r.Peek(1)
		if err != nil {
			return nil, err
		}
		if b[0] == '{' {
			return doiptext.NewServerCodec(r, w, opts), nil
		}
		return segment.NewServerCodec(r, w, segment.Options{Limits: lim}), nil
	}
}

// advertiseHost is the address hello announces: the configured one, else the listening
// host, else loopback.
func advertiseHost(advertise, host string) string {
	switch {
	case advertise != "":
		return advertise
	case host != "" && host != "0.0.0.0" && host != "::":
		return host
	default:
		return "127.0.0.1"
	}
}

func envelopeCodec(r *bufio.Reader, w *bufio.Writer, lim doip.Limits) (doip.ServerCodec, error) {
	return envelope.NewServerCodec(r, w, envelope.Options{Limits: lim}), nil
}
