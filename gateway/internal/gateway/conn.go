package gateway

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/tlsconf"
	"github.com/fdo-doip/doip-gateway/shared/requestid"
)

// Connection states, for Shutdown: only idle connections are closed under a client.
const (
	stateNew int32 = iota
	stateIdle
	stateActive
)

// The buffers of each connection. Requests are small and whole ones are read through
// readBufSize; a larger payload is read past the buffer, straight into its destination.
// Answers go out through writeBufSize, which takes a whole component chunk (just under
// 64 KiB) with its framing per write. Every connection has both, so they count in what
// each slow reader costs.
const (
	readBufSize  = 16 << 10
	writeBufSize = 64 << 10
)

// conn is one client connection. Its fields are written by its own goroutine only, except
// state, which Shutdown reads.
type conn struct {
	srv   *Server
	rwc   net.Conn // the accepted connection; closing it ends everything
	ip    string   // the client's address, for the per-address limit; set before serve
	log   *slog.Logger
	out   *byteCounter // bytes written to the client, for metrics
	state atomic.Int32
}

func (c *conn) serve(base context.Context) {
	defer c.srv.forgetConn(c)
	defer func() {
		if r := recover(); r != nil {
			c.log.Error("panic serving connection", slog.Any("panic", r), slog.String("stack", string(debug.Stack())))
		}
		_ = c.rwc.Close()
		c.out.close()
	}()
	ctx, cancel := context.WithCancel(base)
	defer cancel()

	netConn, tlsLabel, err := c.handshake(ctx)
	c.srv.Metrics.connEstablished(c.srv.Name, tlsLabel)
	if err != nil {
		if !errors.Is(err, io.EOF) {
			c.log.Info("connection closed before the first request", slog.Any("err", err))
		}
		return
	}
	// Every read of the connection goes through up, which keeps the read deadline each phase
	// needs (see connReader).
	up := &connReader{conn: netConn, timeout: durationOr(c.srv.ReadTimeout, DefaultReadTimeout)}
	br := bufio.NewReaderSize(up, readBufSize)
	bw := bufio.NewWriterSize(&deadlineWriter{conn: netConn, timeout: durationOr(c.srv.WriteTimeout, DefaultWriteTimeout), out: c.out}, writeBufSize)

	// Wait for the first byte under the handshake deadline, then let the factory peek under
	// the same deadline.
	up.setDeadline(time.Now().Add(durationOr(c.srv.HandshakeTimeout, DefaultHandshakeTimeout)))
	up.phase.Store(phaseFixed)
	if !c.waitForRequest(br, durationOr(c.srv.HandshakeTimeout, DefaultHandshakeTimeout)) {
		return
	}
	codec, err := c.srv.NewCodec(br, bw, c.srv.limits())
	if err != nil {
		c.log.Info("no framing for connection", slog.Any("err", err))
		return
	}
	for first := true; ; first = false {
		if !first {
			if c.srv.inShutdown.Load() {
				return
			}
			c.state.Store(stateIdle)
			up.idle = durationOr(c.srv.IdleTimeout, DefaultIdleTimeout)
			up.phase.Store(phaseIdle)
			if !c.waitForRequest(br, up.idle) {
				return
			}
		}
		c.state.Store(stateActive)
		// The request is read under one deadline, ReadTimeout from the first read it needs; a
		// request that came whole with its first byte needs none.
		up.requestDeadline = time.Time{}
		up.phase.Store(phaseRequest)
		req, err := codec.ReadRequest()
		if err != nil {
			if c.framingError(codec, bw, err) {
				lingerClose(netConn)
			}
			return
		}
		up.phase.Store(phaseFree)
		if !c.handle(ctx, netConn, br, codec, bw, req, up) {
			return
		}
		if !codec.KeepAlive() {
			lingerClose(netConn)
			return
		}
	}
}

