package metrics

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

// The values of the grpc_type label.
const (
	typeUnary        = "unary"
	typeClientStream = "client_stream"
	typeServerStream = "server_stream"
	typeBidiStream   = "bidi_stream"
)

func streamType(clientStreams, serverStreams bool) string {
	switch {
	case clientStreams && serverStreams:
		return typeBidiStream
	case clientStreams:
		return typeClientStream
	case serverStreams:
		return typeServerStream
	default:
		return typeUnary
	}
}

// splitMethod turns "/doip.retrieve.v1.RetrieveService/GetRecord" into its service and
// method names.
func splitMethod(fullMethod string) (service, method string) {
	fullMethod = strings.TrimPrefix(fullMethod, "/")
	if i := strings.LastIndexByte(fullMethod, '/'); i >= 0 {
		return fullMethod[:i], fullMethod[i+1:]
	}
	return "unknown", fullMethod
}

// allCodes are the gRPC status codes, for initializing the handled counters.
var allCodes = []codes.Code{
	codes.OK, codes.Canceled, codes.Unknown, codes.InvalidArgument, codes.DeadlineExceeded,
	codes.NotFound, codes.AlreadyExists, codes.PermissionDenied, codes.ResourceExhausted,
	codes.FailedPrecondition, codes.Aborted, codes.OutOfRange, codes.Unimplemented,
	codes.Internal, codes.Unavailable, codes.DataLoss, codes.Unauthenticated,
}

// rpcMetrics are the three families of one side, server or client.
type rpcMetrics struct {
	started  *prometheus.CounterVec
	handled  *prometheus.CounterVec
	handling *prometheus.HistogramVec
	series   *seriesCache
}

// seriesCache keeps the series of each method, so that a call finds its counters and
// histogram in one lookup rather than by hashing its label values three times.
type seriesCache struct {
	mu sync.RWMutex
	m  map[seriesKey]*methodSeries
}

type seriesKey struct{ typ, fullMethod string }

// methodSeries are the series of one method. handled is filled by code as codes occur, so
// that a code's series appears when it is first counted, as with WithLabelValues.
type methodSeries struct {
	service, method string
	started         prometheus.Counter
	handling        prometheus.Observer
	handled         [codes.Unauthenticated + 1]atomic.Pointer[prometheus.Counter]
}

func newRPCMetrics(reg prometheus.Registerer, side, peer string) rpcMetrics {
	labels := []string{"grpc_type", "grpc_service", "grpc_method"}
	m := rpcMetrics{
		started: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_" + side + "_started_total",
			Help: "RPCs started on the " + side + ", by type, service and method.",
		}, labels),
		handled: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "grpc_" + side + "_handled_total",
			Help: "RPCs completed on the " + side + ", by type, service, method and status code, whatever the " + peer + " did.",
		}, append(labels, "grpc_code")),
		handling: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "grpc_" + side + "_handling_seconds",
			Help:    "Time from the start of an RPC on the " + side + " to its end (for streams, the last message), by type, service and method.",
			Buckets: DurationBuckets,
		}, labels),
		series: &seriesCache{m: map[seriesKey]*methodSeries{}},
	}
	reg.MustRegister(m.started, m.handled, m.handling)
	return m
}

// seriesOf returns the series of one method, made on its first call.
func (m rpcMetrics) seriesOf(typ, fullMethod string) *methodSeries {
	k := seriesKey{typ, fullMethod}
	m.series.mu.RLock()
	s := m.series.m[k]
	m.series.mu.RUnlock()
	if s != nil {
		return s
	}
	m.series.mu.Lock()
	defer m.series.mu.Unlock()
	if s = m.series.m[k]; s == nil {
		service, method := splitMethod(fullMethod)
		s = &methodSeries{service: service, method: method,
			started:  m.started.WithLabelValues(typ, service, method),
			handling: m.handling.WithLabelValues(typ, service, method)}
		m.series.m[k] = s
	}
	return s
}

// rpcCall is one RPC being measured.
type rpcCall struct {
	m     rpcMetrics
	typ   string
	s     *methodSeries
	start time.Time
}

// begin counts a started RPC; its end is recorded with [rpcCall.end].
func (m rpcMetrics) begin(typ, fullMethod string) rpcCall {
	s := m.seriesOf(typ, fullMethod)
	s.started.Inc()
	return rpcCall{m: m, typ: typ, s: s, start: time.Now()}
}

// end counts the RPC as handled with the code of err, and observes its duration.
func (c rpcCall) end(err error) {
	code := codeOf(err)
	if int(code) < len(c.s.handled) {
		p := c.s.handled[code].Load()
		if p == nil {
			ctr := c.m.handled.WithLabelValues(c.typ, c.s.service, c.s.method, code.String())
			p = &ctr
			c.s.handled[code].Store(p)
		}
		(*p).Inc()
	} else {
		c.m.handled.WithLabelValues(c.typ, c.s.service, c.s.method, code.String()).Inc()
	}
	c.s.handling.Observe(time.Since(c.start).Seconds())
}

// codeOf returns the code a peer sees for err, as gRPC itself decides it: the status an error
// carries, else Canceled or DeadlineExceeded for context errors, else Unknown.
func codeOf(err error) codes.Code {
	if s, ok := status.FromError(err); ok {
		return s.Code()
	}
	return status.FromContextError(err).Code()
}

