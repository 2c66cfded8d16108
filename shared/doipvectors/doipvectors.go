// Package doipvectors replays the captured client requests of the contracts (the vectors the
// gateway's codecs keep in their testdata) against a running system: it reads them, patches
// them for that system (another target, the credentials it configures, another query) and
// reads the answers, in the standard DOIP framing and in the binary envelope, whose lengths
// it keeps right. It reads the wire independently of the gateway's codecs, so a test that
// uses it checks them too. For tests only.
package doipvectors

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// Read reads the vector name (without .bin) of a set (vectors, writes, vectors-search) of a
// codec (doiptext, envelope), below the gateway module's folder gatewayDir.
func Read(tb testing.TB, gatewayDir, codec, set, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(gatewayDir, "internal", codec, "testdata", set, name+".bin"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// Replace returns b with every old replaced by new. old must occur: a vector that changed
// under the test fails it instead of being sent unpatched.
func Replace(tb testing.TB, b []byte, old, new string) []byte {
	tb.Helper()
	if !bytes.Contains(b, []byte(old)) {
		tb.Fatalf("the vector does not hold %q:\n%s", old, b)
	}
	return bytes.ReplaceAll(b, []byte(old), []byte(new))
}

// Block types of the binary envelope.
const (
	BlockMetadata  = 0x01
	BlockComponent = 0x02
)

// Envelope is one binary envelope message: a 10-byte header (version, type, operation, flags,
// the object id's length in 2 bytes, the payload's length in 4), the object id, and the
// payload's blocks (type, 4-byte length, body).
type Envelope struct {
	Version, Type, Op, Flags byte
	ObjectID                 string
	Blocks                   []Block
}

// Block is one block of an envelope's payload.
type Block struct {
	Type byte
	Body []byte
}

// maxPayload bounds what ReadEnvelope accepts.
const maxPayload = 64 << 20

// ParseEnvelope splits one whole message.
func ParseEnvelope(b []byte) (*Envelope, error) {
	r := bytes.NewReader(b)
	e, err := ReadEnvelope(r)
	if err == nil && r.Len() != 0 {
		err = fmt.Errorf("%d bytes after the message", r.Len())
	}
	return e, err
}

// ReadEnvelope reads one message.
func ReadEnvelope(r io.Reader) (*Envelope, error) {
	var h [10]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, fmt.Errorf("envelope header: %w", err)
	}
	e := &Envelope{Version: h[0], Type: h[1], Op: h[2], Flags: h[3]}
	id := make([]byte, binary.BigEndian.Uint16(h[4:6]))
	n := binary.BigEndian.Uint32(h[6:10])
	if n > maxPayload {
		return nil, fmt.Errorf("envelope payload of %d bytes", n)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(r, id); err != nil {
		return nil, fmt.Errorf("envelope object id: %w", err)
	}
	if _, err := io.ReadFull(r, payload); err != nil {
		return nil, fmt.Errorf("envelope payload: %w", err)
	}
	e.ObjectID = string(id)
	for len(payload) > 0 {
		if len(payload) < 5 {
			return nil, errors.New("envelope block header cut short")
		}
		size := binary.BigEndian.Uint32(payload[1:5])
		if uint64(size) > uint64(len(payload)-5) {
			return nil, fmt.Errorf("envelope block of %d bytes in %d", size, len(payload)-5)
		}
		e.Blocks = append(e.Blocks, Block{Type: payload[0], Body: payload[5 : 5+size]})
		payload = payload[5+size:]
	}
	return e, nil
}

// Bytes encodes the message, its lengths computed anew.
func (e *Envelope) Bytes() []byte {
	var payload []byte
	for _, b := range e.Blocks {
		payload = append(payload, b.Type)
		payload = binary.BigEndian.AppendUint32(payload, uint32(len(b.Body)))
		payload = append(payload, b.Body...)
	}
	out := []byte{e.Version, e.Type, e.Op, e.Flags}
	out = binary.BigEndian.AppendUint16(out, uint16(len(e.ObjectID)))
	out = binary.BigEndian.AppendUint32(out, uint32(len(payload)))
	out = append(out, e.ObjectID...)
	return append(out, payload...)
}

// Metadata returns the body of the first metadata block, nil when there is none.
func (e *Envelope) Metadata() []byte {
	for _, b := range e.Blocks {
		if b.Type == BlockMetadata {
			return b.Body
		}
	}
	return nil
}

// PatchEnvelope returns a captured message aimed at id (unchanged when id is ""), with each
// pair of replace (old, new, old, new, …) applied to its metadata, every old required.
func PatchEnvelope(tb testing.TB, raw []byte, id string, replace ...string) []byte {
	tb.Helper()
	e, err := ParseEnvelope(raw)
	if err != nil {
		tb.Fatalf("captured envelope: %v", err)
	}
	if len(replace)%2 != 0 {
		tb.Fatal("PatchEnvelope: replace takes pairs")
	}
	if id != "" {
		e.ObjectID = id
	}
	for i := range e.Blocks {
		if e.Blocks[i].Type != BlockMetadata {
			continue
		}
		for j := 0; j < len(replace); j += 2 {
			e.Blocks[i].Body = Replace(tb, e.Blocks[i].Body, replace[j], replace[j+1])
		}
		return e.Bytes()
	}
	if len(replace) > 0 {
		tb.Fatal("captured envelope: no metadata block to patch")
	}
	return e.Bytes()
}

// ReadStd reads one standard DOIP message made of JSON segments (an answer) and returns them:
// each segment is the lines up to a line "#", and an empty segment ends the message.
func ReadStd(r *bufio.Reader) ([][]byte, error) {
	var (
		segs [][]byte
		cur  []byte
	)
	for {
		line, err := r.ReadBytes('\n')
		if err != nil {
			return segs, fmt.Errorf("standard message after %d segments: %w", len(segs), err)
		}
		if bytes.Equal(bytes.TrimRight(line, "\r\n"), []byte("#")) {
			if len(cur) == 0 {
				return segs, nil
			}
			segs = append(segs, cur)
			cur = nil
			continue
		}
		if len(cur) == 0 && bytes.HasPrefix(line, []byte("@")) {
			return segs, errors.New("a bytes segment: ReadStd reads JSON segments only")
		}
		cur = append(cur, line...)
	}
}

// DO is what the tests read of a digital object in a standard answer (a create's or an
// update's output, a search result).
type DO struct {
	ID         string `json:"id"`
	Type       string `json:"type"`
	Attributes struct {
		Content json.RawMessage `json:"content"`
		Version string          `json:"version"`
	} `json:"attributes"`
	Elements []struct {
		ID     string `json:"id"`
		Length int64  `json:"length"`
	} `json:"elements"`
}
