// Package doiptest holds what the tests of the framings' codecs share.
package doiptest

import (
	"errors"
	"io"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// Element is one element of a write request, read whole.
type Element struct {
	ID, MediaType string
	Size          int64 // as the request announced it
	Data          string
}

// ReadElements reads every element of req's write, in order, up to the first error; a
// request without elements has none.
func ReadElements(req *doip.Request) ([]Element, error) {
	var els []Element
	if req.Write == nil || req.Write.Elements == nil {
		return nil, nil
	}
	for {
		u, err := req.Write.Elements.Next()
		if errors.Is(err, io.EOF) {
			return els, nil
		}
		if err != nil {
			return els, err
		}
		data, err := io.ReadAll(u.Body)
		if err != nil {
			return els, err
		}
		els = append(els, Element{ID: u.ID, MediaType: u.MediaType, Size: u.Size, Data: string(data)})
	}
}
