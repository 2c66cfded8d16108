package envelope

import (
	"cmp"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
)

// The default caps of a [Framer].
const (
	// DefaultMaxPayload is the default of [Framer.MaxPayload]: 16 MiB.
	DefaultMaxPayload = 16 << 20
	// DefaultMaxObjectID is the default of [Framer.MaxObjectID]: 1024 bytes.
	DefaultMaxObjectID = 1024
	// DefaultMaxJSON is the default of [Framer.MaxJSON]: 1 MiB.
	DefaultMaxJSON = 1 << 20
)

// maxKeptWriteBuf is the largest write buffer a Framer keeps between messages, so that one
// large message does not pin its buffer for the life of the connection.
const maxKeptWriteBuf = 64 << 10

// errNoReader and errNoWriter report a one-way Framer used the other way.
var (
	errNoReader = errors.New("envelope: Framer has no reader")
	errNoWriter = errors.New("envelope: Framer has no writer")
)

// readStage is where the read side stands inside the current block.
type readStage uint8

const (
	stageNone    readStage = iota // between blocks (or messages)
	stageBody                     // after NextBlock: the whole block body is unread
	stageContent                  // after ReadComponentHeader: the content is being read
)

// Framer reads and writes envelopes on one connection: whole messages with
// [Framer.ReadMessage] and [Framer.WriteMessage], or streamed, block by block, with the
// other methods.
//
// The Framer reads from and writes to the io.Reader and io.Writer given to [NewFramer]
// directly, without buffering: wrap a connection in a bufio.Reader, and in a bufio.Writer
// that you flush after each message, for fewer system calls.
//
// The read side and the write side are independent and may be used from two goroutines; each
// side by itself is not safe for concurrent use. After a read error other than [io.EOF] (and
// other than [ErrTooLarge] from [Framer.ReadJSONBlock], or a misuse of the call order) the
// read side is out of step with the stream: every later read returns the same error, and the
// connection should be closed. A write error leaves the write side out of step in the same
// way.
type Framer struct {
	// MaxPayload caps the PayloadLen that [Framer.ReadMessage] accepts; a larger one fails
	// with [ErrTooLarge] before any of the payload is read. 0 means [DefaultMaxPayload]. The
	// streaming reader does not apply it. Set it before the first read.
	MaxPayload uint32
	// MaxObjectID caps the object id length that [Framer.ReadMessage] and
	// [Framer.ReadHeader] accept. 0 means [DefaultMaxObjectID]. Set it before the first read.
	MaxObjectID uint16
	// MaxJSON caps the size of one metadata or workflow block read by
	// [Framer.ReadJSONBlock]. 0 means [DefaultMaxJSON]. Set it before the first read.
	MaxJSON uint32

	r io.Reader
	w io.Writer

	// Read side, used by the reading goroutine only.
	rerr        error // sticky: the stream is out of step
	rbuf        []byte
	payloadLeft uint32 // payload bytes of the current message not yet consumed, current block excluded
	blockType   BlockType
	blockLeft   uint32 // unread bytes of the current block (body or content, by stage)
	stage       readStage
	content     contentReader

	// Write side, used by the writing goroutine only.
	wbuf         []byte
	wPayloadLeft uint32 // payload bytes the current message still owes, content included
	wContentLeft uint32 // content bytes the current component still owes
	contentW     contentWriter
}

// NewFramer returns a Framer that writes to w and reads from r. Either may be nil for a
// Framer used one way only.
func NewFramer(w io.Writer, r io.Reader) *Framer {
	fr := &Framer{r: r, w: w}
	fr.content.fr = fr
	fr.contentW.fr = fr
	return fr
}

func (fr *Framer) maxPayload() uint32 { return cmp.Or(fr.MaxPayload, DefaultMaxPayload) }

func (fr *Framer) maxObjectID() uint16 { return cmp.Or(fr.MaxObjectID, DefaultMaxObjectID) }

func (fr *Framer) maxJSON() uint32 { return cmp.Or(fr.MaxJSON, DefaultMaxJSON) }

