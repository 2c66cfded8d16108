package e2e_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// The hostile-client suite: every case talks to a real gateway over loopback, is bounded in
// count and time, and checks that the client got an error answer or a timely close, and that
// afterwards the gateway still answers hello with its memory under a stated bound.

// hostileArgs make the gateway's deadlines short, so that stalls end quickly.
var hostileArgs = []string{"--handshake-timeout", "1s", "--read-timeout", "1s", "--idle-timeout", "3s",
	"--max-payload", "65536", "--max-segment", "16384"}

// closeBound is how long a hostile connection may stay open after its last byte: the read
// timeout plus the lingering close plus slack for a loaded machine.
const closeBound = 6 * time.Second

// drain reads until the server closes, and fails if it does not close within closeBound.
func drain(t *testing.T, name string, c net.Conn) []byte {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(closeBound))
	b, err := io.ReadAll(c)
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		t.Errorf("%s: connection still open after %s", name, closeBound)
	}
	return b
}

func dialRaw(t *testing.T, addr string) net.Conn {
	t.Helper()
	c, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func (s *system) stillHealthy(t *testing.T, after string, boundMiB int64) {
	t.Helper()
	c := s.dial(t)
	if _, err := c.Do(t.Context(), client.Request{Op: doip.OpHello}, nil); err != nil {
		t.Fatalf("after %s the gateway no longer answers hello: %v", after, err)
	}
	if rss := rssMiB(t, s.gateway); rss > boundMiB {
		t.Errorf("after %s the gateway uses %d MiB, over the %d MiB bound", after, rss, boundMiB)
	}
}

func TestHostileFrames(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t, hostileArgs...)
	env, seg := s.envelopeAddr(), s.segmentsAddr()
	random := make([]byte, 64<<10)
	_, _ = rand.Read(random)
	deep := `{"targetId":"Q1","operationId":"0.DOIP/Op.Retrieve","attributes":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + "}\n#\n#\n"
	for _, tc := range []struct {
		name, addr string
		in         []byte
		// wantPrefix, when set, must start the answer (an error reply in the right framing);
		// otherwise a close without an answer is fine too.
		wantPrefix string
	}{
		{"envelope: payload of 4 GiB", env, []byte("\x02\x01\x01\x00\x00\x00\xff\xff\xff\xff"), "\x02\x7f"},
		{"envelope: object id of 64 KiB", env, []byte("\x02\x01\x02\x00\xff\xff\x00\x00\x00\x00"), "\x02\x7f"},
		{"envelope: truncated header", env, []byte("\x02\x01\x01\x00\x00"), ""},
		{"envelope: truncated payload", env, []byte("\x02\x01\x01\x00\x00\x00\x00\x00\x00\x20\x01\x00\x00"), ""},
		{"envelope: unknown block type", env, []byte("\x02\x01\x01\x00\x00\x00\x00\x00\x00\x05\x0b\x00\x00\x00\x00"), "\x02\x7f"},
		{"envelope: metadata is an array", env, []byte("\x02\x01\x01\x00\x00\x00\x00\x00\x00\x0a\x01\x00\x00\x00\x05[1,2]"), "\x02\x7f"},
		{"envelope: random bytes", env, random, ""},
		{"standard: chunk of 999999999 bytes", seg, []byte("{\"targetId\":\"x\",\"operationId\":\"y\"}\n#\n@\n999999999\nabc"), `{"status":"0.DOIP/Status.101"`},
		{"standard: JSON nested 5000 deep", seg, []byte(deep), `{"status":"0.DOIP/Status.101"`},
		{"standard: segment over the cap", seg, []byte(`{"targetId":"` + strings.Repeat("a", 20000) + "\"}\n#\n#\n"), `{"status":"0.DOIP/Status.101"`},
		{"standard: no end", seg, []byte("{\"targetId\":\"Q1\",\"operationId\":\"0.DOIP/Op.Hello\"}\n#\n"), ""},
		{"segments: length of 4 GiB", seg, []byte("\xff\xff\xff\xff"), "\x00\x00\x00"},
		{"segments: JSON array", seg, []byte("[1,2]"), ""},
		{"segments: random bytes", seg, random, ""},
	} {
		c := dialRaw(t, tc.addr)
		if _, err := c.Write(tc.in); err != nil && !errors.Is(err, net.ErrClosed) {
			// The server may close before reading everything; that is an answer too.
			t.Logf("%s: write: %v", tc.name, err)
		}
		got := drain(t, tc.name, c)
		if tc.wantPrefix != "" && !bytes.HasPrefix(got, []byte(tc.wantPrefix)) {
			t.Errorf("%s: answer %q, want one starting %q", tc.name, got[:min(len(got), 80)], tc.wantPrefix)
		}
	}
	s.stillHealthy(t, "malformed frames", 128)
}

