package gateway

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/tlsconf"
	"github.com/fdo-doip/doip-gateway/gateway/internal/tlstest"
)

// waitHandler answers "wait" requests, for which it asks the connection to watch its client
// as a handler waiting on a backend does, when their context ends (reporting the cause on
// causes) or when release closes; "local" requests, not watched, when release closes
// (reporting their context's error on causes); and everything else at once.
type waitHandler struct {
	started chan string
	causes  chan error
	release chan struct{}
}

func newWaitHandler() *waitHandler {
	return &waitHandler{started: make(chan string, 8), causes: make(chan error, 8), release: make(chan struct{})}
}

func (h *waitHandler) ServeDOIP(ctx context.Context, w doip.ResponseWriter, req *doip.Request) {
	if strings.HasPrefix(req.ObjectID, "local") {
		h.started <- req.ObjectID
		<-h.release
		h.causes <- ctx.Err()
		_ = w.Respond(&doip.Response{})
		return
	}
	if !strings.HasPrefix(req.ObjectID, "wait") {
		_ = w.Respond(&doip.Response{})
		return
	}
	doip.WatchClient(w)
	h.started <- req.ObjectID
	select {
	case <-ctx.Done():
		h.causes <- context.Cause(ctx)
		_ = w.Error(doip.Errorf(doip.KindUnavailable, "request cancelled"))
	case <-h.release:
		_ = w.Respond(&doip.Response{})
	}
}

// wantGone waits for h's request to end with ErrClientGone.
func wantGone(t *testing.T, h *waitHandler) {
	t.Helper()
	select {
	case cause := <-h.causes:
		if !errors.Is(cause, ErrClientGone) {
			t.Errorf("cause = %v, want ErrClientGone", cause)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the request was not cancelled after its client left")
	}
}

// Regression (abandoned work held for the whole invoke timeout): a client that closes or
// resets its connection while its request waits for a backend cancels the request's
// context with ErrClientGone, and the request is logged as aborted; over plaintext and TLS.
func TestClientLeavingCancelsItsRequest(t *testing.T) {
	t.Parallel()
	cert := tlstest.Cert(t)
	cfg := &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	for _, tc := range []struct {
		name  string
		tls   bool
		reset bool
	}{{"close", false, false}, {"reset", false, true}, {"TLS close", true, false}} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			h := newWaitHandler()
			var (
				mu   sync.Mutex
				logs bytes.Buffer
			)
			sink := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return logs.Write(p) })
			logText := func() string { mu.Lock(); defer mu.Unlock(); return logs.String() }
			s := &Server{Name: "t", Handler: h, NewCodec: newLineCodec, Logger: slog.New(slog.NewTextHandler(sink, nil))}
			if tc.tls {
				s.TLSConfig, s.TLSMode = cfg, tlsconf.Optional
			}
			addr := serve(t, s)
			raw, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			c := raw
			if tc.tls {
				c = tls.Client(raw, &tls.Config{InsecureSkipVerify: true})
			}
			if _, err := io.WriteString(c, "invoke wait1\n"); err != nil {
				t.Fatal(err)
			}
			<-h.started
			if tc.reset {
				_ = raw.(*net.TCPConn).SetLinger(0)
			}
			c.Close()
			wantGone(t, h)
			eventually(t, "the request logged as aborted", func() bool {
				return strings.Contains(logText(), `msg="request done"`) && strings.Contains(logText(), "status=aborted")
			})
			if !strings.Contains(logText(), "answer=Unavailable") {
				t.Errorf("log does not say what the answer would have been:\n%s", logText())
			}
		})
	}
}

// Watching for a departing client must not lose or reorder requests: a request pipelined
// behind a slow one, and a request sent while the previous one is still in flight, are
// both answered in order, and nothing is cancelled.
func TestWatchKeepsPipelinedRequests(t *testing.T) {
	t.Parallel()
	h := newWaitHandler()
	addr := serve(t, &Server{Name: "t", Handler: h, NewCodec: newLineCodec, Logger: testLogger(t)})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	br := bufio.NewReader(c)
	// Two at once, then a third while the first is in flight.
	if _, err := io.WriteString(c, "invoke wait1\nhello a\n"); err != nil {
		t.Fatal(err)
	}
	<-h.started
	if _, err := io.WriteString(c, "hello b\n"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(50 * time.Millisecond) // let "hello b" arrive while wait1 is in flight
	close(h.release)
	for _, want := range []string{"ok wait1\n", "ok a\n", "ok b\n"} {
		got, err := br.ReadString('\n')
		if err != nil || got != want {
			t.Fatalf("answer %q, %v; want %q", got, err, want)
		}
	}
	select {
	case cause := <-h.causes:
		t.Errorf("a request was cancelled: %v", cause)
	default:
	}
	// The connection still serves a request that waits, then is released.
	if got := roundTrip(t, c, br, "hello c\n"); got != "ok c\n" {
		t.Errorf("after pipelining: %q", got)
	}
}

// Watching starts anew for each request of a connection: the second one of a kept-alive
// connection is cancelled when the client leaves.
func TestWatchOnEveryRequest(t *testing.T) {
	t.Parallel()
	h := newWaitHandler()
	addr := serve(t, &Server{Name: "t", Handler: h, NewCodec: newLineCodec, Logger: testLogger(t)})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(c)
	for i := range 20 {
		if got := roundTrip(t, c, br, "hello x\n"); got != "ok x\n" {
			t.Fatalf("answer %d = %q", i, got)
		}
	}
	if _, err := io.WriteString(c, "invoke wait2\n"); err != nil {
		t.Fatal(err)
	}
	<-h.started
	c.Close()
	wantGone(t, h)
}

// Only a handler that asks is watched: a request answered without waiting on a backend is
// not, so a client that shuts its sending side after such a request (which a watch takes
// as leaving) still gets its answer, and the request's context is not cancelled.
func TestWatchOnlyWhenAsked(t *testing.T) {
	t.Parallel()
	h := newWaitHandler()
	addr := serve(t, &Server{Name: "t", Handler: h, NewCodec: newLineCodec, Logger: testLogger(t)})
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if _, err := io.WriteString(c, "invoke local1\n"); err != nil {
		t.Fatal(err)
	}
	<-h.started
	if err := c.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	close(h.release)
	if err := <-h.causes; err != nil {
		t.Errorf("the unwatched request's context ended: %v", err)
	}
	got, err := bufio.NewReader(c).ReadString('\n')
	if err != nil || got != "ok local1\n" {
		t.Errorf("answer %q, %v; want ok local1", got, err)
	}
}
