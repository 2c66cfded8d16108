package retrieve

import (
	"sync"

	"google.golang.org/grpc"
	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/encoding/protowire"
)

// Codec is the server option that a gRPC server serving a [Server] must be built with: the
// proto codec, except that a component stream's chunk goes out without being copied into a
// message buffer. [sendChunks] reads each chunk into a buffer of chunkPool and sends it as an
// [ownedChunk]; the codec hands that buffer to gRPC behind a small one holding the field's
// tag and length, and gRPC puts it back into the pool once it has written it. The proto
// codec would copy the chunk's bytes into a buffer of its own first.
var Codec = grpc.ForceServerCodecV2(sendCodec{proto: encoding.GetCodecV2(proto.Name)})

// ownedChunk is the wire form of a StreamComponentResponse carrying (*buf)[:n] as its chunk.
// Sending it passes buf to gRPC: the sender must not touch it again.
type ownedChunk struct {
	buf *[]byte
	n   int
}

// chunkTag is the key of StreamComponentResponse.chunk: field 2, length-delimited.
var chunkTag = protowire.AppendTag(nil, 2, protowire.BytesType)

type sendCodec struct{ proto encoding.CodecV2 }

func (c sendCodec) Name() string { return proto.Name }

func (c sendCodec) Marshal(v any) (mem.BufferSlice, error) {
	oc, ok := v.(ownedChunk)
	if !ok {
		return c.proto.Marshal(v)
	}
	pool := mem.DefaultBufferPool()
	hdr := pool.Get(len(chunkTag) + protowire.SizeVarint(uint64(oc.n)))
	protowire.AppendVarint(append((*hdr)[:0], chunkTag...), uint64(oc.n))
	*oc.buf = (*oc.buf)[:oc.n]
	return mem.BufferSlice{mem.NewBuffer(hdr, pool), mem.NewBuffer(oc.buf, chunkPool)}, nil
}

func (c sendCodec) Unmarshal(data mem.BufferSlice, v any) error { return c.proto.Unmarshal(data, v) }

// chunkPool holds the read buffers of component streams, ChunkSize bytes each, as a
// [mem.BufferPool] so that gRPC returns them after writing.
var chunkPool = &bufferPool{sync.Pool{New: func() any { b := make([]byte, ChunkSize); return &b }}}

type bufferPool struct{ p sync.Pool }

// Get returns a buffer of ChunkSize bytes; length is at most that.
func (p *bufferPool) Get(length int) *[]byte {
	b := p.p.Get().(*[]byte)
	*b = (*b)[:length]
	return b
}

// Put takes a buffer back; one that is not ChunkSize long underneath is dropped.
func (p *bufferPool) Put(b *[]byte) {
	if cap(*b) == ChunkSize {
		*b = (*b)[:ChunkSize]
		p.p.Put(b)
	}
}
