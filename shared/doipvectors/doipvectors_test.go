package doipvectors_test

import (
	"bufio"
	"bytes"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/shared/doipvectors"
)

// update is MaRDI's captured UPDATE of Q123: a metadata block and a component block.
var update = []byte("\x02\x01\x03\x00\x00\x04\x00\x00\x00\x8eQ123" +
	"\x01\x00\x00\x00\x5d" + `{"operation":"update","element":"notes.txt","username":"capture@bot","password":"bot-secret"}` +
	"\x02\x00\x00\x00\x27\x00\x09notes.txt\x00\x0atext/plain\x00\x00\x00\x0cHello World\n")

func TestEnvelopeRoundTrip(t *testing.T) {
	e, err := doipvectors.ParseEnvelope(update)
	if err != nil {
		t.Fatal(err)
	}
	if e.Op != 0x03 || e.ObjectID != "Q123" || len(e.Blocks) != 2 || e.Blocks[1].Type != doipvectors.BlockComponent ||
		!bytes.HasPrefix(e.Metadata(), []byte(`{"operation":"update"`)) {
		t.Fatalf("parsed %+v", e)
	}
	if !bytes.Equal(e.Bytes(), update) {
		t.Errorf("re-encoded:\n%q\nwant\n%q", e.Bytes(), update)
	}
	if _, err := doipvectors.ParseEnvelope(update[:len(update)-1]); err == nil {
		t.Error("a message cut short parsed")
	}
}

func TestPatchEnvelope(t *testing.T) {
	p := doipvectors.PatchEnvelope(t, update, "Q9912345", `"username":"capture@bot","password":"bot-secret"`, `"token":"tok"`)
	e, err := doipvectors.ParseEnvelope(p)
	if err != nil {
		t.Fatalf("patched message: %v", err)
	}
	if e.ObjectID != "Q9912345" || string(e.Metadata()) != `{"operation":"update","element":"notes.txt","token":"tok"}` ||
		string(e.Blocks[1].Body[len(e.Blocks[1].Body)-12:]) != "Hello World\n" {
		t.Errorf("patched %+v, metadata %s", e, e.Metadata())
	}
}

func TestReadStd(t *testing.T) {
	r := bufio.NewReader(strings.NewReader("{\"status\":\"0.DOIP/Status.001\"}\n#\n{\n  \"size\": 1\n}\n#\n#\n{\"next\":1}\n#\n#\n"))
	segs, err := doipvectors.ReadStd(r)
	if err != nil || len(segs) != 2 || string(segs[1]) != "{\n  \"size\": 1\n}\n" {
		t.Fatalf("segments %q, %v", segs, err)
	}
	if segs, err := doipvectors.ReadStd(r); err != nil || len(segs) != 1 {
		t.Fatalf("second message: %q, %v", segs, err)
	}
	if _, err := doipvectors.ReadStd(bufio.NewReader(strings.NewReader("{}\n#\n@\n3\nabc\n#\n#\n"))); err == nil {
		t.Error("a bytes segment was read as JSON")
	}
}
