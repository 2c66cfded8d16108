package doiptext

import (
	"bufio"
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/shared/jsonkind"
)

// The standard operation ids of DOIP v2.0 (spec §6).
const (
	OpIDHello          = "0.DOIP/Op.Hello"
	OpIDListOperations = "0.DOIP/Op.ListOperations"
	OpIDRetrieve       = "0.DOIP/Op.Retrieve"
	OpIDCreate         = "0.DOIP/Op.Create"
	OpIDUpdate         = "0.DOIP/Op.Update"
	OpIDDelete         = "0.DOIP/Op.Delete"
	OpIDSearch         = "0.DOIP/Op.Search"
)

// standardPrefix starts every operation id the DOIP specification defines; an id without it
// is an extended operation.
const standardPrefix = "0.DOIP/"

// The status codes of DOIP v2.0 (spec §5), always written in their three-digit form.
const (
	StatusSuccess         = "0.DOIP/Status.001"
	StatusInvalid         = "0.DOIP/Status.101" // invalid request, bad framing
	StatusUnauthenticated = "0.DOIP/Status.102"
	StatusUnauthorized    = "0.DOIP/Status.103"
	StatusNotFound        = "0.DOIP/Status.104"
	StatusConflict        = "0.DOIP/Status.105"
	StatusDeclined        = "0.DOIP/Status.200" // operation not supported
	StatusOther           = "0.DOIP/Status.500" // other or system error
)

// ServiceInfoType is the type of the digital object Hello answers with.
const ServiceInfoType = "0.TYPE/DOIPServiceInfo"

// DefaultObjectType is the type of a record whose own type is unknown.
const DefaultObjectType = "0.TYPE/DO"

// Options configure a [ServerCodec].
type Options struct {
	// Limits cap one JSON segment of a request (MaxSegment; zero means
	// [DefaultMaxSegment]) and the bytes of one request, its input included (MaxPayload; zero
	// means [DefaultMaxMessage]).
	Limits doip.Limits
	// AdvertiseIP and AdvertisePort are the address Hello announces ("ipAddress", "port");
	// empty or zero leaves them out.
	AdvertiseIP   string
	AdvertisePort int
	// ServiceID is the service's id, for Hello when the response does not name one.
	ServiceID string
}

var _ doip.ServerCodec = (*ServerCodec)(nil)

// ServerCodec reads requests and writes answers in the standard DOIP v2.0 text framing, for
// the gateway's port 3568 when a connection's first byte is '{'. It implements
// [doip.ServerCodec]: the server calls ReadRequest, then one of WriteResponse or
// WriteError, then flushes the bufio.Writer, in turn on one goroutine.
//
// A request's first segment gives the operation ("operationId", see [OpFromID]), the target
// ("targetId") and its parameters ("attributes"); "requestId" is echoed first in every
// answer. Answers follow spec §4–§7: a first segment with "status" and either compact
// "output" or output segments after it.
type ServerCodec struct {
	rd   *Reader
	wr   *Writer
	bw   *bufio.Writer
	opts Options

	// started is set once the first segment of the current answer went out ahead of the
	// rest, because the client asked for progress events.
	started bool

	// The requestId of the last request read, exactly as it came (a JSON string or number),
	// to echo it verbatim; cur is that request.
	cur   *doip.Request
	curID json.RawMessage
}

// NewServerCodec returns a codec reading requests from r and writing answers to w.
func NewServerCodec(r *bufio.Reader, w *bufio.Writer, opts Options) *ServerCodec {
	rd := NewReader(r)
	rd.MaxSegment = int(opts.Limits.MaxSegment)
	rd.MaxMessage = int64(opts.Limits.MaxPayload)
	return &ServerCodec{rd: rd, wr: NewWriter(w), bw: w, opts: opts}
}

// KeepAlive is always true: a connection carries any number of requests (spec §8).
// Pipelined requests are answered in order, because the server reads, answers, then reads.
func (c *ServerCodec) KeepAlive() bool { return true }

