package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

type equationsDoc struct {
	SchemaVersion   int    `json:"schemaVersion"`
	SourceComponent string `json:"sourceComponent"`
	Method          string `json:"method"`
	Equations       []struct {
		Number string `json:"number"`
		Label  string `json:"label"`
		LaTeX  string `json:"latex"`
	} `json:"equations"`
}

func invoke(t *testing.T, c *client.Conn, obj, wf string, params map[string]any) (*client.Response, error) {
	t.Helper()
	meta := map[string]any{"workflow": wf}
	if params != nil {
		meta["params"] = params
	}
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	return c.Do(ctx, client.Request{Op: doip.OpInvoke, ObjectID: obj, Metadata: meta}, nil)
}

// equation_extraction on Q123 over the binary port: the derived equations match the paper's
// LaTeX source, a second invoke is served from the store, and equations.json is retrievable.
func TestEquationExtractionEndToEnd(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	c := s.dial(t)
	resp, err := invoke(t, c, "Q123", "equation_extraction", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Components) != 1 || resp.Components[0].ID != "doip:bitstream/Q123/equations.json" || resp.Components[0].MediaType != "application/json" {
		t.Fatalf("derived components: %+v", resp.Components)
	}
	var doc equationsDoc
	if err := json.Unmarshal(resp.Components[0].Content, &doc); err != nil {
		t.Fatal(err)
	}
	numbered := map[string]string{}
	for _, eq := range doc.Equations {
		if eq.Number != "" {
			numbered[eq.Number] = eq.Label
		}
	}
	if doc.SourceComponent != "source.tex" || doc.Method != "latex" || len(numbered) != 9 || numbered["1"] != "eq:trap" || numbered["5"] != "eq:system" {
		t.Errorf("equations.json: source %s method %s, numbered %v", doc.SourceComponent, doc.Method, numbered)
	}
	var result struct {
		Cached        bool `json:"cached"`
		EquationCount int  `json:"equationCount"`
	}
	if err := json.Unmarshal(resp.Workflow, &result); err != nil || result.Cached || result.EquationCount != len(doc.Equations) {
		t.Errorf("first result = %s", resp.Workflow)
	}

	again, err := invoke(t, c, "Q123", "equation_extraction", map[string]any{"backend": "builtin"})
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(again.Workflow, &result); err != nil || !result.Cached || !bytes.Equal(again.Components[0].Content, resp.Components[0].Content) {
		t.Errorf("second invoke: result %s; want cached and the same bytes", again.Workflow)
	}

	got, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q123", Metadata: map[string]any{"element": "equations.json"}}, nil)
	if err != nil || len(got.Components) != 1 || !bytes.Equal(got.Components[0].Content, resp.Components[0].Content) {
		t.Errorf("retrieve equations.json: %v", err)
	}

	pdf, err := invoke(t, c, "Q123", "equation_extraction", map[string]any{"component": "main-pdf", "pages": []int{1, 2}})
	if err != nil {
		t.Fatal(err)
	}
	var pdoc equationsDoc
	if err := json.Unmarshal(pdf.Components[0].Content, &pdoc); err != nil || pdoc.Method != "pdf-layout" || pdoc.SourceComponent != "main-pdf" {
		t.Errorf("PDF path: %v, %+v", err, pdoc)
	}
}

func TestInvokeErrors(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	c := s.dial(t)
	for _, tc := range []struct {
		obj, wf string
		params  map[string]any
		kind    doip.ErrorKind
		text    string
	}{
		{"Q123", "no_such_workflow", nil, doip.KindUnsupported, "equation_extraction"},
		{"Q123", "equation_extraction", map[string]any{"pages": "all"}, doip.KindBadRequest, "pages"},
		{"Q123", "equation_extraction", map[string]any{"backend": "magic"}, doip.KindBadRequest, "magic"},
		{"Q456", "equation_extraction", nil, doip.KindNotFound, "no PDF or LaTeX"},
		{"Q6190920", "equation_extraction", nil, doip.KindNotFound, "no PDF or LaTeX"},
		{"Q999", "equation_extraction", nil, doip.KindNotFound, "Q999"},
		{"Q123", "equation_extraction", map[string]any{"component": "data.csv"}, doip.KindNotFound, "data.csv"},
	} {
		_, err := invoke(t, c, tc.obj, tc.wf, tc.params)
		var de *doip.Error
		if !errors.As(err, &de) || de.Kind != tc.kind || !strings.Contains(de.Message, tc.text) {
			t.Errorf("%s %s %v: %v; want %s naming %q", tc.obj, tc.wf, tc.params, err, tc.kind, tc.text)
		}
	}
}

