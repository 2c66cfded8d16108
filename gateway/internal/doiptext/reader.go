package doiptext

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Default caps of a [Reader] whose cap fields are zero.
const (
	DefaultMaxSegment = 1 << 20  // one JSON segment
	DefaultMaxChunk   = 16 << 20 // one chunk of a bytes segment
	DefaultMaxMessage = 16 << 20 // all bytes of one message
)

// MaxSizeDigits is the longest size line a [Reader] accepts, as CNRI's reader: a chunk is
// at most 999999999 bytes, whatever [Reader.MaxChunk] says.
const MaxSizeDigits = 9

const maxSizeValue = 999_999_999

// SegmentKind tells the three kinds of segment apart.
type SegmentKind uint8

// The segment kinds. The zero SegmentKind is none of them.
const (
	SegmentJSON  SegmentKind = iota + 1 // a JSON text ended by a '#' line
	SegmentBytes                        // '@', chunks, '#'
	SegmentEnd                          // the empty segment: a '#' line that ends a message
)

// String returns "json", "bytes" or "end".
func (k SegmentKind) String() string {
	switch k {
	case SegmentJSON:
		return "json"
	case SegmentBytes:
		return "bytes"
	case SegmentEnd:
		return "end"
	}
	return fmt.Sprintf("SegmentKind(%d)", uint8(k))
}

// Segment is one segment of a message, as [Reader.NextSegment] returns it.
type Segment struct {
	Kind SegmentKind
	// JSON is the text of a JSON segment, checked with json.Valid, without the whitespace
	// around it. It is as the peer sent it: possibly on several lines, not compacted.
	JSON json.RawMessage
	// Bytes reads the data of a bytes segment across its chunks and returns io.EOF at the
	// segment's '#' line. It is valid until the next call of [Reader.NextSegment], which
	// discards whatever was not read.
	Bytes io.Reader
	// Data holds the data of a bytes segment read by [Reader.ReadMessage]; Bytes then reads
	// it too. [Reader.NextSegment] leaves it nil.
	Data []byte
}

// Reader reads the segments of DOIP v2.0 text messages (spec §2) from a buffered stream.
//
// It is as lenient as the readers in the wild: JSON may span several lines, the '#', '@' and
// size lines may have spaces, tabs and CR before their LF, the LF after chunk data may be a
// CRLF, and blank lines are skipped where a segment would start. It is strict where leniency
// would let the stream slip out of step: a size line is a decimal number from 1 to
// 999999999 without a leading zero, the data of a chunk must be followed by its line end,
// and a segment's kind is the first byte of its line, so that an indented '#' or '@' starts
// a JSON segment (which then is not valid JSON).
//
// The cap fields are set before the first read; zero means the default.
type Reader struct {
	// MaxSegment caps the text of one JSON segment, counted up to the LF before its '#'
	// line. The text is counted while it is scanned, so no more than MaxSegment bytes are
	// buffered for it.
	MaxSegment int
	// MaxChunk caps the size line of one chunk. Sizes of more than 9 digits are rejected
	// whatever its value.
	MaxChunk int
	// MaxMessage caps the bytes of one message on the wire, from the first byte after the
	// previous message (blank lines included) to its final '#' line.
	MaxMessage int64

	r         *bufio.Reader
	inMessage bool        // a byte of the current message was read
	n         int64       // bytes of the current message read so far
	body      *bodyReader // the bytes segment last returned, until the next NextSegment
	err       error       // sticky: after a framing error the stream is out of step
}

// NewReader returns a Reader with the default caps reading from r.
func NewReader(r *bufio.Reader) *Reader {
	return &Reader{r: r}
}

func (rd *Reader) maxSegment() int64 {
	if rd.MaxSegment <= 0 {
		return DefaultMaxSegment
	}
	return int64(rd.MaxSegment)
}

func (rd *Reader) maxChunk() int64 {
	if rd.MaxChunk <= 0 {
		return DefaultMaxChunk
	}
	return min(int64(rd.MaxChunk), maxSizeValue)
}

func (rd *Reader) maxMessage() int64 {
	if rd.MaxMessage <= 0 {
		return DefaultMaxMessage
	}
	return rd.MaxMessage
}

// count adds n bytes read to the message and checks the message cap.
func (rd *Reader) count(n int) error {
	rd.n += int64(n)
	if max := rd.maxMessage(); rd.n > max {
		return tooLarge("message", rd.n, max)
	}
	return nil
}

// readByte reads one byte of a message: an end of stream is unexpected.
func (rd *Reader) readByte() (byte, error) {
	b, err := rd.r.ReadByte()
	if err != nil {
		return 0, noEOF(err)
	}
	return b, rd.count(1)
}

