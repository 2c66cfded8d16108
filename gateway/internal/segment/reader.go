package segment

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"io"
	"slices"
)

// The default caps of a [Reader].
const (
	// DefaultMaxSegment is the default of [Reader.MaxSegment]: 1 MiB.
	DefaultMaxSegment = 1 << 20
	// DefaultMaxMessage is the default of [Reader.MaxMessage]: 16 MiB.
	DefaultMaxMessage = 16 << 20
)

// LengthLen is the size of a segment's length prefix: 4 bytes, big-endian.
const LengthLen = 4

// firstChunk is the most [Reader.ReadSegment] allocates before the bytes of a segment
// arrive; a larger segment's buffer grows as they do, so a client that declares a segment at
// the cap and sends nothing more costs no more than this.
const firstChunk = 64 << 10

// Reader reads the segments of one connection: each is a 4-byte big-endian length and that
// many bytes, and a zero length ends a message.
//
// [Reader.ReadSegment] reads a whole segment into memory and suits the JSON segments of a
// request; [Reader.NextSegment] and [Reader.Content] stream a segment of any size up to
// [Reader.MaxMessage] without holding it. [Reader.SkipMessage] reads and drops the rest of a
// message.
//
// The Reader reads from the io.Reader given to [NewReader] directly, without buffering; wrap
// a connection in a bufio.Reader. It is not safe for concurrent use. After an error other than
// [ErrEndOfMessage] and [io.EOF] it is out of step with the stream, and every later call
// returns the same error.
type Reader struct {
	// MaxSegment caps the length of a segment that [Reader.ReadSegment] accepts; a longer one
	// fails with [ErrTooLarge] before any of its bytes are read. 0 means
	// [DefaultMaxSegment]. [Reader.NextSegment] does not apply it.
	MaxSegment uint32
	// MaxMessage caps the sum of the segment lengths of one message (length prefixes not
	// counted); a segment that would take the sum over it fails with [ErrTooLarge] before any
	// of its bytes are read. 0 means [DefaultMaxMessage].
	MaxMessage uint32

	r       io.Reader
	hdr     [LengthLen]byte
	err     error  // sticky: the stream is out of step
	index   int    // segments of the current message whose length has been read
	total   uint64 // sum of those segments' lengths
	left    uint32 // unread bytes of the current segment, after NextSegment
	content contentReader
}

// NewReader returns a Reader reading from r, with the default caps.
func NewReader(r io.Reader) *Reader {
	sr := &Reader{r: r}
	sr.content.sr = sr
	return sr
}

func (sr *Reader) maxSegment() uint32 { return cmp.Or(sr.MaxSegment, DefaultMaxSegment) }

func (sr *Reader) maxMessage() uint32 { return cmp.Or(sr.MaxMessage, DefaultMaxMessage) }

// fail records err as the sticky error and returns it.
func (sr *Reader) fail(err error) error {
	sr.err = err
	return err
}

// readLength drops what is left of the current segment and reads the next length. It
// returns io.EOF at a clean end between messages and ErrEndOfMessage for a zero length.
func (sr *Reader) readLength() (uint32, error) {
	if sr.err != nil {
		return 0, sr.err
	}
	if sr.left > 0 {
		if _, err := io.CopyN(io.Discard, &sr.content, int64(sr.left)); err != nil {
			return 0, sr.fail(noEOF(err))
		}
	}
	if _, err := io.ReadFull(sr.r, sr.hdr[:]); err != nil {
		if err == io.EOF && sr.index == 0 {
			return 0, io.EOF
		}
		return 0, sr.fail(fmt.Errorf("segment: reading the length of segment %d: %w", sr.index+1, noEOF(err)))
	}
	n := binary.BigEndian.Uint32(sr.hdr[:])
	if n == 0 {
		sr.index, sr.total = 0, 0
		return 0, ErrEndOfMessage
	}
	sr.index++
	return n, nil
}

