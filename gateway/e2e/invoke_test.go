package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
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

// Two workers both take work, and an invoke survives the death of the worker running it.
func TestWorkersShareWorkAndSurviveAKill(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystemWorkers(t, 2)
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

	// A slow run; the worker that starts it is killed; the gateway retries on the other.
	c := s.dial(t)
	done := make(chan error, 1)
	go func() {
		_, err := invoke(t, c, "Q123", "echo", map[string]any{"delay": "3s", "run": "slow"})
		done <- err
	}()
	var victim *proc
	for deadline := time.Now().Add(20 * time.Second); victim == nil && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, w := range s.workers {
			if strings.Contains(w.logText(), `"msg":"invoke start"`) && strings.Contains(w.logText(), "slow") ||
				strings.Count(w.logText(), `"msg":"invoke start"`) > strings.Count(w.logText(), `"msg":"invoke done"`) {
				victim = w
			}
		}
	}
	if victim == nil {
		t.Fatal("no worker started the slow run")
	}
	_ = victim.cmd.Process.Signal(syscall.SIGKILL)
	if err := <-done; err != nil {
		t.Fatalf("invoke after its worker was killed: %v", err)
	}
	if !strings.Contains(s.gateway.logText(), "invoke failed on a worker, trying another") {
		t.Error("the invoke succeeded without the gateway retrying it: the kill came too late to test anything")
	}
}
