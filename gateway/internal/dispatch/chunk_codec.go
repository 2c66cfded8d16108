package dispatch

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

// chunkCodec decodes the chunks of a component stream into pooled buffers, in one copy out
// of gRPC's receive buffers. The proto codec first joins a message that spans several
// receive buffers into one (a copy), then copies the bytes field into a fresh 64 KiB
// allocation for every chunk (a second copy, and garbage for each). Every other message,
// the stream's header included, goes to the proto codec. A chunk's buffer goes back to the
// pool with [releaseChunk] once its bytes are written.
type chunkCodec struct{ proto encoding.CodecV2 }

// streamCodec is the call option of component streams.
var streamCodec = grpc.ForceCodecV2(chunkCodec{proto: encoding.GetCodecV2(proto.Name)})

func (c chunkCodec) Name() string { return proto.Name }

func (c chunkCodec) Marshal(v any) (mem.BufferSlice, error) { return c.proto.Marshal(v) }

// chunkTag is the key of StreamComponentResponse.chunk: field 2, length-delimited.
var chunkTag = protowire.AppendTag(nil, 2, protowire.BytesType)[0]

func (c chunkCodec) Unmarshal(data mem.BufferSlice, v any) error {
	m, ok := v.(*retrievev1.StreamComponentResponse)
	if !ok || len(data) == 0 {
		return c.proto.Unmarshal(data, v)
	}
	// The tag and the length fit in the first buffer, which gRPC never makes that small.
	first := data[0].ReadOnlyData()
	if len(first) < 2 || first[0] != chunkTag {
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

// chunkPool holds buffers of one stream chunk.
var chunkPool = sync.Pool{New: func() any { b := make([]byte, grpcapp.StreamChunkSize); return &b }}

// chunkBuffer returns a buffer of n bytes, from the pool when n fits a pooled one.
func chunkBuffer(n int) []byte {
	if n > grpcapp.StreamChunkSize || n == 0 {
		return make([]byte, n)
	}
	return (*chunkPool.Get().(*[]byte))[:n]
}

// releaseChunk returns a chunk's buffer to the pool; it must not be used afterwards.
func releaseChunk(b []byte) {
	if cap(b) == grpcapp.StreamChunkSize {
		b = b[:cap(b)]
		chunkPool.Put(&b)
	}
}