// WriteProgress sends a progress event of an invoke whose request asked for them with
// attributes.progress = true (other requests get none: DOIP has no progress message). The
// first event sends the answer's first segment early, {"status":"0.DOIP/Status.001",
// "attributes":{"progress":true}}; each event is then a JSON segment
// {"progress":{"stage":…,"message":…,"fraction":…}}, flushed at once. The result and derived
// components follow as usual; a failure after the first event arrives as a final segment
// {"error":{"status":CODE,"message":TEXT}}.
// They will come with the workflow work, as a segment before an invoke's result.
func (c *ServerCodec) WriteProgress(req *doip.Request, stage, message string, fraction float64) error {
	if req == nil || !req.Progress {
		return nil
	}
	if !c.started {
		if err := c.wr.WriteJSON(firstSegment{RequestID: c.requestID(req), Status: StatusSuccess, Attributes: progressAttributes{Progress: true}}); err != nil {
			return err
		}
		c.started = true
	}
	type event struct {
		Stage    string  `json:"stage"`
		Message  string  `json:"message,omitempty"`
		Fraction float64 `json:"fraction"`
	}
	if err := c.wr.WriteJSON(struct {
		Progress event `json:"progress"`
	}{event{stage, message, fraction}}); err != nil {
		return err
	}
	return c.bw.Flush()
}

type progressAttributes struct {
	Progress bool `json:"progress"`
}

// OpFromID maps an operationId to the gateway's operation:
//
//	0.DOIP/Op.Hello           OpHello
//	0.DOIP/Op.ListOperations  OpListOps
//	0.DOIP/Op.Retrieve        OpRetrieve
//	0.DOIP/Op.Create          OpCreate
//	0.DOIP/Op.Update          OpUpdate
//	0.DOIP/Op.Search          OpSearch
//	0.DOIP/Op.Delete          OpDelete
//	history                   OpHistory (an object's versions, newest first)
//	0.DOIP/… (others)         OpUnknown (answered as not supported)
//	anything else             OpInvoke: an extended operation runs the workflow of that name
func OpFromID(id string) doip.Op {
	switch id {
	case OpIDHello:
		return doip.OpHello
	case OpIDListOperations:
		return doip.OpListOps
	case OpIDRetrieve:
		return doip.OpRetrieve
	case OpIDCreate:
		return doip.OpCreate
	case OpIDUpdate:
		return doip.OpUpdate
	case OpIDSearch:
		return doip.OpSearch
	case OpIDDelete:
		return doip.OpDelete
	case OpIDHistory:
		return doip.OpHistory
	}
	if strings.HasPrefix(id, standardPrefix) {
		return doip.OpUnknown
	}
	return doip.OpInvoke
}

// StatusFor maps an error kind to the status code an error answer carries:
//
//	BadRequest, TooLarge  0.DOIP/Status.101
//	Unauthenticated       0.DOIP/Status.102
//	Forbidden             0.DOIP/Status.103
//	Conflict              0.DOIP/Status.105
//	NotFound              0.DOIP/Status.104
//	Unsupported           0.DOIP/Status.200
//	Unavailable, Internal 0.DOIP/Status.500 (and any other kind)
//	LimitExceeded         0.DOIP/Status.500, its message naming the budget
func StatusFor(kind doip.ErrorKind) string {
	switch kind {
	case doip.KindBadRequest, doip.KindTooLarge:
		return StatusInvalid
	case doip.KindUnauthenticated:
		return StatusUnauthenticated
	case doip.KindNotFound:
		return StatusNotFound
	case doip.KindUnsupported:
		return StatusDeclined
	case doip.KindConflict:
		return StatusConflict
	case doip.KindForbidden:
		return StatusUnauthorized
	}
	return StatusOther
}

// framingError makes a framing error a [doip.FramingError], which carries what the client is told. End-of-stream
// and I/O errors pass through unchanged.
func framingError(err error) error { return doip.AsFramingError[*ProtocolError](err, ErrTooLarge) }

// badRequest is a well-framed request the codec cannot make sense of.
func badRequest(format string, args ...any) error {
	return doip.Errorf(doip.KindBadRequest, "doiptext: "+format, args...)
}

