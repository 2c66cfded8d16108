// Command doipbench is the load generator of the DOIP gateway. It runs one scenario against
// a gateway's binary port for a fixed time or number of requests, over any number of
// connections, and prints throughput, latency percentiles and, given process ids, the peak
// resident memory of those processes while the scenario ran (sampled from /proc).
//
//	doipbench -scenario hello -conns 1 -duration 5s
//	doipbench -scenario record -object Q123 -conns 16
//	doipbench -scenario component -object Q900001 -component big.bin -conns 1 -n 3 -pids gateway=1234,retrieve-svc=1235
//	doipbench -scenario hello-during-download -object Q900002 -component big.bin
//	AWS_ACCESS_KEY_ID=… AWS_SECRET_ACCESS_KEY=… doipbench -scenario s3-get -url http://127.0.0.1:9000/bucket/key -n 3
//	doipbench -scenario slow-readers -object Q900064 -component big.bin -conns 200 -rate 1024 -duration 30s -pids gateway=1234,retrieve-svc=1235
//
// Every request loop is bounded by -duration and -n; it talks only to the address given.
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "doipbench:", err)
		os.Exit(1)
	}
}

type config struct {
	addr      string
	scenario  string
	object    string
	component string
	conns     int
	duration  time.Duration
	n         int64
	pids      map[string]int
	jsonOut   bool
	rate      int
	url       string
}

func run(ctx context.Context, args []string, out io.Writer) error {
	var cfg config
	var pids string
	fs := flag.NewFlagSet("doipbench", flag.ContinueOnError)
	fs.StringVar(&cfg.addr, "addr", "127.0.0.1:3567", "gateway binary port")
	fs.StringVar(&cfg.scenario, "scenario", "hello", "hello, record, component, hello-during-download, slow-readers, or s3-get (the direct baseline)")
	fs.StringVar(&cfg.object, "object", "Q123", "object id for record and component scenarios")
	fs.StringVar(&cfg.component, "component", "main-pdf", "component id for the component scenarios")
	fs.IntVar(&cfg.conns, "conns", 1, "concurrent connections, each sending requests one after another")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "how long to run (upper bound)")
	fs.Int64Var(&cfg.n, "n", 0, "stop after this many requests in all (0: only -duration bounds)")
	fs.StringVar(&pids, "pids", "", "name=pid,... of processes whose peak RSS to report")
	fs.BoolVar(&cfg.jsonOut, "json", false, "print the result as one JSON object")
	fs.IntVar(&cfg.rate, "rate", 1024, "slow-readers: bytes per second each connection reads")
	fs.StringVar(&cfg.url, "url", "", "s3-get: the object's URL, signed with AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if cfg.conns < 1 || cfg.conns > 1024 {
		return fmt.Errorf("-conns %d: want 1 to 1024", cfg.conns)
	}
	if cfg.duration <= 0 || cfg.duration > 10*time.Minute {
		return fmt.Errorf("-duration %s: want up to 10m", cfg.duration)
	}
	var err error
	if cfg.pids, err = parsePids(pids); err != nil {
		return err
	}
	var res *result
	switch cfg.scenario {
	case "hello":
		res, err = loop(ctx, cfg, cfg.conns, helloReq())
	case "record":
		res, err = loop(ctx, cfg, cfg.conns, client.Request{Op: doip.OpRetrieve, ObjectID: cfg.object})
	case "component":
		res, err = loop(ctx, cfg, cfg.conns, componentReq(cfg))
	case "hello-during-download":
		res, err = helloDuringDownload(ctx, cfg)
	case "s3-get":
		res, err = s3Get(ctx, cfg, os.Getenv("AWS_ACCESS_KEY_ID"), os.Getenv("AWS_SECRET_ACCESS_KEY"))
	case "slow-readers":
		if cfg.rate < 1 || cfg.rate > 1<<30 {
			return fmt.Errorf("-rate %d: want 1 to %d bytes per second", cfg.rate, 1<<30)
		}
		res, err = slowReaders(ctx, cfg)
	default:
		return fmt.Errorf("unknown scenario %q", cfg.scenario)
	}
	if err != nil {
		return err
	}
	return res.print(out, cfg)
}

func helloReq() client.Request { return client.Request{Op: doip.OpHello} }

func componentReq(cfg config) client.Request {
	return client.Request{Op: doip.OpRetrieve, ObjectID: cfg.object, Metadata: map[string]any{"element": cfg.component}}
}

func parsePids(s string) (map[string]int, error) {
	m := map[string]int{}
	for _, kv := range strings.Split(s, ",") {
		if kv = strings.TrimSpace(kv); kv == "" {
			continue
		}
		name, v, ok := strings.Cut(kv, "=")
		pid, err := strconv.Atoi(v)
		if !ok || err != nil || pid <= 0 {
			return nil, fmt.Errorf("-pids: %q is not name=pid", kv)
		}
		m[name] = pid
	}
	return m, nil
}

