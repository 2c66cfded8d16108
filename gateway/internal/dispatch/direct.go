package dispatch

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
)

// NewDirectClient returns the HTTP client that fetches presigned component URLs: bounded
// connect and header waits, no overall timeout (a large object may take minutes; stalls are
// caught per read), small connection buffers, no compression. The read buffer stays small
// because directBody's copy buffer is larger: bufio then reads the socket straight into the
// copy buffer, so a large read buffer would only be held, never used, by each open stream.
func NewDirectClient(headerTimeout time.Duration) *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: directDialTimeout, KeepAlive: 30 * time.Second}).DialContext,
			ResponseHeaderTimeout: headerTimeout,
			MaxIdleConnsPerHost:   64,
			IdleConnTimeout:       90 * time.Second,
			DisableCompression:    true,
			ReadBufferSize:        directReadBufferSize,
			WriteBufferSize:       16 << 10,
		},
		// A presigned URL answers itself; a redirect is unexpected.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// fetchDirect opens hdr's presigned URL for exactly hdr's bytes. The URL is a capability:
// it never appears in an error or a log line.
func (d *Dispatcher) fetchDirect(ctx context.Context, hdr *retrievev1.ComponentHeader) (io.Reader, func(), error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, hdr.GetDirectUrl(), nil)
	if err != nil || (req.URL.Scheme != "http" && req.URL.Scheme != "https") {
		cancel()
		return nil, nil, errors.New("retrieve service handed off to an unusable URL")
	}
	partial := hdr.GetOffset() > 0 || hdr.GetSize() < hdr.GetTotalSize()
	if partial {
		if hdr.GetSize() == 0 {
			cancel()
			return eofReader{}, func() {}, nil
		}
		req.Header.Set("Range", "bytes="+strconv.FormatInt(hdr.GetOffset(), 10)+"-"+strconv.FormatInt(hdr.GetOffset()+hdr.GetSize()-1, 10))
	}
	if req.URL.Scheme == "http" {
		return d.fetchRaw(ctx, cancel, req, hdr)
	}
	client := d.Direct
	if client == nil {
		client = http.DefaultClient
	}
	resp, err := client.Do(req)
	if err != nil {
		cancel()
		d.logger().WarnContext(ctx, "direct component read failed", slog.String("host", req.URL.Host), slog.Any("err", errors.Unwrap(err)))
		return nil, nil, doip.Errorf(doip.KindUnavailable, "component storage unavailable")
	}
	if err := d.checkAnswer(ctx, req, resp, hdr); err != nil {
		resp.Body.Close()
		cancel()
		return nil, nil, err
	}
	b := &directBody{rc: resp.Body, remaining: hdr.GetSize(), stall: d.callTimeout(), cancel: cancel}
	return b, b.close, nil
}

// directBody yields exactly remaining bytes of an HTTP body. A read that makes no progress
// for stall cancels the request, so a storage that stops sending cannot hold a client.
type directBody struct {
	rc        io.ReadCloser
	remaining int64
	stall     time.Duration
	cancel    context.CancelFunc
	timer     *time.Timer
	once      sync.Once
}