// fail records err as the sticky read error and returns it.
func (fr *Framer) fail(err error) error {
	fr.rerr = err
	return err
}

// readFull reads exactly len(b) bytes inside a message: running out of input there is
// io.ErrUnexpectedEOF. Any error is sticky.
func (fr *Framer) readFull(b []byte, what string) error {
	if _, err := io.ReadFull(fr.r, b); err != nil {
		return fr.fail(fmt.Errorf("envelope: reading %s: %w", what, noEOF(err)))
	}
	return nil
}

// scratch returns fr.rbuf grown to n bytes.
func (fr *Framer) scratch(n int) []byte {
	if cap(fr.rbuf) < n {
		fr.rbuf = make([]byte, n, max(n, 64))
	}
	return fr.rbuf[:n]
}

// readHeader reads the fixed header of the next message and checks the version and the
// object id cap. A stream that ends before the header's first byte is a clean io.EOF.
func (fr *Framer) readHeader(caller string) (Header, error) {
	if fr.r == nil {
		return Header{}, errNoReader
	}
	if fr.rerr != nil {
		return Header{}, fr.rerr
	}
	if fr.payloadLeft > 0 || (fr.stage != stageNone && fr.blockLeft > 0) {
		return Header{}, fmt.Errorf("envelope: %s called with %d bytes of the current message unread", caller, uint64(fr.payloadLeft)+uint64(fr.blockLeft))
	}
	fr.stage = stageNone
	b := fr.scratch(HeaderLen)
	if n, err := io.ReadFull(fr.r, b); err != nil {
		if n == 0 {
			// Nothing of a message has been read: the stream is still in step.
			return Header{}, err
		}
		return Header{}, fr.fail(fmt.Errorf("envelope: reading header: %w", err))
	}
	var h Header
	if err := h.UnmarshalBinary(b); err != nil {
		return h, fr.fail(err)
	}
	if h.IDLen > fr.maxObjectID() {
		return h, fr.fail(tooLarge("object id", uint64(h.IDLen), uint64(fr.maxObjectID())))
	}
	return h, nil
}

// ReadMessage reads one whole message. It reads the header, checks the object id length
// against [Framer.MaxObjectID] and the payload length against [Framer.MaxPayload], and only
// then allocates one buffer for the object id and the payload and reads them. The blocks
// keep sub-slices of that buffer, which belongs to the returned Message.
//
// It returns [io.EOF] when the stream ends cleanly before a message, [io.ErrUnexpectedEOF]
// (wrapped) when it ends inside one, an error wrapping [ErrTooLarge] for a length over its
// cap, and a [*ProtocolError] for a bad version, an unknown block type, a block (or a block
// header) running past the end of the payload, a component body that does not match its
// length fields, or a metadata or workflow block that is not a JSON object. The message
// type, operation and flags are not checked.
func (fr *Framer) ReadMessage() (*Message, error) {
	h, err := fr.readHeader("ReadMessage")
	if err != nil {
		return nil, err
	}
	if h.PayloadLen > fr.maxPayload() {
		return nil, fr.fail(tooLarge("payload", uint64(h.PayloadLen), uint64(fr.maxPayload())))
	}
	n := uint64(h.IDLen) + uint64(h.PayloadLen)
	if n > math.MaxInt {
		return nil, fr.fail(tooLarge("message", n, math.MaxInt))
	}
	buf := make([]byte, n)
	if err := fr.readFull(buf, "object id and payload"); err != nil {
		return nil, err
	}
	blocks, err := parseBlocks(buf[h.IDLen:])
	if err != nil {
		return nil, fr.fail(err)
	}
	return &Message{Header: h, ObjectID: string(buf[:h.IDLen]), Blocks: blocks}, nil
}

