package gateway

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/tlsconf"
)

// ErrServerClosed is returned by [Server.Serve] after [Server.Shutdown] or [Server.Close].
var ErrServerClosed = errors.New("gateway: server closed")

// Defaults used where a [Server] field is zero.
const (
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultReadTimeout      = 30 * time.Second
	DefaultIdleTimeout      = 5 * time.Minute
	DefaultWriteTimeout     = 60 * time.Second
	DefaultMaxPayload       = 16 << 20
	DefaultMaxSegment       = 1 << 20
	DefaultMaxConns         = 4096
)

// A Server serves DOIP on one or more listeners with one framing family. Set the fields
// before calling Serve and do not change them afterwards.
type Server struct {
	// Name names the listener in logs ("envelope", "segments").
	Name string
	// Handler answers requests.
	Handler doip.Handler
	// NewCodec makes each connection's codec.
	NewCodec CodecFactory
	// TLSConfig is used when TLSMode is not tlsconf.Off; it must hold a certificate then.
	TLSConfig *tls.Config
	TLSMode   tlsconf.Mode
	// HandshakeTimeout bounds the wait for the first byte and the TLS handshake.
	HandshakeTimeout time.Duration
	// ReadTimeout bounds reading one request, from its first byte to its last.
	ReadTimeout time.Duration
	// IdleTimeout bounds the wait for the next request on an open connection.
	IdleTimeout time.Duration
	// WriteTimeout bounds each write to the client: a client that takes no bytes for this
	// long is disconnected, however long the whole answer takes.
	WriteTimeout time.Duration
	// Limits bound what a request may declare, checked before allocating.
	Limits doip.Limits
	// MaxConns bounds open connections on this server; more are closed on accept.
	MaxConns int
	// MaxConnsPerIP bounds open connections from one client address; 0 means no bound.
	MaxConnsPerIP int
	// Logger receives the server's logs; nil discards them.
	Logger *slog.Logger
	// BaseContext, if set, returns the base context of every connection on l.
	BaseContext func(l net.Listener) context.Context
	// Metrics, if set, counts connections, requests and bytes under the listener label Name.
	// Several servers may share one.
	Metrics *Metrics

	mu         sync.Mutex // guards listeners, conns
	listeners  map[*net.Listener]struct{}
	conns      map[*conn]struct{}
	perIP      map[string]int // open connections per client address
	inShutdown atomic.Bool
	connWG     sync.WaitGroup
	nextConnID atomic.Uint64
	active     atomic.Int64
}

func (s *Server) logger() *slog.Logger {
	if s.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return s.Logger
}

func (s *Server) limits() doip.Limits {
	l := s.Limits
	if l.MaxPayload == 0 {
		l.MaxPayload = DefaultMaxPayload
	}
	if l.MaxSegment == 0 {
		l.MaxSegment = DefaultMaxSegment
	}
	return l
}

func durationOr(d, def time.Duration) time.Duration {
	if d <= 0 {
		return def
	}
	return d
}

// Serve accepts connections on l and serves each in its own goroutine. It returns
// [ErrServerClosed] after Shutdown or Close, or the accept error that stopped it.
// Temporary accept errors (out of file descriptors) back off from 5 ms to 1 s.
func (s *Server) Serve(l net.Listener) error {
	if s.Handler == nil || s.NewCodec == nil {
		return fmt.Errorf("gateway: server %q needs a Handler and a NewCodec", s.Name)
	}
	if s.TLSMode != tlsconf.Off && s.TLSMode != "" && (s.TLSConfig == nil || len(s.TLSConfig.Certificates) == 0 && s.TLSConfig.GetCertificate == nil) {
		return fmt.Errorf("gateway: server %q: TLS mode %s needs a certificate", s.Name, s.TLSMode)
	}
	if !s.trackListener(&l, true) {
		return ErrServerClosed
	}
	defer s.trackListener(&l, false)
	s.Metrics.initListener(s.Name)

	base := context.Background()
	if s.BaseContext != nil {
		base = s.BaseContext(l)
	}
	maxConns := s.MaxConns
	if maxConns <= 0 {
		maxConns = DefaultMaxConns
	}
	var delay time.Duration
	for {
		rw, err := l.Accept()
		if err != nil {
			if s.inShutdown.Load() {
				return ErrServerClosed
			}
			if isTemporary(err) {
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.logger().Warn("accept failed, retrying", slog.Duration("delay", delay), slog.Any("err", err))
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("gateway: accept on %s: %w", l.Addr(), err)
		}
		delay = 0
		if s.active.Load() >= int64(maxConns) {
			s.logger().Warn("connection limit reached, closing new connection",
				slog.String("remote", rw.RemoteAddr().String()), slog.Int("max_conns", maxConns))
			s.Metrics.connRejected(s.Name)
			_ = rw.Close()
			continue
		}
		ip := clientIP(rw)
		if !s.admitIP(ip) {
			s.logger().Warn("per-address connection limit reached, closing new connection",
				slog.String("remote", rw.RemoteAddr().String()), slog.Int("max_conns_per_ip", s.MaxConnsPerIP))
			s.Metrics.connRejected(s.Name)
			_ = rw.Close()
			continue
		}
		c := s.newConn(rw)
		c.ip = ip
		s.connWG.Go(func() { c.serve(base) })
	}
}

func isTemporary(err error) bool {
	var ne interface{ Temporary() bool }
	return errors.As(err, &ne) && ne.Temporary()
}

func (s *Server) trackListener(l *net.Listener, add bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if add {
		if s.inShutdown.Load() {
			return false
		}
		if s.listeners == nil {
			s.listeners = make(map[*net.Listener]struct{})
		}
		s.listeners[l] = struct{}{}
	} else {
		delete(s.listeners, l)
	}
	return true
}

func (s *Server) newConn(rw net.Conn) *conn {
	id := s.nextConnID.Add(1)
	c := &conn{
		srv: s,
		rwc: rw,
		log: s.logger().With("listener", s.Name, "remote", rw.RemoteAddr().String(), "conn", id),
		out: &byteCounter{m: s.Metrics},
	}
	s.active.Add(1)
	s.Metrics.connOpened(s.Name)
	s.mu.Lock()
	if s.conns == nil {
		s.conns = make(map[*conn]struct{})
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	return c
}

// clientIP is the address part of a connection's remote address.
func clientIP(c net.Conn) string {
	host, _, err := net.SplitHostPort(c.RemoteAddr().String())
	if err != nil {
		return c.RemoteAddr().String()
	}
	return host
}

// admitIP counts a new connection from ip, or reports false when ip is at its limit.
func (s *Server) admitIP(ip string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.perIP == nil {
		s.perIP = make(map[string]int)
	}
	if s.MaxConnsPerIP > 0 && s.perIP[ip] >= s.MaxConnsPerIP {
		return false
	}
	s.perIP[ip]++
	return true
}

func (s *Server) forgetConn(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if n, ok := s.perIP[c.ip]; ok { // admitted through Serve
		if n <= 1 {
			delete(s.perIP, c.ip)
		} else {
			s.perIP[c.ip] = n - 1
		}
	}
	s.mu.Unlock()
	s.active.Add(-1)
	s.Metrics.connClosed(s.Name)
}

// ActiveConns returns the number of open connections.
func (s *Server) ActiveConns() int { return int(s.active.Load()) }

// Serving reports whether the server accepts connections: Serve runs on at least one
// listener and neither Shutdown nor Close has begun. Readiness probes ask it.
func (s *Server) Serving() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.listeners) > 0 && !s.inShutdown.Load()
}

func (s *Server) closeListeners() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for l := range s.listeners {
		if err := (*l).Close(); err != nil && !errors.Is(err, net.ErrClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// closeIdle closes the connections that wait for a request and reports whether none is
// left at all.
func (s *Server) closeIdle() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.state.Load() == stateIdle {
			_ = c.rwc.Close()
		}
	}
	return len(s.conns) == 0
}

// Shutdown stops the server gracefully: it closes the listeners, closes connections that
// are waiting for a request, and waits for the others to finish the answer they are
// writing (after which they close too). It returns ctx.Err() if ctx ends first; the
// connections still open then are left to finish (call Close to cut them).
func (s *Server) Shutdown(ctx context.Context) error {
	s.inShutdown.Store(true)
	lerr := s.closeListeners()
	poll := time.Millisecond
	t := time.NewTimer(poll)
	defer t.Stop()
	for {
		if s.closeIdle() {
			return lerr
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
			poll = min(2*poll, 100*time.Millisecond)
			t.Reset(poll)
		}
	}
}

// Close closes the listeners and every connection at once.
func (s *Server) Close() error {
	s.inShutdown.Store(true)
	err := s.closeListeners()
	s.mu.Lock()
	for c := range s.conns {
		_ = c.rwc.Close()
	}
	s.mu.Unlock()
	s.connWG.Wait()
	return err
}

// errorAnswer turns a framing error into the error a client is told.
func errorAnswer(err error) *doip.Error {
	var e *doip.Error
	if errors.As(err, &e) {
		return e
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return doip.Errorf(doip.KindBadRequest, "request not received in time")
	}
	return doip.Errorf(doip.KindBadRequest, "malformed request: %v", err)
}