// Two workers both take work. Regression (one request kills every worker): when the worker
// running an invoke dies after the run began, the client gets Unavailable, the invoke is not
// handed to the other worker, and the other worker serves the next requests.
func TestWorkersShareWorkAndAKilledRunIsNotRetried(t *testing.T) {
	skipShort(t)
	t.Parallel()
	// Ollama cannot run here: a stand-in that takes the request and never answers holds the
	// run in its middle, after the worker has sent its first progress events.
	asked, stop := make(chan struct{}, 4), make(chan struct{})
	ollama := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case asked <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
		case <-stop:
		}
	}))
	t.Cleanup(ollama.Close)
	t.Cleanup(func() { close(stop) })
	s := startSystemWorkerEnv(t, 2, []string{"OLLAMA_HOST=" + ollama.URL, "OLLAMA_MODEL=stand-in"})
	// Round robin uses the workers whose connections are up; the gateway connects to both
	// at start, so within a few rounds both must have taken work.
	both := func() bool {
		for _, w := range s.workers {
			if !strings.Contains(w.logText(), `"msg":"invoke done"`) {
				return false
			}
		}
		return true
	}
	for round := 0; round < 10 && !both(); round++ {
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				c := s.dial(t)
				if _, err := invoke(t, c, "Q123", "echo", map[string]any{"delay": "50ms"}); err != nil {
					t.Error(err)
				}
			})
		}
		wg.Wait()
	}
	for i, w := range s.workers {
		if n := strings.Count(w.logText(), `"msg":"invoke done"`); n == 0 {
			t.Errorf("worker %d ran no invoke in 10 rounds of 8", i)
		}
	}

	// A run that waits on the model; the worker running it is killed.
	c := s.dial(t)
	done := make(chan error, 1)
	go func() {
		_, err := invoke(t, c, "Q123", "equation_extraction", map[string]any{"component": "main-pdf", "backend": "ollama"})
		done <- err
	}()
	select {
	case <-asked:
	case err := <-done:
		t.Fatalf("the run ended before it asked the model: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("no worker asked the model within 30s")
	}
	var victim, other *proc
	for _, w := range s.workers {
		if strings.Contains(w.logText(), `"workflow":"equation_extraction"`) {
			victim = w
		} else {
			other = w
		}
	}
	if victim == nil || other == nil {
		t.Fatal("cannot tell which worker runs the extraction")
	}
	_ = victim.cmd.Process.Signal(syscall.SIGKILL)
	select {
	case err := <-done:
		var de *doip.Error
		if !errors.As(err, &de) || de.Kind != doip.KindUnavailable || !strings.Contains(de.Message, "stopped; not retried") {
			t.Errorf("invoke whose worker was killed: %v; want Unavailable, not retried", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("no answer within 20s of the worker's death")
	}
	if strings.Contains(other.logText(), `"workflow":"equation_extraction"`) {
		t.Error("the killed run was handed to the other worker")
	}
	if strings.Contains(s.gateway.logText(), "trying another") {
		t.Error("the gateway retried the run")
	}
	// The other worker is alive and serves what comes next.
	for i := range 4 {
		if _, err := invoke(t, s.dial(t), "Q123", "echo", map[string]any{"n": i}); err != nil {
			t.Errorf("invoke %d after the kill: %v", i, err)
		}
	}
	select {
	case <-other.done:
		t.Error("the other worker died too")
	default:
	}
}