// Requests that are wrong but well framed are answered, and the connection stays open.
func TestHostileRequestsAnswered(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t, hostileArgs...)
	c := s.dial(t)
	for _, tc := range []struct {
		name string
		req  client.Request
		kind doip.ErrorKind
	}{
		{"invalid UTF-8 object id", client.Request{Op: doip.OpRetrieve, ObjectID: "Q\xff\xfe"}, doip.KindBadRequest},
		{"unknown operation", client.Request{Op: 0x0a, Metadata: map[string]any{"operation": "teleport"}}, doip.KindUnsupported},
		// Updates exist now; this gateway has no identity that may write.
		{"update", client.Request{Op: doip.OpUpdate, ObjectID: "Q123"}, doip.KindForbidden},
		{"component id of 4 KiB", client.Request{Op: doip.OpRetrieve, ObjectID: "Q123", Metadata: map[string]any{"element": strings.Repeat("x", 4096)}}, doip.KindBadRequest},
		{"object id of 1 KiB", client.Request{Op: doip.OpRetrieve, ObjectID: "Q" + strings.Repeat("1", 1000)}, doip.KindBadRequest},
		{"params not an object", client.Request{Op: doip.OpInvoke, ObjectID: "Q123", Metadata: map[string]any{"workflow": "echo", "params": []int{1}}}, doip.KindBadRequest},
	} {
		_, err := c.Do(t.Context(), tc.req, nil)
		var de *doip.Error
		if !errors.As(err, &de) || de.Kind != tc.kind {
			t.Errorf("%s: %v, want %s", tc.name, err, tc.kind)
		}
	}
	std := tlsDial(t, s.segmentsAddr())
	if _, err := std.Write([]byte("{\"requestId\":\"u1\",\"targetId\":\"Q\xff\",\"operationId\":\"0.DOIP/Op.Retrieve\"}\n#\n#\n" +
		"{\"requestId\":\"u2\",\"targetId\":\"service\",\"operationId\":\"0.DOIP/Op.Teleport\"}\n#\n#\n")); err != nil {
		t.Fatal(err)
	}
	answers := readMessages(t, std, 2)
	if st := str(firstSegment(t, answers[0]), "status"); st == "0.DOIP/Status.001" {
		t.Errorf("invalid UTF-8 target answered %s", st)
	}
	if st := str(firstSegment(t, answers[1]), "status"); st != "0.DOIP/Status.200" {
		t.Errorf("unknown standard operation answered %s, want 200", st)
	}
	s.stillHealthy(t, "bad requests", 128)
}

// Slow writers are cut off by the read deadline; idle connections by the idle deadline.
func TestSlowAndIdleClients(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t, hostileArgs...)
	req := vector(t, "mardi-request-hello.bin")
	var wg sync.WaitGroup
	for i := range 20 {
		wg.Go(func() {
			c := dialRaw(t, s.envelopeAddr())
			start := time.Now()
			for _, b := range req {
				if _, err := c.Write([]byte{b}); err != nil {
					return // cut off: what we want
				}
				time.Sleep(250 * time.Millisecond)
				if time.Since(start) > closeBound+2*time.Second {
					t.Errorf("slow writer %d still connected after %s", i, time.Since(start))
					return
				}
			}
			drain(t, "slow writer", c)
		})
	}
	wg.Wait()
	s.stillHealthy(t, "slow writers", 128)
}

// 2,000 idle connections are held at a bounded cost and closed by the deadlines, while
// other clients are served; then a flood of connect/close.
func TestManyIdleConnectionsAndAFlood(t *testing.T) {
	skipShort(t)
	t.Parallel()
	// All from 127.0.0.1 here, so lift the per-address cap above the 2,000.
	s := startSystem(t, append(hostileArgs, "--max-conns-per-ip", "4000")...)
	const idle = 2000
	conns := make([]net.Conn, 0, idle)
	for range idle {
		c, err := net.DialTimeout("tcp", s.envelopeAddr(), 5*time.Second)
		if err != nil {
			t.Fatalf("after %d connections: %v", len(conns), err)
		}
		conns = append(conns, c)
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	s.stillHealthy(t, "2,000 idle connections", 160)
	t.Logf("gateway RSS with %d idle connections: %d MiB", idle, rssMiB(t, s.gateway))
	// The handshake deadline closes them all.
	for i, c := range conns {
		_ = c.SetReadDeadline(time.Now().Add(closeBound))
		if _, err := c.Read(make([]byte, 1)); err == nil || isTimeout(err) {
			t.Fatalf("idle connection %d not closed by the server: %v", i, err)
		}
	}
	for i := range 3000 {
		c, err := net.DialTimeout("tcp", s.envelopeAddr(), 5*time.Second)
		if err != nil {
			t.Fatalf("flood connection %d: %v", i, err)
		}
		if i%2 == 0 {
			_, _ = c.Write([]byte{0x02})
		}
		c.Close()
	}
	s.stillHealthy(t, "a flood of connect/close", 160)
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}
