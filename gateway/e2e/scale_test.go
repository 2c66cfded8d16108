package e2e_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/shared/tooltest"
	"golang.org/x/net/dns/dnsmessage"
)

// dnsServer answers A queries for one name on loopback with the addresses the test sets,
// the way a headless Service's DNS answers with its ready pods. Every other question gets
// an empty answer. Workers behind the name listen on distinct loopback addresses
// (127.0.0.10, .11, …) and one port, because an A record carries no port.
type dnsServer struct {
	pc   net.PacketConn
	name dnsmessage.Name
	mu   sync.Mutex
	ips  []netip.Addr
}

func startDNS(t testing.TB, name string) *dnsServer {
	t.Helper()
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &dnsServer{pc: pc, name: dnsmessage.MustNewName(name + ".")}
	go d.serve()
	t.Cleanup(func() { pc.Close() })
	return d
}

func (d *dnsServer) set(ips ...netip.Addr) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ips = append([]netip.Addr(nil), ips...)
}

func (d *dnsServer) serve() {
	buf := make([]byte, 1500)
	for {
		n, from, err := d.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		var p dnsmessage.Parser
		h, err := p.Start(buf[:n])
		if err != nil {
			continue
		}
		q, err := p.Question()
		if err != nil {
			continue
		}
		b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true})
		b.EnableCompression()
		_ = b.StartQuestions()
		_ = b.Question(q)
		_ = b.StartAnswers()
		if q.Type == dnsmessage.TypeA && strings.EqualFold(q.Name.String(), d.name.String()) {
			d.mu.Lock()
			for _, ip := range d.ips {
				_ = b.AResource(dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 0},
					dnsmessage.AResource{A: ip.As4()})
			}
			d.mu.Unlock()
		}
		if msg, err := b.Finish(); err == nil {
			_, _ = d.pc.WriteTo(msg, from)
		}
	}
}

// scaleSystem is retrieve-svc, a gateway that dials invoke-svc by a DNS name, and workers
// added and removed behind that name.
type scaleSystem struct {
	t         testing.TB
	dns       *dnsServer
	retrieve  *proc
	port      int // every worker's gRPC port
	workerEnv []string
	mu        sync.Mutex
	workers   map[netip.Addr]*proc // the workers the name resolves to
	gone      []*proc              // workers taken away
	next      int
	gateway   *proc
	gwArgs    []string
}

const scaleName = "invoke.scale.test"

// startScaleSystem starts retrieve-svc, n workers and the gateway. The workers end each
// gateway connection after one second, so the gateway resolves the name again.
func startScaleSystem(t testing.TB, n int, workerEnv []string, gatewayArgs ...string) *scaleSystem {
	t.Helper()
	s := &scaleSystem{t: t, dns: startDNS(t, scaleName), workers: map[netip.Addr]*proc{}, next: 10,
		workerEnv: append([]string{"GRPC_MAX_CONNECTION_AGE=1s", "GRPC_MAX_CONNECTION_AGE_GRACE=1m"}, workerEnv...)}
	s.retrieve = start(t, "retrieve-svc", 1, []string{"--listen", "127.0.0.1:0", "--data-dir", filepath.Join(t.TempDir(), "data")})
	l, err := net.Listen("tcp", "127.0.0.10:0")
	if err != nil {
		t.Fatal(err)
	}
	s.port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	for range n {
		s.addWorker()
	}
	s.gwArgs = append([]string{"--host", "127.0.0.1", "--port", "0", "--tls-mode", "off",
		"--retrieve-addr", s.retrieve.addr("grpc"),
		"--invoke-addr", fmt.Sprintf("dns://%s/%s:%d", s.dns.pc.LocalAddr(), scaleName, s.port),
		"--call-timeout", "5s", "--max-conns-per-ip", "0"}, gatewayArgs...)
	s.gateway = start(t, "doip-gateway", 2, s.gwArgs)
	return s
}

func (s *scaleSystem) publish() {
	ips := make([]netip.Addr, 0, len(s.workers))
	for ip := range s.workers {
		ips = append(ips, ip)
	}
	s.dns.set(ips...)
}

// addWorker starts one more worker on the next loopback address and puts it in the answer.
func (s *scaleSystem) addWorker() *proc {
	s.mu.Lock()
	ip := netip.AddrFrom4([4]byte{127, 0, 0, byte(s.next)})
	s.next++
	s.mu.Unlock()
	w := start(s.t, "invoke-svc", 1, []string{"--listen", net.JoinHostPort(ip.String(), strconv.Itoa(s.port)),
		"--retrieve-addr", s.retrieve.addr("grpc")}, s.workerEnv...)
	s.mu.Lock()
	s.workers[ip] = w
	s.publish()
	s.mu.Unlock()
	return w
}

