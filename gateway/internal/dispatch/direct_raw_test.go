package dispatch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
)

// storageServing answers every GET with h and returns the header of a hand-off to it for a
// component of size bytes.
func storageServing(t *testing.T, size int64, h http.HandlerFunc) *retrievev1.ComponentHeader {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return &retrievev1.ComponentHeader{ComponentId: "big", Size: size, TotalSize: size, DirectUrl: srv.URL + "/bucket/key?X-Amz-Signature=secret"}
}

// A plain-HTTP hand-off written to a TCP connection arrives whole: the bytes that came with
// the response header first, then the rest moved by the kernel (the writer's ReadFrom).
func TestRawBodyToTCPConnection(t *testing.T) {
	t.Parallel()
	content := make([]byte, 3<<20+12345)
	for i := range content {
		content[i] = byte(rand.Uint32())
	}
	hdr := storageServing(t, int64(len(content)), func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(len(content)))
		_, _ = w.Write(content)
	})
	d := &Dispatcher{CallTimeout: 5 * time.Second}
	body, closeFn, err := d.fetchDirect(t.Context(), hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	if _, ok := body.(*rawBody); !ok {
		t.Fatalf("a plain-HTTP hand-off is read as %T, want *rawBody", body)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	got := make(chan [32]byte, 1)
	go func() {
		c, err := l.Accept()
		if err != nil {
			got <- [32]byte{}
			return
		}
		defer c.Close()
		h := sha256.New()
		_, _ = io.Copy(h, c)
		got <- [32]byte(h.Sum(nil))
	}()
	dst, err := net.Dial("tcp", l.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	n, err := body.(io.WriterTo).WriteTo(dst)
	dst.Close()
	if err != nil || n != int64(len(content)) {
		t.Fatalf("WriteTo = %d, %v; want %d bytes", n, err, len(content))
	}
	if <-got != sha256.Sum256(content) {
		t.Error("the bytes that arrived differ from the stored ones")
	}
}

// A storage that stops sending fails the read after the stall time, naming the stall; one
// that ends early fails it as short; a chunked body is read through net/http's decoding.
func TestRawBodyStallShortAndChunked(t *testing.T) {
	t.Parallel()
	const size = 1 << 20
	stalled := storageServing(t, size, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = w.Write(make([]byte, 1000))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the gateway closed the connection
	})
	d := &Dispatcher{CallTimeout: 300 * time.Millisecond}
	// One sink takes the bytes with ReadFrom, the other only with Write.
	for _, sink := range []io.Writer{io.Discard, struct{ io.Writer }{&bytes.Buffer{}}} {
		body, closeFn, err := d.fetchDirect(t.Context(), stalled)
		if err != nil {
			t.Fatal(err)
		}
		n, err := body.(io.WriterTo).WriteTo(sink)
		closeFn()
		if err == nil || !strings.Contains(err.Error(), "no progress for 300ms") || n != 1000 {
			t.Errorf("stalled storage into %T: %d bytes, %v; want 1000 and a stall", sink, n, err)
		}
	}

	short := storageServing(t, size, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = w.Write(make([]byte, 5000))
		panic(http.ErrAbortHandler) // the connection ends early
	})
	body, closeFn, err := d.fetchDirect(t.Context(), short)
	if err != nil {
		t.Fatal(err)
	}
	_, err = body.(io.WriterTo).WriteTo(&bytes.Buffer{})
	closeFn()
	if err == nil {
		t.Error("a body that ended early was accepted")
	}

	content := bytes.Repeat([]byte("chunked "), 40000)
	chunked := storageServing(t, int64(len(content)), func(w http.ResponseWriter, r *http.Request) {
		for p := range slices.Chunk(content, 70000) {
			_, _ = w.Write(p)
			w.(http.Flusher).Flush()
		}
	})
	body, closeFn, err = d.fetchDirect(t.Context(), chunked)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	_, err = body.(io.WriterTo).WriteTo(&buf)
	closeFn()
	if err != nil || !bytes.Equal(buf.Bytes(), content) {
		t.Errorf("chunked body: %d bytes, %v", buf.Len(), err)
	}
}

