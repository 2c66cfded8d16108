package mardijson

import (
	"encoding/json"
	"maps"
	"slices"
	"sync/atomic"
)

// helloMemo keeps the last JSON rendered for hello and for the service's list of
// operations. Both are the same on every request until the workflows change, and
// rendering them was most of the work of answering them.
type helloMemo struct {
	meta helloMeta
	js   json.RawMessage
}

var helloMemos [2]atomic.Pointer[helloMemo] // hello, list_operations

// marshalHello renders v, or returns the JSON rendered last for an equal v. The result is
// shared and must not be changed; its capacity is its length, so appending copies.
func marshalHello(v helloMeta) (json.RawMessage, error) {
	slot := &helloMemos[0]
	if v.Operation != "hello" {
		slot = &helloMemos[1]
	}
	if m := slot.Load(); m != nil && m.meta.equal(v) {
		return m.js, nil
	}
	js, err := Marshal(v)
	if err != nil {
		return nil, err
	}
	js = slices.Clip(js)
	v.Operations, v.Workflows = maps.Clone(v.Operations), slices.Clone(v.Workflows)
	slot.Store(&helloMemo{meta: v, js: js})
	return js, nil
}

func (a helloMeta) equal(b helloMeta) bool {
	return a.Operation == b.Operation && a.Status == b.Status && a.Server == b.Server &&
		a.Version == b.Version && a.ServerVersion == b.ServerVersion && a.ServiceID == b.ServiceID &&
		maps.Equal(a.Operations, b.Operations) && slices.Equal(a.Workflows, b.Workflows) &&
		(a.Operations == nil) == (b.Operations == nil) && (a.Workflows == nil) == (b.Workflows == nil)
}
