package envelope

import (
	"bufio"
	"bytes"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// TestReadRequestVersion: "version" in the metadata block names the version to read.
func TestReadRequestVersion(t *testing.T) {
	t.Parallel()
	var in bytes.Buffer
	w := bufio.NewWriter(&in)
	fr := NewFramer(w, nil)
	js := []byte(`{"operation":"retrieve","element":"equations.json","version":"8ff2361c"}`)
	if err := fr.WriteHeader(Header{Version: Version, Type: TypeRequest, Op: doip.OpRetrieve, PayloadLen: uint32(JSONBlockLen(len(js)))}, "Q1"); err != nil {
		t.Fatal(err)
	}
	if err := fr.WriteJSONBlock(BlockMetadata, js); err != nil {
		t.Fatal(err)
	}
	w.Flush()
	c := NewServerCodec(bufio.NewReader(&in), bufio.NewWriter(&bytes.Buffer{}), Options{Limits: doip.Limits{MaxPayload: 1 << 20, MaxSegment: 256}})
	req, err := c.ReadRequest()
	if err != nil || req.Version != "8ff2361c" || req.Element != "equations.json" {
		t.Fatalf("ReadRequest = %+v, %v", req, err)
	}
}