// ReadRequest reads the next request, whole: its first segment and every input segment up
// to the end of the message. Input bytes segments are discarded (they count against
// [Options.MaxMessage]); of the JSON input, only the first segment is kept, as an extended
// operation's parameters.
//
// It returns io.EOF at a clean end between requests, and io.ErrUnexpectedEOF or the
// connection's error as they come. Any other error has a *doip.Error in its chain: of kind
// TooLarge for a cap, BadRequest for broken framing or a request without a "targetId" or
// "operationId" string, with a message naming what was wrong.
func (c *ServerCodec) ReadRequest() (*doip.Request, error) {
	c.cur, c.curID, c.started = nil, nil, false
	c.rd.MaxMessage = int64(c.opts.Limits.MaxPayload)
	first, err := c.rd.NextSegment()
	if err != nil {
		return nil, framingError(err)
	}
	// Learn the requestId first, so that even an answer to a broken message can echo it: a
	// CNRI client matches answers by it and drops the connection without one.
	if first.Kind == SegmentJSON {
		var idOnly struct {
			RequestID json.RawMessage `json:"requestId"`
		}
		if json.Unmarshal(first.JSON, &idOnly) == nil && len(idOnly.RequestID) > 0 &&
			(idOnly.RequestID[0] == '"' || idOnly.RequestID[0] == '-' || idOnly.RequestID[0] >= '0' && idOnly.RequestID[0] <= '9') {
			c.curID = idOnly.RequestID
		}
	}
	// Read the whole message before judging it, so that an error answer is not lost to a
	// reset when the connection is closed with input unread.
	var (
		inputs     int             // input segments after the first
		firstInput json.RawMessage // the first JSON one
	)
	// A create or an update streams its input to the handler: only its first segment is
	// read here (readWrite reads the object after it).
	streaming := first.Kind == SegmentJSON && isWriteOp(first.JSON)
	if first.Kind != SegmentEnd && !streaming {
		for {
			seg, err := c.rd.NextSegment()
			if err != nil {
				return nil, framingError(noEOF(err))
			}
			if seg.Kind == SegmentEnd {
				break
			}
			inputs++
			if seg.Kind == SegmentJSON && firstInput == nil {
				firstInput = seg.JSON
			}
		}
	}
	if first.Kind != SegmentJSON {
		return nil, badRequest("the request's first segment must be a JSON object, not %s", describeKind(first.Kind))
	}
	var fields map[string]json.RawMessage
	if first.JSON[0] != '{' || json.Unmarshal(first.JSON, &fields) != nil {
		return nil, badRequest("the request's first segment must be a JSON object, not %s", jsonkind.Described(first.JSON))
	}
	req := &doip.Request{Framing: doip.FramingText}
	if raw, ok := present(fields, "requestId"); ok {
		switch raw[0] {
		case '"':
			_ = json.Unmarshal(raw, &req.RequestID) // a valid JSON string
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			req.RequestID = string(raw)
		default:
			return nil, badRequest("requestId must be a string, not %s", jsonkind.Described(raw))
		}
		c.curID = raw
	}
	if req.ObjectID, err = requiredString(fields, "targetId"); err != nil {
		return nil, err
	}
	if req.OperationID, err = requiredString(fields, "operationId"); err != nil {
		return nil, err
	}
	if req.OperationID == "" {
		return nil, badRequest("operationId is empty")
	}
	var attrs map[string]json.RawMessage
	if raw, ok := present(fields, "authentication"); ok {
		// {"token":t} (CNRI, Cordra), or {"username":u,"password":p} (doipy, Cordra users):
		// the password stands for the token.
		var auth struct {
			Token    string `json:"token"`
			Username string `json:"username"`
			Password string `json:"password"`
		}
		if raw[0] != '{' || json.Unmarshal(raw, &auth) != nil {
			return nil, badRequest("authentication must be an object with a token or a password")
		}
		req.Token = cmp.Or(auth.Token, auth.Password)
		if auth.Token == "" {
			req.Username = auth.Username
		}
	}
	if raw, ok := present(fields, "clientId"); ok && req.Username == "" {
		_ = json.Unmarshal(raw, &req.Username)
	}
	if raw, ok := present(fields, "attributes"); ok {
		if raw[0] != '{' || json.Unmarshal(raw, &attrs) != nil {
			return nil, badRequest("attributes must be a JSON object, not %s", jsonkind.Described(raw))
		}
	}
	input, compact := present(fields, "input")
	if compact && inputs > 0 {
		return nil, badRequest("input given both in the first segment and as %d more segments", inputs)
	}
	req.Op = OpFromID(req.OperationID)
	switch req.Op {
	case doip.OpCreate, doip.OpUpdate:
		if err := c.readWrite(req, attrs, input); err != nil {
			return nil, err
		}
	case doip.OpDelete:
		if compact || inputs > 0 {
			return nil, badRequest("Unexpected input: a delete takes no input")
		}
		req.Write = &doip.Write{}
		if raw, ok := present(attrs, "expectedVersion"); ok {
			if err := json.Unmarshal(raw, &req.Write.ExpectedVersion); err != nil {
				return nil, badRequest("attributes.expectedVersion must be a string, not %s", jsonkind.Described(raw))
			}
		}
	case doip.OpHistory:
		for _, p := range []json.RawMessage{input, firstInput} {
			if len(p) > 0 && p[0] == '{' {
				req.Params = p
			}
		}
		if req.Params == nil && attrs != nil {
			req.Params, _ = json.Marshal(attrs)
		}
	case doip.OpRetrieve:
		if err := retrieveAttributes(req, attrs); err != nil {
			return nil, err
		}
		req.ElementSizes = req.Element == "" // the digital object lists each element's length
	case doip.OpSearch:
		if err := searchAttributes(req, attrs, compact || inputs > 0); err != nil {
			return nil, err
		}
	case doip.OpInvoke:
		req.Workflow = req.OperationID
		if err := boolAttribute(attrs, "progress", &req.Progress); err != nil {
			return nil, err
		}
		params, _ := present(attrs, "params")
		for _, p := range []json.RawMessage{input, params, firstInput} {
			if len(p) > 0 && p[0] == '{' {
				req.Params = p
				break
			}
		}
	}
	c.cur = req
	return req, nil
}

