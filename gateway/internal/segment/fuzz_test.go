package segment

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"testing/iotest"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// Small caps for fuzzing, so that no input can make the decoders allocate much.
const (
	fuzzMaxSegment = 256
	fuzzMaxMessage = 1024
)

// addSeeds adds a few requests and edge cases. The committed corpus in
// testdata/fuzz/<target> holds more.
func addSeeds(f *testing.F) {
	for _, s := range []string{
		"",
		"\x00\x00\x00\x00",
		"\x00\x00\x00\x11{\"operationId\":1}\x00\x00\x00\x00",
		"\x00\x00\x00\x64{\"targetId\":\"Q123\",\"operationId\":\"retrieve\",\"attributes\":{\"element\":\"doip:bitstream/Q123/main-pdf\"}}\x00\x00\x00\x00",
		"\x00\x00\x00\x5f{\"target_id\":\"Q123\",\"operation_id\":5,\"workflow\":\"equation_extraction\",\"params\":{\"pages\":[1,2]}}\x00\x00\x00\x03raw\x00\x00\x00\x00",
		"\x00\x00\x00\x1a{\"operationId\":\"list_ops\"}\x00\x00\x00\x00\x00\x00\x00\x11{\"operationId\":2}\x00\x00\x00\x00",
		"\xff\xff\xff\xff",
		"\x00\x00\x00\x03[1]\x00\x00\x00\x00",
		"\x00\x00\x00\x05ab",
	} {
		f.Add([]byte(s))
	}
}

// FuzzReadRequest checks that ReadRequest never panics, fails only with the documented
// errors, returns requests that keep the model's promises, and that every failure can be
// answered with WriteError.
func FuzzReadRequest(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		c, _, _ := newTestCodec(bytes.NewReader(data), fuzzMaxSegment, fuzzMaxMessage)
		// The server reads one request per connection; read on, to drive the reader through
		// whatever follows.
		for range 8 {
			req, err := c.ReadRequest()
			if err == io.EOF {
				return
			}
			if err != nil {
				checkRequestError(t, err)
				return
			}
			if req.Framing != doip.FramingSegment || req.OperationID == "" {
				t.Fatalf("request %+v: no framing or no operation id", req)
			}
			if req.Params != nil {
				var m map[string]json.RawMessage
				if err := json.Unmarshal(req.Params, &m); err != nil {
					t.Fatalf("params %q are not a JSON object: %v", req.Params, err)
				}
			}
		}
	})
}

// checkRequestError fails the test unless err is one ReadRequest documents, and checks that
// the answer it carries can be written.
func checkRequestError(t *testing.T, err error) {
	t.Helper()
	de, ok := errors.AsType[*doip.Error](err)
	if !ok {
		t.Fatalf("undocumented error %v: no *doip.Error", err)
	}
	_, isProto := errors.AsType[*ProtocolError](err)
	switch de.Kind {
	case doip.KindTooLarge:
		if !errors.Is(err, ErrTooLarge) {
			t.Fatalf("TooLarge answer for %v, which is not ErrTooLarge", err)
		}
	case doip.KindBadRequest:
		if !isProto && !errors.Is(err, io.ErrUnexpectedEOF) {
			t.Fatalf("BadRequest answer for %v, which is neither a ProtocolError nor io.ErrUnexpectedEOF", err)
		}
	default:
		t.Fatalf("answer of kind %s for %v", de.Kind, err)
	}
	if de.Message == "" || de.Message != err.Error() {
		t.Fatalf("answer %q for error %q", de.Message, err)
	}
	c, out, bw := newTestCodec(bytes.NewReader(nil), 0, 0)
	if werr := c.WriteError(nil, de); werr != nil {
		t.Fatalf("WriteError: %v", werr)
	}
	_ = bw.Flush()
	segs := decodeAnswer(t, out.Bytes())
	if st := decodeStatus(t, segs[0]); len(segs) != 1 || st.Status != "error" || st.Message != de.Message || st.Error != string(de.Kind) {
		t.Fatalf("error answer %q decodes to %+v", out.Bytes(), st)
	}
}

