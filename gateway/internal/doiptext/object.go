package doiptext

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// This file lets another face of DOIP (the HTTP mapping) reuse this codec's reading of a
// request object and its rendering of an answer, so that a request means the same thing,
// and an answer has the same shape, whichever way it came.

// DecodeRequest decodes a request given as the JSON request object of the standard
// framing's first segment ({"requestId","targetId","operationId","attributes",
// "authentication","input"}), exactly as [ServerCodec.ReadRequest] decodes one that came
// on the wire. A request it cannot make sense of gives a *doip.Error of kind BadRequest or
// TooLarge.
func DecodeRequest(object []byte, lim doip.Limits) (*doip.Request, error) {
	var msg bytes.Buffer
	w := NewWriter(&msg)
	if err := w.WriteJSON(json.RawMessage(object)); err != nil {
		return nil, doip.Errorf(doip.KindBadRequest, "the request is not a JSON object: %v", err)
	}
	if err := w.End(); err != nil {
		return nil, err
	}
	c := NewServerCodec(bufio.NewReader(&msg), bufio.NewWriter(io.Discard), Options{Limits: lim})
	req, err := c.ReadRequest()
	if err != nil {
		var fe *doip.FramingError
		if errors.As(err, &fe) {
			return nil, fe.Answer
		}
		return nil, doip.AsError(err)
	}
	return req, nil
}

// RenderOutput renders a response as [ServerCodec.WriteResponse] would and returns the
// attributes of its first segment and its output: the compact output, or the JSON segment
// after the first (an invoke's result, a digital object with its elements). Bytes segments
// are not rendered: the response must carry no component bodies (no Component, Elements or
// derived bytes); their place is the caller's.
func RenderOutput(req *doip.Request, resp *doip.Response, opts Options) (attributes, output json.RawMessage, err error) {
	if resp == nil {
		return nil, nil, errors.New("doiptext: no response")
	}
	if resp.Component != nil || len(resp.Elements) > 0 || resp.Invoke != nil && len(resp.Invoke.Derived) > 0 {
		return nil, nil, errors.New("doiptext: RenderOutput renders no component bytes")
	}
	var msg bytes.Buffer
	bw := bufio.NewWriter(&msg)
	c := NewServerCodec(bufio.NewReader(bytes.NewReader(nil)), bw, opts)
	if err := c.WriteResponse(req, resp); err != nil {
		return nil, nil, err
	}
	if err := bw.Flush(); err != nil {
		return nil, nil, err
	}
	rd := NewReader(bufio.NewReader(&msg))
	rd.MaxSegment, rd.MaxMessage = msg.Len()+1, int64(msg.Len())+1
	first, err := rd.NextSegment()
	if err != nil || first.Kind != SegmentJSON {
		return nil, nil, fmt.Errorf("doiptext: rendering %s: no first segment", resp.Op)
	}
	var seg struct {
		Attributes json.RawMessage `json:"attributes"`
		Output     json.RawMessage `json:"output"`
	}
	if err := json.Unmarshal(first.JSON, &seg); err != nil {
		return nil, nil, err
	}
	if len(seg.Output) > 0 {
		return seg.Attributes, seg.Output, nil
	}
	next, err := rd.NextSegment()
	if err == nil && next.Kind == SegmentJSON {
		return seg.Attributes, next.JSON, nil
	}
	return seg.Attributes, nil, nil
}