// NextSegment returns the next segment. A message is zero or more JSON and bytes segments
// followed by one [SegmentEnd]; the call after an end starts the next message.
//
// It returns io.EOF when the stream ends where a message would start (after blank lines,
// if any), io.ErrUnexpectedEOF when it ends inside a message, an error wrapping
// [ErrTooLarge] when a cap is exceeded, and a [*ProtocolError] for malformed bytes. After
// any error but io.EOF the Reader returns that error again: the stream is out of step.
//
// If the previous segment was a bytes segment, its unread data is discarded first.
func (rd *Reader) NextSegment() (Segment, error) {
	if rd.err != nil {
		return Segment{}, rd.err
	}
	if b := rd.body; b != nil {
		rd.body = nil
		if err := b.discard(); err != nil {
			rd.err = err
			return Segment{}, err
		}
	}
	seg, err := rd.next()
	if err != nil && err != io.EOF {
		rd.err = err
	}
	return seg, err
}

func (rd *Reader) next() (Segment, error) {
	b, indented, err := rd.segmentStart()
	if err != nil {
		return Segment{}, err
	}
	if !indented {
		switch b {
		case '#':
			if err := rd.lineEnd("end-of-message line"); err != nil {
				return Segment{}, err
			}
			rd.inMessage, rd.n = false, 0
			return Segment{Kind: SegmentEnd}, nil
		case '@':
			if err := rd.lineEnd("bytes segment line"); err != nil {
				return Segment{}, err
			}
			rd.body = &bodyReader{rd: rd}
			return Segment{Kind: SegmentBytes, Bytes: rd.body}, nil
		}
	}
	js, err := rd.readJSON(b)
	if err != nil {
		return Segment{}, err
	}
	return Segment{Kind: SegmentJSON, JSON: js}, nil
}

// segmentStart skips blank lines and returns the first byte of the next segment, and
// whether spaces, tabs or CR came before it on its line (then it starts a JSON segment,
// whatever it is: the kind of a segment is its line's first byte). At the start of a
// message an end of stream, even after blank lines, is a clean io.EOF.
func (rd *Reader) segmentStart() (first byte, indented bool, err error) {
	for {
		b, err := rd.r.ReadByte()
		if err != nil {
			if err == io.EOF && !rd.inMessage {
				return 0, false, io.EOF
			}
			return 0, false, noEOF(err)
		}
		if err := rd.count(1); err != nil {
			return 0, false, err
		}
		switch b {
		case ' ', '\t', '\r':
			indented = true
		case '\n':
			indented = false
		default:
			rd.inMessage = true
			return b, indented, nil
		}
	}
}

// lineEnd reads the rest of a '#', '@' or size line: spaces, tabs or CR, then LF.
func (rd *Reader) lineEnd(field string) error {
	for {
		b, err := rd.readByte()
		if err != nil {
			return err
		}
		switch b {
		case '\n':
			return nil
		case ' ', '\t', '\r':
		default:
			return protocolError(field, "unexpected byte %q before the end of the line", b)
		}
	}
}

// readJSON reads a JSON segment whose first byte, b, was read: everything up to an LF that
// is followed by '#', then the rest of that '#' line.
func (rd *Reader) readJSON(b byte) (json.RawMessage, error) {
	max := rd.maxSegment()
	buf := []byte{b}
	for {
		piece, err := rd.r.ReadSlice('\n')
		if len(piece) > 0 {
			text := int64(len(buf) + len(piece))
			if piece[len(piece)-1] == '\n' {
				text-- // an LF before a '#' line does not belong to the text
			}
			if text > max {
				return nil, tooLargeJSON(text, max)
			}
			if cerr := rd.count(len(piece)); cerr != nil {
				return nil, cerr
			}
			buf = append(buf, piece...)
		}
		if err == bufio.ErrBufferFull {
			continue
		}
		if err != nil {
			return nil, noEOF(err)
		}
		next, err := rd.r.Peek(1)
		if err != nil {
			return nil, noEOF(err)
		}
		if next[0] == '#' {
			_, _ = rd.r.Discard(1)
			if err := rd.count(1); err != nil {
				return nil, err
			}
			if err := rd.lineEnd("JSON segment end line"); err != nil {
				return nil, err
			}
			break
		}
	}
	text := trimJSONSpace(buf[:len(buf)-1])
	if !json.Valid(text) {
		var v json.RawMessage
		err := json.Unmarshal(text, &v)
		if err == nil { // cannot happen: Valid and Unmarshal agree
			err = errors.New("invalid")
		}
		return nil, protocolError("JSON segment", "not valid JSON: %v", err)
	}
	return text, nil
}

func tooLargeJSON(n, limit int64) error {
	return fmt.Errorf("doiptext: JSON segment of at least %d bytes exceeds limit %d: %w", n, limit, ErrTooLarge)
}

