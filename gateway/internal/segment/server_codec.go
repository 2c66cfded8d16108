package segment

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/mardijson"
	"github.com/fdo-doip/doip-gateway/shared/jsonkind"
)

var _ doip.ServerCodec = (*ServerCodec)(nil)

// ServerCodec reads requests and writes answers in length-prefixed JSON segments, for the
// gateway's port 3568 (spec §5). It maps the request's first segment onto the
// framing-neutral model of package doip, and renders answers from the same parts as the
// binary envelope ([mardijson.ResponseParts]), so a client sees the same metadata on either
// port. It serves one request per connection: [ServerCodec.KeepAlive] is false.
//
// ServerCodec is a [doip.ServerCodec]: the server calls
// ReadRequest, then WriteResponse or WriteError, then flushes the bufio.Writer.
type ServerCodec struct {
	r *Reader
	w *Writer
	// maxUpload bounds a create's or an update's message (write.go); 0: 4 GiB - 1.
	maxUpload uint64
}

// Options configure a [ServerCodec].
type Options struct {
	// Limits cap the first (JSON) segment of a request (MaxSegment) and the sum of its
	// segments' lengths (MaxPayload); zero means [DefaultMaxSegment] and [DefaultMaxMessage].
	Limits doip.Limits
}

// NewServerCodec returns a codec reading from r and writing to w.
func NewServerCodec(r *bufio.Reader, w *bufio.Writer, opts Options) *ServerCodec {
	sr := NewReader(r)
	sr.MaxSegment, sr.MaxMessage = opts.Limits.MaxSegment, opts.Limits.MaxPayload
	return &ServerCodec{r: sr, w: NewWriter(w), maxUpload: opts.Limits.MaxUpload}
}

// wireRequest is the first segment of a request. Every field is kept raw so that a value of
// the wrong JSON type can be reported by name.
type wireRequest struct {
	TargetID         json.RawMessage `json:"targetId"`
	TargetIDSnake    json.RawMessage `json:"target_id"`
	OperationID      json.RawMessage `json:"operationId"`
	OperationIDSnake json.RawMessage `json:"operation_id"`
	Attributes       json.RawMessage `json:"attributes"`
	wireOptions
}

// wireAttributes is the "attributes" object of a request.
type wireAttributes struct {
	Element          json.RawMessage `json:"element"`
	ComponentID      json.RawMessage `json:"componentId"`
	ComponentIDSnake json.RawMessage `json:"component_id"`
	wireOptions
}

// wireOptions are the fields a request may give at the top level or in its attributes (the
// attributes win).
type wireOptions struct {
	Workflow json.RawMessage `json:"workflow"`
	Params   json.RawMessage `json:"params"`
	Token    json.RawMessage `json:"token"`
	Version  json.RawMessage `json:"version"`
}