// result is what a scenario measured.
type result struct {
	Scenario   string           `json:"scenario"`
	Conns      int              `json:"conns"`
	Requests   int64            `json:"requests"`
	Errors     int64            `json:"errors"`
	Seconds    float64          `json:"seconds"`
	Bytes      int64            `json:"bytes"`
	PerSecond  float64          `json:"requests_per_second"`
	MBPerSec   float64          `json:"mb_per_second"`
	P50        float64          `json:"p50_ms"`
	P90        float64          `json:"p90_ms"`
	P99        float64          `json:"p99_ms"`
	Max        float64          `json:"max_ms"`
	PeakRSSMiB map[string]int64 `json:"peak_rss_mib,omitempty"`
	// slow-readers: resident memory before the readers connected and while they all read,
	// and the difference per reader.
	RSSBeforeKiB map[string]int64 `json:"rss_before_kib,omitempty"`
	RSSDuringKiB map[string]int64 `json:"rss_during_kib,omitempty"`
	PerReaderKiB map[string]int64 `json:"per_reader_kib,omitempty"`
	FirstError   string           `json:"first_error,omitempty"`
	latencies    []time.Duration
}

func (r *result) finish(elapsed time.Duration) {
	r.Seconds = elapsed.Seconds()
	r.PerSecond = float64(r.Requests) / r.Seconds
	r.MBPerSec = float64(r.Bytes) / r.Seconds / 1e6
	slices.Sort(r.latencies)
	pct := func(p float64) float64 {
		if len(r.latencies) == 0 {
			return 0
		}
		i := min(int(p*float64(len(r.latencies))), len(r.latencies)-1)
		return float64(r.latencies[i].Microseconds()) / 1000
	}
	r.P50, r.P90, r.P99, r.Max = pct(0.50), pct(0.90), pct(0.99), pct(1)
}

func (r *result) print(w io.Writer, cfg config) error {
	if cfg.jsonOut {
		return json.NewEncoder(w).Encode(r)
	}
	fmt.Fprintf(w, "%-22s conns=%-3d reqs=%-7d errs=%-3d %9.1f req/s %9.1f MB/s  p50=%.2fms p90=%.2fms p99=%.2fms max=%.2fms",
		r.Scenario, r.Conns, r.Requests, r.Errors, r.PerSecond, r.MBPerSec, r.P50, r.P90, r.P99, r.Max)
	names := make([]string, 0, len(r.PeakRSSMiB))
	for name := range r.PeakRSSMiB {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		fmt.Fprintf(w, " rss[%s]=%dMiB", name, r.PeakRSSMiB[name])
	}
	for _, name := range names {
		if per, ok := r.PerReaderKiB[name]; ok {
			fmt.Fprintf(w, "\n  %s: rss %d KiB before, %d KiB with %d readers: %d KiB per reader",
				name, r.RSSBeforeKiB[name], r.RSSDuringKiB[name], r.Conns, per)
		}
	}
	fmt.Fprintln(w)
	if r.FirstError != "" {
		fmt.Fprintln(w, "  first error:", r.FirstError)
	}
	return nil
}

// loop runs conns workers that send req one after another until the duration or the
// request budget is used up.
func loop(ctx context.Context, cfg config, conns int, req client.Request) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	sampler := startRSS(cfg.pids)
	res := &result{Scenario: cfg.scenario, Conns: conns}
	var (
		mu     sync.Mutex
		issued atomic.Int64
		wg     sync.WaitGroup
	)
	start := time.Now()
	for range conns {
		wg.Go(func() {
			c, err := client.Dial(ctx, cfg.addr, nil)
			if err != nil {
				mu.Lock()
				res.Errors++
				res.FirstError = cmp.Or(res.FirstError, err.Error())
				mu.Unlock()
				return
			}
			defer c.Close()
			c.Timeout = cfg.duration + 30*time.Second
			var local []time.Duration
			var bytes, errs int64
			var firstErr string
			for ctx.Err() == nil && (cfg.n == 0 || issued.Add(1) <= cfg.n) {
				var got int64
				sink := &client.Sink{Open: func(string, string, int64) (io.Writer, error) {
					return countWriter{&got}, nil
				}}
				t0 := time.Now()
				_, err := c.Do(context.Background(), req, sink)
				if err != nil {
					errs++
					firstErr = cmp.Or(firstErr, err.Error())
					var de *doip.Error
					if !errors.As(err, &de) {
						break // the connection is gone
					}
					continue
				}
				local = append(local, time.Since(t0))
				bytes += got
			}
			mu.Lock()
			res.latencies = append(res.latencies, local...)
			res.Requests += int64(len(local))
			res.Bytes += bytes
			res.Errors += errs
			res.FirstError = cmp.Or(res.FirstError, firstErr)
			mu.Unlock()
		})
	}
	wg.Wait()
	res.finish(time.Since(start))
	res.PeakRSSMiB = sampler.stop()
	return res, nil
}

