package envelope

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/mardijson"
)

var _ doip.ServerCodec = (*ServerCodec)(nil)

// ServerCodec reads requests and writes answers in the binary envelope, for the gateway's
// port 3567. It maps the envelope onto the framing-neutral model of package doip: the
// operation byte (or, where the byte is unknown, the "operation" name of the first metadata
// block), the object id, "element" or "componentId", "workflow" and "params" (from the
// metadata or a workflow block). Answers echo the request's operation byte and object id.
type ServerCodec struct {
	fr     *Framer
	w      *bufio.Writer
	op     doip.Op // the operation byte of the request being answered, echoed
	limits doip.Limits
}

// Options configure a [ServerCodec].
type Options struct {
	// Limits cap a request's payload (MaxPayload) and its object id (MaxSegment, of which
	// at most 64 KiB - 1 applies, the most the id's length field can say); zero means
	// [DefaultMaxPayload] and [DefaultMaxObjectID].
	Limits doip.Limits
}

// NewServerCodec returns a codec reading from r and writing to w.
func NewServerCodec(r *bufio.Reader, w *bufio.Writer, opts Options) *ServerCodec {
	fr := NewFramer(w, r)
	fr.MaxPayload = opts.Limits.MaxPayload
	fr.MaxObjectID = uint16(min(opts.Limits.MaxSegment, 1<<16-1))
	return &ServerCodec{fr: fr, w: w, limits: opts.Limits}
}

// requestMeta is what the gateway reads from a request's metadata or workflow block.
type requestMeta struct {
	Operation   string          `json:"operation"`
	Element     string          `json:"element"`
	ComponentID string          `json:"componentId"`
	Workflow    string          `json:"workflow"`
	Params      json.RawMessage `json:"params"`
	Token       string          `json:"token"`
	Version     string          `json:"version"`
	Auth        struct {
		Token string `json:"token"`
	} `json:"authentication"`
}

// ReadRequest reads the next request. A malformed message returns an error that carries a
// *doip.Error of kind BadRequest or TooLarge.
func (c *ServerCodec) ReadRequest() (*doip.Request, error) {
	h, objectID, err := c.fr.ReadHeader()
	if err != nil {
		return nil, framingError(err)
	}
	c.op = h.Op
	if h.Type != TypeRequest {
		c.op = 0
		return nil, &doip.Error{Kind: doip.KindBadRequest, Message: fmt.Sprintf("envelope: message type %s where a request (0x01) belongs", h.Type)}
	}
	if isStreamedOp(h.Op) {
		return c.readStreamed(h, objectID) // write.go
	}
	msg, err := c.readWhole(h, objectID)
	if err != nil {
		return nil, framingError(err)
	}
	req := &doip.Request{Op: msg.Header.Op, ObjectID: msg.ObjectID, Framing: doip.FramingEnvelope}
	var firstMeta json.RawMessage
	for _, b := range msg.Blocks {
		var js json.RawMessage
		switch b := b.(type) {
		case *MetadataBlock:
			js = b.JSON
			if firstMeta == nil {
				firstMeta = js
			}
		case *WorkflowBlock:
			js = b.JSON
		default:
			continue
		}
		var m requestMeta
		if err := json.Unmarshal(js, &m); err != nil {
			return nil, &doip.Error{Kind: doip.KindBadRequest, Message: fmt.Sprintf("envelope: %s block: %v", b.Type(), err)}
		}
		if req.OperationID == "" {
			req.OperationID = m.Operation
		}
		req.Element = cmp.Or(req.Element, m.Element, m.ComponentID)
		req.Workflow = cmp.Or(req.Workflow, m.Workflow)
		req.Token = cmp.Or(req.Token, m.Token, m.Auth.Token)
		req.Version = cmp.Or(req.Version, m.Version)
		if req.Params == nil && len(m.Params) > 0 && !bytes.Equal(m.Params, []byte("null")) {
			req.Params = m.Params
		}
	}
	if !req.Op.Known() {
		if op, ok := doip.ParseOpName(req.OperationID); ok {
			req.Op = op
		} else if op, ok := doip.ParseWriteOpName(req.OperationID); ok {
			req.Op = op
		} else if req.Op == doip.OpDelete || req.Op == doip.OpHistory {
			req.Op = doip.OpUnknown // only named: their values are no operation byte
		}
	}
	switch req.Op {
	case doip.OpDelete:
		var wm writeMeta
		if md := msg.Metadata(); md != nil {
			_ = json.Unmarshal(md, &wm)
		}
		req.Write = &doip.Write{ExpectedVersion: wm.ExpectedVersion}
		req.Username = wm.Username
		req.Token = cmp.Or(req.Token, wm.Password)
	case doip.OpHistory:
		req.Params = msg.Metadata()
	case doip.OpSearch:
		req.Search = mardijson.ParseSearch(firstMeta)
	}
	return req, nil
}

