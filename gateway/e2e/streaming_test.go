package e2e_test

import (
	"crypto/rand"
	"crypto/sha256"
	"hash"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/envelope"
)

// addBigObject stores a component of size bytes as object qid and returns its SHA-256.
func (s *system) addBigObject(t *testing.T, qid, shard string, size int64) [32]byte {
	t.Helper()
	dir := filepath.Join(s.dataDir, "main", shard, qid, "components")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.Create(filepath.Join(dir, "big.bin"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	if _, err := io.CopyN(io.MultiWriter(f, h), rand.Reader, size); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	rec := `{"kernel":{"fdo:hasComponent":[{"componentId":"big.bin","mediaType":"application/octet-stream"}]}}`
	if err := os.WriteFile(filepath.Join(s.dataDir, "records", qid+".json"), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return sum
}

// rssMiB reads a process's resident memory.
func rssMiB(t *testing.T, p *proc) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(p.cmd.Process.Pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb >> 10
		}
	}
	return 0
}

// samplePeakRSS samples p's RSS every 20 ms until the returned function is called, which
// returns the peak in MiB.
func samplePeakRSS(t *testing.T, p *proc) func() int64 {
	stop, peak := make(chan struct{}), make(chan int64, 1)
	go func() {
		var m int64
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				peak <- m
				return
			case <-tick.C:
				m = max(m, rssMiB(t, p))
			}
		}
	}()
	return func() int64 {
		close(stop)
		return <-peak
	}
}

// A slow client holds back the whole chain: while it has taken only 1 MiB of a 256 MiB
// component, neither the gateway nor retrieve-svc holds the object in memory; the bytes
// that finally arrive are the stored ones.
func TestSlowClientBackPressure(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	const size = 256 << 20
	want := s.addBigObject(t, "Q900256", "90/02/56", size)
	c := s.dial(t)
	sw := &stallWriter{h: sha256.New(), after: 1 << 20, stalled: make(chan struct{}), release: make(chan struct{})}
	done := make(chan error, 1)
	go func() {
		_, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q900256", Metadata: map[string]any{"element": "big.bin"}},
			&client.Sink{Open: func(string, string, int64) (io.Writer, error) { return sw, nil }})
		done <- err
	}()
	<-sw.stalled
	var peakGW, peakRS int64
	for range 30 { // 1.5 s of a stalled client: the windows and buffers fill, then everything waits
		time.Sleep(50 * time.Millisecond)
		peakGW, peakRS = max(peakGW, rssMiB(t, s.gateway)), max(peakRS, rssMiB(t, s.retrieve))
	}
	close(sw.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	t.Logf("peak RSS while the client stalled: gateway %d MiB, retrieve-svc %d MiB", peakGW, peakRS)
	const bound = 96 // MiB, far below the object's 256
	if peakGW > bound || peakRS > bound {
		t.Errorf("while the client stalled: gateway %d MiB, retrieve-svc %d MiB; want both under %d MiB", peakGW, peakRS, bound)
	}
	var got [32]byte
	copy(got[:], sw.h.Sum(nil))
	if sw.n != size || got != want {
		t.Errorf("received %d bytes, checksum match %v", sw.n, got == want)
	}
}

// stallWriter hashes what it is given and, once it has taken after bytes, blocks until
// release is closed.
type stallWriter struct {
	h              hash.Hash
	n, after       int64
	stalled        chan struct{}
	release        chan struct{}
	stalledAlready bool
}

func (w *stallWriter) Write(p []byte) (int, error) {
	if w.n >= w.after && !w.stalledAlready {
		w.stalledAlready = true
		close(w.stalled)
		<-w.release
	}
	w.n += int64(len(p))
	return w.h.Write(p)
}

// A client that hangs up mid-download cancels the upstream read at once.
func TestDisconnectCancelsUpstream(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	s.addBigObject(t, "Q900257", "90/02/57", 256<<20)
	nc, err := net.Dial("tcp", s.envelopeAddr())
	if err != nil {
		t.Fatal(err)
	}
	req, _ := (&envelope.Message{Header: envelope.Header{Type: envelope.TypeRequest, Op: doip.OpRetrieve}, ObjectID: "Q900257",
		Blocks: []envelope.Block{&envelope.MetadataBlock{JSON: []byte(`{"element":"big.bin"}`)}}}).Append(nil)
	if _, err := nc.Write(req); err != nil {
		t.Fatal(err)
	}
	if _, err := io.CopyN(io.Discard, nc, 4<<20); err != nil {
		t.Fatal(err)
	}
	nc.Close()
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(s.retrieve.logText(), `"msg":"component stream failed"`) {
		if time.Now().After(deadline) {
			t.Fatal("retrieve-svc kept streaming after the client hung up")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if strings.Contains(s.retrieve.logText(), `"msg":"component streamed"`) {
		t.Error("retrieve-svc streamed the whole component to a client that was gone")
	}
}
