// Package chunkcodec moves the chunks of a component stream (the bytes field of
// StreamComponentResponse) between retrieve-svc and the gateway without the copies of
// gRPC's proto codec. Both sides keep chunks in buffers of one size,
// [grpcapp.StreamChunkSize], from one [Pool]:
//   - the sender reads a chunk into a pooled buffer and sends it as an [Owned]; [Server]
//     hands that buffer to gRPC behind a small one holding the field's tag and length, and
//     gRPC returns it to the pool once written. The proto codec would first copy the bytes
//     into a message buffer of its own.
//   - the receiver ([Client]) copies a chunk once, out of gRPC's receive buffers, into a
//     pooled buffer, which goes back with [Release] once written. The proto codec would
//     join the receive buffers into one (a copy) and copy the field into a fresh allocation
//     for every chunk (a second copy, and garbage).
//
// Every other message goes to the proto codec.
package chunkcodec

import (
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"

	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
)

// Server is the option of a gRPC server that sends [Owned] chunks.
var Server = grpc.ForceServerCodecV2(codec{proto: encoding.GetCodecV2(proto.Name)})

// Client is the call option of a component stream whose chunks are received into [Pool].
var Client = grpc.ForceCodecV2(codec{proto: encoding.GetCodecV2(proto.Name)})

// Owned is the wire form of a StreamComponentResponse carrying (*Buf)[:N] as its chunk. Sent
// under [Server], Buf passes to gRPC: the sender must not touch it again.
type Owned struct {
	Buf *[]byte
	N   int
}

// tag is the key of StreamComponentResponse.chunk: field 2, length-delimited.
var tag = protowire.AppendTag(nil, 2, protowire.BytesType)

type codec struct{ proto encoding.CodecV2 }

func (c codec) Name() string { return proto.Name }

func (c codec) Marshal(v any) (mem.BufferSlice, error) {
	o, ok := v.(Owned)
	if !ok {
		return c.proto.Marshal(v)
	}
	small := mem.DefaultBufferPool()
	hdr := small.Get(len(tag) + protowire.SizeVarint(uint64(o.N)))
	protowire.AppendVarint(append((*hdr)[:0], tag...), uint64(o.N))
	*o.Buf = (*o.Buf)[:o.N]
	return mem.BufferSlice{mem.NewBuffer(hdr, small), mem.NewBuffer(o.Buf, Pool)}, nil
}

func (c codec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*retrievev1.StreamComponentResponse)
	if !ok || len(data) == 0 {
		return c.proto.Unmarshal(data, v)
	}
	// The tag and the length fit in the first buffer, which gRPC never makes that small.
	first := data[0].ReadOnlyData()
	if len(first) < 2 || first[0] != tag[0] {
		return c.proto.Unmarshal(data, v)
	}
	n, w := protowire.ConsumeVarint(first[1:])
	skip := 1 + w
	if w < 0 || n > uint64(data.Len()) || skip+int(n) != data.Len() {
		return c.proto.Unmarshal(data, v) // not one chunk alone: let proto judge it
	}
	buf := chunkBuffer(int(n))
	at := 0
	for _, b := range data {
		p := b.ReadOnlyData()
		if skip >= len(p) {
			skip -= len(p)
			continue
		}
		at += copy(buf[at:], p[skip:])
		skip = 0
	}
	m.Msg = &retrievev1.StreamComponentResponse_Chunk{Chunk: buf}
	return nil
}

// Pool holds chunk buffers of grpcapp.StreamChunkSize bytes, as a [mem.BufferPool] so that
// gRPC can return the ones it was given.
var Pool = &BufferPool{p: sync.Pool{New: func() any { b := make([]byte, grpcapp.StreamChunkSize); return &b }}}

// BufferPool is the type of [Pool].
type BufferPool struct{ p sync.Pool }

// Get returns a buffer of length bytes, at most grpcapp.StreamChunkSize.
func (p *BufferPool) Get(length int) *[]byte {
	b := p.p.Get().(*[]byte)
	*b = (*b)[:length]
	return b
}

// Put takes a buffer back; one of another size underneath is dropped.
func (p *BufferPool) Put(b *[]byte) {
	if cap(*b) == grpcapp.StreamChunkSize {
		*b = (*b)[:grpcapp.StreamChunkSize]
		p.p.Put(b)
	}
}

// chunkBuffer returns a buffer of n bytes, from the pool when n fits a pooled one.
func chunkBuffer(n int) []byte {
	if n > grpcapp.StreamChunkSize || n == 0 {
		return make([]byte, n)
	}
	return *Pool.Get(n)
}

// Release returns a received chunk's buffer to the pool; it must not be used afterwards.
func Release(b []byte) {
	Pool.Put(&b)
}
