package grpcapp

import (
	"google.golang.org/grpc/experimental"
	"google.golang.org/grpc/mem"
)

// StreamChunkSize is the largest chunk a component stream should carry in one message: with
// its protobuf framing it fits one 64 KiB buffer of the buffer pool this package installs.
const StreamChunkSize = 64<<10 - 64

// init gives every process that builds its gRPC servers or clients with this module a
// buffer pool with a 64 KiB tier besides gRPC's default tiers (256 B, 4, 16 and 32 KiB,
// 1 MiB). gRPC encodes each message into, and decodes each into, one buffer of the pool;
// without that tier a component chunk of 64 KiB takes a 1 MiB buffer on the sending and on
// the receiving side, and a stream whose reader is slow keeps it while it waits. gRPC lets
// the codec's pool be set only this way, during initialization.
func init() {
	p, err := mem.NewBinaryTieredBufferPool(8, 12, 14, 15, 16, 20)
	if err != nil {
		panic(err)
	}
	experimental.SetDefaultBufferPool(p)
}