// present returns the value of key, unless it is absent or null.
func present(fields map[string]json.RawMessage, key string) (json.RawMessage, bool) {
	raw, ok := fields[key]
	if !ok || len(raw) == 0 || string(raw) == "null" {
		return nil, false
	}
	return raw, true
}

// boolAttribute sets *v to true when attributes.key is true or "true"; false, "false" and
// absent leave it alone, and anything else is a bad request.
func boolAttribute(attrs map[string]json.RawMessage, key string, v *bool) error {
	raw, ok := present(attrs, key)
	if !ok {
		return nil
	}
	switch string(raw) {
	case "true", `"true"`:
		*v = true
	case "false", `"false"`:
	default:
		return badRequest("attributes.%s must be true or false, not %s", key, jsonkind.Described(raw))
	}
	return nil
}

func requiredString(fields map[string]json.RawMessage, key string) (string, error) {
	raw, ok := present(fields, key)
	if !ok {
		return "", badRequest("the request has no %s", key)
	}
	var s string
	if raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", badRequest("%s must be a string, not %s", key, jsonkind.Described(raw))
	}
	return s, nil
}

// retrieveAttributes reads a retrieve's "element", "includeElementData", "range" and
// "version".
func retrieveAttributes(req *doip.Request, attrs map[string]json.RawMessage) error {
	if raw, ok := present(attrs, "version"); ok {
		if raw[0] != '"' || json.Unmarshal(raw, &req.Version) != nil {
			return badRequest("attributes.version must be a string (a commit id, tag or branch), not %s", jsonkind.Described(raw))
		}
	}
	if raw, ok := present(attrs, "element"); ok {
		if raw[0] != '"' || json.Unmarshal(raw, &req.Element) != nil {
			return badRequest("attributes.element must be a string, not %s", jsonkind.Described(raw))
		}
	}
	if err := boolAttribute(attrs, "includeElementData", &req.IncludeElementData); err != nil {
		return err
	}
	if raw, ok := present(attrs, "range"); ok {
		var r map[string]json.RawMessage
		if raw[0] != '{' || json.Unmarshal(raw, &r) != nil {
			return badRequest("attributes.range must be an object {\"start\":…,\"end\":…}, not %s", jsonkind.Described(raw))
		}
		var rng doip.Range
		for _, f := range []struct {
			key string
			dst **int64
		}{{"start", &rng.Start}, {"end", &rng.End}} {
			v, ok := present(r, f.key)
			if !ok {
				continue
			}
			n, err := byteOffset(v)
			if err != nil {
				return badRequest("attributes.range.%s %v", f.key, err)
			}
			*f.dst = &n
		}
		if rng.Start != nil || rng.End != nil {
			req.Range = &rng
		}
	}
	return nil
}

