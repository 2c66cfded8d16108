package dispatch

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/encoding"
	"google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	protobuf "google.golang.org/protobuf/proto"

	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
)

// split cuts b into pieces of at most n bytes, as gRPC's receive buffers may hold a message.
func split(b []byte, n int) mem.BufferSlice {
	var s mem.BufferSlice
	for len(b) > 0 {
		k := min(n, len(b))
		s = append(s, mem.SliceBuffer(bytes.Clone(b[:k])))
		b = b[k:]
	}
	return s
}

func TestChunkCodecDecodesAsProto(t *testing.T) {
	t.Parallel()
	codec := chunkCodec{proto: encoding.GetCodecV2(proto.Name)}
	content := bytes.Repeat([]byte("0123456789abcdef"), grpcapp.StreamChunkSize/16)[:grpcapp.StreamChunkSize]
	msgs := []*retrievev1.StreamComponentResponse{
		{Msg: &retrievev1.StreamComponentResponse_Chunk{Chunk: content}},
		{Msg: &retrievev1.StreamComponentResponse_Chunk{Chunk: content[:1000]}},
		{Msg: &retrievev1.StreamComponentResponse_Chunk{Chunk: bytes.Repeat([]byte{7}, 256<<10)}}, // past a pooled buffer
		{Msg: &retrievev1.StreamComponentResponse_Chunk{Chunk: []byte{}}},
		{Msg: &retrievev1.StreamComponentResponse_Header{Header: &retrievev1.ComponentHeader{Size: 42, MediaType: "application/pdf"}}},
	}
	for i, want := range msgs {
		wire, err := protobuf.Marshal(want)
		if err != nil {
			t.Fatal(err)
		}
		for _, piece := range []int{len(wire) + 1, 16 << 10, 3000} {
			got := &retrievev1.StreamComponentResponse{}
			if err := codec.Unmarshal(split(wire, piece), got); err != nil {
				t.Fatalf("message %d in pieces of %d: %v", i, piece, err)
			}
			if !protobuf.Equal(got, want) {
				t.Fatalf("message %d in pieces of %d decoded differently", i, piece)
			}
			releaseChunk(got.GetChunk())
		}
	}
	// A chunk followed by more fields is not one chunk alone: proto decides (the last
	// oneof member wins), and the codec agrees.
	wire, _ := protobuf.Marshal(msgs[1])
	hdr, _ := protobuf.Marshal(msgs[4])
	got := &retrievev1.StreamComponentResponse{}
	if err := codec.Unmarshal(split(append(wire, hdr...), 1<<20), got); err != nil || got.GetHeader().GetSize() != 42 {
		t.Fatalf("chunk then header: %v, %v", got, err)
	}
	// A truncated chunk is an error, as from proto.
	if err := codec.Unmarshal(split(wire[:len(wire)-1], 1<<20), &retrievev1.StreamComponentResponse{}); err == nil {
		t.Error("a truncated chunk decoded")
	}
}

// BenchmarkChunkUnmarshal decodes one 64 KiB chunk held in gRPC receive buffers of 16 KiB
// (the HTTP/2 frame size), with gRPC's proto codec and with chunkCodec.
func BenchmarkChunkUnmarshal(b *testing.B) {
	content := make([]byte, grpcapp.StreamChunkSize)
	wire, _ := protobuf.Marshal(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Chunk{Chunk: content}})
	data := split(wire, 16<<10)
	pc := encoding.GetCodecV2(proto.Name)
	for _, c := range []struct {
		name  string
		codec encoding.CodecV2
	}{{"proto", pc}, {"chunk", chunkCodec{proto: pc}}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(content)))
			b.ReportAllocs()
			for b.Loop() {
				m := &retrievev1.StreamComponentResponse{}
				if err := c.codec.Unmarshal(data, m); err != nil {
					b.Fatal(err)
				}
				releaseChunk(m.GetChunk())
			}
		})
	}
}
