package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/shared/chunkcodec"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"google.golang.org/protobuf/proto"
)

func (d *Dispatcher) retrieveComponent(ctx context.Context, w doip.ResponseWriter, req *doip.Request) error {
	if req.ObjectID == "" {
		return doip.Errorf(doip.KindBadRequest, "no object id given")
	}
	sreq := &retrievev1.StreamComponentRequest{ObjectId: req.ObjectID, ComponentId: req.Element, Version: req.Version}
	if req.Range != nil {
		sreq.Range = &retrievev1.ByteRange{Start: req.Range.Start, End: req.Range.End}
	}
	body, hdr, err := d.openComponent(ctx, sreq)
	if err != nil {
		return err
	}
	defer body.close()
	return w.Respond(&doip.Response{Op: req.Op, ObjectID: req.ObjectID, Component: &doip.ComponentBody{
		ID:        req.Element,
		MediaType: hdr.GetMediaType(),
		Filename:  hdr.GetFilename(),
		Size:      hdr.GetSize(),
		Body:      body,
		Version:   hdr.GetVersion(),
		TotalSize: hdr.GetTotalSize(),
	}})
}

// openComponent starts a component stream and waits, at most one call timeout, for its
// header. The stream lives until ctx ends or the body is closed. With RetrieveSmall set, the
// stream starts there, on small windows, and moves to Retrieve once its client has proved
// fast (see [streamBody]).
func (d *Dispatcher) openComponent(ctx context.Context, req *retrievev1.StreamComponentRequest) (componentReader, *retrievev1.ComponentHeader, error) {
	req.AllowDirect = d.DirectReads
	first := d.Retrieve
	if d.RetrieveSmall != nil {
		first = d.RetrieveSmall
	}
	stream, cancel, hdr, err := d.startStream(ctx, first, req)
	if err != nil {
		return nil, nil, err
	}
	if hdr.GetDirectUrl() != "" {
		// Handed off: the bytes come straight from storage, not through the stream.
		cancel()
		r, closeFn, err := d.fetchDirect(ctx, hdr)
		if err != nil {
			return nil, nil, err
		}
		return &handedOff{Reader: r, closeFn: closeFn}, hdr, nil
	}
	body := &streamBody{stream: stream, cancel: cancel, remaining: hdr.GetSize()}
	if d.RetrieveSmall != nil && hdr.GetSize() > d.fastAfter() {
		// Where the answer's bytes start in the component, to ask for the rest elsewhere.
		start := int64(0)
		switch r := req.GetRange(); {
		case r == nil || (r.Start == nil && r.End == nil):
		case r.Start != nil:
			start = r.GetStart()
		default:
			start = hdr.GetTotalSize() - hdr.GetSize()
		}
		body.move = &streamMove{d: d, ctx: ctx, req: req, start: start, size: hdr.GetSize(), total: hdr.GetTotalSize(),
			slowWrite: d.slowWrite(), fastAfter: d.fastAfter()}
	}
	return body, hdr, nil
}

// startStream calls StreamComponent on client and waits, at most one call timeout, for the
// header, which it returns with the stream and the function that ends it.
func (d *Dispatcher) startStream(ctx context.Context, client retrievev1.RetrieveServiceClient, req *retrievev1.StreamComponentRequest) (retrievev1.RetrieveService_StreamComponentClient, context.CancelFunc, *retrievev1.ComponentHeader, error) {
	sctx, cancel := context.WithCancel(ctx)
	stream, err := client.StreamComponent(sctx, req, chunkcodec.Client)
	if err != nil {
		cancel()
		return nil, nil, nil, errorFromStatus(err, "retrieve service")
	}
	// The first message must come within the call timeout; after it, the client's pace rules.
	first := make(chan error, 1)
	var msg *retrievev1.StreamComponentResponse
	go func() {
		var rerr error
		msg, rerr = stream.Recv()
		first <- rerr
	}()
	timer := time.NewTimer(d.callTimeout())
	select {
	case err = <-first:
	case <-timer.C:
		cancel()
		<-first
		return nil, nil, nil, doip.Errorf(doip.KindUnavailable, "retrieve service did not answer in time")
	}
	timer.Stop()
	if err != nil {
		cancel()
		return nil, nil, nil, errorFromStatus(err, "retrieve service")
	}
	hdr := msg.GetHeader()
	if hdr == nil || hdr.GetSize() < 0 {
		cancel()
		return nil, nil, nil, fmt.Errorf("component stream of %s/%s began without a header", req.GetObjectId(), req.GetComponentId())
	}
	return stream, cancel, hdr, nil
}

