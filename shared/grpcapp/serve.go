package grpcapp

import (
	"context"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/admin"
)

// ServeOptions says how [Server.Serve] runs and stops a process.
type ServeOptions struct {
	// DrainTimeout is how long calls in flight may go on after the drain began, before they
	// are cancelled by a hard stop.
	DrainTimeout time.Duration
	// AdminAddr is the admin server's address (host:port; port 0 picks one); "" runs none.
	AdminAddr string
	// AdminHandler serves the admin address, normally [admin.NewHandler] with a readiness
	// built on [Server.Ready].
	AdminHandler http.Handler
	// Ready, when not nil, is called with the listening addresses once both ports are open
	// and the gRPC server is about to accept: the gRPC one, and the admin one (nil when
	// AdminAddr is ""). Tests listen on port 0 and learn the ports here. When it is nil,
	// the function of [WithReady] in Serve's context is called instead, if there is one.
	Ready ReadyFunc
}

// ReadyFunc learns the listening addresses of a process: the gRPC one, and the admin one
// (nil when there is no admin server).
type ReadyFunc func(grpcAddr, adminAddr net.Addr)

type readyKey struct{}

// WithReady returns ctx carrying ready, for [Server.Serve] to call as it calls
// [ServeOptions.Ready]: the way a test that runs a whole service through its run function,
// on port 0, learns the ports.
func WithReady(ctx context.Context, ready ReadyFunc) context.Context {
	return context.WithValue(ctx, readyKey{}, ready)
}

// Serve runs the process's two servers together: gRPC on lis and, when o.AdminAddr is set,
// the admin HTTP server. It fails at once, closing lis, when the admin address cannot be
// bound. When ctx is done it stops them in this order, so that a process leaves rotation
// before it stops answering:
//
//  1. health turns NOT_SERVING, and with it [Server.Ready], so the admin server's /readyz
//     answers 503 while the drain lasts;
//  2. calls in flight may finish for up to o.DrainTimeout (GracefulStop), then whatever
//     still runs is cancelled (Stop);
//  3. "stopped" is logged, and the admin server shuts down, last, within
//     [admin.ShutdownTimeout] ([admin.Serve]).
//
// It returns the error that stopped gRPC serving, or nil after a drain.
func (s *Server) Serve(ctx context.Context, lis net.Listener, o ServeOptions, logger *slog.Logger) error {
	err := admin.Serve(ctx, o.AdminAddr, o.AdminHandler, logger, func(adminAddr net.Addr) error {
		ready := o.Ready
		if ready == nil {
			ready, _ = ctx.Value(readyKey{}).(ReadyFunc)
		}
		if ready != nil {
			ready(lis.Addr(), adminAddr)
		}
		if err := s.Run(ctx, lis, o.DrainTimeout, logger); err != nil {
			return err
		}
		logger.Info("stopped") // then admin.Serve shuts the admin server down
		return nil
	})
	if err != nil {
		_ = lis.Close() // the admin address could not be bound, or serving failed and closed it
	}
	return err
}
