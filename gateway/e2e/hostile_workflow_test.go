package e2e_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	invokev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/invoke/v1"
	"github.com/fdo-doip/doip-gateway/shared/hostileinput"
)

// The workflow side of issue 10, "a 1 KB file must not take the workers down": hostile
// sources made at test time are staged as components of objects in retrieve-svc's data
// folder and invoked through the gateway on several workers. Each ends in a result or an
// error within its deadline, every worker survives with bounded memory, the next request
// is served, an abandoned run frees its slot, and nothing half-written remains.

// workerRSSBoundMiB bounds the peak resident memory (VmHWM) of a worker process; its
// extractions run in child processes bounded by EXTRACT_MEMORY.
const workerRSSBoundMiB = 300

// childMemory is the extraction budget the hostile suite gives each child process.
const childMemory = "64MiB"

// startWorkflowSystem is startSystemWorkerEnv with the gateway's default call timeout (10 s):
// the first message of a worker that extracts under a budget can take longer than the
// harness's 3 s.
func startWorkflowSystem(t *testing.T, workers int, workerEnv []string, gatewayArgs ...string) *system {
	t.Helper()
	return startSystemWorkerEnv(t, workers, workerEnv, append([]string{"--call-timeout", "10s"}, gatewayArgs...)...)
}

// shard is the storage shard of a QID: its digits padded to six, split 2-2-2.
func shard(qid string) string {
	d := fmt.Sprintf("%06s", strings.TrimPrefix(qid, "Q"))[:6]
	return d[0:2] + "/" + d[2:4] + "/" + d[4:6]
}

// stage stores data as the only component of object qid.
func (s *system) stage(t *testing.T, qid, componentID, mediaType string, data []byte) {
	t.Helper()
	dir := filepath.Join(s.dataDir, "main", shard(qid), qid, "components")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, componentID), data, 0o644); err != nil {
		t.Fatal(err)
	}
	rec := fmt.Sprintf(`{"kernel":{"fdo:hasComponent":[{"componentId":%q,"mediaType":%q}]}}`, componentID, mediaType)
	if err := os.WriteFile(filepath.Join(s.dataDir, "records", qid+".json"), []byte(rec), 0o644); err != nil {
		t.Fatal(err)
	}
}

// procStatusMiB reads one field (VmHWM, VmRSS) of a process's /proc status, in MiB.
func procStatusMiB(t testing.TB, pid int, field string) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb >> 10
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// workersAlive fails the test when a worker has exited or has used more than the bound.
func (s *system) workersAlive(t *testing.T, after string) {
	t.Helper()
	for i, w := range s.workers {
		select {
		case <-w.done:
			t.Fatalf("after %s worker %d has exited: %v", after, i, w.err)
		default:
		}
		hwm := procStatusMiB(t, w.cmd.Process.Pid, "VmHWM")
		if hwm > workerRSSBoundMiB {
			t.Errorf("after %s worker %d peaked at %d MiB, over the %d MiB bound", after, i, hwm, workerRSSBoundMiB)
		}
		t.Logf("after %s worker %d: VmHWM %d MiB, VmRSS %d MiB", after, i, hwm, procStatusMiB(t, w.cmd.Process.Pid, "VmRSS"))
	}
}

// children lists the processes whose parent is pid.
func children(pid int) []int {
	var out []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		child, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...: comm may hold spaces, so read after the last ')'.
		f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			out = append(out, child)
		}
	}
	return out
}

// invokeWithin invokes equation_extraction on obj with params, under a deadline.
func invokeWithin(t *testing.T, c *client.Conn, obj string, params map[string]any, d time.Duration) (*client.Response, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), d)
	defer cancel()
	meta := map[string]any{"workflow": "equation_extraction"}
	if params != nil {
		meta["params"] = params
	}
	return c.Do(ctx, client.Request{Op: doip.OpInvoke, ObjectID: obj, Metadata: meta}, nil)
}

