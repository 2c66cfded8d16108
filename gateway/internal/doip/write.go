package doip

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// OpDelete and OpHistory have no byte in the binary envelope. Binary clients name them by
// the "operation" of the first metadata block ("delete", "history") with an operation byte
// the envelope does not define; the codecs map the names here.
const (
	OpDelete  Op = 0x0A
	OpHistory Op = 0x0B
)

// The error kinds of writes.
const (
	// KindForbidden: the client is known but may not do this (DOIP status 103).
	KindForbidden ErrorKind = "Forbidden"
	// KindConflict: the id is taken, or the object changed since the version the client
	// read (DOIP status 105).
	KindConflict ErrorKind = "Conflict"
)

// Answer returns what a client is told of a codec's error: the answer a [FramingError]
// carries, else err itself. Element streams return it, so that a broken upload reaches the
// handler as the *Error that names what was wrong.
func Answer(err error) error {
	var fe *FramingError
	if errors.As(err, &fe) {
		return fe.Answer
	}
	return err
}

// ParseWriteOpName maps "delete" and "history" (any case) to their ops; [ParseOpName]
// covers the others.
func ParseWriteOpName(name string) (Op, bool) {
	switch strings.ToLower(strings.TrimSpace(name)) {
	case "delete":
		return OpDelete, true
	case "history", "versions":
		return OpHistory, true
	}
	return OpUnknown, false
}

// Write is what a create, an update or a delete carries ([Request.Write]).
//
// For create and update, the object's description comes first, whole; the elements' bytes
// follow in Elements, read from the connection as the handler asks for them, so that an
// upload of any size passes through without being held. The handler must read Elements to
// its end (or stop, and the server closes the connection after the answer).
type Write struct {
	// Object is the digital object as the client sent it: for create, the id it asks for
	// (often empty), and for update the id is the request's ObjectID.
	Object DigitalObject
	// RemoveElements names elements an update removes (Cordra's "elementsToDelete").
	RemoveElements []string
	// ExpectedVersion is the version the client read; an object changed since is not
	// written. Empty: no check.
	ExpectedVersion string
	// Elements yields the elements' bytes in the order they arrive; nil when none follow.
	Elements ElementStream
}

// DigitalObject is a digital object as DOIP clients send it: id, type, attributes and the
// descriptions of its elements (never their bytes).
type DigitalObject struct {
	ID   string
	Type string
	// Attributes is a JSON object (with "content", the user's record, in Cordra's use), or
	// nil when the client sent none.
	Attributes json.RawMessage
	Elements   []Element
}

// Element describes one element of a [DigitalObject].
type Element struct {
	ID        string
	MediaType string
	// Attributes is a JSON object ({"filename":…}) or nil.
	Attributes json.RawMessage
	// Size is the element's length in bytes; -1 when unknown.
	Size int64
}

// ElementStream yields the bytes of the elements of one write, one element at a time.
type ElementStream interface {
	// Next returns the next element. Its Body is valid until the next call of Next, which
	// skips what was not read. At the end of the request it returns io.EOF; an error that
	// is a *Error (BadRequest, TooLarge) names what was wrong, any other is the connection's.
	Next() (*ElementUpload, error)
	// Close skips what is left of the request, within a small bound. It reports an error
	// when that bound was reached or the request was broken: the connection then cannot
	// carry another request and is closed after the answer.
	Close() error
}

// ElementUpload is one element's bytes on their way from the client.
type ElementUpload struct {
	ID string
	// MediaType is what the framing says, or "".
	MediaType string
	// Size is the number of bytes Body yields, or -1 when the framing does not say in
	// advance (the standard framing's chunks).
	Size int64
	Body io.Reader
}

// FailedInput is an [ElementStream] of a request that was read to its end but cannot be
// written: Next reports the error (a *Error naming what was wrong), Close nothing, so the
// answer comes in turn and the connection stays open.
func FailedInput(err error) ElementStream { return failedInput{err} }

type failedInput struct{ err error }

func (f failedInput) Next() (*ElementUpload, error) { return nil, f.err }
func (f failedInput) Close() error                  { return nil }

// WriteResult answers a create, an update or a delete ([Response.Written]).
type WriteResult struct {
	// Record is the object as stored after the write (nil after a delete, or after an update
	// of a façade object's components, which leaves its record as it is).
	Record *Record
	// Attributes are the object's attributes as stored, for the standard framing's answer.
	Attributes json.RawMessage
	// Stored lists the elements whose bytes the write stored.
	Stored []ComponentInfo
	// Version is the commit that holds the write.
	Version string
	// Branch is the branch the commit is on.
	Branch string
	// Deleted says the object is gone.
	Deleted bool
}

// MaxHistoryPage is the most versions one history answer lists.
const MaxHistoryPage = 1000

// HistoryQuery asks for a page of an object's history. The codecs carry it in
// [Request.Params] as {"pageSize":N,"pageToken":"…"}; [ParseHistoryQuery] reads it.
type HistoryQuery struct {
	PageSize  int    `json:"pageSize,omitempty"`
	PageToken string `json:"pageToken,omitempty"`
}

// ParseHistoryQuery reads a history request's params (nil: the first page, default size).
// Page sizes may be numbers or numeric strings, as HTTP gateways send them.
func ParseHistoryQuery(params json.RawMessage) (HistoryQuery, error) {
	var q HistoryQuery
	if len(params) == 0 {
		return q, nil
	}
	var raw struct {
		PageSize  json.RawMessage `json:"pageSize"`
		PageToken string          `json:"pageToken"`
	}
	if err := json.Unmarshal(params, &raw); err != nil {
		return q, Errorf(KindBadRequest, "history parameters must be an object with pageSize and pageToken: %v", err)
	}
	q.PageToken = raw.PageToken
	if len(raw.PageSize) > 0 && string(raw.PageSize) != "null" {
		s := strings.Trim(string(raw.PageSize), `"`)
		if _, err := fmt.Sscanf(s, "%d", &q.PageSize); err != nil || q.PageSize < 1 || q.PageSize > MaxHistoryPage {
			return q, Errorf(KindBadRequest, "pageSize %s: want 1 to %d", raw.PageSize, MaxHistoryPage)
		}
	}
	return q, nil
}

// History answers a history request ([Response.History]).
type History struct {
	ObjectID string
	// Versions are the object's versions, newest first.
	Versions []VersionInfo
	// NextPageToken asks for the next page; empty on the last.
	NextPageToken string
}

// VersionInfo is one version of an object.
type VersionInfo struct {
	Version string    `json:"version"`
	Time    time.Time `json:"time"`
	Author  string    `json:"author,omitempty"`
	Message string    `json:"message,omitempty"`
	// Change is "created", "updated", "deleted" or "derived".
	Change string `json:"change,omitempty"`
}