// ReadRequest reads one request: its first segment, a JSON object, and then every further
// segment up to the zero-length end, which are counted against the message cap and dropped.
//
// It returns io.EOF when the stream ends before a request. Any other error is a framing
// error and carries a *doip.Error in its chain: of kind TooLarge for a segment or message over
// its cap ([ErrTooLarge] is in the chain too), BadRequest for a message cut short
// ([io.ErrUnexpectedEOF] is in the chain too), an empty request, a first segment that is not a
// JSON object, a missing or unusable operationId, or a field of the wrong JSON type (a
// [*ProtocolError] is in the chain too). An error of the underlying reader, such as a
// timeout, is returned wrapped, without a *doip.Error.
//
// A request for an operation that the gateway does not know is not an error: it comes back
// with Op [doip.OpUnknown] (or the unknown code) for the dispatcher to answer. Nor is a
// missing targetId, which leaves ObjectID empty.
func (c *ServerCodec) ReadRequest() (*doip.Request, error) {
	first, err := c.r.ReadSegment()
	switch {
	case err == io.EOF:
		return nil, io.EOF
	case err == ErrEndOfMessage:
		return nil, framingError(protocolError("first segment", "length 0, an empty request, where a JSON object belongs"))
	case err != nil:
		return nil, framingError(err)
	}
	req, perr := parseRequest(first)
	if perr == nil && req.Op == doip.OpUnknown {
		if op, ok := doip.ParseWriteOpName(req.OperationID); ok {
			req.Op = op
		}
	} else if perr == nil && (req.Op == doip.OpDelete || req.Op == doip.OpHistory) {
		req.Op = doip.OpUnknown // only named: their values are no operation code
	}
	if perr == nil && isWriteOp(req.Op) {
		if req.Op == doip.OpDelete || req.Op == doip.OpHistory {
			if err := c.r.SkipMessage(); err != nil {
				return nil, framingError(err)
			}
		}
		req, perr = c.readWrite(req, first) // write.go: a write's elements stay on the wire
		if perr != nil {
			return nil, framingError(perr)
		}
		return req, nil
	}
	// Read the whole message before judging it, so that an error answer is not lost to a
	// connection reset by a client still writing.
	if err := c.r.SkipMessage(); err != nil {
		return nil, framingError(err)
	}
	if perr != nil {
		return nil, framingError(perr)
	}
	return req, nil
}

// parseRequest decodes the first segment of a request.
func parseRequest(b []byte) (*doip.Request, error) {
	var w wireRequest
	err := json.Unmarshal(b, &w)
	if se, ok := errors.AsType[*json.SyntaxError](err); ok {
		return nil, protocolError("first segment", "not JSON: %v (at byte %d)", se, se.Offset)
	}
	// Valid JSON other than an object fails to decode into the struct, except null, which
	// decodes to nothing; name the kind either way.
	if k := jsonkind.Of(b); k != "object" {
		return nil, protocolError("first segment", "a JSON %s, where a JSON object belongs", k)
	}
	if err != nil {
		return nil, protocolError("first segment", "%v", err)
	}
	req := &doip.Request{Framing: doip.FramingSegment}
	if req.ObjectID, err = firstString(field{"targetId", w.TargetID}, field{"target_id", w.TargetIDSnake}); err != nil {
		return nil, err
	}
	if req.Op, req.OperationID, err = parseOperation(w); err != nil {
		return nil, err
	}
	var a wireAttributes
	if !isNull(w.Attributes) {
		if k := jsonkind.Of(w.Attributes); k != "object" {
			return nil, protocolError("attributes", "a JSON %s, where a JSON object belongs", k)
		}
		// A valid JSON object into raw fields: this cannot fail, but is checked all the same.
		if err := json.Unmarshal(w.Attributes, &a); err != nil {
			return nil, protocolError("attributes", "%v", err)
		}
	}
	if req.Element, err = firstString(field{"attributes.element", a.Element}, field{"attributes.componentId", a.ComponentID}, field{"attributes.component_id", a.ComponentIDSnake}); err != nil {
		return nil, err
	}
	if req.Token, err = firstString(field{"attributes.token", a.Token}, field{"token", w.Token}); err != nil {
		return nil, err
	}
	if req.Workflow, err = firstString(field{"attributes.workflow", a.Workflow}, field{"workflow", w.Workflow}); err != nil {
		return nil, err
	}
	if req.Params, err = firstObject(field{"attributes.params", a.Params}, field{"params", w.Params}); err != nil {
		return nil, err
	}
	if req.Version, err = firstString(field{"attributes.version", a.Version}, field{"version", w.Version}); err != nil {
		return nil, err
	}
	if req.Op == doip.OpSearch {
		req.Search = mardijson.ParseSearch(w.Attributes)
	}
	return req, nil
}

