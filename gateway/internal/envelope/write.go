package envelope

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/mardijson"
)

// Writes in the binary envelope (MaRDI's release 2026.06 and the gateway's own):
//
//   - create, op 0x08: an empty object id (or the id asked for), metadata block 1 with
//     "json" (the new object's content as a JSON text inside a JSON string, as MaRDI's
//     client sends it) or "attributes" (a JSON object), optional "type", credentials
//     ("username" and "password", or "token"); then one component block per element.
//   - update, op 0x03: the object id; metadata block 1 with "element" (optional, must match
//     the block's id), credentials, optional "properties" (the new content; property mode,
//     with no component block), "attributes", "elementsToDelete", "expectedVersion"; then
//     component blocks with the bytes to add or replace.
//   - delete and history have no operation byte: the envelope names them by metadata
//     "operation" ("delete", "history") with any byte the envelope does not define (0x00 is
//     usual); history takes "pageSize" and "pageToken".
//
// Creates and updates are read as they stream: only their metadata blocks are held, the
// component contents go to the handler through [doip.Write.Elements]. Their payload is
// capped by [doip.Limits.MaxUpload] instead of MaxPayload.

// DefaultMaxUpload bounds a create's or an update's payload when Limits.MaxUpload is zero.
const DefaultMaxUpload = math.MaxUint32

// maxSkip is how much of a write's payload is skipped after the handler stopped reading, to
// keep the connection; past it the connection is closed.
const maxSkip = 1 << 20

// writeMeta is what a create's or an update's metadata block says beside requestMeta.
type writeMeta struct {
	JSON            *string         `json:"json"`
	Properties      json.RawMessage `json:"properties"`
	Attributes      json.RawMessage `json:"attributes"`
	Type            string          `json:"type"`
	ElementsToDel   []string        `json:"elementsToDelete"`
	ExpectedVersion string          `json:"expectedVersion"`
	Username        string          `json:"username"`
	Password        string          `json:"password"`
}

// isStreamedOp reports whether a request with this operation byte is read as it streams.
func isStreamedOp(op doip.Op) bool { return op == doip.OpCreate || op == doip.OpUpdate }

// readStreamed reads a create or an update after its header: its metadata blocks, up to
// the first component block, whose content the handler reads.
func (c *ServerCodec) readStreamed(h Header, objectID string) (*doip.Request, error) {
	if uint64(h.PayloadLen) > c.maxUpload() {
		return nil, framingError(c.fr.fail(tooLarge("payload", uint64(h.PayloadLen), c.maxUpload())))
	}
	req := &doip.Request{Op: h.Op, ObjectID: objectID, Framing: doip.FramingEnvelope}
	var (
		wm    writeMeta
		first = true
	)
	els := &envElements{c: c}
	for {
		t, n, err := c.fr.NextBlock()
		if errors.Is(err, io.EOF) {
			els.done = true
			break
		}
		if err != nil {
			return nil, framingError(err)
		}
		if t == BlockComponent {
			if els.id, els.mediaType, els.size, err = c.fr.ReadComponentHeader(n); err != nil {
				return nil, framingError(err)
			}
			els.pending = true
			break
		}
		js, err := c.fr.ReadJSONBlock(n)
		if err != nil {
			return nil, framingError(err)
		}
		if !first {
			continue // later metadata and workflow blocks say nothing to a write
		}
		first = false
		var m requestMeta
		if err := json.Unmarshal(js, &m); err != nil {
			return nil, &doip.Error{Kind: doip.KindBadRequest, Message: fmt.Sprintf("envelope: %s block: %v", t, err)}
		}
		if err := json.Unmarshal(js, &wm); err != nil {
			return nil, &doip.Error{Kind: doip.KindBadRequest, Message: fmt.Sprintf("envelope: %s block of %s: %v", t, h.Op, err)}
		}
		req.OperationID, req.Element = m.Operation, cmp.Or(m.Element, m.ComponentID)
		req.Token = cmp.Or(m.Token, m.Auth.Token, wm.Password)
		if m.Token == "" && m.Auth.Token == "" {
			req.Username = wm.Username
		}
	}
	w := &doip.Write{Object: doip.DigitalObject{ID: objectID, Type: wm.Type}, RemoveElements: wm.ElementsToDel, ExpectedVersion: wm.ExpectedVersion}
	var content json.RawMessage
	switch {
	case wm.JSON != nil:
		if !json.Valid([]byte(*wm.JSON)) || len(*wm.JSON) == 0 || (*wm.JSON)[0] != '{' {
			return c.badWrite(req, els, "create: invalid JSON: the \"json\" field must hold a JSON object as a string")
		}
		content = json.RawMessage(*wm.JSON)
	case len(wm.Properties) > 0 && string(wm.Properties) != "null":
		if wm.Properties[0] != '{' {
			return c.badWrite(req, els, "update 'properties' must be a JSON object")
		}
		content = wm.Properties
	}
	switch {
	case len(wm.Attributes) > 0 && string(wm.Attributes) != "null":
		if wm.Attributes[0] != '{' {
			return c.badWrite(req, els, "\"attributes\" must be a JSON object")
		}
		w.Object.Attributes = wm.Attributes
	case content != nil:
		w.Object.Attributes, _ = json.Marshal(map[string]json.RawMessage{"content": content})
	}
	if h.Op == doip.OpCreate && w.Object.Attributes == nil {
		return c.badWrite(req, els, "create requires a 'json' field (the new object as a JSON text) or 'attributes'")
	}
	if h.Op == doip.OpUpdate && els.pending && req.Element != "" && req.Element != els.id {
		return c.badWrite(req, els, "update metadata element must match component block id")
	}
	if h.Op == doip.OpUpdate && !els.pending && w.Object.Attributes == nil && len(w.RemoveElements) == 0 && wm.Type == "" {
		return c.badWrite(req, els, "update requires a component block, 'properties' or 'attributes'")
	}
	w.Elements = els
	req.Write = w
	return req, nil
}