func (m rpcMetrics) initialize(typ, fullMethod string) {
	service, method := splitMethod(fullMethod)
	m.started.WithLabelValues(typ, service, method)
	m.handling.WithLabelValues(typ, service, method)
	for _, c := range allCodes {
		m.handled.WithLabelValues(typ, service, method, c.String())
	}
}

// GRPCServer measures the RPCs a gRPC server handles. Install its interceptors with
// [GRPCServer.ServerOptions].
type GRPCServer struct {
	m rpcMetrics
}

// NewGRPCServer registers the grpc_server_* families with reg. It panics if they are already
// registered there.
func NewGRPCServer(reg prometheus.Registerer) *GRPCServer {
	return &GRPCServer{m: newRPCMetrics(reg, "server", "client")}
}

// ServerOptions returns the options that install the interceptors.
func (s *GRPCServer) ServerOptions() []grpc.ServerOption {
	return []grpc.ServerOption{
		grpc.ChainUnaryInterceptor(s.UnaryInterceptor()),
		grpc.ChainStreamInterceptor(s.StreamInterceptor()),
	}
}

// UnaryInterceptor measures unary RPCs.
func (s *GRPCServer) UnaryInterceptor() grpc.UnaryServerInterceptor {
	return func(ctx context.Context, req any, info *grpc.UnaryServerInfo, handler grpc.UnaryHandler) (any, error) {
		call := s.m.begin(typeUnary, info.FullMethod)
		resp, err := handler(ctx, req)
		call.end(err)
		return resp, err
	}
}

// StreamInterceptor measures streaming RPCs, from their start until the handler returns.
func (s *GRPCServer) StreamInterceptor() grpc.StreamServerInterceptor {
	return func(srv any, ss grpc.ServerStream, info *grpc.StreamServerInfo, handler grpc.StreamHandler) error {
		call := s.m.begin(streamType(info.IsClientStream, info.IsServerStream), info.FullMethod)
		err := handler(srv, ss)
		call.end(err)
		return err
	}
}

// InitializeMetrics creates the series of every method registered on srv at zero, so rates
// and alerts see them before the first call. Call it after the services are registered.
func (s *GRPCServer) InitializeMetrics(srv *grpc.Server) {
	for name, info := range srv.GetServiceInfo() {
		for _, m := range info.Methods {
			s.m.initialize(streamType(m.IsClientStream, m.IsServerStream), "/"+name+"/"+m.Name)
		}
	}
}

// GRPCClient measures the RPCs a gRPC client makes. Install its interceptors with
// [GRPCClient.DialOptions]. Retries made by the gRPC library count as one RPC.
type GRPCClient struct {
	m rpcMetrics
}

// NewGRPCClient registers the grpc_client_* families with reg. It panics if they are already
// registered there.
func NewGRPCClient(reg prometheus.Registerer) *GRPCClient {
	return &GRPCClient{m: newRPCMetrics(reg, "client", "server")}
}

// DialOptions returns the options that install the interceptors.
func (c *GRPCClient) DialOptions() []grpc.DialOption {
	return []grpc.DialOption{
		grpc.WithChainUnaryInterceptor(c.UnaryInterceptor()),
		grpc.WithChainStreamInterceptor(c.StreamInterceptor()),
	}
}

// UnaryInterceptor measures unary calls.
func (c *GRPCClient) UnaryInterceptor() grpc.UnaryClientInterceptor {
	return func(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
		call := c.m.begin(typeUnary, method)
		err := invoker(ctx, method, req, reply, cc, opts...)
		call.end(err)
		return err
	}
}

// StreamInterceptor measures streaming calls. A stream ends when a receive reports its end
// (io.EOF counts as OK), when a send fails, or when its context is done, whichever comes
// first, so a stream the caller abandons by cancelling its context is counted too.
func (c *GRPCClient) StreamInterceptor() grpc.StreamClientInterceptor {
	return func(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
		call := c.m.begin(streamType(desc.ClientStreams, desc.ServerStreams), method)
		cs, err := streamer(ctx, desc, cc, method, opts...)
		if err != nil {
			call.end(err)
			return nil, err
		}
		var once sync.Once
		ms := &clientStream{ClientStream: cs, serverStreams: desc.ServerStreams}
		ms.end = func(err error) { once.Do(func() { call.end(err) }) }
		ms.stop = context.AfterFunc(ctx, func() { ms.end(status.FromContextError(ctx.Err()).Err()) })
		return ms, nil
	}
}

// clientStream reports the end of a stream to end, once.
type clientStream struct {
	grpc.ClientStream
	serverStreams bool
	end           func(error) // records the end; safe to call more than once
	stop          func() bool // stops the watch on the context
}

func (s *clientStream) finish(err error) {
	s.end(err)
	s.stop()
}

func (s *clientStream) SendMsg(m any) error {
	err := s.ClientStream.SendMsg(m)
	if err != nil && !errors.Is(err, io.EOF) {
		// Not io.EOF: the stream was aborted here, with this status. (io.EOF means the
		// server ended it; the status comes from RecvMsg.)
		s.finish(err)
	}
	return err
}

func (s *clientStream) RecvMsg(m any) error {
	err := s.ClientStream.RecvMsg(m)
	switch {
	case err == nil:
		if !s.serverStreams {
			s.finish(nil) // the one response of a client stream: the call is complete
		}
	case errors.Is(err, io.EOF):
		s.finish(nil)
	default:
		s.finish(err)
	}
	return err
}