// framingError turns a codec error into a [doip.FramingError] that carries what the client is
// told. End-of-stream and I/O errors pass through unchanged.
func framingError(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	return doip.AsFramingError[*ProtocolError](err, ErrTooLarge)
}

// KeepAlive is always true: the envelope serves many requests per connection.
func (c *ServerCodec) KeepAlive() bool { return true }

// WriteProgress does nothing: binary clients get the final answer only.
func (c *ServerCodec) WriteProgress(*doip.Request, string, string, float64) error { return nil }

// WriteError writes an error envelope (type 0x7F) with {"error":KIND,"message":TEXT},
// echoing the request's operation byte and object id (operation 0 after a framing error).
func (c *ServerCodec) WriteError(req *doip.Request, e *doip.Error) error {
	js, err := mardijson.ErrorJSON(e)
	if err != nil {
		return err
	}
	h := Header{Version: Version, Type: TypeError}
	id := ""
	if req != nil {
		h.Op, id = c.op, req.ObjectID
	}
	return c.writeJSONOnly(h, id, js)
}

func (c *ServerCodec) writeJSONOnly(h Header, id string, js []byte) error {
	h.PayloadLen = uint32(JSONBlockLen(len(js)))
	if err := c.fr.WriteHeader(h, id); err != nil {
		return err
	}
	return c.fr.WriteJSONBlock(BlockMetadata, js)
}

// WriteResponse writes a response envelope. Component bytes are copied from their readers
// after a header whose payload length was computed from their sizes.
func (c *ServerCodec) WriteResponse(req *doip.Request, resp *doip.Response) error {
	if done, err := c.writeWritten(req, resp); done || err != nil {
		return err
	}
	rawMeta, comps, workflow, err := mardijson.ResponseParts(resp)
	if err != nil {
		return err
	}
	var total uint64
	if rawMeta != nil {
		total += JSONBlockLen(len(rawMeta))
	}
	for _, cb := range comps {
		if cb.Size < 0 || cb.Size > maxUint32 {
			return &doip.Error{Kind: doip.KindTooLarge, Message: fmt.Sprintf("component %s is %d bytes, more than the envelope can carry", cb.ID, cb.Size)}
		}
		total += ComponentBlockLen(cb.ID, cb.MediaType, uint64(cb.Size))
	}
	if workflow != nil {
		total += JSONBlockLen(len(workflow))
	}
	if total > maxUint32 {
		return &doip.Error{Kind: doip.KindTooLarge, Message: fmt.Sprintf("response of %d bytes is more than the envelope can carry", total)}
	}
	h := Header{Version: Version, Type: TypeResponse, Op: c.op, PayloadLen: uint32(total)}
	if err := c.fr.WriteHeader(h, req.ObjectID); err != nil {
		return err
	}
	if rawMeta != nil {
		if err := c.fr.WriteJSONBlock(BlockMetadata, rawMeta); err != nil {
			return err
		}
	}
	for _, cb := range comps {
		if err := c.fr.WriteComponentHeader(cb.ID, cb.MediaType, uint32(cb.Size)); err != nil {
			return err
		}
		if err := doip.CopyExact(c.fr.Writer(), cb.Body, cb.Size); err != nil {
			return fmt.Errorf("envelope: streaming component %s: %w", cb.ID, err)
		}
	}
	if workflow != nil {
		return c.fr.WriteJSONBlock(BlockWorkflow, workflow)
	}
	return nil
}

const maxUint32 = 1<<32 - 1