// ReadHeader starts reading a message block by block: it reads the header and the object
// id, checking the object id length against [Framer.MaxObjectID]. It does not apply
// [Framer.MaxPayload]: the payload is not held in memory. Call [Framer.NextBlock] next.
//
// ReadHeader returns [io.EOF] when the stream ends cleanly before a message. It fails if the
// previous message has not been read to its end.
func (fr *Framer) ReadHeader() (Header, string, error) {
	h, err := fr.readHeader("ReadHeader")
	if err != nil {
		return h, "", err
	}
	b := fr.scratch(int(h.IDLen))
	if err := fr.readFull(b, "object id"); err != nil {
		return h, "", err
	}
	fr.payloadLeft = h.PayloadLen
	return h, string(b), nil
}

// NextBlock reads the next block header of the message started by [Framer.ReadHeader] and
// returns the block type and body length. It returns [io.EOF] once the declared payload is
// used up. An unknown block type, a block header or block longer than the rest of the
// payload is a [*ProtocolError].
//
// Read the body next with [Framer.ReadJSONBlock] or [Framer.ReadComponentHeader] and
// [Framer.Content], or skip it with [Framer.Discard]. NextBlock fails, without reading, if
// any of the current block is unread.
func (fr *Framer) NextBlock() (BlockType, uint32, error) {
	if fr.r == nil {
		return 0, 0, errNoReader
	}
	if fr.rerr != nil {
		return 0, 0, fr.rerr
	}
	if fr.stage != stageNone && fr.blockLeft > 0 {
		return 0, 0, fmt.Errorf("envelope: NextBlock called with %d bytes of the current %s block unread; read them or call Discard", fr.blockLeft, fr.blockType)
	}
	fr.stage = stageNone
	if fr.payloadLeft == 0 {
		return 0, 0, io.EOF
	}
	if fr.payloadLeft < BlockHeaderLen {
		return 0, 0, fr.fail(protocolError("block header", "%d bytes left in payload, need %d", fr.payloadLeft, BlockHeaderLen))
	}
	b := fr.scratch(BlockHeaderLen)
	if err := fr.readFull(b, "block header"); err != nil {
		return 0, 0, err
	}
	fr.payloadLeft -= BlockHeaderLen
	t := BlockType(b[0])
	n := binary.BigEndian.Uint32(b[1:])
	if _, err := newBlock(t); err != nil {
		return 0, 0, fr.fail(err)
	}
	if n > fr.payloadLeft {
		return 0, 0, fr.fail(protocolError("block length", "%s block of %d bytes, %d left in payload", t, n, fr.payloadLeft))
	}
	fr.payloadLeft -= n
	fr.blockType, fr.blockLeft, fr.stage = t, n, stageBody
	return t, n, nil
}

// checkBody checks that the current block is a fresh body of length n and of a type that
// want accepts.
func (fr *Framer) checkBody(caller string, n uint32, want func(BlockType) bool) error {
	if fr.r == nil {
		return errNoReader
	}
	if fr.rerr != nil {
		return fr.rerr
	}
	switch {
	case fr.stage != stageBody:
		return fmt.Errorf("envelope: %s called without a block from NextBlock", caller)
	case !want(fr.blockType):
		return fmt.Errorf("envelope: %s called on a %s block", caller, fr.blockType)
	case n != fr.blockLeft:
		return fmt.Errorf("envelope: %s called with length %d, block has %d", caller, n, fr.blockLeft)
	}
	return nil
}

// ReadJSONBlock reads the body of the metadata or workflow block that [Framer.NextBlock]
// just returned; n is the length NextBlock returned. A body longer than [Framer.MaxJSON]
// fails with [ErrTooLarge] before anything is read or allocated; the block can then still be
// skipped with [Framer.Discard]. A body that is not one JSON object is a [*ProtocolError].
func (fr *Framer) ReadJSONBlock(n uint32) (json.RawMessage, error) {
	if err := fr.checkBody("ReadJSONBlock", n, BlockType.isJSON); err != nil {
		return nil, err
	}
	if n > fr.maxJSON() {
		return nil, tooLarge(fr.blockType.String()+" block", uint64(n), uint64(fr.maxJSON()))
	}
	buf := make([]byte, n)
	if err := fr.readFull(buf, fr.blockType.String()+" block"); err != nil {
		return nil, err
	}
	fr.blockLeft, fr.stage = 0, stageNone
	if err := checkJSONObject(fr.blockType, buf); err != nil {
		return nil, fr.fail(err)
	}
	return buf, nil
}