// byteOffset reads a non-negative integer, in any JSON number form ("12", "1.2e1").
func byteOffset(raw json.RawMessage) (int64, error) {
	var f float64
	if raw[0] == '"' || raw[0] == '{' || raw[0] == '[' || json.Unmarshal(raw, &f) != nil {
		return 0, fmt.Errorf("must be a number, not %s", jsonkind.Described(raw))
	}
	if f < 0 || f != math.Trunc(f) || f > 1<<53 {
		return 0, fmt.Errorf("must be a whole number from 0, not %s", raw)
	}
	return int64(f), nil
}

func describeKind(k SegmentKind) string {
	switch k {
	case SegmentBytes:
		return "a bytes segment"
	case SegmentEnd:
		return "the end of the message (no segments)"
	}
	return k.String()
}

// requestID returns the requestId to echo to req: verbatim for the request just read,
// else req.RequestID as a string; nil if there is none.
func (c *ServerCodec) requestID(req *doip.Request) json.RawMessage {
	switch {
	case req == nil:
		return c.curID // the id of a broken request, where its first segment gave one
	case req == c.cur && c.curID != nil && req.RequestID == c.cur.RequestID:
		return c.curID
	case req.RequestID != "":
		js, _ := json.Marshal(req.RequestID)
		return js
	}
	return nil
}

// firstSegment is the first segment of an answer, its keys in the order CNRI writes them.
type firstSegment struct {
	RequestID  json.RawMessage `json:"requestId,omitempty"`
	Status     string          `json:"status"`
	Attributes any             `json:"attributes,omitempty"`
	Output     any             `json:"output,omitempty"`
}

// WriteError writes an error answer (spec §7):
// {"requestId":…,"status":CODE,"attributes":{"message":TEXT}}, then the end of the
// message. The status comes from [StatusFor]. After a framing error req is nil, and the
// answer echoes the broken request's requestId when its first segment named one.
func (c *ServerCodec) WriteError(req *doip.Request, e *doip.Error) error {
	if e == nil {
		e = &doip.Error{Kind: doip.KindInternal, Message: "internal error"}
	}
	type message struct {
		Message string `json:"message"`
	}
	if c.started {
		type failure struct {
			Status  string `json:"status"`
			Message string `json:"message"`
		}
		if err := c.wr.WriteJSON(struct {
			Error failure `json:"error"`
		}{failure{StatusFor(e.Kind), e.Message}}); err != nil {
			return err
		}
		return c.wr.End()
	}
	if err := c.wr.WriteJSON(firstSegment{
		RequestID:  c.requestID(req),
		Status:     StatusFor(e.Kind),
		Attributes: message{e.Message},
	}); err != nil {
		return err
	}
	return c.wr.End()
}

// The output objects, their keys in the order of spec §6.

type serviceInfoDO struct {
	ID         string             `json:"id"`
	Type       string             `json:"type"`
	Attributes serviceInfoAttribs `json:"attributes"`
}

type serviceInfoAttribs struct {
	IPAddress       string            `json:"ipAddress,omitempty"`
	Port            int               `json:"port,omitempty"`
	Protocol        string            `json:"protocol"`
	ProtocolVersion string            `json:"protocolVersion"`
	ServiceName     string            `json:"serviceName,omitempty"`
	PublicKey       map[string]string `json:"publicKey,omitempty"`
}

type digitalObject struct {
	ID         string        `json:"id"`
	Type       string        `json:"type"`
	Attributes doAttributes  `json:"attributes"`
	Elements   []elementInfo `json:"elements"`
}

type doAttributes struct {
	Content json.RawMessage `json:"content,omitempty"`
	// Version is the version the elements' bytes come from.
	Version string `json:"version,omitempty"`
	// Match is what a search matched in the object (search results only).
	Match *searchMatch `json:"match,omitempty"`
}