// accept counts a segment of n bytes against MaxMessage.
func (sr *Reader) accept(n uint32) error {
	sum := sr.total + uint64(n)
	if limit := sr.maxMessage(); sum > uint64(limit) {
		return sr.fail(tooLarge("message", sum, uint64(limit)))
	}
	sr.total = sum
	return nil
}

// ReadSegment reads the next segment whole and returns its bytes, which the caller owns.
//
// At the zero-length segment that ends a message it returns a nil slice and
// [ErrEndOfMessage]; the next call reads the next message. At the end of the stream before
// a message begins it returns [io.EOF]; an end anywhere inside a message is
// [io.ErrUnexpectedEOF], wrapped. A length over [Reader.MaxSegment], or one that takes the
// message over [Reader.MaxMessage], returns [ErrTooLarge] wrapped with both numbers, and
// nothing is allocated for it. The buffer grows as the bytes arrive rather than being sized
// from the length up front.
func (sr *Reader) ReadSegment() ([]byte, error) {
	n, err := sr.readLength()
	if err != nil {
		return nil, err
	}
	if limit := sr.maxSegment(); n > limit {
		return nil, sr.fail(tooLarge("segment", uint64(n), uint64(limit)))
	}
	if err := sr.accept(n); err != nil {
		return nil, err
	}
	buf := make([]byte, 0, min(n, firstChunk))
	for uint32(len(buf)) < n {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, min(cap(buf), int(n)-len(buf)))
		}
		m, err := sr.r.Read(buf[len(buf):min(cap(buf), int(n))])
		buf = buf[:len(buf)+m]
		if err != nil && (err != io.EOF || uint32(len(buf)) < n) {
			return nil, sr.fail(fmt.Errorf("segment: reading segment %d: got %d of %d bytes: %w", sr.index, len(buf), n, noEOF(err)))
		}
	}
	return buf, nil
}

// NextSegment reads the next segment's length and returns it; the segment's bytes are then
// read from [Reader.Content]. Whatever of them is left unread when ReadSegment, NextSegment
// or SkipMessage is next called is read and dropped.
//
// It applies [Reader.MaxMessage] but not [Reader.MaxSegment], so that a large raw segment
// can be streamed. Its other results are those of [Reader.ReadSegment]: [ErrEndOfMessage]
// (with length 0), [io.EOF], and wrapped [io.ErrUnexpectedEOF] and [ErrTooLarge].
func (sr *Reader) NextSegment() (uint32, error) {
	n, err := sr.readLength()
	if err != nil {
		return 0, err
	}
	if err := sr.accept(n); err != nil {
		return 0, err
	}
	sr.left = n
	return n, nil
}

// Content returns a reader of the bytes of the segment announced by the last
// [Reader.NextSegment]. It reports io.EOF after the segment's last byte, and
// [io.ErrUnexpectedEOF], wrapped, when the stream ends before it.
func (sr *Reader) Content() io.Reader { return &sr.content }

// SkipMessage reads and drops the rest of the current message, up to and including its
// zero-length end, with the caps of [Reader.NextSegment] applied. It returns nil at the end
// of the message, and [io.EOF] if it was called between messages and the stream ended there.
func (sr *Reader) SkipMessage() error {
	for {
		_, err := sr.NextSegment()
		switch err {
		case nil:
		case ErrEndOfMessage:
			return nil
		default:
			return err
		}
	}
}

// contentReader reads the current segment's bytes for [Reader.Content].
type contentReader struct{ sr *Reader }

func (c *contentReader) Read(p []byte) (int, error) {
	sr := c.sr
	if sr.err != nil {
		return 0, sr.err
	}
	if sr.left == 0 {
		return 0, io.EOF
	}
	if uint64(len(p)) > uint64(sr.left) {
		p = p[:sr.left]
	}
	n, err := sr.r.Read(p)
	sr.left -= uint32(n)
	switch {
	case err == io.EOF && sr.left == 0:
		err = nil
	case err != nil:
		err = sr.fail(fmt.Errorf("segment: reading segment %d: %d bytes missing: %w", sr.index, sr.left, noEOF(err)))
	}
	return n, err
}