// trimJSONSpace removes JSON whitespace (space, tab, CR, LF) around b.
func trimJSONSpace(b []byte) []byte {
	return bytes.Trim(b, " \t\r\n")
}

// ReadMessage reads one whole message into memory, bytes segments included (bounded by
// [Reader.MaxMessage]), and returns its segments without the final [SegmentEnd]. It is meant
// for small messages: requests, and answers a client reads in full. Errors are those of
// [Reader.NextSegment].
func (rd *Reader) ReadMessage() ([]Segment, error) {
	var segs []Segment
	for {
		seg, err := rd.NextSegment()
		if err != nil {
			if err == io.EOF && len(segs) > 0 {
				err = io.ErrUnexpectedEOF
			}
			return nil, err
		}
		switch seg.Kind {
		case SegmentEnd:
			return segs, nil
		case SegmentBytes:
			data, err := io.ReadAll(seg.Bytes)
			if err != nil {
				return nil, err
			}
			seg.Data = data
			seg.Bytes = bytes.NewReader(data)
		}
		segs = append(segs, seg)
	}
}

// bodyReader reads the chunks of one bytes segment.
type bodyReader struct {
	rd   *Reader
	left int64 // data bytes left in the current chunk
	lf   bool  // the line end after a chunk's data is yet to be read
	err  error // sticky; io.EOF after the '#' line
}

// Read reads data across chunks. It returns io.EOF after the segment's '#' line.
func (b *bodyReader) Read(p []byte) (int, error) {
	if b.err != nil {
		return 0, b.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if b.left == 0 {
		if err := b.nextChunk(); err != nil {
			return 0, b.fail(err)
		}
	}
	if int64(len(p)) > b.left {
		p = p[:b.left]
	}
	n, err := b.rd.r.Read(p)
	b.left -= int64(n)
	b.rd.n += int64(n) // within the message cap: checked against the size line
	if b.left == 0 {
		b.lf = true
	}
	if n > 0 {
		return n, nil
	}
	if err == nil {
		err = io.ErrNoProgress
	}
	return 0, b.fail(noEOF(err))
}

// fail records err: io.EOF ends the segment, anything else the whole stream.
func (b *bodyReader) fail(err error) error {
	b.err = err
	if err != io.EOF && b.rd.err == nil {
		b.rd.err = err
	}
	return err
}

// discard skips what is left of the segment without copying it.
func (b *bodyReader) discard() error {
	for b.err == nil {
		if b.left == 0 {
			if err := b.nextChunk(); err != nil {
				b.fail(err)
			}
			continue
		}
		n, err := b.rd.r.Discard(int(b.left))
		b.left -= int64(n)
		b.rd.n += int64(n)
		if b.left == 0 {
			b.lf = true
		}
		if err != nil {
			b.fail(noEOF(err))
		}
	}
	if b.err == io.EOF {
		return nil
	}
	return b.err
}

// nextChunk reads the line end after the previous chunk's data, if any, and the next line:
// a size line (then b.left is the size) or the segment's '#' line (then it returns io.EOF).
func (b *bodyReader) nextChunk() error {
	rd := b.rd
	if b.lf {
		c, err := rd.readByte()
		if err != nil {
			return err
		}
		if c == '\r' {
			if c, err = rd.readByte(); err != nil {
				return err
			}
		}
		if c != '\n' {
			return protocolError("chunk", "byte %q after the chunk's data where LF belongs", c)
		}
		b.lf = false
	}
	c, err := rd.readByte()
	if err != nil {
		return err
	}
	switch {
	case c == '#':
		if err := rd.lineEnd("bytes segment end line"); err != nil {
			return err
		}
		return io.EOF
	case c == '0':
		return protocolError("chunk size", "leading zero (sizes are decimal numbers from 1)")
	case c < '1' || c > '9':
		return protocolError("chunk size", "line starts with %q, not a digit or '#'", c)
	}
	size, digits := int64(c-'0'), 1
	for {
		if c, err = rd.readByte(); err != nil {
			return err
		}
		if c < '0' || c > '9' {
			break
		}
		if digits++; digits > MaxSizeDigits {
			return protocolError("chunk size", "more than %d digits", MaxSizeDigits)
		}
		size = size*10 + int64(c-'0')
	}
	for c != '\n' {
		if c != ' ' && c != '\t' && c != '\r' {
			return protocolError("chunk size", "unexpected byte %q after %d", c, size)
		}
		if c, err = rd.readByte(); err != nil {
			return err
		}
	}
	if max := rd.maxChunk(); size > max {
		return tooLarge("chunk", size, max)
	}
	if max := rd.maxMessage(); rd.n+size > max {
		return tooLarge("message", rd.n+size, max)
	}
	b.left = size
	return nil
}