func (b *directBody) Read(p []byte) (int, error) {
	if b.remaining == 0 {
		return 0, io.EOF
	}
	if b.timer == nil {
		b.timer = time.AfterFunc(b.stall, b.cancel)
	} else {
		b.timer.Reset(b.stall)
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	n, err := b.rc.Read(p)
	b.remaining -= int64(n)
	if err == io.EOF && b.remaining > 0 {
		return n, fmt.Errorf("direct read ended with %d bytes missing: %w", b.remaining, io.ErrUnexpectedEOF)
	}
	if err == io.EOF || (err == nil && b.remaining == 0) {
		return n, nil
	}
	return n, err
}

// WriteTo copies the remaining bytes through one buffer of directCopySize.
func (b *directBody) WriteTo(w io.Writer) (int64, error) {
	return copyThrough(w, b, b.remaining)
}

func (b *directBody) close() {
	b.once.Do(func() {
		if b.timer != nil {
			b.timer.Stop()
		}
		b.cancel()
		_ = b.rc.Close()
	})
}

// directCopySize is the copy buffer of a direct read: large enough that each socket write
// moves a lot, small enough that a stream whose client reads slowly (and so holds it) costs
// little: with directReadBufferSize, at most 320 KiB per stream.
const directCopySize = 256 << 10

// directReadBufferSize is each storage connection's read buffer; reads of directCopySize
// bypass it.
const directReadBufferSize = 64 << 10

// fetchRaw sends req, a GET of a plain-HTTP presigned URL, on a connection of its own and
// returns the body as a [rawBody], which a plaintext client connection can take without a
// copy through this process. The connection closes when ctx ends (cancel or the client
// leaving) and when the returned function is called.
func (d *Dispatcher) fetchRaw(ctx context.Context, cancel context.CancelFunc, req *http.Request, hdr *retrievev1.ComponentHeader) (io.Reader, func(), error) {
	host := req.URL.Host
	if req.URL.Port() == "" {
		host = net.JoinHostPort(req.URL.Hostname(), "80")
	}
	nc, err := (&net.Dialer{Timeout: directDialTimeout, KeepAlive: 30 * time.Second}).DialContext(ctx, "tcp", host)
	if err != nil {
		cancel()
		d.logger().WarnContext(ctx, "direct component read failed", slog.String("host", req.URL.Host), slog.Any("err", errors.Unwrap(err)))
		return nil, nil, doip.Errorf(doip.KindUnavailable, "component storage unavailable")
	}
	conn := nc.(*net.TCPConn)
	stop := context.AfterFunc(ctx, func() { _ = conn.Close() })
	b := &rawBody{conn: conn, remaining: hdr.GetSize(), stall: d.callTimeout(), stop: stop, cancel: cancel,
		fastAfter: d.fastAfter(), slowStep: d.slowWrite()}
	fail := func(err error) (io.Reader, func(), error) {
		b.close()
		return nil, nil, err
	}
	_ = conn.SetDeadline(time.Now().Add(d.callTimeout()))
	req.Header.Set("User-Agent", "doip-gateway")
	req.Header.Set("Connection", "close")
	bw := bufio.NewWriterSize(conn, 1024)
	// The header is read through a limit, lifted for the body.
	limit := &io.LimitedReader{R: conn, N: directMaxHeaderBytes}
	b.br = bufio.NewReaderSize(limit, 4096)
	var resp *http.Response
	if err = req.Write(bw); err == nil {
		if err = bw.Flush(); err == nil {
			resp, err = http.ReadResponse(b.br, req)
		}
	}
	if err != nil {
		// These errors (a write, a malformed or endless answer) never carry the URL.
		d.logger().WarnContext(ctx, "direct component read failed", slog.String("host", req.URL.Host), slog.Any("err", err))
		return fail(doip.Errorf(doip.KindUnavailable, "component storage unavailable"))
	}
	_ = conn.SetDeadline(time.Time{})
	limit.N = math.MaxInt64
	if err := d.checkAnswer(ctx, req, resp, hdr); err != nil {
		return fail(err)
	}
	switch {
	case resp.ContentLength < 0 || len(resp.TransferEncoding) > 0:
		// Not a plain body of known length: read it through net/http's decoding.
		db := &directBody{rc: resp.Body, remaining: hdr.GetSize(), stall: d.callTimeout(), cancel: b.close}
		return db, db.close, nil
	}
	return b, b.close, nil
}

// checkAnswer returns the error that storage's answer to a hand-off's GET stands for: the
// component missing, a refusal (logged with its status), or a length other than announced.
func (d *Dispatcher) checkAnswer(ctx context.Context, req *http.Request, resp *http.Response, hdr *retrievev1.ComponentHeader) error {
	want := http.StatusOK
	if req.Header.Get("Range") != "" {
		want = http.StatusPartialContent
	}
	switch {
	case resp.StatusCode == http.StatusNotFound:
		return doip.Errorf(doip.KindNotFound, "component %q is not stored", hdr.GetComponentId())
	case resp.StatusCode != want:
		d.logger().WarnContext(ctx, "direct component read refused", slog.String("host", req.URL.Host), slog.Int("status", resp.StatusCode))
		return doip.Errorf(doip.KindUnavailable, "component storage unavailable")
	case resp.ContentLength >= 0 && resp.ContentLength != hdr.GetSize():
		return fmt.Errorf("direct read of %s: %d bytes offered, %d announced", hdr.GetComponentId(), resp.ContentLength, hdr.GetSize())
	}
	return nil
}

// rawBody yields exactly remaining bytes of a plain HTTP body of known length: first what
// the header's reader holds past the header, then the connection's. A read that makes no
// progress for stall fails. [rawBody.WriteTo] hands the connection, in steps, to a writer's
// ReadFrom, so that a plaintext client connection lets the kernel move the bytes: steps of
// directCopySize until the client has taken fastAfter bytes with no step lasting slowStep,
// then of directFastStep. A step's bytes may wait in a kernel pipe while the client reads, so
// a slow reader holds at most directCopySize there; a fast one makes fewer, larger steps.
type rawBody struct {
	conn      *net.TCPConn
	br        *bufio.Reader
	remaining int64
	stall     time.Duration
	fastAfter int64
	slowStep  time.Duration
	stop      func() bool // stops the close when the context ends
	cancel    context.CancelFunc
	once      sync.Once
}

func (b *rawBody) Read(p []byte) (int, error) {
	if b.remaining == 0 {
		return 0, io.EOF
	}
	if int64(len(p)) > b.remaining {
		p = p[:b.remaining]
	}
	_ = b.conn.SetReadDeadline(time.Now().Add(b.stall))
	n, err := b.br.Read(p)
	b.remaining -= int64(n)
	switch {
	case err == io.EOF && b.remaining > 0:
		return n, b.short()
	case err == io.EOF || (err == nil && b.remaining == 0):
		return n, nil
	case err != nil:
		return n, b.failed(err)
	}
	return n, nil
}

func (b *rawBody) WriteTo(w io.Writer) (int64, error) {
	var total int64
	// What came with the header first; after it, the reader holds nothing more.
	if k := min(int64(b.br.Buffered()), b.remaining); k > 0 {
		p, _ := b.br.Peek(int(k))
		m, err := w.Write(p)
		_, _ = b.br.Discard(m)
		total += int64(m)
		b.remaining -= int64(m)
		if err != nil {
			return total, err
		}
	}
	rf, ok := w.(io.ReaderFrom)
	if !ok {
		n, err := copyThrough(w, b, b.remaining)
		return total + n, err
	}
	step, unblocked := int64(directCopySize), total
	for b.remaining > 0 {
		start := time.Now()
		_ = b.conn.SetReadDeadline(start.Add(b.stall))
		lr := &io.LimitedReader{R: b.conn, N: min(b.remaining, step)}
		n, err := rf.ReadFrom(lr)
		total += n
		b.remaining -= n
		if time.Since(start) >= b.slowStep {
			step, unblocked = directCopySize, 0
		} else if unblocked += n; unblocked >= b.fastAfter {
			step = directFastStep
		}
		switch {
		case err != nil:
			return total, b.failed(err)
		case n == 0:
			return total, b.short()
		}
	}
	return total, nil
}

// short is the error of a body that ended early.
func (b *rawBody) short() error {
	return fmt.Errorf("direct read ended with %d bytes missing: %w", b.remaining, io.ErrUnexpectedEOF)
}

// failed names a stall as one.
func (b *rawBody) failed(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("direct read made no progress for %s: %w", b.stall, err)
	}
	return err
}

func (b *rawBody) close() {
	b.once.Do(func() {
		b.stop()
		b.cancel()
		_ = b.conn.Close()
	})
}

// copyThrough copies n bytes of r to w through one buffer of at most directCopySize.
func copyThrough(w io.Writer, r io.Reader, n int64) (int64, error) {
	buf := make([]byte, min(n, directCopySize))
	var total int64
	for total < n {
		k, err := r.Read(buf)
		if k > 0 {
			m, werr := w.Write(buf[:k])
			total += int64(m)
			if werr != nil {
				return total, werr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// directFastStep is a hand-off's step to a client that proved fast: each step's system calls
// and deadlines are paid once per MiB (the kernel's pipe holds 1 MiB).
const directFastStep = 1 << 20

// directDialTimeout bounds connecting to the storage of a hand-off.
const directDialTimeout = 5 * time.Second

// directMaxHeaderBytes bounds the header of a storage's answer to a hand-off's GET.
const directMaxHeaderBytes = 64 << 10

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