type elementInfo struct {
	ID         string          `json:"id"`
	Type       string          `json:"type,omitempty"`
	Length     *int64          `json:"length,omitempty"`
	Attributes *fileAttributes `json:"attributes,omitempty"`
}

type fileAttributes struct {
	Filename  string `json:"filename"`
	MediaType string `json:"mediaType,omitempty"`
	Version   string `json:"version,omitempty"`
}

// WriteResponse writes a successful answer (status 0.DOIP/Status.001):
//
//   - Hello: compact output, the service-info DO of spec §6.1.
//   - ListOperations: compact output, an array of operation ids: Hello, ListOperations and
//     Retrieve at service level, Retrieve and ListOperations for an object, then the
//     workflows (extended operations) that apply.
//   - Retrieve of a record: compact output, the DO of spec §6.2 with the record in
//     attributes.content and a component per element. With element data: the DO as the
//     segment after the first, then for each element {"id":…} and its bytes segment.
//   - Retrieve of an element: "filename" and "mediaType" in the first segment's attributes,
//     then one bytes segment (spec §6.4).
//   - Invoke: "workflow" and "cached" in attributes, the result as the next segment, then
//     for each derived component {"id":…,"type":…,"length":…} and its bytes segment.
//   - Purge: compact output {"purged":…}.
//
// Component bodies are streamed in chunks of at most [WriteChunkSize] bytes and must yield
// exactly their Size (a negative Size streams to io.EOF). Nothing is written when the
// response itself is unusable; an error after the first byte leaves the message broken
// and the connection must be closed.
func (c *ServerCodec) WriteResponse(req *doip.Request, resp *doip.Response) error {
	if resp == nil {
		return errors.New("doiptext: no response")
	}
	ok := firstSegment{RequestID: c.requestID(req), Status: StatusSuccess}
	switch {
	case resp.Hello != nil:
		ok.Output = c.serviceInfo(req, resp.Hello)
		return c.writeCompact(ok)
	case resp.Operations != nil:
		ok.Output = operationIDs(resp.Operations)
		return c.writeCompact(ok)
	case resp.Record != nil:
		do := recordDO(req, resp)
		if len(resp.Elements) == 0 {
			ok.Output = do
			return c.writeCompact(ok)
		}
		js, err := compactJSON(do)
		if err != nil {
			return err
		}
		if err := c.writeSegments(ok, js); err != nil {
			return err
		}
		for _, el := range resp.Elements {
			if err := c.writeElement(elementInfo{ID: el.ID}, el); err != nil {
				return err
			}
		}
		return c.wr.End()
	case resp.Component != nil:
		cb := resp.Component
		ok.Attributes = fileAttributes{Filename: filename(cb), MediaType: cb.MediaType, Version: cb.Version}
		if err := c.wr.WriteJSON(ok); err != nil {
			return err
		}
		if err := c.writeBody(*cb); err != nil {
			return err
		}
		return c.wr.End()
	case resp.Invoke != nil:
		inv := resp.Invoke
		ok.Attributes = struct {
			Workflow string `json:"workflow"`
			Cached   bool   `json:"cached"`
			Version  string `json:"version,omitempty"`
		}{inv.Workflow, inv.Cached, inv.Version}
		result := []byte("null")
		if len(inv.Result) > 0 {
			var err error
			if result, err = compactJSON(inv.Result); err != nil {
				return fmt.Errorf("doiptext: result of workflow %s: %w", inv.Workflow, err)
			}
		}
		if c.started {
			if err := c.wr.WriteJSON(json.RawMessage(result)); err != nil {
				return err
			}
		} else if err := c.writeSegments(ok, result); err != nil {
			return err
		}
		for _, d := range inv.Derived {
			if err := c.writeElement(elementInfo{ID: d.ID, Type: d.MediaType, Length: length(d.Size)}, d); err != nil {
				return err
			}
		}
		return c.wr.End()
	case resp.Search != nil:
		return c.writeSearch(ok, resp.Search)
	case resp.Written != nil:
		return c.writeWritten(ok, req, resp.Written)
	case resp.History != nil:
		return c.writeHistory(ok, resp.History)
	case resp.Purge != nil:
		ok.Output = struct {
			Purged bool `json:"purged"`
		}{resp.Purge.Purged}
		return c.writeCompact(ok)
	}
	return errors.New("doiptext: empty response")
}