// ReadComponentHeader reads the fields of the component block that [Framer.NextBlock] just
// returned, up to its content; n is the length NextBlock returned. It checks that
// 2+len(id) + 2+len(mediaType) + 4 + contentLen == n, and reports a [*ProtocolError]
// otherwise. Read the contentLen bytes of content next from [Framer.Content].
func (fr *Framer) ReadComponentHeader(n uint32) (id, mediaType string, contentLen uint32, err error) {
	isComponent := func(t BlockType) bool { return t == BlockComponent }
	if err := fr.checkBody("ReadComponentHeader", n, isComponent); err != nil {
		return "", "", 0, err
	}
	left := uint64(n)
	if left < 2 {
		return "", "", 0, fr.fail(protocolError("component id length", "%d-byte component body, need at least 8", n))
	}
	b := fr.scratch(2)
	if err := fr.readFull(b, "component id length"); err != nil {
		return "", "", 0, err
	}
	left -= 2
	idLen := uint64(binary.BigEndian.Uint16(b))
	if left < idLen+2 {
		return "", "", 0, fr.fail(protocolError("component id length", "id of %d bytes and media type length need %d bytes, %d left in block", idLen, idLen+2, left))
	}
	b = fr.scratch(int(idLen) + 2)
	if err := fr.readFull(b, "component id"); err != nil {
		return "", "", 0, err
	}
	left -= idLen + 2
	id = string(b[:idLen])
	mtLen := uint64(binary.BigEndian.Uint16(b[idLen:]))
	if left < mtLen+4 {
		return "", "", 0, fr.fail(protocolError("component media type length", "media type of %d bytes and content length need %d bytes, %d left in block", mtLen, mtLen+4, left))
	}
	b = fr.scratch(int(mtLen) + 4)
	if err := fr.readFull(b, "component media type"); err != nil {
		return "", "", 0, err
	}
	left -= mtLen + 4
	mediaType = string(b[:mtLen])
	contentLen = binary.BigEndian.Uint32(b[mtLen:])
	if uint64(contentLen) != left {
		return "", "", 0, fr.fail(protocolError("component content length", "%d bytes declared, %d left in block", contentLen, left))
	}
	fr.blockLeft, fr.stage = contentLen, stageContent
	return id, mediaType, contentLen, nil
}

// Content returns a reader of the current component's content, the contentLen bytes after
// [Framer.ReadComponentHeader]. Like an [io.LimitedReader] it returns io.EOF after the last
// content byte; unlike one, it returns [io.ErrUnexpectedEOF] if the stream ends before that.
// The content must be read to its end, or the rest skipped with [Framer.Discard], before
// [Framer.NextBlock] is called again. The same reader is returned for every component.
func (fr *Framer) Content() io.Reader {
	return &fr.content
}

// contentReader reads the current component's content from the Framer.
type contentReader struct{ fr *Framer }

func (c *contentReader) Read(p []byte) (int, error) {
	fr := c.fr
	if fr.rerr != nil {
		return 0, fr.rerr
	}
	switch {
	case fr.stage == stageBody:
		return 0, errors.New("envelope: Content read before ReadComponentHeader")
	case fr.stage != stageContent || fr.blockLeft == 0:
		return 0, io.EOF
	case len(p) == 0:
		return 0, nil
	}
	if uint64(len(p)) > uint64(fr.blockLeft) {
		p = p[:fr.blockLeft]
	}
	n, err := fr.r.Read(p)
	fr.blockLeft -= uint32(n)
	switch {
	case err == io.EOF && fr.blockLeft == 0:
		err = nil // the next Read returns io.EOF
	case err != nil:
		err = fr.fail(fmt.Errorf("envelope: reading component content: %w", noEOF(err)))
	}
	return n, err
}

