package doiptext

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// DecodeRequest means what ReadRequest means: the same request from the same object.
func TestDecodeRequest(t *testing.T) {
	t.Parallel()
	req, err := DecodeRequest([]byte(`{"requestId":"r1","targetId":"Q1","operationId":"0.DOIP/Op.Retrieve",
		"attributes":{"element":"main-pdf","range":{"start":1,"end":9}},"authentication":{"token":"t"}}`), doip.Limits{})
	if err != nil {
		t.Fatal(err)
	}
	if req.Op != doip.OpRetrieve || req.ObjectID != "Q1" || req.Element != "main-pdf" || req.RequestID != "r1" || req.Token != "t" ||
		req.Range == nil || *req.Range.Start != 1 || *req.Range.End != 9 || req.Framing != doip.FramingText {
		t.Errorf("retrieve: %+v", req)
	}
	req, err = DecodeRequest([]byte(`{"targetId":"Q1","operationId":"equation_extraction","input":{"pages":[2]}}`), doip.Limits{})
	if err != nil || req.Op != doip.OpInvoke || req.Workflow != "equation_extraction" || string(req.Params) != `{"pages":[2]}` {
		t.Errorf("invoke: %+v %v", req, err)
	}
	for _, tt := range []struct{ in, want string }{
		{`[1]`, "first segment must be a JSON object"},
		{`{"targetId":"Q1"}`, "no operationId"},
		{`{"targetId":"Q1","operationId":"x","attributes":3}`, "attributes must be a JSON object"},
		{`not json`, "not a JSON object"},
		{`{"targetId":"` + strings.Repeat("a", 2048) + `","operationId":"x"}`, "too large"},
	} {
		_, err := DecodeRequest([]byte(tt.in), doip.Limits{MaxSegment: 1024, MaxPayload: 1 << 20})
		var e *doip.Error
		if !errors.As(err, &e) || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%.40s: %v, want a *doip.Error with %q", tt.in, err, tt.want)
		}
	}
}

// RenderOutput gives the output WriteResponse writes: compact or in the next segment.
func TestRenderOutput(t *testing.T) {
	t.Parallel()
	req := &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1"}
	attrs, out, err := RenderOutput(req, &doip.Response{Op: doip.OpRetrieve, Record: &doip.Record{ObjectID: "Q1", JSON: json.RawMessage(`{"label":"x"}`),
		Components: []doip.ComponentInfo{{ID: "a", Size: 3}}}}, Options{})
	if err != nil || attrs != nil || string(out) != `{"id":"Q1","type":"0.TYPE/DO","attributes":{"content":{"label":"x"}},"elements":[{"id":"a","length":3}]}` {
		t.Errorf("record: %s %s %v", attrs, out, err)
	}
	attrs, out, err = RenderOutput(req, &doip.Response{Op: doip.OpInvoke, Invoke: &doip.InvokeResult{Workflow: "w", Result: json.RawMessage(`{"n": 1}`)}}, Options{})
	if err != nil || string(attrs) != `{"workflow":"w","cached":false}` || string(out) != `{"n":1}` {
		t.Errorf("invoke: %s %s %v", attrs, out, err)
	}
	if _, _, err := RenderOutput(req, &doip.Response{Component: &doip.ComponentBody{}}, Options{}); err == nil {
		t.Error("a component rendered")
	}
}
