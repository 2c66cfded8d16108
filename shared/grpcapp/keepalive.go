package grpcapp

import (
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/keepalive"
)

// MaxConnectionAge returns the server options that end every client connection after about
// age (gRPC adds ±10% jitter): the server sends GOAWAY, the client opens no new calls on that
// connection, and the calls already running may go on for up to grace before the connection
// is closed (grace 0: as long as they take). A client that dials a DNS name (dns:///name:port)
// asks its resolver again when a connection ends, so connections that recycle follow the
// addresses behind the name: replicas that were added get calls, replicas that went away stop
// being asked. age 0 or less returns no option: connections live until either side closes them.
func MaxConnectionAge(age, grace time.Duration) []grpc.ServerOption {
	if age <= 0 {
		return nil
	}
	p := keepalive.ServerParameters{MaxConnectionAge: age}
	if grace > 0 {
		p.MaxConnectionAgeGrace = grace
	}
	return []grpc.ServerOption{grpc.KeepaliveParams(p)}
}