// removeWorker takes the oldest worker out of the answer and stops it the way Kubernetes
// does: it leaves DNS, then gets SIGTERM and drains.
func (s *scaleSystem) removeWorker() *proc {
	s.mu.Lock()
	var ip netip.Addr
	for a := range s.workers {
		if !ip.IsValid() || a.Less(ip) {
			ip = a
		}
	}
	w := s.workers[ip]
	delete(s.workers, ip)
	s.gone = append(s.gone, w)
	s.publish()
	s.mu.Unlock()
	w.stop(s.t)
	return w
}

// runsDone counts the runs every worker, present or gone, finished.
func (s *scaleSystem) runsDone() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, w := range append(s.all(), s.gone...) {
		n += strings.Count(w.logText(), `"msg":"invoke done"`)
	}
	return n
}

func (s *scaleSystem) all() []*proc {
	var ws []*proc
	for _, w := range s.workers {
		ws = append(ws, w)
	}
	return ws
}

// echoRun invokes echo with a fixed cost (delay) and an id that the result must carry back.
func echoRun(ctx context.Context, c *client.Conn, id, delay string) error {
	resp, err := c.Do(ctx, client.Request{Op: doip.OpInvoke, ObjectID: "Q123",
		Metadata: map[string]any{"workflow": "echo", "params": map[string]any{"run": id, "delay": delay}}}, nil)
	if err != nil {
		return err
	}
	if !strings.Contains(string(resp.Metadata)+string(resp.Workflow), `"run":"`+id+`"`) {
		return fmt.Errorf("run %s answered with another run's result: %s %s", id, resp.Metadata, resp.Workflow)
	}
	return nil
}

// load is a steady load: clients, each on its own connection, invoke runs one after another
// until stopped. Each run has a unique id.
type load struct {
	started, ok atomic.Int64
	mu          sync.Mutex
	errs        []error
	stop        chan struct{}
	once        sync.Once
	wg          sync.WaitGroup
}

func startLoad(t testing.TB, addr func() string, clients int, delay string, redial bool) *load {
	l := &load{stop: make(chan struct{})}
	for i := range clients {
		l.wg.Go(func() {
			var c *client.Conn
			defer func() {
				if c != nil {
					c.Close()
				}
			}()
			for j := 0; ; j++ {
				select {
				case <-l.stop:
					return
				default:
				}
				if c == nil {
					ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
					var err error
					c, err = client.Dial(ctx, addr(), nil)
					cancel()
					if err != nil {
						l.fail(err)
						time.Sleep(50 * time.Millisecond)
						continue
					}
					c.Timeout = 30 * time.Second
				}
				l.started.Add(1)
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				err := echoRun(ctx, c, fmt.Sprintf("c%d-%d", i, j), delay)
				cancel()
				if err == nil {
					l.ok.Add(1)
					continue
				}
				l.fail(err)
				if !redial {
					return
				}
				c.Close()
				c = nil
				time.Sleep(50 * time.Millisecond)
			}
		})
	}
	return l
}

func (l *load) fail(err error) {
	l.mu.Lock()
	l.errs = append(l.errs, err)
	l.mu.Unlock()
}

// end stops the clients and waits for them; it may be called again.
func (l *load) end() {
	l.once.Do(func() { close(l.stop) })
	l.wg.Wait()
}

