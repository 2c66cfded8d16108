package retrieve

import (
	"bytes"
	"testing"

	"google.golang.org/grpc/encoding"
	gproto "google.golang.org/grpc/encoding/proto"
	"google.golang.org/protobuf/proto"

	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
)

// An owned chunk encodes exactly as the proto message with that chunk, at every length that
// changes the size of the length's varint; the encoding holds the chunk's own buffer, not a
// copy; other messages go to the proto codec.
func TestSendCodecOwnedChunk(t *testing.T) {
	c := sendCodec{proto: encoding.GetCodecV2(gproto.Name)}
	for _, n := range []int{1, 127, 128, 16383, 16384, ChunkSize} {
		buf := chunkPool.Get(n)
		for i := range *buf {
			(*buf)[i] = byte(i * 7)
		}
		want, err := proto.Marshal(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Chunk{Chunk: append([]byte(nil), (*buf)...)}})
		if err != nil {
			t.Fatal(err)
		}
		first := &(*buf)[0]
		got, err := c.Marshal(ownedChunk{buf: buf, n: n})
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
	want, _ := proto.Marshal(hdr)
	if !bytes.Equal(got.Materialize(), want) {
		t.Error("a header encodes differently from proto.Marshal")
	}
}

// A buffer of another size never enters the pool.
func TestChunkPoolDropsForeignBuffers(t *testing.T) {
	b := make([]byte, 10)
	chunkPool.Put(&b)
	for range 100 {
		if got := chunkPool.Get(5); cap(*got) != ChunkSize {
			t.Fatalf("Get returned a buffer of capacity %d", cap(*got))
		}
	}
}
