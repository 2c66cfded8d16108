package dispatch

import (
	"context"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/gateway"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
)

func (d *Dispatcher) retrieveComponent(ctx context.Context, w gateway.ResponseWriter, req *doip.Request) error {
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
	}})
}

// openComponent starts a component stream and waits, at most one call timeout, for its
// header. The stream lives until ctx ends or the body is closed.
func (d *Dispatcher) openComponent(ctx context.Context, req *retrievev1.StreamComponentRequest) (componentReader, *retrievev1.ComponentHeader, error) {
	req.AllowDirect = d.DirectReads
	sctx, cancel := context.WithCancel(ctx)
	stream, err := d.Retrieve.StreamComponent(sctx, req)
	if err != nil {
		cancel()
		return nil, nil, errorFromStatus(err, "retrieve service")
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
		return nil, nil, doip.Errorf(doip.KindUnavailable, "retrieve service did not answer in time")
	}
	timer.Stop()
	if err != nil {
		cancel()
		return nil, nil, errorFromStatus(err, "retrieve service")
	}
	hdr := msg.GetHeader()
	if hdr == nil || hdr.GetSize() < 0 {
		cancel()
		return nil, nil, fmt.Errorf("component stream of %s/%s began without a header", req.GetObjectId(), req.GetComponentId())
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
	return &streamBody{stream: stream, cancel: cancel, remaining: hdr.GetSize()}, hdr, nil
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
type streamBody struct {
	stream    retrievev1.RetrieveService_StreamComponentClient
	cancel    context.CancelFunc
	remaining int64
	buf       []byte // the rest of the current chunk
}

var errShortStream = errors.New("component stream ended early")

func (b *streamBody) next() error {
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
	b.buf = chunk
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
		n, err := w.Write(b.buf)
		total += int64(n)
		b.remaining -= int64(n)
		b.buf = b.buf[n:]
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

func (b *streamBody) close() { b.cancel() }

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
