package envelope_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/envelope"
)

// A server streams a component it has not read into memory: it computes PayloadLen from the
// size storage reports, writes the header and the component fields, then copies the bytes.
// A client reads it block by block.
func ExampleFramer_streaming() {
	var conn bytes.Buffer // stands in for a connection
	content := strings.NewReader("%PDF-1.4 tiny")
	const id, mediaType = "doip:bitstream/Q123/main-pdf", "application/pdf"
	size := uint32(content.Len()) // as storage reports it

	w := envelope.NewFramer(&conn, nil)
	h := envelope.Header{
		Type:       envelope.TypeResponse,
		Op:         doip.OpRetrieve,
		PayloadLen: uint32(envelope.ComponentBlockLen(id, mediaType, uint64(size))),
	}
	if err := w.WriteHeader(h, "Q123"); err != nil {
		panic(err)
	}
	if err := w.WriteComponentHeader(id, mediaType, size); err != nil {
		panic(err)
	}
	if _, err := io.Copy(w.Writer(), content); err != nil {
		panic(err)
	}

	r := envelope.NewFramer(nil, &conn)
	h, objectID, err := r.ReadHeader()
	if err != nil {
		panic(err)
	}
	fmt.Println(h.Type, h.Op, objectID, h.PayloadLen)
	for {
		t, n, err := r.NextBlock()
		if err == io.EOF {
			break
		} else if err != nil {
			panic(err)
		}
		if t != envelope.BlockComponent {
			r.Discard()
			continue
		}
		cid, mt, _, err := r.ReadComponentHeader(n)
		if err != nil {
			panic(err)
		}
		var body strings.Builder
		if _, err := io.Copy(&body, r.Content()); err != nil {
			panic(err)
		}
		fmt.Println(cid, mt, body.String())
	}
	// Output:
	// response retrieve Q123 69
	// doip:bitstream/Q123/main-pdf application/pdf %PDF-1.4 tiny
}