// parseOperation reads operationId (or operation_id): a number, taken as the binary
// envelope's operation code, or a name in any case. A number that is not a code the
// envelope can carry, or a name the gateway does not know, gives OpUnknown.
func parseOperation(w wireRequest) (doip.Op, string, error) {
	field, raw := "operationId", w.OperationID
	if isNull(raw) {
		field, raw = "operation_id", w.OperationIDSnake
	}
	if isNull(raw) {
		return 0, "", protocolError("operationId", "missing; want an operation code (1 hello, 2 retrieve, 4 list operations, 5 invoke, 7 purge) or a name")
	}
	switch k := jsonkind.Of(raw); k {
	case "number":
		text := string(raw)
		op, ok := opCode(text)
		if !ok {
			return 0, "", protocolError(field, "%s is not an operation code: want a whole number or a name", text)
		}
		return op, text, nil
	case "string":
		var name string
		if err := json.Unmarshal(raw, &name); err != nil {
			return 0, "", protocolError(field, "%v", err)
		}
		if strings.TrimSpace(name) == "" {
			return 0, "", protocolError(field, "an empty string; want an operation code or a name")
		}
		if op, ok := doip.ParseOpName(name); ok {
			return op, name, nil
		}
		if op, ok := opCode(strings.TrimSpace(name)); ok {
			return op, name, nil
		}
		return doip.OpUnknown, name, nil
	default:
		return 0, "", protocolError(field, "a JSON %s; want an operation code (a number) or a name (a string)", k)
	}
}

// opCode parses a whole, non-negative decimal number as an operation code. A number too big
// for the operation byte is OpUnknown; anything else, such as 1.5 or -1, is not a code.
func opCode(text string) (doip.Op, bool) {
	n, err := strconv.ParseUint(text, 10, 8)
	if err == nil {
		return doip.Op(n), true
	}
	if ne, ok := errors.AsType[*strconv.NumError](err); ok && ne.Err == strconv.ErrRange {
		return doip.OpUnknown, true
	}
	return 0, false
}

// field is a raw JSON value and the name a client knows it by.
type field struct {
	name string
	raw  json.RawMessage
}

// firstString returns the first of fs that is present, not null and not an empty string, as
// a string. A value of another JSON type is an error naming it.
func firstString(fs ...field) (string, error) {
	for _, f := range fs {
		if isNull(f.raw) {
			continue
		}
		if k := jsonkind.Of(f.raw); k != "string" {
			return "", protocolError(f.name, "a JSON %s, where a string belongs", k)
		}
		var s string
		if err := json.Unmarshal(f.raw, &s); err != nil {
			return "", protocolError(f.name, "%v", err)
		}
		if s != "" {
			return s, nil
		}
	}
	return "", nil
}

// firstObject returns the first of fs that is present and not null; it must be a JSON
// object.
func firstObject(fs ...field) (json.RawMessage, error) {
	for _, f := range fs {
		if isNull(f.raw) {
			continue
		}
		if k := jsonkind.Of(f.raw); k != "object" {
			return nil, protocolError(f.name, "a JSON %s, where a JSON object belongs", k)
		}
		return f.raw, nil
	}
	return nil, nil
}

// isNull reports whether a raw value is absent or JSON null.
func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || string(raw) == "null"
}

// framingError makes err a [doip.FramingError] carrying the *doip.Error the client is told, unless err is an error
// of the underlying reader, which the server classifies itself.
func framingError(err error) error {
	if errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrTooLarge) {
		return doip.NewFramingError(doip.KindBadRequest, err) // a segment cut short
	}
	return doip.AsFramingError[*ProtocolError](err, ErrTooLarge)
}

// KeepAlive is always false: one request per connection, and the server closes after the
// answer (spec §5).
func (c *ServerCodec) KeepAlive() bool { return false }

// WriteProgress does nothing: the segment framing has no progress events.
func (c *ServerCodec) WriteProgress(*doip.Request, string, string, float64) error { return nil }

