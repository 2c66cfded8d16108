// Package grpcapp builds the gRPC servers of the internal services the same way: health
// (grpc.health.v1.Health) and server reflection registered, so `grpcurl -plaintext HOST:PORT
// list`, `describe` and health checks work against every one; the request id of each call
// (metadata x-request-id, see shared/requestid) put into its context; readiness for the admin
// server; and one way to run a process's gRPC and admin servers together and drain them in
// order ([Server.Serve]).
package grpcapp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/health"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/reflection"

	"github.com/fdo-doip/doip-gateway/shared/requestid"
)

// MaxMessageSize bounds one gRPC message in either direction. Component streams send chunks
// of at most 256 KiB, far below it.
const MaxMessageSize = 4 << 20

// Transport sizes, the same on servers and clients: buffers that take a whole 256 KiB chunk
// per system call, and flow-control windows large enough that a stream is never stalled
// waiting for a window update on loopback or a LAN, yet small enough that a slow reader
// holds back the sender after a few MiB rather than letting it buffer an object.
const (
	BufferSize       = 256 << 10
	StreamWindowSize = 2 << 20
	ConnWindowSize   = 8 << 20
)

// Server is a gRPC server with its health service.
type Server struct {
	GRPC   *grpc.Server
	Health *health.Server
}

// NewServer returns a server with health and reflection registered and the request-id
// interceptors installed (outermost, so interceptors given in opts, such as metrics, see the
// id too). Register the services, then call [Server.SetServing] for each name, then Serve.
func NewServer(opts ...grpc.ServerOption) *Server {
	opts = append([]grpc.ServerOption{
		grpc.ChainUnaryInterceptor(UnaryRequestID),
		grpc.ChainStreamInterceptor(StreamRequestID),
		grpc.MaxRecvMsgSize(MaxMessageSize),
		grpc.MaxSendMsgSize(MaxMessageSize),
		grpc.ReadBufferSize(BufferSize),
		grpc.WriteBufferSize(BufferSize),
		grpc.SharedWriteBuffer(true),
		grpc.InitialWindowSize(StreamWindowSize),
		grpc.InitialConnWindowSize(ConnWindowSize),
	}, opts...)
	s := &Server{GRPC: grpc.NewServer(opts...), Health: health.NewServer()}
	healthpb.RegisterHealthServer(s.GRPC, s.Health)
	reflection.Register(s.GRPC)
	return s
}

// SetServing marks the named services, and the server as a whole (""), SERVING.
func (s *Server) SetServing(services ...string) {
	s.Health.SetServingStatus("", healthpb.HealthCheckResponse_SERVING)
	for _, name := range services {
		s.Health.SetServingStatus(name, healthpb.HealthCheckResponse_SERVING)
	}
}

// Ready reports nil while the server's overall health status is SERVING, and an error naming
// the status otherwise: after [Server.Drain] has begun it is NOT_SERVING, so a readiness probe
// takes the process out of rotation while in-flight calls finish.
func (s *Server) Ready(ctx context.Context) error {
	resp, err := s.Health.Check(ctx, &healthpb.HealthCheckRequest{})
	if err != nil {
		return fmt.Errorf("grpcapp: health check: %w", err)
	}
	if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
		return fmt.Errorf("grpcapp: health status %s (draining)", st)
	}
	return nil
}

// requestIDContext returns ctx carrying the request id of the incoming call: the
// x-request-id metadata when it is a valid id, else a fresh one, so that every call's log
// lines can be told apart.
func requestIDContext(ctx context.Context) context.Context {
	for _, id := range metadata.ValueFromIncomingContext(ctx, requestid.MetadataKey) {
		if requestid.Valid(id) {
			return requestid.NewContext(ctx, id)
		}
	}
	return requestid.NewContext(ctx, requestid.New())
}

// UnaryRequestID puts the request id of each unary call into its context ([NewServer]
// installs it).
func UnaryRequestID(ctx context.Context, req any, _ *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
	return handler(requestIDContext(ctx), req)
}

// StreamRequestID puts the request id of each streaming call into its stream's context
// ([NewServer] installs it).
func StreamRequestID(srv any, ss grpc.ServerStream, _ *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
	return handler(srv, &serverStream{ServerStream: ss, ctx: requestIDContext(ss.Context())})
}

// serverStream is a server stream with another context.
type serverStream struct {
	grpc.ServerStream
	ctx context.Context
}

func (s *serverStream) Context() context.Context { return s.ctx }

// Drain stops the server in order: health turns NOT_SERVING (so balancers stop sending new
// work), in-flight RPCs may finish for up to timeout, and whatever is still running then is
// cancelled by a hard stop.
func (s *Server) Drain(timeout time.Duration, logger *slog.Logger) {
	s.Health.Shutdown()
	done := make(chan struct{})
	go func() {
		s.GRPC.GracefulStop()
		close(done)
	}()
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case <-done:
	case <-t.C:
		logger.Warn("graceful stop timed out, stopping hard", slog.Duration("timeout", timeout))
		s.GRPC.Stop()
		<-done
	}
}

// Run serves on lis until ctx is done, then drains with the given timeout. It returns the
// error that stopped serving, or nil after a drain.
func (s *Server) Run(ctx context.Context, lis net.Listener, drainTimeout time.Duration, logger *slog.Logger) error {
	errc := make(chan error, 1)
	go func() { errc <- s.GRPC.Serve(lis) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		logger.Info("shutting down", slog.String("addr", lis.Addr().String()))
		s.Drain(drainTimeout, logger)
		<-errc
		return nil
	}
}
