package gateway

import (
	"bufio"
	"context"
	"io"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// deadlineConn records the write deadlines set on it.
type deadlineConn struct {
	net.Conn
	sets     int
	deadline time.Time
}

func (c *deadlineConn) SetWriteDeadline(t time.Time) error {
	c.sets++
	c.deadline = t
	return nil
}

func (c *deadlineConn) Write(p []byte) (int, error) { return len(p), nil }

// TestDeadlineWriterKeepsDeadlineFresh: at every write the deadline lies between
// 15/16 of the timeout and the whole timeout ahead, so a stalled client is cut off in about
// the write timeout and a moving one never is; and writes close together set it once.
func TestDeadlineWriterKeepsDeadlineFresh(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const timeout = 16 * time.Second
		nc := &deadlineConn{}
		d := &deadlineWriter{conn: nc, timeout: timeout}
		check := func(when string) {
			t.Helper()
			if _, err := d.Write([]byte("x")); err != nil {
				t.Fatal(err)
			}
			left := time.Until(nc.deadline)
			if left < timeout-timeout/16 || left > timeout {
				t.Fatalf("%s: the deadline is %v ahead, want between %v and %v", when, left, timeout-timeout/16, timeout)
			}
		}
		for range 100 {
			check("a burst")
		}
		if nc.sets != 1 {
			t.Errorf("a burst of 100 writes set the deadline %d times, want 1", nc.sets)
		}
		for range 200 {
			time.Sleep(300 * time.Millisecond) // a slow but moving client, for a minute
			check("a slow client")
		}
		if nc.sets > 60 {
			t.Errorf("a minute of writes every 300ms set the deadline %d times", nc.sets)
		}
	})
}

// readDeadlineConn records the read deadlines set on it and reads from r.
type readDeadlineConn struct {
	net.Conn
	r        io.Reader
	sets     atomic.Int32
	deadline time.Time
}

func (c *readDeadlineConn) SetReadDeadline(t time.Time) error {
	c.sets.Add(1)
	c.deadline = t
	if c.Conn != nil {
		return c.Conn.SetReadDeadline(t)
	}
	return nil
}

func (c *readDeadlineConn) Read(p []byte) (int, error) {
	if c.r != nil {
		return c.r.Read(p)
	}
	return c.Conn.Read(p)
}

// TestConnReaderDeadlines: waiting for requests keeps the idle deadline between 15/16 of the
// idle timeout and the whole of it ahead, setting it once for a burst; a request's reads
// share one deadline from its first read, so a client trickling a request cannot push it
// out; an upload's reads each get a fresh one.
func TestConnReaderDeadlines(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		const idle, timeout = 16 * time.Second, 4 * time.Second
		nc := &readDeadlineConn{r: strings.NewReader(strings.Repeat("x", 1000))}
		r := &connReader{conn: nc, timeout: timeout, idle: idle}
		p := make([]byte, 1)
		read := func() {
			t.Helper()
			if _, err := r.Read(p); err != nil {
				t.Fatal(err)
			}
		}
		r.phase.Store(phaseIdle)
		for range 100 {
			read()
			if left := time.Until(nc.deadline); left < idle-idle/16 || left > idle {
				t.Fatalf("waiting: the deadline is %v ahead, want between %v and %v", left, idle-idle/16, idle)
			}
		}
		if n := nc.sets.Load(); n != 1 {
			t.Errorf("100 waits in a burst set the deadline %d times, want 1", n)
		}
		r.phase.Store(phaseRequest)
		read()
		want := time.Now().Add(timeout)
		for range 10 {
			time.Sleep(timeout / 8)
			read()
		}
		if !nc.deadline.Equal(want) {
			t.Errorf("a trickled request's deadline moved to %v, want %v", nc.deadline, want)
		}
		nc.sets.Store(0)
		r.phase.Store(phaseUpload)
		for range 3 {
			time.Sleep(time.Second)
			read()
			if !nc.deadline.Equal(time.Now().Add(timeout)) {
				t.Errorf("an upload's read has the deadline %v, want %v", nc.deadline, time.Now().Add(timeout))
			}
		}
		if n := nc.sets.Load(); n != 3 {
			t.Errorf("3 upload reads set the deadline %d times", n)
		}
	})
}

// Hellos on a kept-alive connection, each read whole with its first byte and answered
// without waiting on a backend, set no read deadline of their own: a connection serving
// many of them sets one when it starts, and the idle one while it waits.
func TestRequestsAnsweredLocallySetNoReadDeadlines(t *testing.T) {
	t.Parallel()
	s := &Server{Name: "t", Handler: newWaitHandler(), NewCodec: newLineCodec, Logger: testLogger(t)}
	srvSide, cliSide := net.Pipe()
	nc := &readDeadlineConn{Conn: srvSide}
	c := s.newConn(nc)
	done := make(chan struct{})
	go func() { defer close(done); c.serve(context.Background()) }()
	br := bufio.NewReader(cliSide)
	for i := range 50 {
		if got := roundTrip(t, cliSide, br, "hello x\n"); got != "ok x\n" {
			t.Fatalf("answer %d = %q", i, got)
		}
	}
	cliSide.Close()
	<-done
	if n := nc.sets.Load(); n > 3 {
		t.Errorf("50 hellos set the read deadline %d times, want at most 3", n)
	}
}

// tcpPair returns the two ends of a loopback TCP connection.
func tcpPair(t *testing.T) (a, b *net.TCPConn) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := l.Accept()
		accepted <- c
	}()
	c, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s := <-accepted
	if s == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return c.(*net.TCPConn), s.(*net.TCPConn)
}

// ReadFrom moves a limited reader of a TCP connection to a plaintext client connection,
// under the peekConn too, exactly as many bytes as the limit, and counts them; any other
// reader is copied.
func TestDeadlineWriterReadFrom(t *testing.T) {
	t.Parallel()
	payload := []byte(strings.Repeat("component bytes ", 64<<10)) // 1 MiB
	for _, wrap := range []string{"tcp", "peekConn"} {
		srcW, srcR := tcpPair(t)
		dstW, dstR := tcpPair(t)
		var conn net.Conn = dstW
		if wrap == "peekConn" {
			conn = newPeekConn(dstW)
		}
		m := NewMetrics(prometheus.NewRegistry())
		out := &byteCounter{m: m}
		d := &deadlineWriter{conn: conn, timeout: time.Minute, out: out}
		go func() { _, _ = srcW.Write(payload); _, _ = srcW.Write([]byte("not this")) }()
		got := make(chan []byte, 1)
		go func() { b, _ := io.ReadAll(io.LimitReader(dstR, int64(len(payload)))); got <- b }()
		n, err := d.ReadFrom(&io.LimitedReader{R: srcR, N: int64(len(payload))})
		if err != nil || n != int64(len(payload)) {
			t.Fatalf("%s: ReadFrom = %d, %v", wrap, n, err)
		}
		if b := <-got; string(b) != string(payload) {
			t.Errorf("%s: %d bytes arrived, not the %d sent", wrap, len(b), len(payload))
		}
		if out.pending != int64(len(payload)) || d.deadline.IsZero() {
			t.Errorf("%s: counted %d bytes, deadline %v", wrap, out.pending, d.deadline)
		}
	}
	nc := &deadlineConn{}
	d := &deadlineWriter{conn: nc, timeout: time.Minute}
	if n, err := d.ReadFrom(strings.NewReader("plain")); n != 5 || err != nil || nc.sets != 1 {
		t.Errorf("a plain reader: %d, %v, %d deadlines", n, err, nc.sets)
	}
}