// A client that leaves ends the storage read at once.
func TestRawBodyEndsWithContext(t *testing.T) {
	t.Parallel()
	hdr := storageServing(t, 1<<20, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(1<<20))
		w.(http.Flusher).Flush()
		<-r.Context().Done() // the gateway closed the connection
	})
	d := &Dispatcher{CallTimeout: time.Minute}
	ctx, cancel := context.WithCancel(t.Context())
	body, closeFn, err := d.fetchDirect(ctx, hdr)
	if err != nil {
		t.Fatal(err)
	}
	defer closeFn()
	time.AfterFunc(100*time.Millisecond, cancel)
	done := make(chan error, 1)
	go func() { _, err := body.(io.WriterTo).WriteTo(io.Discard); done <- err }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("the read ended without an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the read went on after the client left")
	}
}

// A storage whose answer's header does not end is refused once the header passes its bound,
// without holding more than that.
func TestRawBodyEndlessHeader(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		c, err := l.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = c.Write([]byte("HTTP/1.1 200 OK\r\n"))
		line := []byte("X-Padding: " + strings.Repeat("a", 1000) + "\r\n")
		for {
			if _, err := c.Write(line); err != nil {
				return
			}
		}
	}()
	d := &Dispatcher{CallTimeout: 5 * time.Second}
	hdr := &retrievev1.ComponentHeader{ComponentId: "big", Size: 10, TotalSize: 10, DirectUrl: "http://" + l.Addr().String() + "/bucket/key"}
	if _, _, err := d.fetchDirect(t.Context(), hdr); err == nil || !strings.Contains(err.Error(), "unavailable") {
		t.Errorf("an endless header: %v; want Unavailable", err)
	}
}

// stepRecorder takes a hand-off's bytes through ReadFrom, as a plaintext client connection
// does, recording each step's size, after a pause of its own per step.
type stepRecorder struct {
	steps []int64
	pause time.Duration
}

func (s *stepRecorder) Write(p []byte) (int, error) { return len(p), nil }

func (s *stepRecorder) ReadFrom(r io.Reader) (int64, error) {
	if lr, ok := r.(*io.LimitedReader); ok {
		s.steps = append(s.steps, lr.N)
	}
	time.Sleep(s.pause)
	return io.Copy(io.Discard, r)
}

// Steps start at 256 KiB and grow to 1 MiB once the client has taken FastAfter bytes with no
// step lasting SlowWrite; a client whose steps take longer keeps the small ones.
func TestRawBodyStepsGrowForFastClients(t *testing.T) {
	t.Parallel()
	const size = 3 << 20
	content := make([]byte, size)
	hdr := storageServing(t, size, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		_, _ = w.Write(content)
	})
	d := &Dispatcher{CallTimeout: 5 * time.Second, FastAfter: 1 << 20, SlowWrite: 200 * time.Millisecond}
	for _, tc := range []struct {
		pause     time.Duration
		wantLarge bool
	}{{0, true}, {250 * time.Millisecond, false}} {
		body, closeFn, err := d.fetchDirect(t.Context(), hdr)
		if err != nil {
			t.Fatal(err)
		}
		rec := &stepRecorder{pause: tc.pause}
		n, err := body.(io.WriterTo).WriteTo(rec)
		closeFn()
		if err != nil || n != size {
			t.Fatalf("pause %s: %d bytes, %v", tc.pause, n, err)
		}
		large := slices.Contains(rec.steps, 1<<20)
		if large != tc.wantLarge || slices.Max(rec.steps) > 1<<20 || rec.steps[0] > directCopySize {
			t.Errorf("pause %s: steps %v; want 1 MiB steps: %v", tc.pause, rec.steps, tc.wantLarge)
		}
	}
}