// Discard skips the unread rest of the current block: its whole body after
// [Framer.NextBlock], or the rest of its content after [Framer.ReadComponentHeader]. It does
// nothing between blocks.
func (fr *Framer) Discard() error {
	if fr.r == nil {
		return errNoReader
	}
	if fr.rerr != nil {
		return fr.rerr
	}
	if fr.stage == stageNone || fr.blockLeft == 0 {
		fr.stage = stageNone
		return nil
	}
	n, err := io.CopyN(io.Discard, fr.r, int64(fr.blockLeft))
	fr.blockLeft -= uint32(n)
	if err != nil {
		return fr.fail(fmt.Errorf("envelope: discarding %s block: %w", fr.blockType, noEOF(err)))
	}
	fr.stage = stageNone
	return nil
}

// WriteMessage encodes m with [Message.Append], which fills in its header's lengths, and
// writes it with one Write call.
func (fr *Framer) WriteMessage(m *Message) error {
	if err := fr.checkWriteIdle("WriteMessage"); err != nil {
		return err
	}
	buf, err := m.Append(fr.wbuf[:0])
	if err != nil {
		return err
	}
	return fr.write(buf, "message")
}

// write writes buf and keeps it for reuse unless it is large.
func (fr *Framer) write(buf []byte, what string) error {
	_, err := fr.w.Write(buf)
	if cap(buf) <= maxKeptWriteBuf {
		fr.wbuf = buf[:0]
	}
	if err != nil {
		return fmt.Errorf("envelope: writing %s: %w", what, err)
	}
	return nil
}

// checkWriteIdle checks that the previous message has been written to its end.
func (fr *Framer) checkWriteIdle(caller string) error {
	if fr.w == nil {
		return errNoWriter
	}
	if fr.wPayloadLeft > 0 || fr.wContentLeft > 0 {
		return fmt.Errorf("envelope: %s called with %d bytes of the previous message's declared payload unwritten", caller, fr.wPayloadLeft)
	}
	return nil
}

// checkBlockWrite checks that a block of size n may be written now: no content is owed and
// n fits in what is left of the declared payload.
func (fr *Framer) checkBlockWrite(caller string, t BlockType, n uint64) error {
	if fr.w == nil {
		return errNoWriter
	}
	if fr.wContentLeft > 0 {
		return fmt.Errorf("envelope: %s called with %d bytes of component content unwritten", caller, fr.wContentLeft)
	}
	if n > uint64(fr.wPayloadLeft) {
		return fmt.Errorf("envelope: %s: %s block of %d bytes exceeds the %d bytes left of the declared payload", caller, t, n, fr.wPayloadLeft)
	}
	return nil
}

// WriteHeader starts writing a message block by block: it writes the header and the object
// id. It sets h.Version to [Version] if it is 0 and h.IDLen from objectID; h.PayloadLen
// must already be the sum of the sizes of the blocks that follow ([JSONBlockLen],
// [ComponentBlockLen]). The blocks are then written with [Framer.WriteJSONBlock] and
// [Framer.WriteComponentHeader]; the Framer refuses blocks that would overrun PayloadLen,
// and refuses the next message until all of it has been written.
func (fr *Framer) WriteHeader(h Header, objectID string) error {
	if err := fr.checkWriteIdle("WriteHeader"); err != nil {
		return err
	}
	if h.Version == 0 {
		h.Version = Version
	}
	if len(objectID) > math.MaxUint16 {
		return tooLarge("object id", uint64(len(objectID)), math.MaxUint16)
	}
	h.IDLen = uint16(len(objectID))
	buf, err := h.AppendBinary(fr.wbuf[:0])
	if err != nil {
		return err
	}
	buf = append(buf, objectID...)
	if err := fr.write(buf, "header"); err != nil {
		return err
	}
	fr.wPayloadLeft = h.PayloadLen
	return nil
}