// helloDuringDownload measures hello latency on one connection while another downloads a
// large component over and over.
func helloDuringDownload(ctx context.Context, cfg config) (*result, error) {
	ctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	dl, err := client.Dial(ctx, cfg.addr, nil)
	if err != nil {
		return nil, err
	}
	defer dl.Close()
	dl.Timeout = cfg.duration + 30*time.Second
	var downloaded atomic.Int64
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			var got int64
			if _, err := dl.Do(context.Background(), componentReq(cfg), &client.Sink{Open: func(string, string, int64) (io.Writer, error) {
				return countWriter{&got}, nil
			}}); err != nil {
				return
			}
			downloaded.Add(got)
		}
	}()
	helloCfg := cfg
	helloCfg.scenario = "hello-during-download"
	res, err := loop(ctx, helloCfg, 1, helloReq())
	cancel()
	_ = dl.Close()
	<-done
	if err == nil {
		res.Bytes = downloaded.Load()
		res.MBPerSec = float64(res.Bytes) / res.Seconds / 1e6
	}
	return res, err
}

type countWriter struct{ n *int64 }

func (c countWriter) Write(p []byte) (int, error) { *c.n += int64(len(p)); return len(p), nil }

// rssSampler samples VmRSS of processes every 10 ms and keeps the peaks.
type rssSampler struct {
	pids  map[string]int
	peak  map[string]int64
	stopc chan struct{}
	done  chan struct{}
}

func startRSS(pids map[string]int) *rssSampler {
	s := &rssSampler{pids: pids, peak: map[string]int64{}, stopc: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			s.sample()
			select {
			case <-s.stopc:
				s.sample()
				return
			case <-t.C:
			}
		}
	}()
	return s
}

func (s *rssSampler) sample() {
	for name, pid := range s.pids {
		if kb := rssKiB(pid); kb > s.peak[name] {
			s.peak[name] = kb
		}
	}
}

func (s *rssSampler) stop() map[string]int64 {
	close(s.stopc)
	<-s.done
	if len(s.pids) == 0 {
		return nil
	}
	mib := map[string]int64{}
	for name, kb := range s.peak {
		mib[name] = (kb + 1023) / 1024
	}
	return mib
}

// rssKiB reads VmRSS from /proc/PID/status; 0 when it cannot.
func rssKiB(pid int) int64 {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			n, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return n
		}
	}
	return 0
}

// slowReaders opens conns connections that each retrieve the component and read it at
// cfg.rate bytes per second, the way a client on a bad link would, for cfg.duration. It
// reports the resident memory of the given processes before the readers came and in the
// last seconds of the run, when every reader holds its stream open, and the difference per
// reader: what one slow stream pins in each process.
func slowReaders(ctx context.Context, cfg config) (*result, error) {
	res := &result{Scenario: cfg.scenario, Conns: cfg.conns, RSSBeforeKiB: map[string]int64{}, RSSDuringKiB: map[string]int64{}, PerReaderKiB: map[string]int64{}}
	for name, pid := range cfg.pids {
		res.RSSBeforeKiB[name] = rssKiB(pid)
	}
	sampler := startRSS(cfg.pids)
	ctx, cancel := context.WithTimeout(ctx, cfg.duration)
	defer cancel()
	var (
		wg      sync.WaitGroup
		mu      sync.Mutex
		reading atomic.Int64 // readers whose answer began
	)
	start := time.Now()
	for range cfg.conns {
		wg.Go(func() {
			c, err := client.Dial(ctx, cfg.addr, nil)
			if err == nil {
				defer c.Close()
				var got int64
				sink := &client.Sink{Open: func(string, string, int64) (io.Writer, error) {
					reading.Add(1)
					return &slowWriter{ctx: ctx, rate: cfg.rate, n: &got}, nil
				}}
				_, err = c.Do(ctx, componentReq(cfg), sink)
				mu.Lock()
				res.Bytes += got
				mu.Unlock()
			}
			if err != nil && ctx.Err() == nil {
				mu.Lock()
				res.Errors++
				res.FirstError = cmp.Or(res.FirstError, err.Error())
				mu.Unlock()
			}
		})
	}
	// The steady state: the mean of the samples of the last quarter of the run.
	var sums = map[string]int64{}
	var samples int64
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for ctx.Err() == nil {
		select {
		case <-ctx.Done():
		case <-tick.C:
			if time.Since(start) < cfg.duration*3/4 {
				continue
			}
			samples++
			for name, pid := range cfg.pids {
				sums[name] += rssKiB(pid)
			}
		}
	}
	cancel()
	wg.Wait()
	res.Requests = reading.Load()
	res.finish(time.Since(start))
	res.PeakRSSMiB = sampler.stop()
	for name := range cfg.pids {
		if samples > 0 {
			res.RSSDuringKiB[name] = sums[name] / samples
			res.PerReaderKiB[name] = (res.RSSDuringKiB[name] - res.RSSBeforeKiB[name]) / int64(cfg.conns)
		}
	}
	return res, nil
}

// slowWriter takes bytes at rate per second, in pieces of at most rate bytes.
type slowWriter struct {
	ctx  context.Context
	rate int
	n    *int64
}

func (s *slowWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		k := min(len(p), s.rate)
		select {
		case <-s.ctx.Done():
			return written, s.ctx.Err()
		case <-time.After(time.Duration(k) * time.Second / time.Duration(s.rate)):
		}
		written += k
		*s.n += int64(k)
		p = p[k:]
	}
	return written, nil
}
