package envelope

import (
	"bytes"
	"io"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func BenchmarkReadMessageHello(b *testing.B) {
	r := bytes.NewReader([]byte(helloRequest))
	fr := NewFramer(nil, r)
	b.SetBytes(int64(len(helloRequest)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset([]byte(helloRequest))
		if _, err := fr.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkWriteComponentStream(b *testing.B) {
	content := bytes.Repeat([]byte("0123456789abcdef"), 256<<10/16)
	const id, mt = "doip:bitstream/Q123/main-pdf", "application/pdf"
	h := Header{Type: TypeResponse, Op: doip.OpRetrieve, PayloadLen: uint32(ComponentBlockLen(id, mt, uint64(len(content))))}
	fr := NewFramer(io.Discard, nil)
	r := bytes.NewReader(content)
	b.SetBytes(int64(len(content)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(content)
		if err := fr.WriteHeader(h, "Q123"); err != nil {
			b.Fatal(err)
		}
		if err := fr.WriteComponentHeader(id, mt, uint32(len(content))); err != nil {
			b.Fatal(err)
		}
		if _, err := io.Copy(fr.Writer(), r); err != nil {
			b.Fatal(err)
		}
	}
}