// handshake returns the connection to speak DOIP on: the raw one, or a TLS one when the
// mode and the first byte say so; and the tls label of doip_connections_total.
func (c *conn) handshake(ctx context.Context) (net.Conn, string, error) {
	mode := c.srv.TLSMode
	if mode == "" || mode == tlsconf.Off {
		return c.rwc, tlsNo, nil
	}
	timeout := durationOr(c.srv.HandshakeTimeout, DefaultHandshakeTimeout)
	_ = c.rwc.SetReadDeadline(time.Now().Add(timeout))
	pc := newPeekConn(c.rwc)
	b, err := pc.r.Peek(1)
	if err != nil {
		return nil, tlsFailed, err
	}
	if b[0] != 0x16 {
		if mode == tlsconf.Required {
			c.log.Warn("client sent plaintext to a TLS port, closing", slog.String("first_byte", hexByte(b[0])))
			c.srv.Metrics.framingError(c.srv.Name, framingPlaintext)
			return nil, tlsFailed, io.EOF
		}
		_ = c.rwc.SetReadDeadline(time.Time{})
		return pc, tlsNo, nil
	}
	tc := tls.Server(pc, c.srv.TLSConfig)
	hctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		var rhe tls.RecordHeaderError
		if errors.As(err, &rhe) {
			c.log.Warn("TLS handshake failed: not a TLS record", slog.Any("err", err))
		} else {
			c.log.Info("TLS handshake failed", slog.Any("err", err))
		}
		c.srv.Metrics.framingError(c.srv.Name, framingTLS)
		return nil, tlsFailed, io.EOF
	}
	_ = c.rwc.SetReadDeadline(time.Time{})
	st := tc.ConnectionState()
	c.log.Debug("TLS established", slog.String("version", tls.VersionName(st.Version)), slog.String("cipher", tls.CipherSuiteName(st.CipherSuite)))
	return tc, tlsYes, nil
}

func hexByte(b byte) string {
	const digits = "0123456789abcdef"
	return "0x" + string(digits[b>>4]) + string(digits[b&0xf])
}

// waitForRequest waits for the first byte of a request, under the read deadline the reader
// under br keeps (timeout is for the log). It reports false when the connection should
// close: EOF, a timeout, or a closed connection.
func (c *conn) waitForRequest(br *bufio.Reader, timeout time.Duration) bool {
	if _, err := br.Peek(1); err != nil {
		var ne net.Error
		switch {
		case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
		case errors.As(err, &ne) && ne.Timeout():
			c.log.Debug("idle connection timed out", slog.Duration("timeout", timeout))
		default:
			c.log.Debug("connection read failed", slog.Any("err", err))
		}
		return false
	}
	return true
}

// framingError answers a broken request where the framing allows, and reports whether an
// answer was written.
func (c *conn) framingError(codec doip.ServerCodec, bw *bufio.Writer, err error) bool {
	if errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return false
	}
	if errors.Is(err, io.ErrUnexpectedEOF) {
		c.log.Info("client closed in the middle of a request", slog.Any("err", err))
		c.srv.Metrics.framingError(c.srv.Name, framingTruncated)
		return false
	}
	e := errorAnswer(err)
	c.srv.Metrics.framingError(c.srv.Name, framingErrorKind(err, e))
	c.log.Info("malformed request, closing connection", slog.String("kind", string(e.Kind)), slog.Any("err", err))
	if werr := codec.WriteError(nil, e); werr != nil {
		return false
	}
	return bw.Flush() == nil
}

// lingerDuration and lingerBytes bound how long and how much a closing connection drains.
const (
	lingerDuration = 500 * time.Millisecond
	lingerBytes    = 256 << 10
)

// lingerClose closes the write side, then reads and drops what the client still sends for a
// moment before the connection is closed. Closing a socket with unread input makes the
// kernel send a reset, which can destroy the answer just written before the client reads
// it; a client that sent a broken request usually has more bytes in flight.
func lingerClose(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		_ = cw.CloseWrite()
	}
	_ = nc.SetReadDeadline(time.Now().Add(lingerDuration))
	_, _ = io.CopyN(io.Discard, nc, lingerBytes)
}

