// Command doip-gateway is the DOIP edge of the FDO system: it terminates TLS, speaks the
// binary envelope on --port (3567) and JSON segments on port+1, and turns each request into
// gRPC calls to retrieve-svc and invoke-svc.
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strconv"
	"syscall"

	"github.com/fdo-doip/doip-gateway/gateway/internal/config"
	"github.com/fdo-doip/doip-gateway/gateway/internal/dispatch"
	"github.com/fdo-doip/doip-gateway/gateway/internal/envelope"
	"github.com/fdo-doip/doip-gateway/gateway/internal/gateway"
	"github.com/fdo-doip/doip-gateway/gateway/internal/tlsconf"
	"github.com/fdo-doip/doip-gateway/shared/backend"
	invokev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/invoke/v1"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/slogapp"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "dev"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stderr); err != nil {
		if !errors.Is(err, errHelp) {
			fmt.Fprintln(os.Stderr, "doip-gateway:", err)
		}
		os.Exit(1)
	}
}

var errHelp = errors.New("help shown")

func run(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error {
	cfg, err := config.Load(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return errHelp
		}
		return err
	}
	level, err := slogapp.ParseLevel(cfg.LogLevel)
	if err != nil {
		return err
	}
	format, err := slogapp.ParseFormat(cfg.LogFormat)
	if err != nil {
		return err
	}
	logger := slogapp.New(stderr, level, format, "gateway")

	tlsCfg, mode, selfSigned, err := tlsconf.Setup(cfg.TLSMode, cfg.TLSCert, cfg.TLSKey, cfg.ServiceID)
	if err != nil {
		return err
	}

	retrieveConn, err := backend.Dial(cfg.RetrieveAddr, backend.RetryOnUnavailable("doip.retrieve.v1.RetrieveService"))
	if err != nil {
		return fmt.Errorf("retrieve-svc at %s: %w", cfg.RetrieveAddr, err)
	}
	defer retrieveConn.Close()
	d := &dispatch.Dispatcher{
		Retrieve:      retrievev1.NewRetrieveServiceClient(retrieveConn),
		ServiceID:     cfg.ServiceID,
		Server:        "doip-gateway",
		Version:       version,
		CallTimeout:   cfg.CallTimeout,
		InvokeTimeout: cfg.InvokeTimeout,
		Logger:        logger,
	}
	if tlsCfg != nil {
		d.PublicKey = tlsconf.PublicJWK(tlsCfg.Certificates[0])
	}
	if len(cfg.InvokeAddrs) > 0 {
		invokeConn, err := backend.Dial(backend.Target(cfg.InvokeAddrs))
		if err != nil {
			return fmt.Errorf("invoke-svc at %v: %w", cfg.InvokeAddrs, err)
		}
		defer invokeConn.Close()
		d.Invoke = invokev1.NewInvokeServiceClient(invokeConn)
	}

	lim := gateway.Limits{MaxPayload: uint32(cfg.MaxPayload), MaxSegment: uint32(cfg.MaxSegment)}
	newServer := func(name string, codec gateway.CodecFactory) *gateway.Server {
		return &gateway.Server{
			Name: name, Handler: d, NewCodec: codec, TLSConfig: tlsCfg, TLSMode: mode,
			HandshakeTimeout: cfg.HandshakeTimeout, ReadTimeout: cfg.ReadTimeout,
			IdleTimeout: cfg.IdleTimeout, WriteTimeout: cfg.WriteTimeout,
			Limits: lim, MaxConns: cfg.MaxConns, Logger: logger,
		}
	}
	servers := []*gateway.Server{newServer("envelope", envelopeCodec)}
	ports := []int{cfg.Port}

	errc := make(chan error, len(servers))
	for i, srv := range servers {
		port := ports[i]
		l, err := net.Listen("tcp", net.JoinHostPort(cfg.Host, strconv.Itoa(port)))
		if err != nil {
			for _, s := range servers[:i] {
				_ = s.Close()
			}
			return fmt.Errorf("listen for %s on port %d: %w", srv.Name, port, err)
		}
		logger.Info("listening", slog.String("listener", srv.Name), slog.String("addr", l.Addr().String()),
			slog.String("tls", string(mode)), slog.Bool("self_signed", selfSigned))
		go func() { errc <- srv.Serve(l) }()
	}
	logger.Info("gateway started", slog.String("version", version), slog.Any("config", cfg))

	select {
	case err := <-errc:
		for _, s := range servers {
			_ = s.Close()
		}
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down", slog.Duration("drain_timeout", cfg.DrainTimeout))
	sctx, cancel := context.WithTimeout(context.Background(), cfg.DrainTimeout)
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

func envelopeCodec(r *bufio.Reader, w *bufio.Writer, lim gateway.Limits) (gateway.ServerCodec, error) {
	return envelope.NewServerCodec(r, w, lim.MaxPayload, uint16(min(lim.MaxSegment, 1<<16-1))), nil
}
