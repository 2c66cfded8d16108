package segment

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/mardijson"
	"github.com/fdo-doip/doip-gateway/shared/jsonkind"
)

// Writes in the length-prefixed framing. A create ("operationId": "create" or 8) or an
// update ("update" or 3) carries the object in the first segment's attributes: "content" (a
// JSON object, the record), "json" (the same as a JSON text in a string, as MaRDI's client
// writes it), or "attributes" (the whole attributes object); "type"; "elements" (descriptors
// [{"id","type","attributes"}]); for an update "elementsToDelete" and "expectedVersion"; and
// the credentials "token", or "username" and "password". Each element's bytes follow as two
// segments: a JSON header {"id":…,"type":…} and a raw segment with the bytes, streamed to
// the handler. Delete ("delete") and history ("history", with "pageSize" and "pageToken")
// take the first segment only. The answer is the status segment
// {"status":"success","metadata":[…]} with the metadata of the binary envelope's answer.

// writeAttributes are the write fields of a request's attributes.
type writeAttributes struct {
	JSON       *string         `json:"json"`
	Content    json.RawMessage `json:"content"`
	Attributes json.RawMessage `json:"attributes"`
	Type       string          `json:"type"`
	Elements   []struct {
		ID         string          `json:"id"`
		Type       string          `json:"type"`
		Attributes json.RawMessage `json:"attributes"`
	} `json:"elements"`
	ElementsToDelete []string        `json:"elementsToDelete"`
	ExpectedVersion  string          `json:"expectedVersion"`
	Username         string          `json:"username"`
	Password         string          `json:"password"`
	PageSize         json.RawMessage `json:"pageSize"`
	PageToken        string          `json:"pageToken"`
}

// readWrite fills in a create, an update, a delete or a history request from its first
// segment; the elements of a create or an update are left on the wire for the handler.
func (c *ServerCodec) readWrite(req *doip.Request, first []byte) (*doip.Request, error) {
	var w struct {
		Attributes json.RawMessage `json:"attributes"`
	}
	_ = json.Unmarshal(first, &w)
	var a writeAttributes
	if !isNull(w.Attributes) {
		if err := json.Unmarshal(w.Attributes, &a); err != nil {
			return nil, protocolError("attributes", "%v", err)
		}
	}
	if a.Username != "" && req.Token == "" {
		req.Username, req.Token = a.Username, a.Password
	}
	switch req.Op {
	case doip.OpDelete:
		req.Write = &doip.Write{ExpectedVersion: a.ExpectedVersion}
		return req, nil
	case doip.OpHistory:
		q, _ := json.Marshal(map[string]any{"pageSize": a.PageSize, "pageToken": a.PageToken})
		if len(a.PageSize) == 0 {
			q, _ = json.Marshal(map[string]any{"pageToken": a.PageToken})
		}
		req.Params = q
		return req, nil
	}
	wr := &doip.Write{Object: doip.DigitalObject{ID: req.ObjectID, Type: a.Type}, RemoveElements: a.ElementsToDelete, ExpectedVersion: a.ExpectedVersion}
	var content json.RawMessage
	switch {
	case a.JSON != nil:
		if !json.Valid([]byte(*a.JSON)) || jsonkind.Of([]byte(*a.JSON)) != "object" {
			return nil, protocolError("attributes.json", "must hold a JSON object as a string")
		}
		content = json.RawMessage(*a.JSON)
	case !isNull(a.Content):
		if jsonkind.Of(a.Content) != "object" {
			return nil, protocolError("attributes.content", "a JSON %s, where a JSON object belongs", jsonkind.Of(a.Content))
		}
		content = a.Content
	}
	switch {
	case !isNull(a.Attributes):
		if jsonkind.Of(a.Attributes) != "object" {
			return nil, protocolError("attributes.attributes", "a JSON %s, where a JSON object belongs", jsonkind.Of(a.Attributes))
		}
		wr.Object.Attributes = a.Attributes
	case content != nil:
		wr.Object.Attributes, _ = json.Marshal(map[string]json.RawMessage{"content": content})
	}
	for _, e := range a.Elements {
		if e.ID == "" {
			return nil, protocolError("attributes.elements", "an element without an id")
		}
		el := doip.Element{ID: e.ID, MediaType: e.Type, Size: -1}
		if jsonkind.Of(e.Attributes) == "object" {
			el.Attributes = e.Attributes
		}
		wr.Object.Elements = append(wr.Object.Elements, el)
	}
	limit := c.maxUpload
	if limit == 0 || limit > math.MaxUint32 {
		limit = math.MaxUint32
	}
	c.r.MaxMessage = uint32(limit)
	wr.Elements = &segElements{c: c}
	req.Write = wr
	return req, nil
}

// isWriteOp reports whether an operation is one of the writes or history.
func isWriteOp(op doip.Op) bool {
	return op == doip.OpCreate || op == doip.OpUpdate || op == doip.OpDelete || op == doip.OpHistory
}

// segElements yields the element pairs after a write's first segment.
type segElements struct {
	c    *ServerCodec
	done bool
	err  error
}

func (e *segElements) Next() (*doip.ElementUpload, error) {
	if e.done {
		return nil, io.EOF
	}
	if e.err != nil {
		return nil, e.err
	}
	sr := e.c.r
	hdr, err := sr.ReadSegment()
	if errors.Is(err, ErrEndOfMessage) {
		e.done = true
		return nil, io.EOF
	}
	if err != nil {
		return nil, e.fail(noEOF(err))
	}
	var h struct {
		ID   string `json:"id"`
		Type string `json:"type"`
	}
	if jsonkind.Of(hdr) != "object" || json.Unmarshal(hdr, &h) != nil || h.ID == "" {
		return nil, e.fail(protocolError("element header", "want a JSON object {\"id\":…} before each element's bytes"))
	}
	n, err := sr.NextSegment()
	if errors.Is(err, ErrEndOfMessage) {
		return nil, e.fail(protocolError("element "+h.ID, "the message ended where its bytes belong"))
	}
	if err != nil {
		return nil, e.fail(noEOF(err))
	}
	return &doip.ElementUpload{ID: h.ID, MediaType: h.Type, Size: int64(n), Body: sr.Content()}, nil
}

func (e *segElements) fail(err error) error {
	e.err = doip.Answer(framingError(err))
	return e.err
}

// Close reports whether the message was read to its end; the connection closes after the
// answer either way (one request per connection).
func (e *segElements) Close() error {
	if e.err != nil {
		return e.err
	}
	if !e.done {
		return fmt.Errorf("segment: the request's elements were not read to their end")
	}
	return nil
}

// writeWritten answers a write or a history request with its status segment.
func (c *ServerCodec) writeWritten(req *doip.Request, resp *doip.Response) (bool, error) {
	js, _, ok, err := mardijson.WriteJSON(req.Op, resp)
	if !ok || err != nil {
		return ok, err
	}
	status, err := statusJSON(js, nil, nil)
	if err != nil {
		return true, err
	}
	if err := c.w.WriteSegment(status); err != nil {
		return true, err
	}
	return true, c.w.End()
}