// streamMove moves a component stream from the small-window connection to the large-window
// one once its client has proved fast: it took fastAfter bytes (more than the socket
// buffers between the gateway and a client can hold) and no write to it blocked for
// slowWrite. The bytes not yet received are asked for again there, as a range, and the
// first stream is cancelled. A stream whose client blocked a write stays where it is, so a
// slow reader never pins more than a small window in the gateway.
type streamMove struct {
	d         *Dispatcher
	ctx       context.Context
	req       *retrievev1.StreamComponentRequest
	start     int64 // where the answer starts in the component
	size      int64 // the answer's length
	total     int64 // the component's size
	slowWrite time.Duration
	fastAfter int64
	done      bool // moved, or found slow: nothing more to decide
}

// Defaults of the fields that decide when a stream moves to the large windows.
const (
	// DefaultSlowWrite: a write to a client that blocks this long marks it slow. A client
	// that takes the bytes as fast as they come never blocks that long; one on a slow link
	// blocks far longer once its socket buffers are full.
	DefaultSlowWrite = 500 * time.Millisecond
	// DefaultFastAfter: a client that took this many bytes without a slow write is fast.
	// It is more than the socket buffers of a loopback connection hold (a few MiB), so a
	// slow reader whose first bytes only filled those buffers is not mistaken for fast.
	DefaultFastAfter = 12 << 20
)

func (d *Dispatcher) slowWrite() time.Duration {
	if d.SlowWrite > 0 {
		return d.SlowWrite
	}
	return DefaultSlowWrite
}

func (d *Dispatcher) fastAfter() int64 {
	if d.FastAfter > 0 {
		return d.FastAfter
	}
	return DefaultFastAfter
}

// componentReader is a component's bytes, from the retrieve stream or straight from storage.
type componentReader interface {
	io.Reader
	io.WriterTo
	close()
}

// handedOff adapts a direct read to componentReader.
type handedOff struct {
	io.Reader
	closeFn func()
}

func (h *handedOff) WriteTo(w io.Writer) (int64, error) {
	if wt, ok := h.Reader.(io.WriterTo); ok {
		return wt.WriteTo(w)
	}
	return io.Copy(w, h.Reader)
}

func (h *handedOff) close() { h.closeFn() }

// streamBody reads a component stream's chunks as an io.Reader that yields exactly the
// size its header announced: a short or long stream is an error, never silently different
// bytes. WriteTo hands each chunk to the writer without another copy.
//
// With move set, WriteTo moves the stream once to the large-window connection when its
// client proves fast (see [streamMove]), so that a slow reader pins a small window in the
// gateway and a fast one gets the large window it needs.
type streamBody struct {
	stream    retrievev1.RetrieveService_StreamComponentClient
	cancel    context.CancelFunc
	remaining int64
	buf       []byte // the rest of the current chunk
	chunk     []byte // the current chunk's whole buffer, pooled (see chunkcodec)
	move      *streamMove
}

var errShortStream = errors.New("component stream ended early")

func (b *streamBody) next() error {
	chunkcodec.Release(b.chunk)
	b.chunk = nil
	msg, err := b.stream.Recv()
	if err == io.EOF {
		return fmt.Errorf("%w: %d bytes missing", errShortStream, b.remaining)
	}
	if err != nil {
		return errorFromStatus(err, "retrieve service")
	}
	chunk := msg.GetChunk()
	if int64(len(chunk)) > b.remaining {
		return fmt.Errorf("component stream sent %d bytes more than announced", int64(len(chunk))-b.remaining)
	}
	b.buf, b.chunk = chunk, chunk
	return nil
}