// handle runs the handler for one request and reports whether the connection can go on. The
// request gets its id here: the client's requestId when it is usable, else a fresh one
// (shared/requestid); the handler's context carries it to the backends and into every log
// record made with that context. When the handler asks ([doip.WatchClient]: it is about to
// wait on a backend), [conn.watchClient] cancels that context if the client goes away, so no
// backend keeps working for nobody.
func (c *conn) handle(ctx context.Context, nc net.Conn, br *bufio.Reader, codec doip.ServerCodec, bw *bufio.Writer, req *doip.Request, up *connReader) bool {
	rid := requestid.FromClient(req.RequestID)
	ctx, cancel := context.WithCancelCause(requestid.NewContext(ctx, rid))
	defer cancel(nil)
	c.out.setFraming(req.Framing)
	start := time.Now()
	// A request whose input is still arriving is read by the handler: nothing else may read
	// the connection meanwhile, so the client is not watched (a client that leaves shows as a
	// failed read of its input).
	uploading := req.Write != nil && req.Write.Elements != nil
	w := &responseWriter{codec: codec, req: req, c: c, up: up, br: br, cancel: cancel, noWatch: uploading}
	if uploading {
		up.phase.Store(phaseUpload)
	}
	c.srv.Handler.ServeDOIP(ctx, w, req)
	if !w.wrote {
		w.err = w.Error(doip.Errorf(doip.KindInternal, "no answer"))
	}
	inStep := true
	if uploading {
		// What the handler left unread is skipped, within a bound; past it, or after a broken
		// upload, the connection is out of step and closes after the answer.
		if err := req.Write.Elements.Close(); err != nil {
			c.log.Info("request input not read to its end, closing after the answer", slog.Any("err", err))
			inStep = false
		}
		up.phase.Store(phaseFree)
		up.deadline = aLongTimeAgo // not known: the next phase sets its own
	}
	// The last bytes of every answer leave with the flush below: a client that left before
	// it cannot have the whole answer. One that leaves during or after it may have had it.
	leftEarly := errors.Is(context.Cause(ctx), ErrClientGone)
	if w.err == nil {
		w.err = bw.Flush()
	}
	gone := false
	if w.stopWatch != nil {
		gone = w.stopWatch()
	}
	if w.err == nil && leftEarly {
		w.err = ErrClientGone
	}
	took := time.Since(start)
	level, status := slog.LevelInfo, w.status
	if w.err != nil {
		level, status = slog.LevelWarn, statusAborted
	}
	c.srv.Metrics.requestDone(c.srv.Name, req, status, took.Seconds())
	attrs := []slog.Attr{slog.String("op", req.Op.String()), slog.String("object", req.ObjectID),
		slog.String("framing", string(req.Framing)), slog.String("status", status),
		slog.String(requestid.LogKey, rid), slog.Duration("took", took)}
	if w.err != nil {
		if status != w.status {
			// What the answer would have been, had it reached the client.
			attrs = append(attrs, slog.String("answer", w.status))
		}
		attrs = append(attrs, slog.Any("err", w.err))
	}
	c.log.LogAttrs(ctx, level, "request done", attrs...)
	if !inStep && w.err == nil {
		lingerClose(nc)
	}
	return w.err == nil && !gone && inStep
}

// The phases of a connection's reading, each with its read deadline.
const (
	// phaseFixed: the deadline set last stays (the first request's handshake deadline).
	phaseFixed int32 = iota
	// phaseIdle: waiting for a request, cut off after at least idle less a sixteenth. The
	// deadline is set again only once that sixteenth has passed, not for every request.
	phaseIdle
	// phaseRequest: reading a request, whole within timeout from its first read.
	phaseRequest
	// phaseUpload: the handler reads a request's input; each read gets a fresh timeout.
	phaseUpload
	// phaseFree: no deadline is set on reads (the client watch sets its own).
	phaseFree
)

