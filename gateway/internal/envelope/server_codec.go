package envelope

import (
	"bufio"
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// ProtocolVersion is the "version" the reference server announces in hello.
const ProtocolVersion = 2

var _ doip.ServerCodec = (*ServerCodec)(nil)

// ServerCodec reads requests and writes answers in the binary envelope, for the gateway's
// port 3567. It maps the envelope onto the framing-neutral model of package doip: the
// operation byte (or, where the byte is unknown, the "operation" name of the first metadata
// block), the object id, "element" or "componentId", "workflow" and "params" (from the
// metadata or a workflow block). Answers echo the request's operation byte and object id.
type ServerCodec struct {
	fr *Framer
	w  *bufio.Writer
	op doip.Op // the operation byte of the request being answered, echoed
}

// NewServerCodec returns a codec reading from r and writing to w, with the given caps on
// a request's payload and object id.
func NewServerCodec(r io.Reader, w *bufio.Writer, maxPayload uint32, maxObjectID uint16) *ServerCodec {
	fr := NewFramer(w, r)
	fr.MaxPayload = maxPayload
	fr.MaxObjectID = maxObjectID
	return &ServerCodec{fr: fr, w: w}
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
	msg, err := c.fr.ReadMessage()
	if err != nil {
		return nil, classify(err)
	}
	c.op = msg.Header.Op
	if msg.Header.Type != TypeRequest {
		c.op = 0
		return nil, &doip.Error{Kind: doip.KindBadRequest, Message: fmt.Sprintf("envelope: message type %s where a request (0x01) belongs", msg.Header.Type)}
	}
	req := &doip.Request{Op: msg.Header.Op, ObjectID: msg.ObjectID, Framing: doip.FramingEnvelope}
	for _, b := range msg.Blocks {
		var js json.RawMessage
		switch b := b.(type) {
		case *MetadataBlock:
			js = b.JSON
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
		}
	}
	return req, nil
}

// classify turns a codec error into one that carries what the client is told.
func classify(err error) error {
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return err
	}
	var pe *ProtocolError
	switch {
	case errors.Is(err, ErrTooLarge):
		return fmt.Errorf("%w", &doip.Error{Kind: doip.KindTooLarge, Message: err.Error()})
	case errors.As(err, &pe):
		return fmt.Errorf("%w", &doip.Error{Kind: doip.KindBadRequest, Message: err.Error()})
	}
	return err
}

// KeepAlive is always true: the envelope serves many requests per connection.
func (c *ServerCodec) KeepAlive() bool { return true }

// WriteProgress does nothing: binary clients get the final answer only.
func (c *ServerCodec) WriteProgress(*doip.Request, string, string, float64) error { return nil }

// WriteError writes an error envelope (type 0x7F) with {"error":KIND,"message":TEXT},
// echoing the request's operation byte and object id (operation 0 after a framing error).
func (c *ServerCodec) WriteError(req *doip.Request, e *doip.Error) error {
	js, err := ErrorJSON(e)
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

type helloMeta struct {
	Operation     string   `json:"operation"`
	Status        string   `json:"status,omitempty"`
	Server        string   `json:"server,omitempty"`
	Version       int      `json:"version,omitempty"`
	Operations    opMap    `json:"availableOperations"`
	ServerVersion string   `json:"serverVersion,omitempty"`
	ServiceID     string   `json:"serviceId,omitempty"`
	Workflows     []string `json:"workflows,omitempty"`
}

// opMap is an operation map that encodes ordered by operation code, as the reference
// server writes it ({"hello":1,"retrieve":2,...}).
type opMap map[string]doip.Op

func (m opMap) MarshalJSON() ([]byte, error) {
	names := make([]string, 0, len(m))
	for name := range m {
		names = append(names, name)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(m[a], m[b]), cmp.Compare(a, b)) })
	buf := []byte{'{'}
	for i, name := range names {
		if i > 0 {
			buf = append(buf, ',')
		}
		k, err := marshal(name)
		if err != nil {
			return nil, err
		}
		buf = append(buf, k...)
		buf = append(buf, ':')
		buf = strconv.AppendUint(buf, uint64(m[name]), 10)
	}
	return append(buf, '}'), nil
}

