package envelope

import (
	"bytes"
	"io"
	"testing"
)

// Small caps for fuzzing, so that no input can make the decoders allocate much.
const (
	fuzzMaxPayload  = 1 << 16
	fuzzMaxObjectID = 256
)

func newFuzzFramer(r io.Reader) *Framer {
	fr := NewFramer(nil, r)
	fr.MaxPayload, fr.MaxObjectID, fr.MaxJSON = fuzzMaxPayload, fuzzMaxObjectID, fuzzMaxPayload
	return fr
}

// addSeeds adds the golden vectors, two of them back to back, and a few edge cases. The
// committed corpus in testdata/fuzz/<target> holds more.
func addSeeds(f *testing.F) {
	vs := loadVectors(f)
	for _, v := range vs {
		f.Add(v.data)
	}
	f.Add(append(append([]byte(nil), vs[0].data...), vs[len(vs)-1].data...))
	f.Add([]byte(""))
	f.Add([]byte("\x02\x01\x04\x00\x00\x00\x00\x00\x00\x00"))
	f.Add([]byte("\x02\x01\x01\x00\x00\x00\xff\xff\xff\xff"))
	f.Add([]byte("\x02\x02\x02\x00\x00\x00\x00\x00\x00\x0d\x02\x00\x00\x00\x08\x00\x00\x00\x00\x00\x00\x00\x00"))
}

// FuzzReadMessage checks that ReadMessage never panics and fails only with the documented
// errors, and that the streaming reader decodes every message ReadMessage decodes to the
// same thing.
func FuzzReadMessage(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		var msgs [][]byte
		fr := newFuzzFramer(bytes.NewReader(data))
		for {
			m, err := fr.ReadMessage()
			if err != nil {
				if !documented(err) {
					t.Fatalf("ReadMessage: undocumented error %v", err)
				}
				break
			}
			b, err := m.Append(nil)
			if err != nil {
				t.Fatalf("Append of a decoded message: %v", err)
			}
			msgs = append(msgs, b)
		}

		fr = newFuzzFramer(bytes.NewReader(data))
		for i, want := range msgs {
			m, err := readStreaming(fr)
			if err != nil {
				t.Fatalf("message %d: ReadMessage decoded it, the streaming reader failed: %v", i, err)
			}
			if got := mustAppend(t, m); !bytes.Equal(got, want) {
				t.Fatalf("message %d: streaming reader gives\n%q\nReadMessage gives\n%q", i, got, want)
			}
		}
		// Past the messages both decode, the streaming reader fails or stops too, with a
		// documented error. (It may get further: it does not apply MaxPayload.)
		for range 4 {
			if _, err := readStreaming(fr); err != nil {
				if !documented(err) {
					t.Fatalf("streaming reader: undocumented error %v", err)
				}
				break
			}
		}
	})
}

// FuzzRoundTrip checks that a message that decodes re-encodes to exactly the bytes it was
// decoded from, through Append and through the streaming writer, and that decoding the
// encoding again is stable.
func FuzzRoundTrip(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		m, err := newFuzzFramer(r).ReadMessage()
		if err != nil {
			return
		}
		consumed := data[:len(data)-r.Len()]
		enc1, err := m.Append(nil)
		if err != nil {
			t.Fatalf("Append of a decoded message: %v", err)
		}
		if !bytes.Equal(enc1, consumed) {
			t.Fatalf("Append =\n%q\nthe message was\n%q", enc1, consumed)
		}
		var streamed bytes.Buffer
		if err := writeStreaming(NewFramer(&streamed, nil), m); err != nil {
			t.Fatalf("streaming write: %v", err)
		}
		if !bytes.Equal(streamed.Bytes(), enc1) {
			t.Fatalf("streaming write =\n%q\nAppend =\n%q", streamed.Bytes(), enc1)
		}
		m2, err := newFuzzFramer(bytes.NewReader(enc1)).ReadMessage()
		if err != nil {
			t.Fatalf("decoding the encoding: %v", err)
		}
		enc2, err := m2.Append(nil)
		if err != nil || !bytes.Equal(enc2, enc1) {
			t.Fatalf("second encoding = %q, %v; first %q", enc2, err, enc1)
		}
	})
}
