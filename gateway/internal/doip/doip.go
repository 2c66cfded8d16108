// Package doip is the framing-neutral model of the gateway: a [Request] that every codec
// (the binary envelope on 3567, the length-prefixed and the standard DOIP v2.0 text segments on
// 3568) decodes into, a [Response] that every codec renders in its own framing, and the
// [Error] kinds that a client sees. The dispatcher works on this model only and never knows
// which framing a request came in, as an http.Handler cannot tell HTTP/1 from HTTP/2.
//
// The contracts between the layers live here too, as net/http keeps Handler beside Request:
// the dispatcher is a [Handler] answering through a [ResponseWriter], and each codec is a
// [ServerCodec] built with its [Limits], reporting a broken frame as a [FramingError]. So the
// dispatcher and the codecs import this package and neither the server nor each other.
//
// The op codes are the binary envelope's (the MaRDI binary envelope specification, §1).
package doip

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
)

// Op is a DOIP operation, numbered as the binary envelope numbers them.
type Op uint8

// The operations. Their values are the binary envelope's operation byte.
const (
	OpUnknown  Op = 0x00
	OpHello    Op = 0x01
	OpRetrieve Op = 0x02
	OpUpdate   Op = 0x03
	OpListOps  Op = 0x04
	OpInvoke   Op = 0x05
	OpDescribe Op = 0x06
	OpPurge    Op = 0x07
	OpCreate   Op = 0x08
	OpSearch   Op = 0x09
)

var opNames = [...]string{
	OpUnknown:  "unknown",
	OpHello:    "hello",
	OpRetrieve: "retrieve",
	OpUpdate:   "update",
	OpListOps:  "list_operations",
	OpInvoke:   "invoke",
	OpDescribe: "describe",
	OpPurge:    "purge",
	OpCreate:   "create",
	OpSearch:   "search",
	OpDelete:   "delete",
	OpHistory:  "history",
}

// String returns the operation's name as the binary clients spell it ("list_operations").
func (o Op) String() string {
	if int(o) < len(opNames) {
		return opNames[o]
	}
	return "op_0x" + string("0123456789abcdef"[o>>4]) + string("0123456789abcdef"[o&0xf])
}

// Known reports whether o is one of the nine defined operations.
func (o Op) Known() bool { return o >= OpHello && o <= OpSearch }

// ParseOpName maps an operation name, in any case, to its Op: the names of [Op.String], plus
// "list_ops" and "listoperations". It reports false for anything else.
func ParseOpName(name string) (Op, bool) {
	n := strings.ToLower(strings.TrimSpace(name))
	switch n {
	case "list_ops", "listoperations", "list-operations":
		return OpListOps, true
	}
	for i := OpHello; i <= OpSearch; i++ {
		if opNames[i] == n {
			return i, true
		}
	}
	return OpUnknown, false
}

// Framing names the wire form a request arrived in. Handlers must not branch on it; it is
// there for logs and metrics.
type Framing string

// The framings.
const (
	FramingEnvelope Framing = "envelope" // binary envelope, port 3567
	FramingSegment  Framing = "segment"  // length-prefixed JSON segments, port 3568
	FramingText     Framing = "doiptext" // standard DOIP v2.0 text segments, port 3568
	FramingHTTP     Framing = "http"     // DOIP over HTTP (Cordra's and MaRDI's mappings), port 3569
)

// Range selects bytes of a component as DOIP's "range" attribute does: inclusive, the first
// byte is 0. A nil Start means "the last End bytes"; a nil End means "to the end".
type Range struct {
	Start *int64
	End   *int64
}