// badWrite answers a write whose metadata is wrong. When its payload was read to the end the
// stream is in step: the request goes to the handler with an element stream that fails with
// the message, so that the answer comes in turn and the connection stays open. When
// components are still on the wire it is a framing error, and the connection closes after
// the answer.
func (c *ServerCodec) badWrite(req *doip.Request, els *envElements, msg string) (*doip.Request, error) {
	e := &doip.Error{Kind: doip.KindBadRequest, Message: msg}
	if els.pending || !els.done {
		return nil, &doip.FramingError{Answer: e, Err: e}
	}
	req.Write = &doip.Write{Elements: doip.FailedInput(e)}
	return req, nil
}

func (c *ServerCodec) maxUpload() uint64 {
	if c.limits.MaxUpload > 0 {
		return min(c.limits.MaxUpload, DefaultMaxUpload)
	}
	return DefaultMaxUpload
}

// envElements yields a write's component blocks, one content at a time.
type envElements struct {
	c         *ServerCodec
	pending   bool // a component header was read and its content is next
	id        string
	mediaType string
	size      uint32
	done      bool
	err       error
}

func (e *envElements) Next() (*doip.ElementUpload, error) {
	if e.err != nil {
		return nil, e.err
	}
	fr := e.c.fr
	if !e.pending {
		if e.done {
			return nil, io.EOF
		}
		if err := fr.Discard(); err != nil {
			return nil, e.fail(err)
		}
		for {
			t, n, err := fr.NextBlock()
			if errors.Is(err, io.EOF) {
				e.done = true
				return nil, io.EOF
			}
			if err != nil {
				return nil, e.fail(err)
			}
			if t != BlockComponent {
				if err := fr.Discard(); err != nil {
					return nil, e.fail(err)
				}
				continue
			}
			if e.id, e.mediaType, e.size, err = fr.ReadComponentHeader(n); err != nil {
				return nil, e.fail(err)
			}
			break
		}
	}
	e.pending = false
	return &doip.ElementUpload{ID: e.id, MediaType: e.mediaType, Size: int64(e.size), Body: fr.Content()}, nil
}

func (e *envElements) fail(err error) error {
	e.err = doip.Answer(framingError(err))
	return e.err
}

// Close skips the rest of the payload, at most maxSkip bytes of it.
func (e *envElements) Close() error {
	if e.err != nil {
		return e.err
	}
	fr := e.c.fr
	if left := uint64(fr.payloadLeft) + uint64(fr.blockLeft); left > maxSkip {
		return fmt.Errorf("envelope: %d bytes of the request left unread", left)
	}
	if err := fr.Discard(); err != nil {
		return err
	}
	for {
		_, _, err := fr.NextBlock()
		if errors.Is(err, io.EOF) {
			e.done = true
			return nil
		}
		if err != nil {
			return err
		}
		if err := fr.Discard(); err != nil {
			return err
		}
	}
}

// readWhole reads the payload of a request that is not streamed, as ReadMessage would.
func (c *ServerCodec) readWhole(h Header, objectID string) (*Message, error) {
	fr := c.fr
	if h.PayloadLen > fr.maxPayload() {
		return nil, fr.fail(tooLarge("payload", uint64(h.PayloadLen), uint64(fr.maxPayload())))
	}
	buf := make([]byte, h.PayloadLen)
	if err := fr.readFull(buf, "payload"); err != nil {
		return nil, err
	}
	fr.payloadLeft = 0
	blocks, err := parseBlocks(buf)
	if err != nil {
		return nil, fr.fail(err)
	}
	return &Message{Header: h, ObjectID: objectID, Blocks: blocks}, nil
}

// writeWritten answers a write or a history request with one metadata block (see
// [mardijson.WriteJSON]); the header names the object (for a create, the new one).
func (c *ServerCodec) writeWritten(req *doip.Request, resp *doip.Response) (bool, error) {
	js, id, ok, err := mardijson.WriteJSON(req.Op, resp)
	if !ok || err != nil {
		return ok, err
	}
	if id == "" {
		id = req.ObjectID
	}
	return true, c.writeJSONOnly(Header{Version: Version, Type: TypeResponse, Op: c.op}, id, js)
}
