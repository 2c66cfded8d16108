package chunkcodec

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

// The receiving side decodes every message as the proto codec does.
func TestClientDecodesAsProto(t *testing.T) {
	t.Parallel()
	c := codec{proto: encoding.GetCodecV2(proto.Name)}
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
			if err := c.Unmarshal(split(wire, piece), got); err != nil {
				t.Fatalf("message %d in pieces of %d: %v", i, piece, err)
			}
			if !protobuf.Equal(got, want) {
				t.Fatalf("message %d in pieces of %d decoded differently", i, piece)
			}
			Release(got.GetChunk())
		}
	}
	// A chunk followed by more fields is not one chunk alone: proto decides (the last
	// oneof member wins), and the codec agrees.
	wire, _ := protobuf.Marshal(msgs[1])
	hdr, _ := protobuf.Marshal(msgs[4])
	got := &retrievev1.StreamComponentResponse{}
	if err := c.Unmarshal(split(append(wire, hdr...), 1<<20), got); err != nil || got.GetHeader().GetSize() != 42 {
		t.Fatalf("chunk then header: %v, %v", got, err)
	}
	// A truncated chunk is an error, as from proto.
	if err := c.Unmarshal(split(wire[:len(wire)-1], 1<<20), &retrievev1.StreamComponentResponse{}); err == nil {
		t.Error("a truncated chunk decoded")
	}
}

// BenchmarkChunkUnmarshal decodes one 64 KiB chunk held in gRPC receive buffers of 16 KiB
// (the HTTP/2 frame size), with gRPC's proto codec and with this package's.
func BenchmarkChunkUnmarshal(b *testing.B) {
	content := make([]byte, grpcapp.StreamChunkSize)
	wire, _ := protobuf.Marshal(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Chunk{Chunk: content}})
	data := split(wire, 16<<10)
	pc := encoding.GetCodecV2(proto.Name)
	for _, c := range []struct {
		name  string
		codec encoding.CodecV2
	}{{"proto", pc}, {"chunk", codec{proto: pc}}} {
		b.Run(c.name, func(b *testing.B) {
			b.SetBytes(int64(len(content)))
			b.ReportAllocs()
			for b.Loop() {
				m := &retrievev1.StreamComponentResponse{}
				if err := c.codec.Unmarshal(data, m); err != nil {
					b.Fatal(err)
				}
				Release(m.GetChunk())
			}
		})
	}
}

// An owned chunk encodes exactly as the proto message with that chunk, at every length that
// changes the size of the length's varint; the encoding holds the chunk's own buffer, not a
// copy; other messages go to the proto codec.
func TestServerOwnedChunk(t *testing.T) {
	c := codec{proto: encoding.GetCodecV2(proto.Name)}
	for _, n := range []int{1, 127, 128, 16383, 16384, grpcapp.StreamChunkSize} {
		buf := Pool.Get(n)
		for i := range *buf {
			(*buf)[i] = byte(i * 7)
		}
		want, err := protobuf.Marshal(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Chunk{Chunk: append([]byte(nil), (*buf)...)}})
		if err != nil {
			t.Fatal(err)
		}
		first := &(*buf)[0]
		got, err := c.Marshal(Owned{Buf: buf, N: n})
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Materialize(), want) {
			t.Errorf("n=%d: encoding differs from proto.Marshal", n)
		}
		if &got[len(got)-1].ReadOnlyData()[0] != first {
			t.Errorf("n=%d: the chunk was copied", n)
		}
		got.Free()
	}
	hdr := &retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Header{Header: &retrievev1.ComponentHeader{ComponentId: "main-pdf", Size: 3}}}
	got, err := c.Marshal(hdr)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := protobuf.Marshal(hdr)
	if !bytes.Equal(got.Materialize(), want) {
		t.Error("a header encodes differently from proto.Marshal")
	}
}

// A buffer of another size never enters the pool.
func TestPoolDropsForeignBuffers(t *testing.T) {
	b := make([]byte, 10)
	Pool.Put(&b)
	for range 100 {
		if got := Pool.Get(5); cap(*got) != grpcapp.StreamChunkSize {
			t.Fatalf("Get returned a buffer of capacity %d", cap(*got))
		}
	}
}

// FuzzClientDecodesAsProto: whatever bytes arrive, in whatever receive buffers, the
// receiving side decodes them as the proto codec does, or fails where it fails.
func FuzzClientDecodesAsProto(f *testing.F) {
	chunk, _ := protobuf.Marshal(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Chunk{Chunk: []byte("some bytes")}})
	hdr, _ := protobuf.Marshal(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Header{Header: &retrievev1.ComponentHeader{Size: 3}}})
	f.Add(chunk, 3)
	f.Add(append(chunk, hdr...), 1)
	f.Add(chunk[:len(chunk)-2], 5)
	f.Add([]byte{0x12, 0xff, 0xff, 0xff, 0xff, 0x0f}, 2)
	c := codec{proto: encoding.GetCodecV2(proto.Name)}
	f.Fuzz(func(t *testing.T, wire []byte, piece int) {
		if piece < 1 || piece > len(wire)+1 {
			piece = len(wire) + 1
		}
		want := &retrievev1.StreamComponentResponse{}
		wantErr := protobuf.Unmarshal(wire, want)
		got := &retrievev1.StreamComponentResponse{}
		err := c.Unmarshal(split(wire, piece), got)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("codec error %v, proto error %v", err, wantErr)
		}
		if err == nil && !protobuf.Equal(got, want) {
			t.Fatalf("decoded %v, proto %v", got, want)
		}
		Release(got.GetChunk())
	})
}