// Request is one decoded DOIP request.
type Request struct {
	Op Op
	// OperationID is the operation as the client named it ("0.DOIP/Op.Retrieve",
	// "equation_extraction", "retrieve", "2"): for logs and for extended operations.
	OperationID string
	// ObjectID is the target object ("Q123"); empty, or the service id, for hello and
	// service-level list operations.
	ObjectID string
	// Element is the component asked for by a retrieve, in either form
	// ("doip:bitstream/Q123/main-pdf" or "main-pdf"); empty for the record.
	Element string
	// Range, with Element, asks for a byte range only.
	Range *Range
	// Version asks a retrieve for the record's components as they are at a version: a commit
	// id, a tag or a branch of the storage ("" means the current branch).
	Version string
	// IncludeElementData asks a retrieve for the record and every element's bytes.
	IncludeElementData bool
	// ElementSizes says the answer to a retrieve lists each component's size, which costs a
	// storage lookup per component (the standard framing's digital object has "length").
	ElementSizes bool
	// Workflow and Params select what an invoke runs. Params is a JSON object or nil.
	Workflow string
	Params   json.RawMessage
	// Progress says the client wants an invoke's progress events as they happen, where the
	// framing can carry them.
	Progress bool
	// Token is the credential the client sent, if any: a bearer token, an OIDC access
	// token, or the password that goes with Username. It is secret: never log it.
	Token string
	// Username names the account whose password Token is; empty for a bearer token.
	Username string
	// Write is what a create, an update or a delete carries (write.go); nil otherwise.
	Write *Write
	// RequestID is the client's id for the request (standard framing), echoed in the answer.
	RequestID string
	// Framing is the wire form the request came in.
	Framing Framing
	// Search holds a search's parameters (OpSearch).
	Search *SearchRequest
}

// Response is one answer, rendered by the codec of the request's framing. Exactly one of
// the payload fields is set.
type Response struct {
	Op       Op
	ObjectID string

	Hello      *ServiceInfo
	Operations *OperationList
	Record     *Record
	// Elements, with Record, carries the bytes of the record's components when the request
	// asked for IncludeElementData.
	Elements  []ComponentBody
	Component *ComponentBody
	Invoke    *InvokeResult
	Purge     *PurgeResult
	Search    *SearchResult
	// Written answers a create, an update or a delete; History a history request.
	Written *WriteResult
	History *History
}

// ServiceInfo answers hello.
type ServiceInfo struct {
	ServiceID string
	Server    string
	Version   string
	// Operations maps the binary operation names to their codes.
	Operations map[string]Op
	// Workflows names the workflows that can be invoked.
	Workflows []string
	// PublicKey is the TLS key as a JSON Web Key, when the service has one.
	PublicKey map[string]string
}

// OperationList answers list operations, for the service or for one object.
type OperationList struct {
	// Object is the object whose operations these are; empty at service level.
	Object     string
	Operations map[string]Op
	// Workflows that apply: all of them at service level, those whose inputs the object has
	// at object level.
	Workflows []string
}

// Record is an FDO record.
type Record struct {
	ObjectID string
	// JSON is the record as the façade served it.
	JSON json.RawMessage
	// Type is the record's digitalObjectType, possibly empty.
	Type       string
	Components []ComponentInfo
	// Version is the version (commit id) the components' bytes come from; empty when the
	// storage keeps no versions.
	Version string
}

// ComponentInfo describes a component listed in a record.
type ComponentInfo struct {
	ID        string
	MediaType string
	Filename  string
	// Size is -1 when unknown.
	Size int64
}

// ComponentBody is a component's bytes on their way to the client. Body yields exactly Size
// bytes; the codecs compute their length fields from Size before reading Body, so nothing
// buffers a whole object.
type ComponentBody struct {
	// ID is the component id as the response names it.
	ID        string
	MediaType string
	Filename  string
	Size      int64
	Body      io.Reader
	// Version is the version (commit id) the bytes come from; empty when unknown.
	Version string
	// TotalSize is the whole component's size, of which Body yields Size bytes (fewer when
	// a range was asked); 0 when unknown.
	TotalSize int64
}

// InvokeResult answers an invoke.
type InvokeResult struct {
	Workflow string
	// Result is the workflow's result object.
	Result json.RawMessage
	// Derived holds the derived components with their bytes.
	Derived []ComponentBody
	Cached  bool
	// Version is the commit that holds the derived components; empty when the storage keeps
	// no versions.
	Version string
}

// PurgeResult answers a purge.
type PurgeResult struct {
	Purged bool
}

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
