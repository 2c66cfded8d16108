package doiptext

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"slices"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/shared/jsonkind"
)

// The operation ids of the writes the gateway adds beside the standard ones: history is an
// extended operation of that name (so no workflow can be called "history").
const (
	OpIDHistory = "history"
)

// DefaultMaxUpload bounds the bytes of one create or update message when
// [doip.Limits.MaxUpload] is zero.
const DefaultMaxUpload = 4 << 30

// maxSkip is how much of a write's input is skipped after the handler stopped reading, to
// keep the connection; past it the connection is closed.
const maxSkip = 1 << 20

// isWriteOp reports whether a first segment asks for a create or an update, whose input is
// read as the handler asks for it rather than before.
func isWriteOp(first json.RawMessage) bool {
	var f struct {
		OperationID string `json:"operationId"`
	}
	if json.Unmarshal(first, &f) != nil {
		return false
	}
	return f.OperationID == OpIDCreate || f.OperationID == OpIDUpdate
}

// readWrite finishes reading a create or an update after its first segment: the digital
// object (compact input, or the next segment), then hands the element pairs that follow to
// the handler through req.Write.Elements.
//
// A request that is well framed but wrong (no object, an object that is not one) is
// answered in turn, when the rest of its message is short enough to skip: it goes to the
// handler with an input that fails with the error ([doip.FailedInput]), and the connection
// stays open. Otherwise the error ends the connection after the answer.
func (c *ServerCodec) readWrite(req *doip.Request, attrs map[string]json.RawMessage, input json.RawMessage) error {
	ended, err := c.readWriteObject(req, attrs, input)
	if err == nil {
		return nil
	}
	var e *doip.Error
	if !errors.As(err, &e) || e.Kind != doip.KindBadRequest {
		return err
	}
	if !ended {
		rest := &textElements{c: c}
		if rest.Close() != nil {
			return err
		}
	}
	req.Write = &doip.Write{Elements: doip.FailedInput(e)}
	return nil
}

// readWriteObject reads the object of a create or an update; ended says the message's end
// was read with it.
func (c *ServerCodec) readWriteObject(req *doip.Request, attrs map[string]json.RawMessage, input json.RawMessage) (ended bool, _ error) {
	max := int64(c.opts.Limits.MaxUpload)
	if max <= 0 {
		max = DefaultMaxUpload
	}
	c.rd.MaxMessage = max
	compact := input != nil
	if !compact {
		seg, err := c.rd.NextSegment()
		if err != nil {
			return false, framingError(noEOF(err))
		}
		if seg.Kind != SegmentJSON {
			return seg.Kind == SegmentEnd, badRequest("Missing input: the digital object must follow the first segment as a JSON segment, not %s", describeKind(seg.Kind))
		}
		input = seg.JSON
	}
	var do storedDO // the same shape as the answer's
	if input[0] != '{' || json.Unmarshal(input, &do) != nil {
		return false, badRequest("the digital object must be a JSON object with id, type, attributes and elements, not %s", jsonkind.Described(input))
	}
	if len(do.Attributes) > 0 && (do.Attributes[0] != '{' && string(do.Attributes) != "null") {
		return false, badRequest("the digital object's attributes must be a JSON object, not %s", jsonkind.Described(do.Attributes))
	}
	w := &doip.Write{Object: doip.DigitalObject{Type: do.Type}}
	if len(do.Attributes) > 0 && do.Attributes[0] == '{' {
		w.Object.Attributes = do.Attributes
		var a struct {
			Version string `json:"version"`
		}
		_ = json.Unmarshal(do.Attributes, &a)
		w.ExpectedVersion = a.Version
	}
	for _, e := range do.Elements {
		if e.ID == "" {
			return false, badRequest("an element of the digital object has no id")
		}
		if len(e.Attributes) > 0 && e.Attributes[0] != '{' && string(e.Attributes) != "null" {
			return false, badRequest("attributes of element %q must be a JSON object", e.ID)
		}
		el := doip.Element{ID: e.ID, MediaType: e.Type, Size: -1}
		if len(e.Attributes) > 0 && e.Attributes[0] == '{' {
			el.Attributes = e.Attributes
		}
		w.Object.Elements = append(w.Object.Elements, el)
	}
	w.Object.ID = do.ID
	switch req.Op {
	case doip.OpCreate:
		req.ObjectID = w.Object.ID // the id asked for; the target is the service
	case doip.OpUpdate:
		if w.Object.ID != "" && w.Object.ID != req.ObjectID {
			return false, badRequest("the digital object's id %q is not the targetId %q", w.Object.ID, req.ObjectID)
		}
		if raw, ok := present(attrs, "elementsToDelete"); ok {
			if err := json.Unmarshal(raw, &w.RemoveElements); err != nil {
				return false, badRequest("attributes.elementsToDelete must be an array of element ids, not %s", jsonkind.Described(raw))
			}
		}
	}
	if raw, ok := present(attrs, "expectedVersion"); ok {
		if err := json.Unmarshal(raw, &w.ExpectedVersion); err != nil {
			return false, badRequest("attributes.expectedVersion must be a string, not %s", jsonkind.Described(raw))
		}
	}
	ids := make([]string, len(w.Object.Elements))
	for i, e := range w.Object.Elements {
		ids[i] = e.ID
	}
	w.Elements = &textElements{c: c, compact: compact, ids: ids, create: req.Op == doip.OpCreate}
	req.Write = w
	return false, nil
}

// textElements reads the element pairs of a create or an update: {"id":…} and a bytes
// segment, until the message's end.
type textElements struct {
	c       *ServerCodec
	compact bool     // the object came in the first segment: nothing may follow
	ids     []string // the element ids the object lists
	create  bool
	done    bool
	err     error
}

