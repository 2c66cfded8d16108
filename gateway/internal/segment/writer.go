package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// errZeroLength reports an attempt to write an empty segment, which the wire would read as
// the end of the message.
var errZeroLength = errors.New("segment: a segment of length 0 would end the message; call End for that")

// Writer writes segments: [Writer.WriteSegment] for bytes held in memory, or
// [Writer.WriteSegmentHeader] followed by exactly that many bytes through [Writer.Write], for
// content streamed from elsewhere. [Writer.End] writes the zero length that ends a message.
//
// The Writer writes to the io.Writer given to [NewWriter] directly; wrap a connection in a
// bufio.Writer and flush it after each message. It is not safe for concurrent use. A failed
// write to the underlying writer, or a Write past the end of the current segment, leaves the
// stream out of step: every later call returns the same error. Misuse detected before
// anything is written (an empty segment, a new segment or End while the current one still
// owes bytes) returns an error and changes nothing.
type Writer struct {
	w    io.Writer
	hdr  [LengthLen]byte
	left uint32 // bytes the current segment still owes
	err  error  // sticky: the stream is out of step
}

// NewWriter returns a Writer writing to w.
func NewWriter(w io.Writer) *Writer { return &Writer{w: w} }

func (sw *Writer) fail(err error) error {
	sw.err = err
	return err
}

// WriteSegment writes p as one segment. An empty p is refused: a zero length ends the
// message, which is [Writer.End]'s job. A p longer than 4 GiB - 1 returns [ErrTooLarge].
func (sw *Writer) WriteSegment(p []byte) error {
	if uint64(len(p)) > math.MaxUint32 {
		return tooLarge("segment", uint64(len(p)), math.MaxUint32)
	}
	if err := sw.WriteSegmentHeader(uint32(len(p))); err != nil {
		return err
	}
	_, err := sw.Write(p)
	return err
}

// WriteSegmentHeader writes the length of a segment of n bytes, which the caller then writes
// with [Writer.Write] (for instance with io.Copy or doip.CopyExact), all n of them before
// the next segment or [Writer.End]. n must not be 0.
func (sw *Writer) WriteSegmentHeader(n uint32) error {
	if sw.err != nil {
		return sw.err
	}
	if n == 0 {
		return errZeroLength
	}
	if sw.left > 0 {
		return fmt.Errorf("segment: new segment started with %d bytes of the current one unwritten", sw.left)
	}
	binary.BigEndian.PutUint32(sw.hdr[:], n)
	if _, err := sw.w.Write(sw.hdr[:]); err != nil {
		return sw.fail(fmt.Errorf("segment: writing a segment length: %w", err))
	}
	sw.left = n
	return nil
}

// Write writes bytes of the segment announced by [Writer.WriteSegmentHeader]. Bytes past the
// announced length are not written: Write writes what the segment still owes and returns an
// error, and the Writer is out of step from then on.
func (sw *Writer) Write(p []byte) (int, error) {
	if sw.err != nil {
		return 0, sw.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	if sw.left == 0 {
		return 0, fmt.Errorf("segment: write of %d bytes outside a segment; call WriteSegmentHeader first", len(p))
	}
	want := p
	if uint64(len(p)) > uint64(sw.left) {
		p = p[:sw.left]
	}
	n, err := sw.w.Write(p)
	sw.left -= uint32(n)
	if err != nil {
		return n, sw.fail(fmt.Errorf("segment: writing segment content: %w", err))
	}
	if n < len(want) {
		return n, sw.fail(fmt.Errorf("segment: write of %d bytes runs %d bytes past the end of the segment", len(want), len(want)-n))
	}
	return n, nil
}

// End writes the zero-length segment that ends a message. The current segment must be
// complete.
func (sw *Writer) End() error {
	if sw.err != nil {
		return sw.err
	}
	if sw.left > 0 {
		return fmt.Errorf("segment: message ended with %d bytes of the current segment unwritten", sw.left)
	}
	sw.hdr = [LengthLen]byte{}
	if _, err := sw.w.Write(sw.hdr[:]); err != nil {
		return sw.fail(fmt.Errorf("segment: writing the end of the message: %w", err))
	}
	return nil
}