// connReader reads the connection for its bufio.Reader and sets the read deadline that the
// phase needs, and only when it must: a read deadline costs a system call's worth of time,
// as much as a small request's read, and a request read whole with its first byte needs
// none of its own. phase is written by the connection's goroutine; deadline and
// requestDeadline are used only on that goroutine (uploads, read by the handler's, do not
// touch them).
type connReader struct {
	conn            net.Conn
	timeout         time.Duration // ReadTimeout
	idle            time.Duration // the idle timeout of phaseIdle
	phase           atomic.Int32
	deadline        time.Time // the read deadline set last; zero for none
	requestDeadline time.Time // phaseRequest's, once its first read set it
}

func (r *connReader) setDeadline(t time.Time) {
	r.deadline = t
	_ = r.conn.SetReadDeadline(t)
}

func (r *connReader) Read(p []byte) (int, error) {
	switch r.phase.Load() {
	case phaseIdle:
		now := time.Now()
		if left := r.deadline.Sub(now); left < r.idle-r.idle/16 || left > r.idle {
			r.setDeadline(now.Add(r.idle))
		}
	case phaseRequest:
		if r.requestDeadline.IsZero() {
			r.requestDeadline = time.Now().Add(r.timeout)
			r.setDeadline(r.requestDeadline)
		}
	case phaseUpload:
		_ = r.conn.SetReadDeadline(time.Now().Add(r.timeout))
	}
	return r.conn.Read(p)
}

// ErrClientGone is the cause of a request context cancelled because its client closed or
// reset the connection while the request was in flight.
var ErrClientGone = errors.New("gateway: the client closed the connection")

// aLongTimeAgo is a read deadline in the past: it makes a blocked read return at once.
var aLongTimeAgo = time.Unix(1, 0)

// watchClient watches the connection while a request is in flight: a background read of one
// byte that ends on EOF or a reset (the client left, and cancel is called with
// [ErrClientGone]), on data (the client pipelined its next request, which stays in br for the
// codec; watching stops, since nothing can be learned without reading further), or when
// the returned stop function ends it with a past read deadline. stop waits for the read to
// end and reports whether the client left; the past deadline stays until the reader's next
// phase sets its own.
//
// Like net/http, it treats a half-close (the client shut its sending side and waits for the
// answer) as leaving: DOIP clients keep their connections open until they have the answer.
func (c *conn) watchClient(up *connReader, br *bufio.Reader, cancel context.CancelCauseFunc) (stop func() bool) {
	if br.Buffered() > 0 {
		return func() bool { return false }
	}
	// The watch reads without a deadline (a request may wait on a backend longer than any
	// read timeout); the reader, in phaseFree, sets none.
	if !up.deadline.IsZero() {
		up.setDeadline(time.Time{})
	}
	done := make(chan struct{})
	var gone atomic.Bool
	go func() {
		defer close(done)
		_, err := br.Peek(1)
		var ne net.Error
		if err == nil || (errors.As(err, &ne) && ne.Timeout()) {
			return
		}
		gone.Store(true)
		c.log.Debug("client left while its request was in flight", slog.Any("err", err))
		cancel(ErrClientGone)
	}()
	return func() bool {
		// The past deadline stays: the next phase sets its own when it reads.
		up.setDeadline(aLongTimeAgo)
		<-done
		return gone.Load()
	}
}

// responseWriter is the [doip.ResponseWriter] of one request.
type responseWriter struct {
	codec  doip.ServerCodec
	req    *doip.Request
	wrote  bool
	status string
	err    error // the first write error; the connection is closed after it

	// For WatchClient: the connection, its reader, and the request's cancel function;
	// noWatch when the handler reads the connection itself (an upload).
	c         *conn
	up        *connReader
	br        *bufio.Reader
	cancel    context.CancelCauseFunc
	noWatch   bool
	stopWatch func() bool // set once watching started
}

