package doiptext

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// Small caps for fuzzing, so that no input can make the reader buffer much.
const (
	fuzzMaxSegment = 4096
	fuzzMaxChunk   = 4096
	fuzzMaxMessage = 1 << 16
)

func newFuzzReader(data []byte) *Reader {
	rd := NewReader(bufio.NewReaderSize(bytes.NewReader(data), 64))
	rd.MaxSegment, rd.MaxChunk, rd.MaxMessage = fuzzMaxSegment, fuzzMaxChunk, fuzzMaxMessage
	return rd
}

// addSeeds adds the golden vectors, two of them back to back, and edge cases. The
// committed corpus in testdata/fuzz/<target> holds more.
func addSeeds(f *testing.F) {
	vs := loadVectors(f)
	for _, v := range vs {
		f.Add(v.data)
	}
	f.Add(append(append([]byte(nil), vs[0].data...), vs[len(vs)-1].data...))
	for _, s := range []string{
		"", "#\n", "\n\n", "{}\n#\n#\n", "@\n#\n#\n", "@\n05\nHello\n#\n#\n", "@\n1234567890\n",
		"@\n5\nHelloX\n#\n#\n", "{\r\n\"a\":1}\r\n#\r\n#\r\n", "  #\n#\n#\n", "@\n2\nab\r\n#\r\n#\r\n",
		"{\"targetId\":\"x\",\"operationId\":\"wf\",\"input\":{}}\n#\n{}\n#\n#\n",
		"{\"requestId\":7,\"targetId\":\"x\",\"operationId\":\"0.DOIP/Op.Retrieve\",\"attributes\":{\"element\":\"e\",\"range\":{\"start\":1,\"end\":null}}}\n#\n#\n",
	} {
		f.Add([]byte(s))
	}
}

// FuzzReadMessage checks that the Reader and the ServerCodec never panic and fail only with
// the documented errors, that every JSON segment is valid JSON, and that every request the
// codec accepts can be answered with a message that decodes again.
func FuzzReadMessage(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		rd := newFuzzReader(data)
		for i := 0; ; i++ {
			seg, err := rd.NextSegment()
			if err != nil {
				if !documented(err) {
					t.Fatalf("NextSegment: undocumented error %v", err)
				}
				break
			}
			switch seg.Kind {
			case SegmentJSON:
				if !json.Valid(seg.JSON) || len(seg.JSON) > fuzzMaxSegment {
					t.Fatalf("JSON segment %q: invalid or over the cap", seg.JSON)
				}
			case SegmentBytes:
				if i%2 == 0 { // read every other one; the rest is discarded by NextSegment
					n, err := io.Copy(io.Discard, seg.Bytes)
					if err != nil && !documented(err) {
						t.Fatalf("bytes segment: undocumented error %v", err)
					}
					if n > fuzzMaxMessage {
						t.Fatalf("bytes segment of %d bytes, over the message cap", n)
					}
				}
			}
		}

		var out bytes.Buffer
		bw := bufio.NewWriter(&out)
		c := NewServerCodec(bufio.NewReaderSize(bytes.NewReader(data), 64), bw, Options{Limits: doip.Limits{MaxSegment: fuzzMaxSegment, MaxPayload: fuzzMaxMessage}})
		for {
			req, err := c.ReadRequest()
			if err != nil {
				var e *doip.Error
				if err != io.EOF && err != io.ErrUnexpectedEOF && !errors.As(err, &e) {
					t.Fatalf("ReadRequest: error without a *doip.Error: %v", err)
				}
				if e != nil {
					if err := c.WriteError(nil, e); err != nil {
						t.Fatalf("WriteError: %v", err)
					}
				}
				break
			}
			if req.OperationID == "" || req.Framing != doip.FramingText {
				t.Fatalf("request %+v", req)
			}
			if req.Params != nil && (!json.Valid(req.Params) || req.Params[0] != '{') {
				t.Fatalf("params %q are not a JSON object", req.Params)
			}
			if err := c.WriteError(req, doip.Errorf(doip.KindNotFound, "no %s", req.ObjectID)); err != nil {
				t.Fatalf("WriteError: %v", err)
			}
			if err := c.WriteResponse(req, &doip.Response{Hello: &doip.ServiceInfo{ServiceID: req.ObjectID}}); err != nil {
				t.Fatalf("WriteResponse: %v", err)
			}
		}
		_ = bw.Flush()
		if _, err := dump(NewReader(bufio.NewReader(&out))); err != io.EOF {
			t.Fatalf("the answers do not decode: %v\n%q", err, out.Bytes())
		}
	})
}

// fuzzSeg is a decoded segment, compared across round trips.
type fuzzSeg struct {
	kind SegmentKind
	data string // compact JSON, or the bytes
}

// decodeAll reads messages until the first error and returns those read whole.
func decodeAll(rd *Reader) ([][]fuzzSeg, error) {
	var msgs [][]fuzzSeg
	for {
		segs, err := rd.ReadMessage()
		if err != nil {
			return msgs, err
		}
		m := make([]fuzzSeg, 0, len(segs))
		for _, s := range segs {
			if s.Kind == SegmentJSON {
				var buf bytes.Buffer
				if err := json.Compact(&buf, s.JSON); err != nil {
					return msgs, err
				}
				m = append(m, fuzzSeg{s.Kind, buf.String()})
			} else {
				m = append(m, fuzzSeg{s.Kind, string(s.Data)})
			}
		}
		msgs = append(msgs, m)
	}
}

// encodeAll writes messages in canonical form.
func encodeAll(t *testing.T, msgs [][]fuzzSeg) []byte {
	var out bytes.Buffer
	w := NewWriter(&out)
	for _, m := range msgs {
		for _, s := range m {
			var err error
			if s.kind == SegmentJSON {
				err = w.WriteJSON(json.RawMessage(s.data))
			} else {
				_, err = w.WriteBytesFrom(bytes.NewReader([]byte(s.data)), int64(len(s.data)))
			}
			if err != nil {
				t.Fatalf("encoding %v: %v", s, err)
			}
		}
		if err := w.End(); err != nil {
			t.Fatal(err)
		}
	}
	return out.Bytes()
}

// FuzzRoundTrip checks that whatever the Reader decodes, written in canonical form and
// decoded again, gives the same segments, and that the canonical form is a fixed point.
func FuzzRoundTrip(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		msgs, err := decodeAll(newFuzzReader(data))
		if !documented(err) {
			t.Fatalf("undocumented error %v", err)
		}
		if len(msgs) == 0 {
			return
		}
		enc := encodeAll(t, msgs)
		again, err := decodeAll(NewReader(bufio.NewReader(bytes.NewReader(enc))))
		if err != io.EOF {
			t.Fatalf("canonical form does not decode: %v\n%q", err, enc)
		}
		if len(again) != len(msgs) {
			t.Fatalf("%d messages, then %d", len(msgs), len(again))
		}
		for i := range msgs {
			if len(again[i]) != len(msgs[i]) {
				t.Fatalf("message %d: %v, then %v", i, msgs[i], again[i])
			}
			for j := range msgs[i] {
				if again[i][j] != msgs[i][j] {
					t.Fatalf("message %d segment %d: %v %q, then %v %q", i, j, msgs[i][j].kind, msgs[i][j].data, again[i][j].kind, again[i][j].data)
				}
			}
		}
		if enc2 := encodeAll(t, again); !bytes.Equal(enc2, enc) {
			t.Fatalf("canonical form not stable:\n%q\n%q", enc, enc2)
		}
	})
}
