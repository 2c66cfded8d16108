package doiptext

import (
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// TestReadRequestVersion: attributes.version of a retrieve names the version to read; a
// value other than a string is a bad request that says what it must be.
func TestReadRequestVersion(t *testing.T) {
	t.Parallel()
	c, _, _ := codec(strings.NewReader(msg(`{"targetId":"Q1","operationId":"0.DOIP/Op.Retrieve","attributes":{"element":"equations.json","version":"8ff2361c"}}`)), Options{})
	req, err := c.ReadRequest()
	if err != nil || req.Version != "8ff2361c" || req.Element != "equations.json" {
		t.Fatalf("ReadRequest = %+v, %v", req, err)
	}
	c, _, _ = codec(strings.NewReader(msg(`{"targetId":"Q1","operationId":"0.DOIP/Op.Retrieve","attributes":{"version":7}}`)), Options{})
	if _, err := c.ReadRequest(); err == nil || !strings.Contains(err.Error(), "attributes.version must be a string") {
		t.Errorf("numeric version: %v", err)
	}
}

// TestWriteResponseVersion: the DO names the version in attributes.version, an element
// answer in its first segment's attributes.
func TestWriteResponseVersion(t *testing.T) {
	t.Parallel()
	c, out, bw := codec(strings.NewReader(""), Options{})
	req := &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1"}
	if err := c.WriteResponse(req, &doip.Response{Op: doip.OpRetrieve, ObjectID: "Q1",
		Record: &doip.Record{ObjectID: "Q1", JSON: []byte(`{"a":1}`), Version: "c0ffee"}}); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	if !strings.Contains(out.String(), `"attributes":{"content":{"a":1},"version":"c0ffee"}`) {
		t.Errorf("record answer: %s", out)
	}
	out.Reset()
	if err := c.WriteResponse(req, &doip.Response{Op: doip.OpRetrieve, ObjectID: "Q1",
		Component: &doip.ComponentBody{ID: "x.json", Filename: "x.json", Size: 2, Body: strings.NewReader("{}"), Version: "c0ffee"}}); err != nil {
		t.Fatal(err)
	}
	bw.Flush()
	if !strings.Contains(out.String(), `"version":"c0ffee"`) {
		t.Errorf("element answer: %s", out)
	}
}