// WatchClient starts watching for the client leaving, once; see [doip.ClientWatcher]. It
// is called on the handler's goroutine, which is the connection's.
func (w *responseWriter) WatchClient() {
	if w.noWatch || w.stopWatch != nil {
		return
	}
	w.stopWatch = w.c.watchClient(w.up, w.br, w.cancel)
}

func (w *responseWriter) Respond(resp *doip.Response) error {
	if w.wrote {
		return errors.New("gateway: answer already written")
	}
	w.wrote, w.status = true, statusOK
	w.err = w.codec.WriteResponse(w.req, resp)
	return w.err
}

func (w *responseWriter) Error(e *doip.Error) error {
	if w.wrote {
		return errors.New("gateway: answer already written")
	}
	w.wrote, w.status = true, string(e.Kind)
	w.err = w.codec.WriteError(w.req, e)
	return w.err
}

func (w *responseWriter) Progress(stage, message string, fraction float64) error {
	if w.wrote {
		return nil
	}
	return w.codec.WriteProgress(w.req, stage, message, fraction)
}

// deadlineWriter keeps a fresh write deadline on every write, so a slow but moving client
// is served however long the answer takes, and a stalled one is cut off after at least
// timeout less a sixteenth. It sets the deadline again only once that sixteenth has passed
// since it last did: setting one costs about a microsecond, as much as a small answer's
// write. It counts what it wrote in out.
type deadlineWriter struct {
	conn     net.Conn
	timeout  time.Duration
	out      *byteCounter
	deadline time.Time // the write deadline set last
}

func (d *deadlineWriter) Write(p []byte) (int, error) {
	if now := time.Now(); d.deadline.Sub(now) < d.timeout-d.timeout/16 {
		d.deadline = now.Add(d.timeout)
		_ = d.conn.SetWriteDeadline(d.deadline)
	}
	n, err := d.conn.Write(p)
	d.out.add(n)
	return n, err
}

// ReadFrom moves r's bytes to the connection. When the connection is plain TCP and r is a
// TCP connection, or an [io.LimitedReader] of one (a component handed off to storage), the
// kernel moves them (splice, on Linux) without a copy through this process; the caller
// bounds how much one call moves, and the write deadline is set once per call, as for one
// Write. Every other reader is copied through a buffer, as io.Copy would.
func (d *deadlineWriter) ReadFrom(r io.Reader) (int64, error) {
	tcp, ok := tcpOf(d.conn)
	if !ok || !isTCPSource(r) {
		return io.Copy(writerOnly{d}, r)
	}
	d.deadline = time.Now().Add(d.timeout)
	_ = d.conn.SetWriteDeadline(d.deadline)
	n, err := tcp.ReadFrom(r)
	d.out.add(int(n))
	return n, err
}

// tcpOf returns the TCP connection under c, which is plaintext: c itself, or the connection
// under the peekConn that chose plaintext.
func tcpOf(c net.Conn) (*net.TCPConn, bool) {
	if pc, ok := c.(*peekConn); ok {
		c = pc.Conn
	}
	tcp, ok := c.(*net.TCPConn)
	return tcp, ok
}

// isTCPSource reports whether r is a TCP connection or a limited reader of one.
func isTCPSource(r io.Reader) bool {
	if lr, ok := r.(*io.LimitedReader); ok {
		r = lr.R
	}
	_, ok := r.(*net.TCPConn)
	return ok
}

// writerOnly hides a writer's ReadFrom from io.Copy.
type writerOnly struct{ io.Writer }

// peekConn is a net.Conn whose reads go through a bufio.Reader that may already hold peeked
// bytes, so a byte looked at to choose TLS or plaintext is not lost.
type peekConn struct {
	net.Conn
	r *bufio.Reader
}

func newPeekConn(c net.Conn) *peekConn {
	return &peekConn{Conn: c, r: bufio.NewReaderSize(c, 4096)}
}

func (p *peekConn) Read(b []byte) (int, error) { return p.r.Read(b) }

// CloseWrite half-closes the underlying connection where it can.
func (p *peekConn) CloseWrite() error {
	if cw, ok := p.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