func (b *streamBody) Read(p []byte) (int, error) {
	if b.remaining == 0 {
		return 0, io.EOF
	}
	for len(b.buf) == 0 {
		if err := b.next(); err != nil {
			return 0, err
		}
	}
	n := copy(p, b.buf)
	b.buf = b.buf[n:]
	b.remaining -= int64(n)
	return n, nil
}

// WriteTo writes the remaining bytes chunk by chunk.
func (b *streamBody) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for b.remaining > 0 {
		if len(b.buf) == 0 {
			if err := b.next(); err != nil {
				return total, err
			}
			continue
		}
		t0 := time.Now()
		n, err := w.Write(b.buf)
		total += int64(n)
		b.remaining -= int64(n)
		b.buf = b.buf[n:]
		if err != nil {
			return total, err
		}
		if m := b.move; m != nil && !m.done {
			switch {
			case time.Since(t0) >= m.slowWrite:
				m.done = true // slow: it stays on the small windows
			case m.size-b.remaining >= m.fastAfter && b.remaining > int64(len(b.buf)):
				if err := b.moveToLarge(); err != nil {
					return total, err
				}
			}
		}
	}
	return total, nil
}

// moveToLarge asks the large-window connection for the bytes not yet received and ends the
// current stream.
func (b *streamBody) moveToLarge() error {
	m := b.move
	m.done = true
	received := m.size - b.remaining + int64(len(b.buf))
	from, last := m.start+received, m.start+m.size-1
	// The same request in every other field (the object, the component, whatever pins its
	// content), for the rest of the bytes, streamed.
	req := proto.Clone(m.req).(*retrievev1.StreamComponentRequest)
	req.Range, req.AllowDirect = &retrievev1.ByteRange{Start: &from, End: &last}, false
	stream, cancel, hdr, err := m.d.startStream(m.ctx, m.d.Retrieve, req)
	if err != nil {
		return err
	}
	if want := m.size - received; hdr.GetSize() != want || hdr.GetTotalSize() != m.total {
		cancel()
		return fmt.Errorf("component %s of %s changed while it was read: %d of %d bytes left, the new stream has %d of %d",
			m.req.GetComponentId(), m.req.GetObjectId(), want, m.total, hdr.GetSize(), hdr.GetTotalSize())
	}
	b.cancel()
	b.stream, b.cancel = stream, cancel
	m.d.logger().DebugContext(m.ctx, "fast client: component stream moved to the large-window connection",
		slog.String("object", m.req.GetObjectId()), slog.Int64("from", from))
	return nil
}

func (b *streamBody) close() {
	b.cancel()
	chunkcodec.Release(b.chunk)
	b.chunk, b.buf = nil, nil
}

// lazyComponent returns a reader that opens the component's stream on its first read, so a
// response can list many components without holding a stream open for each. A version
// reads the component as it is there (the record's, so that sizes and bytes agree).
func (d *Dispatcher) lazyComponent(ctx context.Context, objectID, componentID string, size int64, version string) io.Reader {
	return &lazyBody{open: func() (componentReader, error) {
		body, hdr, err := d.openComponent(ctx, &retrievev1.StreamComponentRequest{ObjectId: objectID, ComponentId: componentID, Version: version})
		if err != nil {
			return nil, err
		}
		if hdr.GetSize() != size {
			body.close()
			return nil, fmt.Errorf("component %s of %s is %d bytes, not the %d announced", componentID, objectID, hdr.GetSize(), size)
		}
		return body, nil
	}}
}

type lazyBody struct {
	open func() (componentReader, error)
	body componentReader
	err  error
}

func (l *lazyBody) ensure() error {
	if l.body == nil && l.err == nil {
		l.body, l.err = l.open()
	}
	return l.err
}

func (l *lazyBody) Read(p []byte) (int, error) {
	if err := l.ensure(); err != nil {
		return 0, err
	}
	n, err := l.body.Read(p)
	if err == io.EOF {
		l.body.close()
	}
	return n, err
}

func (l *lazyBody) WriteTo(w io.Writer) (int64, error) {
	if err := l.ensure(); err != nil {
		return 0, err
	}
	defer l.body.close()
	return l.body.WriteTo(w)
}