// WriteJSONBlock writes a metadata or workflow block (t) holding js, which must be one JSON
// object, after [Framer.WriteHeader]. The block takes [JSONBlockLen](len(js)) bytes of the
// declared payload.
func (fr *Framer) WriteJSONBlock(t BlockType, js []byte) error {
	if !t.isJSON() {
		return fmt.Errorf("envelope: WriteJSONBlock called with a %s block", t)
	}
	if err := fr.checkBlockWrite("WriteJSONBlock", t, JSONBlockLen(len(js))); err != nil {
		return err
	}
	buf, err := appendJSONBlock(fr.wbuf[:0], t, js)
	if err != nil {
		return err
	}
	if err := fr.write(buf, t.String()+" block"); err != nil {
		return err
	}
	fr.wPayloadLeft -= uint32(JSONBlockLen(len(js)))
	return nil
}

// WriteComponentHeader writes the block header and the id, media type and content length
// fields of a component block, after [Framer.WriteHeader]. The caller then writes exactly
// contentLen bytes of content to [Framer.Writer]. The block takes
// [ComponentBlockLen](id, mediaType, contentLen) bytes of the declared payload.
func (fr *Framer) WriteComponentHeader(id, mediaType string, contentLen uint32) error {
	n, err := componentBodyLen(id, mediaType, uint64(contentLen))
	if err != nil {
		return err
	}
	if err := fr.checkBlockWrite("WriteComponentHeader", BlockComponent, BlockHeaderLen+uint64(n)); err != nil {
		return err
	}
	buf := appendBlockHeader(fr.wbuf[:0], BlockComponent, n)
	buf = appendComponentFields(buf, id, mediaType, contentLen)
	if err := fr.write(buf, "component header"); err != nil {
		return err
	}
	fr.wPayloadLeft -= BlockHeaderLen + n
	fr.wContentLeft = contentLen
	return nil
}

// Writer returns the writer for the content of the component started by
// [Framer.WriteComponentHeader]. It writes straight through to the Framer's io.Writer and
// refuses, writing nothing, a Write that would go past the declared content length. The
// same writer is returned for every component.
func (fr *Framer) Writer() io.Writer {
	return &fr.contentW
}

// contentWriter writes the current component's content to the Framer's writer.
type contentWriter struct{ fr *Framer }

func (c *contentWriter) Write(p []byte) (int, error) {
	fr := c.fr
	if fr.w == nil {
		return 0, errNoWriter
	}
	if uint64(len(p)) > uint64(fr.wContentLeft) {
		return 0, fmt.Errorf("envelope: writing %d bytes of component content, %d left of the declared content length", len(p), fr.wContentLeft)
	}
	n, err := fr.w.Write(p)
	fr.wContentLeft -= uint32(n)
	if err != nil {
		return n, fmt.Errorf("envelope: writing component content: %w", err)
	}
	return n, nil
}

// ReadFrom writes the bytes of r, an [io.LimitedReader] that must fit the declared content
// length, through the Framer's writer's own ReadFrom, so that a connection can let the
// kernel move them (see the gateway's connections). Any other reader is copied through
// Write, as io.Copy would without this method.
func (c *contentWriter) ReadFrom(r io.Reader) (int64, error) {
	fr := c.fr
	lr, ok := r.(*io.LimitedReader)
	rf, canRead := fr.w.(io.ReaderFrom)
	if !ok || !canRead {
		return io.Copy(writerOnly{c}, r)
	}
	if lr.N <= 0 {
		return 0, nil
	}
	if uint64(lr.N) > uint64(fr.wContentLeft) {
		return 0, fmt.Errorf("envelope: writing %d bytes of component content, %d left of the declared content length", lr.N, fr.wContentLeft)
	}
	n, err := rf.ReadFrom(lr)
	fr.wContentLeft -= uint32(n)
	if err != nil {
		return n, fmt.Errorf("envelope: writing component content: %w", err)
	}
	return n, nil
}

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }
