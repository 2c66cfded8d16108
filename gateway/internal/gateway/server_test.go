package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/tlsconf"
	"github.com/fdo-doip/doip-gateway/gateway/internal/tlstest"
)

// lineCodec is a framing for tests: a request is "OP OBJECT\n", an answer "ok OBJECT\n" or
// "err KIND MESSAGE\n"; a line starting with "!" is a framing error.
type lineCodec struct {
	r *bufio.Reader
	w *bufio.Writer
}

func newLineCodec(r *bufio.Reader, w *bufio.Writer, _ doip.Limits) (doip.ServerCodec, error) {
	return &lineCodec{r: r, w: w}, nil
}

func (c *lineCodec) ReadRequest() (*doip.Request, error) {
	line, err := c.r.ReadString('\n')
	if err != nil {
		if errors.Is(err, io.EOF) && line != "" {
			return nil, io.ErrUnexpectedEOF
		}
		return nil, err
	}
	if strings.HasPrefix(line, "!") {
		return nil, doip.Errorf(doip.KindBadRequest, "bang line")
	}
	op, obj, _ := strings.Cut(strings.TrimSpace(line), " ")
	o, _ := doip.ParseOpName(op)
	return &doip.Request{Op: o, ObjectID: obj}, nil
}

func (c *lineCodec) WriteResponse(req *doip.Request, _ *doip.Response) error {
	_, err := fmt.Fprintf(c.w, "ok %s\n", req.ObjectID)
	return err
}

func (c *lineCodec) WriteError(req *doip.Request, e *doip.Error) error {
	_, err := fmt.Fprintf(c.w, "err %s %s\n", e.Kind, e.Message)
	return err
}

func (c *lineCodec) WriteProgress(*doip.Request, string, string, float64) error { return nil }
func (c *lineCodec) KeepAlive() bool                                            { return true }

// echoHandler answers hello with ok and everything else with NotFound; "block" waits for
// release to close.
type echoHandler struct {
	release chan struct{}
	started chan struct{}
}

func (h *echoHandler) ServeDOIP(ctx context.Context, w doip.ResponseWriter, req *doip.Request) {
	switch {
	case req.ObjectID == "block":
		h.started <- struct{}{}
		<-h.release
		_ = w.Respond(&doip.Response{})
	case req.ObjectID == "silent":
		// writes nothing: the server must answer for it
	case req.Op == doip.OpHello:
		_ = w.Respond(&doip.Response{})
	default:
		_ = w.Error(doip.Errorf(doip.KindNotFound, "no %s", req.ObjectID))
	}
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func serve(t *testing.T, s *Server) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- s.Serve(l) }()
	t.Cleanup(func() {
		_ = s.Close()
		if err := <-done; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return l.Addr().String()
}

func roundTrip(t *testing.T, c net.Conn, br *bufio.Reader, line string) string {
	t.Helper()
	if _, err := io.WriteString(c, line); err != nil {
		t.Fatal(err)
	}
	got, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("after %q: %v", line, err)
	}
	return got
}

func TestManyRequestsPerConnection(t *testing.T) {
	t.Parallel()
	addr := serve(t, &Server{Name: "t", Handler: &echoHandler{}, NewCodec: newLineCodec, Logger: testLogger(t)})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	for i := range 100 {
		if got := roundTrip(t, c, br, fmt.Sprintf("hello x%d\n", i)); got != fmt.Sprintf("ok x%d\n", i) {
			t.Fatalf("answer %d = %q", i, got)
		}
	}
	if got := roundTrip(t, c, br, "retrieve Q1\n"); got != "err NotFound no Q1\n" {
		t.Errorf("operation error = %q", got)
	}
	if got := roundTrip(t, c, br, "hello silent\n"); got != "err Internal no answer\n" {
		t.Errorf("handler without answer = %q", got)
	}
	if got := roundTrip(t, c, br, "hello still-open\n"); got != "ok still-open\n" {
		t.Errorf("after errors = %q", got)
	}
}

func TestFramingErrorAnswersThenCloses(t *testing.T) {
	t.Parallel()
	addr := serve(t, &Server{Name: "t", Handler: &echoHandler{}, NewCodec: newLineCodec, Logger: testLogger(t)})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	if got := roundTrip(t, c, br, "!garbage\n"); got != "err BadRequest bang line\n" {
		t.Errorf("framing error answer = %q", got)
	}
	if _, err := br.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Errorf("after a framing error: %v, want EOF", err)
	}
}

// Idle and read deadlines close connections that send nothing, or stop mid-request.
func TestDeadlines(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		s := &Server{Name: "t", Handler: &echoHandler{}, NewCodec: newLineCodec, Logger: testLogger(t),
			HandshakeTimeout: time.Second, IdleTimeout: 5 * time.Second, ReadTimeout: 2 * time.Second}
		for _, tc := range []struct {
			name, send string
			want       string
		}{
			{"silent client", "", ""},
			{"idle after a request", "hello a\n", "ok a\n"},
			{"stalls mid-request", "hello b\nhel", "ok b\nerr BadRequest request not received in time\n"},
		} {
			srvSide, cliSide := net.Pipe()
			c := s.newConn(srvSide)
			go c.serve(context.Background())
			go io.WriteString(cliSide, tc.send)
			got, err := io.ReadAll(cliSide)
			if err != nil || string(got) != tc.want {
				t.Errorf("%s: read %q, %v; want %q then close", tc.name, got, err, tc.want)
			}
			cliSide.Close()
		}
		synctest.Wait()
	})
}

func TestTLSModes(t *testing.T) {
	t.Parallel()
	cert := tlstest.Cert(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	var logs bytes.Buffer
	var mu sync.Mutex
	lockedLogs := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
	optional := serve(t, &Server{Name: "opt", Handler: &echoHandler{}, NewCodec: newLineCodec, TLSConfig: cfg, TLSMode: tlsconf.Optional, Logger: testLogger(t)})
	required := serve(t, &Server{Name: "req", Handler: &echoHandler{}, NewCodec: newLineCodec, TLSConfig: cfg, TLSMode: tlsconf.Required,
		Logger: slog.New(slog.NewTextHandler(lockedLogs, nil))})

	for _, addr := range []string{optional, required} {
		tc, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatalf("TLS to %s: %v", addr, err)
		}
		if got := roundTrip(t, tc, bufio.NewReader(tc), "hello tls\n"); got != "ok tls\n" {
			t.Errorf("over TLS = %q", got)
		}
		tc.Close()
	}
	pc, err := net.Dial("tcp", optional)
	if err != nil {
		t.Fatal(err)
	}
	if got := roundTrip(t, pc, bufio.NewReader(pc), "hello plain\n"); got != "ok plain\n" {
		t.Errorf("plaintext on optional = %q", got)
	}
	pc.Close()

	rc, err := net.Dial("tcp", required)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	io.WriteString(rc, "hello plain\n")
	if b, err := io.ReadAll(rc); len(b) != 0 || err != nil {
		t.Errorf("plaintext on a required port got %q, %v; want a close", b, err)
	}
	mu.Lock()
	defer mu.Unlock()
	if !strings.Contains(logs.String(), "client sent plaintext to a TLS port") {
		t.Errorf("no clear log line for plaintext on a TLS port: %s", logs.String())
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Shutdown closes idle connections at once and waits for a request in flight.
func TestShutdownWaitsForInFlight(t *testing.T) {
	t.Parallel()
	h := &echoHandler{release: make(chan struct{}), started: make(chan struct{})}
	s := &Server{Name: "t", Handler: h, NewCodec: newLineCodec, Logger: testLogger(t)}
	addr := serve(t, s)
	busy, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	ibr := bufio.NewReader(idle)
	roundTrip(t, idle, ibr, "hello idle\n")
	io.WriteString(busy, "hello block\n")
	<-h.started

	done := make(chan error, 1)
	go func() { done <- s.Shutdown(context.Background()) }()
	if _, err := ibr.ReadString('\n'); !errors.Is(err, io.EOF) {
		t.Errorf("idle connection during shutdown: %v, want EOF", err)
	}
	select {
	case err := <-done:
		t.Fatalf("Shutdown returned %v while a request was in flight", err)
	default:
	}
	close(h.release)
	if got, err := bufio.NewReader(busy).ReadString('\n'); got != "ok block\n" {
		t.Errorf("in-flight answer = %q, %v", got, err)
	}
	if err := <-done; err != nil {
		t.Errorf("Shutdown = %v", err)
	}
	if _, err := net.Dial("tcp", addr); err == nil {
		t.Error("listener still accepts after Shutdown")
	}
}

func TestMaxConns(t *testing.T) {
	t.Parallel()
	addr := serve(t, &Server{Name: "t", Handler: &echoHandler{}, NewCodec: newLineCodec, MaxConns: 1, Logger: testLogger(t)})
	first, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer first.Close()
	roundTrip(t, first, bufio.NewReader(first), "hello one\n")
	second, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	io.WriteString(second, "hello two\n")
	if b, _ := io.ReadAll(second); len(b) != 0 {
		t.Errorf("connection over the limit was served: %q", b)
	}
}

func TestMaxConnsPerIP(t *testing.T) {
	t.Parallel()
	s := &Server{Name: "t", Handler: &echoHandler{}, NewCodec: newLineCodec, MaxConnsPerIP: 2, Logger: testLogger(t)}
	addr := serve(t, s)
	var open []net.Conn
	for i := range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		roundTrip(t, c, bufio.NewReader(c), fmt.Sprintf("hello %d\n", i))
		open = append(open, c)
	}
	third, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(third, "hello three\n")
	if b, _ := io.ReadAll(third); len(b) != 0 {
		t.Errorf("a third connection from one address was served: %q", b)
	}
	third.Close()
	// Closing one makes room again.
	open[0].Close()
	for deadline := time.Now().Add(5 * time.Second); ; {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(c, "hello again\n")
		b, _ := bufio.NewReader(c).ReadString('\n')
		c.Close()
		if b == "ok again\n" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no room after a connection closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}