// WriteError writes an error answer: one segment holding
// {"status":"error","error":KIND,"message":TEXT}, and the zero-length end. The "status" and
// "message" members are the spec's; "error" is the kind, as the binary envelope sends it
// ([mardijson.ErrorJSON]). req may be nil, after a framing error.
func (c *ServerCodec) WriteError(req *doip.Request, e *doip.Error) error {
	if e == nil {
		e = doip.AsError(nil)
	}
	js, err := mardijson.ErrorJSON(e)
	if err != nil {
		return err
	}
	// ErrorJSON writes an object with members, so it starts with `{"`; splice "status" in.
	seg := make([]byte, 0, len(`{"status":"error",`)+len(js)-1)
	seg = append(append(seg, `{"status":"error",`...), js[1:]...)
	if err := c.w.WriteSegment(seg); err != nil {
		return err
	}
	return c.w.End()
}

// WriteResponse writes a response: a status segment
// {"status":"success","metadata":[...],"attributes":{"filename":ID}}, one raw segment per
// component with its bytes, and the zero-length end.
//
// "metadata" holds the metadata JSON of [mardijson.ResponseParts] (none for a component) and,
// for an invoke, its workflow JSON after it; both are copied as they are. "attributes" is
// there only when component bytes follow, and names the first. A component of 0 bytes is
// left out, since a zero-length segment would end the message. Component bytes are streamed
// from their readers, exactly Size of them; a shorter body is an error, and bytes past Size
// are not sent. A component that cannot be carried (a Size below 0 or above 4 GiB - 1, a
// nil Body) is reported before anything is written, as a *doip.Error.
func (c *ServerCodec) WriteResponse(req *doip.Request, resp *doip.Response) error {
	if done, err := c.writeWritten(req, resp); done || err != nil {
		return err
	}
	meta, comps, workflow, err := mardijson.ResponseParts(resp)
	if err != nil {
		return err
	}
	var send []doip.ComponentBody
	for _, cb := range comps {
		switch {
		case cb.Size < 0 || cb.Size > math.MaxUint32:
			return &doip.Error{Kind: doip.KindTooLarge, Message: fmt.Sprintf("component %s is %d bytes, more than a segment can carry", cb.ID, cb.Size)}
		case cb.Size == 0:
			continue
		case cb.Body == nil:
			return &doip.Error{Kind: doip.KindInternal, Message: fmt.Sprintf("component %s of %d bytes has no body", cb.ID, cb.Size)}
		}
		send = append(send, cb)
	}
	status, err := statusJSON(meta, workflow, send)
	if err != nil {
		return err
	}
	if err := c.w.WriteSegment(status); err != nil {
		return err
	}
	for _, cb := range send {
		if err := c.w.WriteSegmentHeader(uint32(cb.Size)); err != nil {
			return err
		}
		if err := doip.CopyExact(c.w, cb.Body, cb.Size); err != nil {
			sent := cb.Size - int64(c.w.left)
			return fmt.Errorf("segment: streaming component %s: sent %d of %d bytes: %w", cb.ID, sent, cb.Size, noEOF(err))
		}
	}
	return c.w.End()
}

// statusJSON renders the status segment of a response.
func statusJSON(meta, workflow json.RawMessage, comps []doip.ComponentBody) ([]byte, error) {
	buf := append(make([]byte, 0, 64+len(meta)+len(workflow)), `{"status":"success","metadata":[`...)
	n := 0
	for _, part := range []struct {
		name string
		js   json.RawMessage
	}{{"metadata", meta}, {"workflow", workflow}} {
		if part.js == nil {
			continue
		}
		if !json.Valid(part.js) {
			return nil, fmt.Errorf("segment: the response's %s is not valid JSON", part.name)
		}
		if n > 0 {
			buf = append(buf, ',')
		}
		buf = append(buf, part.js...)
		n++
	}
	buf = append(buf, ']')
	if len(comps) > 0 {
		id, err := mardijson.Marshal(comps[0].ID)
		if err != nil {
			return nil, err
		}
		buf = append(append(append(buf, `,"attributes":{"filename":`...), id...), '}')
	}
	return append(buf, '}'), nil
}