func (t *textElements) Next() (*doip.ElementUpload, error) {
	if t.done {
		return nil, io.EOF
	}
	if t.err != nil {
		return nil, t.err
	}
	seg, err := t.c.rd.NextSegment()
	if err != nil {
		return nil, t.fail(framingError(noEOF(err)))
	}
	switch {
	case seg.Kind == SegmentEnd:
		t.done = true
		return nil, io.EOF
	case t.compact || len(t.ids) == 0:
		return nil, t.fail(badRequest("Unexpected input segments: the digital object lists no elements, yet %s segments follow it", describeKind(seg.Kind)))
	case seg.Kind != SegmentJSON:
		return nil, t.fail(badRequest("Unexpected element header: a %s segment where {\"id\":…} belongs", describeKind(seg.Kind)))
	}
	var h struct {
		ID *string `json:"id"`
	}
	if seg.JSON[0] != '{' || json.Unmarshal(seg.JSON, &h) != nil || h.ID == nil || *h.ID == "" {
		return nil, t.fail(badRequest("Unexpected element header: want {\"id\":…} with a string id, not %s", jsonkind.Described(seg.JSON)))
	}
	if t.create && !slices.Contains(t.ids, *h.ID) {
		return nil, t.fail(badRequest("No such element %q: the digital object does not list it", *h.ID))
	}
	body, err := t.c.rd.NextSegment()
	if err != nil {
		return nil, t.fail(framingError(noEOF(err)))
	}
	if body.Kind != SegmentBytes {
		return nil, t.fail(badRequest("Unexpected end of input: element %q has a header but a %s segment where its bytes belong", *h.ID, describeKind(body.Kind)))
	}
	return &doip.ElementUpload{ID: *h.ID, Size: -1, Body: body.Bytes}, nil
}

func (t *textElements) fail(err error) error {
	t.err = err
	return err
}

// Close skips the rest of the message, at most maxSkip bytes of it.
func (t *textElements) Close() error {
	if t.err != nil {
		return t.err
	}
	start := t.c.rd.n
	for !t.done {
		if t.c.rd.n-start > maxSkip {
			return errors.New("doiptext: the handler left more than 1 MiB of the request unread")
		}
		seg, err := t.c.rd.NextSegment()
		if err != nil {
			return err
		}
		switch seg.Kind {
		case SegmentEnd:
			t.done = true
		case SegmentBytes:
			if _, err := io.CopyN(io.Discard, seg.Bytes, maxSkip+1); err != nil && err != io.EOF {
				return err
			}
		}
	}
	return nil
}

// storedDO is a digital object as clients send it and as a create's or an update's answer
// holds it, its keys in the order of spec §6.2: each element with its length and attributes.
type storedDO struct {
	ID         string          `json:"id"`
	Type       string          `json:"type"`
	Attributes json.RawMessage `json:"attributes"`
	Elements   []storedElement `json:"elements"`
}

type storedElement struct {
	ID         string          `json:"id"`
	Type       string          `json:"type,omitempty"`
	Length     *int64          `json:"length,omitempty"`
	Attributes json.RawMessage `json:"attributes,omitempty"`
}

// writeWritten answers a create or an update with the stored object as compact output, and
// a delete with a bare status.
func (c *ServerCodec) writeWritten(ok firstSegment, req *doip.Request, wr *doip.WriteResult) error {
	if wr.Deleted || wr.Record == nil {
		return c.writeCompact(ok)
	}
	rec := wr.Record
	do := storedDO{ID: rec.ObjectID, Type: rec.Type, Elements: []storedElement{}}
	if do.Type == "" {
		do.Type = DefaultObjectType
	}
	attrs := wr.Attributes
	if len(attrs) == 0 {
		attrs = json.RawMessage(`{}`)
	}
	do.Attributes = withVersion(attrs, wr.Version)
	for _, ci := range rec.Components {
		el := storedElement{ID: ci.ID, Type: ci.MediaType, Length: length(ci.Size)}
		if ci.Filename != "" {
			el.Attributes, _ = json.Marshal(map[string]string{"filename": ci.Filename})
		}
		do.Elements = append(do.Elements, el)
	}
	ok.Output = do
	return c.writeCompact(ok)
}

// withVersion adds "version" to a JSON object of attributes (replacing one there), keeping
// the other keys in their order; no version leaves it as it is.
func withVersion(attrs json.RawMessage, version string) json.RawMessage {
	if version == "" {
		return attrs
	}
	var m map[string]json.RawMessage
	if json.Unmarshal(attrs, &m) != nil {
		return attrs
	}
	v, _ := json.Marshal(version)
	if _, ok := m["version"]; ok {
		delete(m, "version")
		attrs, _ = json.Marshal(m)
	}
	trimmed := bytes.TrimSpace(attrs)
	if string(trimmed) == "{}" {
		return json.RawMessage(`{"version":` + string(v) + `}`)
	}
	out := append([]byte{}, trimmed[:len(trimmed)-1]...)
	out = append(out, `,"version":`...)
	out = append(out, v...)
	return append(out, '}')
}

// writeHistory answers a history request: compact output {"id","versions":[…],"nextPageToken"}.
func (c *ServerCodec) writeHistory(ok firstSegment, h *doip.History) error {
	vs := h.Versions
	if vs == nil {
		vs = []doip.VersionInfo{}
	}
	ok.Output = struct {
		ID            string             `json:"id"`
		Versions      []doip.VersionInfo `json:"versions"`
		NextPageToken string             `json:"nextPageToken,omitempty"`
	}{h.ObjectID, vs, h.NextPageToken}
	return c.writeCompact(ok)
}
