// Package backend dials the internal gRPC services the same way from every client: round
// robin over every address (a list given in configuration, or the A records behind a
// dns:/// name, as compose and Kubernetes provide), reconnection that backs off to at most
// a few seconds so a restarted service is found again quickly, optional retries of calls
// that failed with UNAVAILABLE, and the request id of the caller's context (shared/requestid)
// sent along with every call in the metadata key x-request-id.
package backend

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/requestid"
	"google.golang.org/grpc"
	"google.golang.org/grpc/backoff"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/resolver"
	"google.golang.org/grpc/resolver/manual"
)

// Option changes how [Dial] connects.
type Option func(*options)

type options struct {
	retryServices []string
	extra         []grpc.DialOption
}

// RetryOnUnavailable retries the calls of the named gRPC services (e.g.
// "doip.retrieve.v1.RetrieveService") up to three times when they fail with UNAVAILABLE
// before any answer arrived. Use it only for services whose calls have no side effects.
func RetryOnUnavailable(services ...string) Option {
	return func(o *options) { o.retryServices = append(o.retryServices, services...) }
}

// WithDialOptions adds grpc dial options, e.g. transport credentials for mutual TLS.
func WithDialOptions(opts ...grpc.DialOption) Option {
	return func(o *options) { o.extra = append(o.extra, opts...) }
}

// Target joins a list of addresses into one dial target: a single address as it is, several
// as a "static:///a,b,c" target that [Dial] balances over.
func Target(addrs []string) string {
	if len(addrs) == 1 {
		return addrs[0]
	}
	return staticScheme + ":///" + strings.Join(addrs, ",")
}

const staticScheme = "static"

// serviceConfig builds the gRPC service config: round robin, and the retry policy.
func serviceConfig(retry []string) (string, error) {
	type name struct {
		Service string `json:"service"`
	}
	type retryPolicy struct {
		MaxAttempts          int      `json:"maxAttempts"`
		InitialBackoff       string   `json:"initialBackoff"`
		MaxBackoff           string   `json:"maxBackoff"`
		BackoffMultiplier    float64  `json:"backoffMultiplier"`
		RetryableStatusCodes []string `json:"retryableStatusCodes"`
	}
	type methodConfig struct {
		Name        []name      `json:"name"`
		RetryPolicy retryPolicy `json:"retryPolicy"`
	}
	sc := struct {
		LB      []map[string]struct{} `json:"loadBalancingConfig"`
		Methods []methodConfig        `json:"methodConfig,omitempty"`
	}{LB: []map[string]struct{}{{"round_robin": {}}}}
	for _, s := range retry {
		sc.Methods = append(sc.Methods, methodConfig{
			Name: []name{{Service: s}},
			RetryPolicy: retryPolicy{MaxAttempts: 3, InitialBackoff: "0.1s", MaxBackoff: "1s",
				BackoffMultiplier: 2, RetryableStatusCodes: []string{"UNAVAILABLE"}},
		})
	}
	b, err := json.Marshal(sc)
	return string(b), err
}

// Dial returns a client connection to target: "host:port", "dns:///name:port", or a
// [Target] of several addresses. It does not wait for the connection; calls made while
// the backend is down fail fast with UNAVAILABLE, and the connection comes back by itself.
func Dial(target string, opts ...Option) (*grpc.ClientConn, error) {
	if target == "" {
		return nil, errors.New("backend: empty address")
	}
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	sc, err := serviceConfig(o.retryServices)
	if err != nil {
		return nil, err
	}
	dopts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultServiceConfig(sc),
		grpc.WithConnectParams(grpc.ConnectParams{
			Backoff:           backoff.Config{BaseDelay: 100 * time.Millisecond, Multiplier: 1.6, Jitter: 0.2, MaxDelay: 2 * time.Second},
			MinConnectTimeout: 2 * time.Second,
		}),
		grpc.WithDefaultCallOptions(grpc.MaxCallRecvMsgSize(grpcapp.MaxMessageSize), grpc.MaxCallSendMsgSize(grpcapp.MaxMessageSize)),
		grpc.WithReadBufferSize(grpcapp.BufferSize),
		grpc.WithWriteBufferSize(grpcapp.BufferSize),
		grpc.WithSharedWriteBuffer(true),
		grpc.WithInitialWindowSize(grpcapp.StreamWindowSize),
		grpc.WithInitialConnWindowSize(grpcapp.ConnWindowSize),
		grpc.WithChainUnaryInterceptor(UnaryRequestID),
		grpc.WithChainStreamInterceptor(StreamRequestID),
	}
	if rest, ok := strings.CutPrefix(target, staticScheme+":///"); ok {
		var addrs []resolver.Address
		for _, a := range strings.Split(rest, ",") {
			if a = strings.TrimSpace(a); a != "" {
				addrs = append(addrs, resolver.Address{Addr: a})
			}
		}
		if len(addrs) == 0 {
			return nil, fmt.Errorf("backend: no address in %q", target)
		}
		r := manual.NewBuilderWithScheme(staticScheme)
		r.InitialState(resolver.State{Addresses: addrs})
		dopts = append(dopts, grpc.WithResolvers(r))
	}
	dopts = append(dopts, o.extra...)
	cc, err := grpc.NewClient(target, dopts...)
	if err != nil {
		return nil, fmt.Errorf("backend: dial %s: %w", target, err)
	}
	return cc, nil
}

// withRequestID returns ctx with the request id it carries, if any, added to the outgoing
// metadata, where the server's interceptors (shared/grpcapp) find it. An id already in the
// outgoing metadata is left alone.
func withRequestID(ctx context.Context) context.Context {
	id, ok := requestid.FromContext(ctx)
	if !ok {
		return ctx
	}
	if md, ok := metadata.FromOutgoingContext(ctx); ok && len(md.Get(requestid.MetadataKey)) > 0 {
		return ctx
	}
	return metadata.AppendToOutgoingContext(ctx, requestid.MetadataKey, id)
}

// UnaryRequestID sends the request id of the call's context with each unary call ([Dial]
// installs it).
func UnaryRequestID(ctx context.Context, method string, req, reply any, cc *grpc.ClientConn, invoker grpc.UnaryInvoker, opts ...grpc.CallOption) error {
	return invoker(withRequestID(ctx), method, req, reply, cc, opts...)
}

// StreamRequestID sends the request id of the stream's context with each streaming call
// ([Dial] installs it).
func StreamRequestID(ctx context.Context, desc *grpc.StreamDesc, cc *grpc.ClientConn, method string, streamer grpc.Streamer, opts ...grpc.CallOption) (grpc.ClientStream, error) {
	return streamer(withRequestID(ctx), desc, cc, method, opts...)
}
