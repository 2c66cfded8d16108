package doiptext

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
)

// WriteChunkSize is the largest chunk [Writer.WriteBytesFrom] writes: 256 KiB, the size of
// the chunks the gateway's backends stream.
const WriteChunkSize = 256 << 10

// Writer writes DOIP v2.0 text messages in the canonical form of spec §2 ("What to
// write"), byte for byte what CNRI's and doip_sdk's writers produce: compact one-line JSON
// followed by "\n#\n"; "@\n", chunks "N\n" data "\n", "#\n" for bytes; "#\n" to end a
// message. It writes straight to its io.Writer, which should be buffered; the caller
// flushes after [Writer.End].
//
// A message is any sequence of [Writer.WriteJSON] and bytes segments
// ([Writer.BeginBytes], [Writer.WriteChunk]…, [Writer.EndBytes], or [Writer.WriteBytesFrom])
// followed by [Writer.End].
type Writer struct {
	w       io.Writer
	inBytes bool     // between BeginBytes and EndBytes
	scratch [16]byte // a size line
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer {
	return &Writer{w: w}
}

var errInBytes = errors.New("doiptext: a bytes segment is open")

// WriteJSON writes a JSON segment: v as compact one-line JSON, then "\n#\n". A
// json.RawMessage or []byte is taken as JSON text and compacted (it must be valid JSON);
// anything else is marshalled as encoding/json does, without escaping '<', '>' and '&'.
func (wr *Writer) WriteJSON(v any) error {
	if wr.inBytes {
		return fmt.Errorf("doiptext: WriteJSON: %w", errInBytes)
	}
	js, err := compactJSON(v)
	if err != nil {
		return err
	}
	_, err = wr.w.Write(append(js, "\n#\n"...))
	return err
}

// compactJSON renders v as one line of JSON.
func compactJSON(v any) ([]byte, error) {
	var raw []byte
	switch v := v.(type) {
	case json.RawMessage:
		raw = v
	case []byte:
		raw = v
	default:
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(v); err != nil {
			return nil, fmt.Errorf("doiptext: encoding a JSON segment: %w", err)
		}
		return bytes.TrimSuffix(buf.Bytes(), []byte("\n")), nil
	}
	var buf bytes.Buffer
	buf.Grow(len(raw) + 3)
	if err := json.Compact(&buf, raw); err != nil {
		return nil, fmt.Errorf("doiptext: JSON segment is not valid JSON: %w", err)
	}
	return buf.Bytes(), nil
}

// BeginBytes starts a bytes segment: "@\n".
func (wr *Writer) BeginBytes() error {
	if wr.inBytes {
		return fmt.Errorf("doiptext: BeginBytes: %w", errInBytes)
	}
	wr.inBytes = true
	_, err := io.WriteString(wr.w, "@\n")
	return err
}

// WriteChunk writes p as one chunk of the open bytes segment: its size in decimal, LF, the
// data, LF. An empty p writes nothing: a "0" chunk is never written, because CNRI's reader
// rejects it. A chunk is at most 999999999 bytes.
func (wr *Writer) WriteChunk(p []byte) error {
	if !wr.inBytes {
		return errors.New("doiptext: WriteChunk outside a bytes segment")
	}
	if len(p) == 0 {
		return nil
	}
	if len(p) > maxSizeValue {
		return fmt.Errorf("doiptext: chunk of %d bytes exceeds limit %d: %w", len(p), maxSizeValue, ErrTooLarge)
	}
	line := append(strconv.AppendInt(wr.scratch[:0], int64(len(p)), 10), '\n')
	if _, err := wr.w.Write(line); err != nil {
		return err
	}
	if _, err := wr.w.Write(p); err != nil {
		return err
	}
	_, err := io.WriteString(wr.w, "\n")
	return err
}

// EndBytes ends the open bytes segment: "#\n". A segment without chunks is "@\n#\n", the
// form of a zero-length element.
func (wr *Writer) EndBytes() error {
	if !wr.inBytes {
		return errors.New("doiptext: EndBytes outside a bytes segment")
	}
	wr.inBytes = false
	_, err := io.WriteString(wr.w, "#\n")
	return err
}

// End ends the message: "#\n".
func (wr *Writer) End() error {
	if wr.inBytes {
		return fmt.Errorf("doiptext: End: %w", errInBytes)
	}
	_, err := io.WriteString(wr.w, "#\n")
	return err
}

// WriteBytesFrom writes a whole bytes segment with the data of r: exactly size bytes, or,
// if size is negative, everything up to io.EOF. The data go out in chunks of at most
// [WriteChunkSize] bytes, and no more than one chunk is held in memory. If r is an
// io.WriterTo, its writes become chunks directly, without a copy.
//
// A body shorter or longer than size is an error; so is any error of r. After such an
// error the segment is left open and the message is broken: the caller must close the
// connection. It returns the number of data bytes written.
func (wr *Writer) WriteBytesFrom(r io.Reader, size int64) (int64, error) {
	if err := wr.BeginBytes(); err != nil {
		return 0, err
	}
	var (
		n   int64
		err error
	)
	if r == nil {
		r = eofReader{}
	}
	if wt, ok := r.(io.WriterTo); ok {
		cw := &chunkWriter{wr: wr, left: size}
		_, err = wt.WriteTo(cw)
		n = cw.n
	} else {
		n, err = wr.copyChunks(r, size)
	}
	if err == nil && size >= 0 {
		switch {
		case n < size:
			err = fmt.Errorf("doiptext: body ended after %d of %d bytes", n, size)
		case probeMore(r):
			err = errLongBody(size)
		}
	}
	if err != nil {
		return n, err
	}
	return n, wr.EndBytes()
}

func errLongBody(size int64) error {
	return fmt.Errorf("doiptext: body has more than the %d bytes announced", size)
}

// copyChunks reads r in chunks of up to WriteChunkSize bytes and writes each as a chunk.
func (wr *Writer) copyChunks(r io.Reader, size int64) (int64, error) {
	bufLen := int64(WriteChunkSize)
	if size >= 0 {
		bufLen = min(bufLen, size)
	}
	buf := make([]byte, max(bufLen, 1))
	var n int64
	for size < 0 || n < size {
		p := buf
		if size >= 0 {
			p = buf[:min(int64(len(buf)), size-n)]
		}
		m, err := io.ReadFull(r, p)
		if m > 0 {
			if werr := wr.WriteChunk(p[:m]); werr != nil {
				return n, werr
			}
			n += int64(m)
		}
		switch err {
		case nil:
		case io.EOF, io.ErrUnexpectedEOF:
			return n, nil
		default:
			return n, err
		}
	}
	return n, nil
}

// probeMore reports whether r has a byte more to give.
func probeMore(r io.Reader) bool {
	var one [1]byte
	n, _ := io.ReadAtLeast(r, one[:], 1)
	return n > 0
}

// chunkWriter turns the writes of an io.WriterTo into chunks, refusing bytes past left
// (unless left is negative).
type chunkWriter struct {
	wr   *Writer
	left int64
	n    int64
}

func (cw *chunkWriter) Write(p []byte) (int, error) {
	var long error
	if cw.left >= 0 && int64(len(p)) > cw.left {
		p, long = p[:cw.left], errLongBody(cw.n+cw.left)
	}
	written := 0
	for len(p) > 0 {
		c := p[:min(len(p), WriteChunkSize)]
		if err := cw.wr.WriteChunk(c); err != nil {
			return written, err
		}
		written += len(c)
		cw.n += int64(len(c))
		if cw.left >= 0 {
			cw.left -= int64(len(c))
		}
		p = p[len(c):]
	}
	if long != nil {
		return written, long
	}
	return written, nil
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