// waitFor polls cond until it holds or the bound passes, and says how long it took.
func waitFor(t testing.TB, bound time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	begin := time.Now()
	for time.Since(begin) < bound {
		if cond() {
			return time.Since(begin)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s", what, bound)
	return 0
}

// TestWorkersFollowThePodsUnderLoad: under a steady load, a worker added behind the DNS name
// gets runs within seconds (the workers' maximum connection age makes the gateway resolve the
// name again, at most every dns-min-resolution-interval, default 2 s), and a worker taken out
// of the name and drained finishes its runs and takes no new ones. No run is lost (every
// client gets its own result) and none is run twice (the workers finished exactly as many runs
// as the clients asked for).
func TestWorkersFollowThePodsUnderLoad(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startScaleSystem(t, 1, nil)
	l := startLoad(t, func() string { return s.gateway.addr("envelope") }, 8, "20ms", false)
	defer l.end()
	waitFor(t, 10*time.Second, "first runs", func() bool { return l.ok.Load() >= 20 })

	for range 2 {
		w := s.addWorker()
		took := waitFor(t, 20*time.Second, "a run on the added worker", func() bool {
			return strings.Contains(w.logText(), `"msg":"invoke done"`)
		})
		t.Logf("the added worker finished its first run %s after it was published", took.Round(time.Millisecond))
	}
	gone := s.removeWorker()
	doneByGone := strings.Count(gone.logText(), `"msg":"invoke done"`)
	before := l.ok.Load()
	waitFor(t, 10*time.Second, "runs after a worker drained", func() bool { return l.ok.Load() >= before+50 })
	w := s.addWorker()
	waitFor(t, 20*time.Second, "a run on the worker added last", func() bool {
		return strings.Contains(w.logText(), `"msg":"invoke done"`)
	})
	l.end()
	started, ok := l.started.Load(), l.ok.Load()
	if started != ok {
		t.Errorf("%d runs started, %d answered with their own result", started, ok)
	}
	// A worker logs "invoke done" just after it sent the result: give the last lines a moment.
	for deadline := time.Now().Add(5 * time.Second); int64(s.runsDone()) < ok && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	if done := s.runsDone(); int64(done) != ok {
		t.Errorf("workers finished %d runs for %d asked: runs were lost or run twice", done, ok)
	}
	t.Logf("%d runs; the drained worker finished %d before it stopped", ok, doneByGone)
	for _, w := range append(s.all(), s.gone...) {
		if strings.Contains(w.logText(), `"msg":"invoke cancelled"`) {
			t.Error("a run was cancelled (the drained worker must finish its runs)")
		}
	}
}

// TestGatewayKilledUnderLoad: a gateway killed under load cuts its clients' connections; they
// see a cut connection or Unavailable (never a wrong answer), and once a gateway runs again on
// the same ports every client's runs succeed again. The new gateway needs nothing from the
// old one.
func TestGatewayKilledUnderLoad(t *testing.T) {
	skipShort(t)
	t.Parallel()
	// The restarted gateway must get the same two ports back, so they are chosen below the
	// kernel's range of ports for outgoing connections: no client or other test's connection
	// can take the segments port while no gateway holds it.
	port, err := tooltest.FreePorts(2)
	if err != nil {
		t.Fatal(err)
	}
	s := startScaleSystem(t, 2, nil, "--port", strconv.Itoa(port))
	var addr atomic.Value
	addr.Store(s.gateway.addr("envelope"))
	l := startLoad(t, func() string { return addr.Load().(string) }, 8, "200ms", true)
	defer l.end()
	waitFor(t, 10*time.Second, "first runs", func() bool { return l.ok.Load() >= 20 })

	_ = s.gateway.cmd.Process.Signal(syscall.SIGKILL)
	<-s.gateway.done
	p := strconv.Itoa(port)
	waitFor(t, 10*time.Second, "clients noticing", func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return len(l.errs) >= 8
	})
	okAtKill := l.ok.Load()
	args := append([]string(nil), s.gwArgs...)
	for i, a := range args {
		if a == "--port" {
			args[i+1] = p
		}
	}
	// The same ports; a start that finds one still taken (a listener of another test that
	// picked it a moment ago) is tried again for a while.
	args = append(args, "--http-port", "off")
	for try := 1; ; try++ {
		g, err := tryStart(t, "doip-gateway", 2, args)
		if err == nil {
			s.gateway = g
			break
		}
		if try == 20 || !strings.Contains(err.Error(), "address already in use") {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
	}
	took := waitFor(t, 30*time.Second, "recovery", func() bool { return l.ok.Load() >= okAtKill+40 })
	t.Logf("clients ran again %s after the new gateway listened", took.Round(time.Millisecond))
	l.end()
	kinds := map[string]int{}
	for _, err := range l.errs {
		var de *doip.Error
		var ne *net.OpError
		switch {
		case errors.As(err, &de) && de.Kind == doip.KindUnavailable:
			kinds["unavailable"]++
		case errors.As(err, &ne), errors.Is(err, syscall.ECONNREFUSED), errors.Is(err, syscall.ECONNRESET),
			strings.Contains(err.Error(), "EOF"):
			kinds["cut or refused"]++
		default:
			t.Errorf("a client saw %v; want a cut connection or Unavailable", err)
		}
	}
	t.Logf("client errors while no gateway ran: %v", kinds)
}

var (
	scaleSweep  = flag.String("scale.sweep", "", "worker counts for TestScaleSweep, e.g. 1,2,4,8 (empty: skipped)")
	scaleWindow = flag.Duration("scale.window", 5*time.Second, "how long TestScaleSweep measures each worker count")
	scaleDelay  = flag.String("scale.delay", "50ms", "the fixed cost of one run in TestScaleSweep (echo's delay)")
)

// cpuTime is the user plus system CPU time a process has used, from /proc.
func cpuTime(t testing.TB, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	// Fields after the command name, which is in parentheses: utime and stime are 14 and 15.
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(u+s) * time.Second / 100 // USER_HZ is 100 on Linux
}

// rss is a process's resident set size in bytes, from /proc.
func rss(t testing.TB, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestScaleSweep measures workflow runs per second through one gateway with 1, 2, 4, 8
// workers (-scale.sweep). Each run costs a fixed time (echo's delay) and no CPU, so the ideal
// is workers × MAX_CONCURRENT (4) / delay, whatever the machine's cores; what falls short of
// it is the overhead of the gateway, the workers and the test's clients. Eight clients per
// worker keep every run slot busy. It prints a table for BENCHMARKS.md.
func TestScaleSweep(t *testing.T) {
	skipShort(t)
	if *scaleSweep == "" {
		t.Skip("set -scale.sweep=1,2,4,8 to measure")
	}
	delay, err := time.ParseDuration(*scaleDelay)
	if err != nil {
		t.Fatal(err)
	}
	var rows []string
	for _, f := range strings.Split(*scaleSweep, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 {
			t.Fatalf("-scale.sweep: %q", f)
		}
		t.Run(fmt.Sprintf("workers=%d", n), func(t *testing.T) {
			s := startScaleSystem(t, n, []string{"GRPC_MAX_CONNECTION_AGE=30s"})
			l := startLoad(t, func() string { return s.gateway.addr("envelope") }, 8*n, *scaleDelay, false)
			defer l.end()
			time.Sleep(time.Second) // connections open, every slot busy
			gw := s.gateway.cmd.Process.Pid
			ok0, cpu0, t0 := l.ok.Load(), cpuTime(t, gw), time.Now()
			time.Sleep(*scaleWindow)
			ok1, cpu1, t1 := l.ok.Load(), cpuTime(t, gw), time.Now()
			l.end()
			if len(l.errs) > 0 {
				t.Errorf("%d runs failed, first: %v", len(l.errs), l.errs[0])
			}
			runs := float64(ok1-ok0) / t1.Sub(t0).Seconds()
			ideal := float64(n*4) / delay.Seconds()
			perRun := (cpu1 - cpu0) / time.Duration(max(ok1-ok0, 1))
			load, _ := os.ReadFile("/proc/loadavg")
			row := fmt.Sprintf("| %d | %d | %.0f | %.0f | %.0f %% | %s | %.0f | %s |", n, 8*n, runs, ideal, 100*runs/ideal,
				perRun.Round(time.Microsecond), float64(rss(t, gw))/(1<<20), strings.Join(strings.Fields(string(load))[:3], " "))
			t.Log(row)
			rows = append(rows, row)
		})
	}
	t.Logf("\n| workers | clients | runs/s | ideal | of ideal | gateway CPU per run | gateway RSS MiB | load avg |\n|---|---|---|---|---|---|---|---|\n%s",
		strings.Join(rows, "\n"))
}

var (
	scaleConns  = flag.Int("scale.conns", 0, "idle connections TestConnectionMemory opens to one gateway (0: skipped; the fd limit bounds it)")
	scaleActive = flag.Int("scale.active", 1000, "how many of TestConnectionMemory's connections then run a workflow at once")
)

// TestConnectionMemory measures the gateway's resident memory per idle connection (open,
// one hello answered) and per active one (a workflow run in flight through it), up to
// -scale.conns connections on loopback. The runs wait in echo's delay on a worker with a run
// slot for each, so each active connection holds one gRPC stream to the worker.
func TestConnectionMemory(t *testing.T) {
	skipShort(t)
	n, active := *scaleConns, *scaleActive
	if n == 0 {
		t.Skip("set -scale.conns=N to measure")
	}
	active = min(active, n)
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	lim.Cur = lim.Max
	_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim)
	if uint64(n)+200 > lim.Cur {
		t.Fatalf("-scale.conns=%d needs more than the %d open files allowed here", n, lim.Cur)
	}
	s := startScaleSystem(t, 1, []string{"MAX_CONCURRENT=" + strconv.Itoa(active+10), "LOG_LEVEL=info"},
		"--max-conns", strconv.Itoa(n+100), "--max-backend-calls", strconv.Itoa(active+100), "--idle-timeout", "10m")
	gw := s.gateway.cmd.Process.Pid
	addr := s.gateway.addr("envelope")
	hello := func(c *client.Conn) error {
		_, err := c.Do(t.Context(), client.Request{Op: doip.OpHello}, nil)
		return err
	}
	// One connection and one run first, so that what is measured is per connection.
	first := s.dialN(t, addr, 1)
	if err := hello(first[0]); err != nil {
		t.Fatal(err)
	}
	if err := echoRun(t.Context(), first[0], "warm", "0s"); err != nil {
		t.Fatal(err)
	}
	time.Sleep(500 * time.Millisecond)
	base := rss(t, gw)
	begin := time.Now()
	conns := s.dialN(t, addr, n)
	var wg sync.WaitGroup
	var failed atomic.Int64
	sem := make(chan struct{}, 64)
	for _, c := range conns {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if hello(c) != nil {
				failed.Add(1)
			}
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d hellos failed", failed.Load())
	}
	time.Sleep(time.Second)
	idle := rss(t, gw)
	t.Logf("%d idle connections opened in %s: gateway RSS %.1f MiB → %.1f MiB, %.1f KiB per idle connection",
		n, time.Since(begin).Round(time.Millisecond), float64(base)/(1<<20), float64(idle)/(1<<20), float64(idle-base)/1024/float64(n))

	ctx, cancel := context.WithCancel(t.Context())
	var runs sync.WaitGroup
	for i, c := range conns[:active] {
		runs.Go(func() { _ = echoRun(ctx, c, "a"+strconv.Itoa(i), "50s") })
	}
	waitFor(t, 60*time.Second, "runs in flight", func() bool {
		return inFlight(t, s) >= active
	})
	time.Sleep(time.Second)
	busy := rss(t, gw)
	t.Logf("%d of them with a run in flight: gateway RSS %.1f MiB, %.1f KiB more per active connection",
		active, float64(busy)/(1<<20), float64(busy-idle)/1024/float64(active))
	load, _ := os.ReadFile("/proc/loadavg")
	t.Logf("| %d | %.1f | %.1f | %d | %.1f | %.1f | %s |", n, float64(idle)/(1<<20), float64(idle-base)/1024/float64(n),
		active, float64(busy)/(1<<20), float64(busy-idle)/1024/float64(active), strings.Join(strings.Fields(string(load))[:3], " "))
	cancel()
	for _, c := range conns {
		c.Close()
	}
	runs.Wait()
}

// inFlight reads invoke-svc's workflow_runs_in_flight from its first worker's /metrics.
func inFlight(t testing.TB, s *scaleSystem) int {
	s.mu.Lock()
	w := s.all()[0]
	s.mu.Unlock()
	m := adminAddrRE.FindStringSubmatch(w.logText())
	if m == nil {
		t.Fatalf("the worker logged no admin address:\n%s", w.logText())
	}
	a := m[1]
	resp, err := http.Get("http://" + a + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for line := range strings.Lines(string(b)) {
		if rest, ok := strings.CutPrefix(line, "workflow_runs_in_flight "); ok {
			v, _ := strconv.ParseFloat(strings.TrimSpace(rest), 64)
			return int(v)
		}
	}
	return 0
}

// dialN opens n plaintext connections to addr, 64 at a time; they close when the test ends.
func (s *scaleSystem) dialN(t testing.TB, addr string, n int) []*client.Conn {
	t.Helper()
	conns := make([]*client.Conn, n)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var first error
	sem := make(chan struct{}, 64)
	for i := range conns {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			c, err := client.Dial(ctx, addr, nil)
			if err != nil {
				mu.Lock()
				first = cmp.Or(first, err)
				mu.Unlock()
				return
			}
			c.Timeout = 2 * time.Minute
			conns[i] = c
		})
	}
	wg.Wait()
	t.Cleanup(func() {
		for _, c := range conns {
			if c != nil {
				c.Close()
			}
		}
	})
	if first != nil {
		t.Fatalf("dial: %v", first)
	}
	return conns
}