// writeCompact writes a one-segment answer with compact output.
func (c *ServerCodec) writeCompact(first firstSegment) error {
	js, err := compactJSON(first)
	if err != nil {
		return err
	}
	if err := c.wr.WriteJSON(json.RawMessage(js)); err != nil {
		return err
	}
	return c.wr.End()
}

// writeSegments writes the first segment and one output segment, rendering the first one
// before anything is written.
func (c *ServerCodec) writeSegments(first firstSegment, output []byte) error {
	js, err := compactJSON(first)
	if err != nil {
		return err
	}
	if err := c.wr.WriteJSON(json.RawMessage(js)); err != nil {
		return err
	}
	return c.wr.WriteJSON(json.RawMessage(output))
}

// writeElement writes an element's header segment and its bytes.
func (c *ServerCodec) writeElement(header elementInfo, body doip.ComponentBody) error {
	if err := c.wr.WriteJSON(header); err != nil {
		return err
	}
	return c.writeBody(body)
}

func (c *ServerCodec) writeBody(cb doip.ComponentBody) error {
	if _, err := c.wr.WriteBytesFrom(cb.Body, cb.Size); err != nil {
		return fmt.Errorf("doiptext: streaming element %s: %w", cb.ID, err)
	}
	return nil
}

func (c *ServerCodec) serviceInfo(req *doip.Request, hi *doip.ServiceInfo) serviceInfoDO {
	id := hi.ServiceID
	if id == "" {
		id = c.opts.ServiceID
	}
	if id == "" && req != nil {
		id = req.ObjectID
	}
	return serviceInfoDO{ID: id, Type: ServiceInfoType, Attributes: serviceInfoAttribs{
		IPAddress: c.opts.AdvertiseIP, Port: c.opts.AdvertisePort,
		Protocol: "TCP", ProtocolVersion: "2.0",
		ServiceName: hi.Server, PublicKey: hi.PublicKey,
	}}
}

// operationIDs lists the operations of a ListOperations answer.
func operationIDs(l *doip.OperationList) []string {
	ids := []string{OpIDHello, OpIDListOperations, OpIDRetrieve}
	if _, ok := l.Operations[doip.OpCreate.String()]; ok && l.Object == "" {
		ids = append(ids, OpIDCreate)
	}
	if _, ok := l.Operations[doip.OpSearch.String()]; ok && l.Object == "" {
		ids = append(ids, OpIDSearch)
	}
	if l.Object != "" {
		ids = []string{OpIDListOperations}
		// Retrieve unless the object's type does not allow it (the dispatcher then drops it).
		if _, ok := l.Operations[doip.OpRetrieve.String()]; ok || l.Operations == nil {
			ids = []string{OpIDRetrieve, OpIDListOperations}
		}
	}
	return append(ids, l.Workflows...)
}

func recordDO(req *doip.Request, resp *doip.Response) digitalObject {
	rec := resp.Record
	do := digitalObject{ID: rec.ObjectID, Type: rec.Type, Attributes: doAttributes{Content: rec.JSON, Version: rec.Version},
		Elements: make([]elementInfo, 0, len(rec.Components))}
	if do.ID == "" {
		do.ID = resp.ObjectID
	}
	if do.ID == "" && req != nil {
		do.ID = req.ObjectID
	}
	if do.Type == "" {
		do.Type = DefaultObjectType
	}
	for _, ci := range rec.Components {
		el := elementInfo{ID: ci.ID, Type: ci.MediaType, Length: length(ci.Size)}
		if ci.Filename != "" {
			el.Attributes = &fileAttributes{Filename: ci.Filename}
		}
		do.Elements = append(do.Elements, el)
	}
	return do
}

func length(size int64) *int64 {
	if size < 0 {
		return nil
	}
	return &size
}

// filename is the name doipy saves an element under: the component's filename, else the
// last part of its id.
func filename(cb *doip.ComponentBody) string {
	if cb.Filename != "" {
		return cb.Filename
	}
	return cb.ID[strings.LastIndexByte(cb.ID, '/')+1:]
}