// ResponseParts renders a response as the MaRDI family of framings carries it: the
// metadata JSON (hello, list operations, invoke, purge, or the record itself), the
// components whose bytes follow, and the workflow JSON (an invoke's result). The
// length-prefixed segments of port 3568 carry the same parts.
func ResponseParts(resp *doip.Response) (meta json.RawMessage, comps []doip.ComponentBody, workflow json.RawMessage, err error) {
	var v any
	switch {
	case resp.Hello != nil:
		hi := resp.Hello
		v = helloMeta{Operation: "hello", Status: "ok", Server: hi.Server, Version: ProtocolVersion,
			Operations: hi.Operations, ServerVersion: hi.Version, ServiceID: hi.ServiceID, Workflows: hi.Workflows}
	case resp.Operations != nil:
		v = helloMeta{Operation: "list_operations", Operations: resp.Operations.Operations, Workflows: resp.Operations.Workflows}
	case resp.Record != nil:
		meta, comps = resp.Record.JSON, resp.Elements
		if resp.Record.Version != "" {
			if meta, err = withVersion(meta, resp.Record.Version); err != nil {
				return nil, nil, nil, err
			}
		}
	case resp.Component != nil:
		comps = []doip.ComponentBody{*resp.Component}
	case resp.Invoke != nil:
		inv := resp.Invoke
		v = struct {
			Operation string          `json:"operation"`
			Workflow  string          `json:"workflow"`
			Result    json.RawMessage `json:"result"`
			Cached    bool            `json:"cached,omitempty"`
			Version   string          `json:"version,omitempty"`
		}{"invoke", inv.Workflow, inv.Result, inv.Cached, inv.Version}
		comps, workflow = inv.Derived, inv.Result
	case resp.Purge != nil:
		v = struct {
			Operation string `json:"operation"`
			ObjectID  string `json:"objectId"`
			Purged    bool   `json:"purged"`
		}{"purge", resp.ObjectID, resp.Purge.Purged}
	default:
		return nil, nil, nil, errors.New("envelope: empty response")
	}
	if v != nil {
		if meta, err = marshal(v); err != nil {
			return nil, nil, nil, err
		}
	}
	return meta, comps, workflow, nil
}

// withVersion adds "version" as the first member of a record's JSON object (replacing one
// the record has), so that the binary framings name the version the components come from. A
// record that is not a JSON object is returned unchanged.
func withVersion(record json.RawMessage, version string) (json.RawMessage, error) {
	trimmed := bytes.TrimSpace(record)
	if len(trimmed) < 2 || trimmed[0] != '{' {
		return record, nil
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(trimmed, &fields); err != nil {
		return record, nil
	}
	if _, ok := fields["version"]; ok {
		delete(fields, "version")
		if trimmed, err := json.Marshal(fields); err == nil {
			record = trimmed
		}
	}
	v, err := marshal(version)
	if err != nil {
		return nil, err
	}
	rest := bytes.TrimSpace(record)[1:]
	out := append(append([]byte(`{"version":`), v...), ',')
	if bytes.HasPrefix(bytes.TrimSpace(rest), []byte("}")) {
		out = out[:len(out)-1]
	}
	return append(out, rest...), nil
}

// ErrorJSON renders an error as the MaRDI framings carry it: {"error":KIND,"message":TEXT}.
func ErrorJSON(e *doip.Error) ([]byte, error) {
	return marshal(struct {
		Error   string `json:"error"`
		Message string `json:"message"`
	}{string(e.Kind), e.Message})
}

// WriteResponse writes a response envelope. Component bytes are copied from their readers
// after a header whose payload length was computed from their sizes.
func (c *ServerCodec) WriteResponse(req *doip.Request, resp *doip.Response) error {
	rawMeta, comps, workflow, err := ResponseParts(resp)
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
		if err := CopyExact(c.fr.Writer(), cb.Body, cb.Size); err != nil {
			return fmt.Errorf("envelope: streaming component %s: %w", cb.ID, err)
		}
	}
	if workflow != nil {
		return c.fr.WriteJSONBlock(BlockWorkflow, workflow)
	}
	return nil
}

const maxUint32 = 1<<32 - 1

// CopyExact copies exactly n bytes from r to w, using r's WriteTo when it has one (the
// gateway's component streams hand over each gRPC chunk without another copy).
func CopyExact(w io.Writer, r io.Reader, n int64) error {
	var (
		got int64
		err error
	)
	if wt, ok := r.(io.WriterTo); ok {
		got, err = wt.WriteTo(w)
	} else {
		got, err = io.CopyN(w, r, n)
	}
	if err == nil && got != n {
		err = fmt.Errorf("copied %d bytes, want %d", got, n)
	}
	return err
}

// marshal encodes v compactly without escaping <, > and &, as the reference encoder does.
func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
}