// noHalfWritten checks that every derived file of the data folder is whole JSON and that no
// temporary file is left.
func (s *system) noHalfWritten(t *testing.T) {
	t.Helper()
	err := filepath.WalkDir(filepath.Join(s.dataDir, "main"), func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(p, string(filepath.Separator)+"derived"+string(filepath.Separator)) {
			return err
		}
		if strings.HasPrefix(d.Name(), ".tmp") {
			t.Errorf("a temporary file is left: %s", d.Name())
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil || !json.Valid(b) {
			t.Errorf("derived %s is not whole JSON (%d bytes, %v)", d.Name(), len(b), err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestHostileWorkflowInputs sends every hostile source of the issue to three workers.
func TestHostileWorkflowInputs(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startWorkflowSystem(t, 3, []string{"EXTRACT_MEMORY=" + childMemory})
	cases := []struct {
		qid, component, mediaType string
		data                      []byte
		// wantErr: the invoke fails with LimitExceeded, and the worker that ran it logged an
		// error naming one of these budgets (which one a run meets first can depend on the
		// machine's load); otherwise the result reports page 1 uncertain.
		wantErr []string
	}{
		{qid: "Q9001", component: "cmap-count.pdf", mediaType: "application/pdf", data: hostileinput.CMapCountBomb(2_000_000_000)},
		{qid: "Q9002", component: "cmap-30m.pdf", mediaType: "application/pdf", data: hostileinput.CMapCountBomb(30_000_000)},
		{qid: "Q9003", component: "cmap-deflate.pdf", mediaType: "application/pdf", data: hostileinput.CMapDeflateBomb(64 << 20)},
		{qid: "Q9004", component: "glyphs.pdf", mediaType: "application/pdf", data: hostileinput.GlyphColumn(150_000)},
		{qid: "Q9005", component: "grid.pdf", mediaType: "application/pdf", data: hostileinput.GlyphGrid(1999, 10)},
		{qid: "Q9006", component: "operands.pdf", mediaType: "application/pdf", data: hostileinput.ContentDeflateBomb(8<<20 - 64)},
		{qid: "Q9007", component: "shared-content.pdf", mediaType: "application/pdf", data: hostileinput.SlowPages(80, 1<<20),
			wantErr: []string{"content budget of 67108864 decoded bytes"}},
		{qid: "Q9008", component: "src.tar.gz", mediaType: "application/gzip", data: hostileinput.ExpandingArchive(300_000),
			wantErr: []string{"equation budget of 20000"}},
		// 16 MiB of LaTeX (the size cap) takes more than the child's 64 MiB to scan, unless
		// the equation budget stops it first.
		{qid: "Q9009", component: "big-src.tar.gz", mediaType: "application/gzip", data: hostileinput.ExpandingArchive(2_600_000),
			wantErr: []string{"memory budget of 64 MiB", "equation budget of 20000"}},
	}
	for _, tc := range cases {
		s.stage(t, tc.qid, tc.component, tc.mediaType, tc.data)
	}
	c := s.dial(t)
	for _, tc := range cases {
		t.Run(tc.component, func(t *testing.T) {
			resp, err := invokeWithin(t, c, tc.qid, nil, 90*time.Second)
			if errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("%d-byte %s: no answer within 90 s", len(tc.data), tc.component)
			}
			if len(tc.wantErr) > 0 {
				var de *doip.Error
				if !errors.As(err, &de) || de.Kind != doip.KindLimitExceeded {
					t.Fatalf("%s: %v, want a LimitExceeded reply", tc.component, err)
				}
				if !s.workerLogged(tc.wantErr...) {
					t.Errorf("%s: answered %v; no worker logged an error naming any of %q", tc.component, err, tc.wantErr)
				}
			} else {
				if err != nil {
					t.Fatalf("%s: %v, want a result", tc.component, err)
				}
				var res struct {
					UncertainPages []int `json:"uncertainPages"`
				}
				if err := json.Unmarshal(resp.Workflow, &res); err != nil || len(res.UncertainPages) != 1 || res.UncertainPages[0] != 1 {
					t.Errorf("%s: result %s, want page 1 uncertain", tc.component, resp.Workflow)
				}
			}
			s.workersAlive(t, tc.component)
			// The next request is served.
			if _, err := invokeWithin(t, c, "Q123", nil, 60*time.Second); err != nil {
				t.Errorf("after %s, Q123's LaTeX source: %v", tc.component, err)
			}
		})
	}
	// Every child stayed within its budget (killed ones included: their peak is what
	// the kernel reports).
	for i, w := range s.workers {
		peaks := childPeaks(w)
		for _, rss := range peaks {
			if rss > 512<<20 {
				t.Errorf("worker %d: an extraction child peaked at %d MiB", i, rss>>20)
			}
		}
		t.Logf("worker %d: extraction children peaked at %v bytes", i, peaks)
	}
	s.noHalfWritten(t)
}

// workerLogged reports whether a worker logs one of texts within a few seconds: a worker
// may write its line after the client had its answer.
func (s *system) workerLogged(texts ...string) bool {
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		for _, w := range s.workers {
			if slices.ContainsFunc(texts, func(text string) bool { return strings.Contains(w.logText(), text) }) {
				return true
			}
		}
		if time.Now().After(deadline) {
			return false
		}
	}
}

// childPeaks reads the peak RSS of every extraction child from a worker's debug log.
func childPeaks(w *proc) []int64 {
	var out []int64
	for _, line := range strings.Split(w.logText(), "\n") {
		var rec struct {
			Msg    string `json:"msg"`
			MaxRSS int64  `json:"max_rss"`
		}
		if json.Unmarshal([]byte(line), &rec) == nil && rec.Msg == "extraction child done" {
			out = append(out, rec.MaxRSS)
		}
	}
	return out
}

// Derived outputs are keyed by what changes the result, and an object holds a bounded
// number of them: 100 distinct pages on a LaTeX source made 100 files before.
func TestHostileWorkflowQuota(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startWorkflowSystem(t, 1, nil)
	s.stage(t, "Q9101", "pages.pdf", "application/pdf", hostileinput.SlowPages(40, 64))
	c := s.dial(t)
	for i := 1; i <= 100; i++ {
		if _, err := invokeWithin(t, c, "Q123", map[string]any{"component": "source.tex", "pages": []int{i}}, 60*time.Second); err != nil {
			t.Fatalf("pages [%d] on source.tex: %v", i, err)
		}
	}
	for i := 1; i <= 40; i++ {
		if _, err := invokeWithin(t, c, "Q9101", map[string]any{"pages": []int{i}}, 60*time.Second); err != nil {
			t.Fatalf("pages [%d] on pages.pdf: %v", i, err)
		}
	}
	count := func(qid string) int {
		entries, err := os.ReadDir(filepath.Join(s.dataDir, "main", shard(qid), qid, "components", "derived", "equation_extraction"))
		if err != nil {
			t.Fatal(err)
		}
		return len(entries)
	}
	if n := count("Q123"); n != 2 {
		t.Errorf("Q123 holds %d derived files after 100 distinct pages on its LaTeX source, want 2 (one result and equations.json)", n)
	}
	if n := count("Q9101"); n > 16+1 {
		t.Errorf("Q9101 holds %d derived files after 40 distinct pages, want at most 17 (16 slots and equations.json)", n)
	}
	s.noHalfWritten(t)
}

// A run whose caller gives up (here the gateway's invoke deadline) frees its slot at once:
// the worker kills the extraction child, and the next request on that worker, which has a
// single slot, is served.
func TestHostileWorkflowAbandonedRunFreesSlot(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startWorkflowSystem(t, 1, []string{"MAX_CONCURRENT=1"}, "--invoke-timeout", "3s")
	s.stage(t, "Q9201", "slow.pdf", "application/pdf", hostileinput.SlowPages(40, 8<<20-64)) // about 11 s of work
	c := s.dial(t)
	if _, err := invokeWithin(t, c, "Q9201", nil, 60*time.Second); err == nil {
		t.Fatal("the slow run answered within the gateway's 3 s invoke deadline; want an error")
	}
	pid := s.invoke.cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for len(children(pid)) > 0 && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if kids := children(pid); len(kids) > 0 {
		t.Errorf("5 s after the run was abandoned the worker still has children %v", kids)
	}
	if _, err := invokeWithin(t, c, "Q123", nil, 60*time.Second); err != nil {
		t.Errorf("the next request on the single-slot worker: %v", err)
	}
	s.workersAlive(t, "an abandoned run")
	s.noHalfWritten(t)
}

// The worker's side of a departed client, over real gRPC: the first message of an admitted
// run is the "accepted" event; when the caller cancels the call, the worker kills the
// extraction child and its only slot admits the next call at once.
func TestHostileWorkflowCancelledCallFreesSlot(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startWorkflowSystem(t, 1, []string{"MAX_CONCURRENT=1"})
	s.stage(t, "Q9301", "slow.pdf", "application/pdf", hostileinput.SlowPages(40, 8<<20-64))
	conn, err := grpc.NewClient(s.invoke.addr("grpc"), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	c := invokev1.NewInvokeServiceClient(conn)
	accepted := func(ctx context.Context, obj string) grpc.ServerStreamingClient[invokev1.InvokeResponse] {
		t.Helper()
		stream, err := c.Invoke(ctx, &invokev1.InvokeRequest{ObjectId: obj, Workflow: "equation_extraction"})
		if err != nil {
			t.Fatal(err)
		}
		m, err := stream.Recv()
		if err != nil || m.GetProgress().GetStage() != "accepted" {
			t.Fatalf("first message of %s = %v, %v; want the accepted event", obj, m, err)
		}
		return stream
	}
	ctx, cancel := context.WithCancel(t.Context())
	accepted(ctx, "Q9301")
	// Wait until the extraction child runs, then leave.
	pid := s.invoke.cmd.Process.Pid
	for wait := time.Now().Add(10 * time.Second); len(children(pid)) == 0; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(wait) {
			t.Fatal("no extraction child started within 10 s")
		}
	}
	cancel()
	// The single slot admits the next call: its accepted event arrives although the slow
	// run had seconds of work left.
	next, cancelNext := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancelNext()
	stream := accepted(next, "Q123")
	for {
		m, err := stream.Recv()
		if err != nil {
			t.Fatalf("the next run: %v", err)
		}
		if m.GetResult() != nil {
			break
		}
	}
	if kids := children(pid); len(kids) > 0 {
		t.Errorf("after the cancelled run and the next one, the worker still has children %v", kids)
	}
	s.workersAlive(t, "a cancelled call")
}