// readMessages reads whole messages with ReadSegment under the fuzz caps, and returns them
// with the number of bytes they took and the error that stopped the reading.
func readMessages(r io.Reader, count func() int) (msgs [][][]byte, consumed int, err error) {
	sr := NewReader(r)
	sr.MaxSegment, sr.MaxMessage = fuzzMaxSegment, fuzzMaxMessage
	var cur [][]byte
	for {
		seg, err := sr.ReadSegment()
		switch {
		case err == ErrEndOfMessage:
			msgs, cur = append(msgs, cur), nil
			if count != nil {
				consumed = count()
			}
		case err != nil:
			return msgs, consumed, err
		default:
			cur = append(cur, seg)
		}
	}
}

// FuzzRoundTrip checks that the messages a Reader decodes re-encode, through WriteSegment
// and through the streaming writer, to exactly the bytes they were decoded from; that the
// streaming reader decodes the same segments; and that decoding the encoding is stable.
func FuzzRoundTrip(f *testing.F) {
	addSeeds(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		msgs, consumed, err := readMessages(r, func() int { return len(data) - r.Len() })
		if err != io.EOF && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, ErrTooLarge) {
			t.Fatalf("undocumented error %v", err)
		}

		var whole, streamed bytes.Buffer
		sw, ss := NewWriter(&whole), NewWriter(&streamed)
		for _, m := range msgs {
			for _, seg := range m {
				if len(seg) == 0 {
					t.Fatal("ReadSegment returned an empty segment")
				}
				if err := sw.WriteSegment(seg); err != nil {
					t.Fatal(err)
				}
				if err := ss.WriteSegmentHeader(uint32(len(seg))); err != nil {
					t.Fatal(err)
				}
				if _, err := io.Copy(ss, iotest.HalfReader(bytes.NewReader(seg))); err != nil {
					t.Fatal(err)
				}
			}
			if err := errors.Join(sw.End(), ss.End()); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(whole.Bytes(), data[:consumed]) {
			t.Fatalf("WriteSegment gives\n%q\nthe messages were\n%q", whole.Bytes(), data[:consumed])
		}
		if !bytes.Equal(streamed.Bytes(), whole.Bytes()) {
			t.Fatalf("streaming writer gives\n%q\nWriteSegment gives\n%q", streamed.Bytes(), whole.Bytes())
		}

		// The streaming reader, one byte at a time, sees the same segments.
		sr := NewReader(iotest.OneByteReader(bytes.NewReader(data)))
		sr.MaxMessage = fuzzMaxMessage
		for i, m := range msgs {
			for j, want := range m {
				n, err := sr.NextSegment()
				if err != nil || n != uint32(len(want)) {
					t.Fatalf("message %d segment %d: NextSegment = %d, %v; want %d", i, j, n, err, len(want))
				}
				got, err := io.ReadAll(sr.Content())
				if err != nil || !bytes.Equal(got, want) {
					t.Fatalf("message %d segment %d: Content = %q, %v; want %q", i, j, got, err, want)
				}
			}
			if err := sr.SkipMessage(); err != nil {
				t.Fatalf("message %d: end: %v", i, err)
			}
		}

		again, _, err := readMessages(bytes.NewReader(whole.Bytes()), nil)
		if err != io.EOF || len(again) != len(msgs) {
			t.Fatalf("decoding the encoding: %d messages, %v; want %d, io.EOF", len(again), err, len(msgs))
		}
		for i := range msgs {
			if len(again[i]) != len(msgs[i]) {
				t.Fatalf("message %d: %d segments, then %d", i, len(msgs[i]), len(again[i]))
			}
			for j := range msgs[i] {
				if !bytes.Equal(again[i][j], msgs[i][j]) {
					t.Fatalf("message %d segment %d: %q, then %q", i, j, msgs[i][j], again[i][j])
				}
			}
		}
	})
}
