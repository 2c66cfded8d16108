package e2e_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// eventuallyLog waits up to within for p's logs to contain want, or one of also.
func eventuallyLog(t *testing.T, p *proc, want string, within time.Duration, also ...string) bool {
	t.Helper()
	wants := append([]string{want}, also...)
	for deadline := time.Now().Add(within); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		text := p.logText()
		if slices.ContainsFunc(wants, func(w string) bool { return strings.Contains(text, w) }) {
			return true
		}
	}
	return false
}

// Regression (abandoned invokes held for the whole invoke timeout and retried): a client
// that leaves in the middle of an invoke cancels the worker's run within seconds, the run
// is not started again anywhere, and the gateway logs the request as aborted.
func TestClientLeavingMidInvokeCancelsTheRun(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	c := s.dial(t)
	done := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		defer cancel()
		_, err := c.Do(ctx, client.Request{Op: doip.OpInvoke, ObjectID: "Q123", Metadata: map[string]any{
			"workflow": "echo", "params": map[string]any{"delay": "50s"}}}, nil)
		done <- err
	}()
	if !eventuallyLog(t, s.invoke, `"msg":"invoke start"`, 20*time.Second) {
		t.Fatal("the worker did not start the run")
	}
	left := time.Now()
	c.Close()
	<-done
	// Cancelled while it ran, or, when the client left before the worker could tell it the
	// run was accepted, given up before the workflow began: either way it does not run on.
	if !eventuallyLog(t, s.invoke, `"msg":"invoke cancelled"`, 10*time.Second, `"msg":"invoke gone before it started"`) {
		t.Fatal("the worker's run was not cancelled within 10s of the client leaving (the run asked for 50s)")
	}
	t.Logf("run cancelled %s after the client left", time.Since(left).Round(time.Millisecond))
	if !eventuallyLog(t, s.gateway, `"status":"aborted"`, 5*time.Second) {
		t.Error("the gateway did not log the abandoned request as aborted")
	}
	if n := strings.Count(s.invoke.logText(), `"msg":"invoke start"`); n != 1 {
		t.Errorf("the run started %d times; want once", n)
	}
	if strings.Contains(s.gateway.logText(), "trying another") {
		t.Error("the gateway retried an abandoned run")
	}
}

// adminURL returns the base URL of p's admin server, from its log.
func adminURL(t *testing.T, p *proc) string {
	t.Helper()
	m := regexp.MustCompile(`"msg":"admin listening".*"admin_addr":"([^"]+)"`).FindStringSubmatch(p.logText())
	if m == nil {
		t.Fatalf("%s logged no admin address", p.name)
	}
	return "http://" + m[1]
}

func httpGet(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Storage containment, errors that say what happened, and bounded metric labels, against
// the real binaries.
func TestHostileStorageAndLabels(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	c := s.dial(t)
	retrieve := func(obj, element string) (*client.Response, error) {
		meta := map[string]any{}
		if element != "" {
			meta["element"] = element
		}
		return c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: obj, Metadata: meta}, nil)
	}
	wantKind := func(what string, err error, kind doip.ErrorKind, text string) {
		t.Helper()
		var de *doip.Error
		if !errors.As(err, &de) || de.Kind != kind || !strings.Contains(de.Message, text) {
			t.Errorf("%s: %v; want %s naming %q", what, err, kind, text)
		}
	}

	// A record that links out of the data folder is refused, as an internal failure, and
	// nothing of the linked file reaches the client.
	secret := filepath.Join(t.TempDir(), "secret.json")
	if err := os.WriteFile(secret, []byte(`{"kernel":{"fdo:hasComponent":[]},"secret":"do not serve"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(s.dataDir, "records", "Q777.json")); err != nil {
		t.Fatal(err)
	}
	resp, err := retrieve("Q777", "")
	wantKind("record linking out of the data folder", err, doip.KindInternal, "")
	if resp != nil && strings.Contains(string(resp.Metadata), "do not serve") {
		t.Error("the linked file was served")
	}

	// Hidden component ids (temporary files included) are refused before storage.
	tmp := filepath.Join(s.dataDir, "main", "00", "01", "23", "Q123", "components", ".tmp-LEFTOVER")
	if err := os.WriteFile(tmp, []byte("half a write"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{".x", ".tmp-LEFTOVER", "derived/wf/.tmp-LEFTOVER", "doip:bitstream/Q123/.tmp-LEFTOVER"} {
		_, err := retrieve("Q123", id)
		wantKind("component "+id, err, doip.KindBadRequest, `starts with "."`)
	}

	// A leftover of a killed write is removed when retrieve-svc starts.
	s.retrieve.stop(t)
	again := start(t, "retrieve-svc", 1, []string{"--listen", "127.0.0.1:0", "--data-dir", s.dataDir})
	if !strings.Contains(again.logText(), "removed temporary files of interrupted writes") {
		t.Error("retrieve-svc did not report removing the leftover")
	}
	if _, err := os.Stat(tmp); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the leftover is still there: %v", err)
	}

	// Every operation byte the model does not define counts under one label.
	for op := 0x20; op < 0x60; op++ {
		raw := dialRaw(t, s.envelopeAddr())
		if _, err := raw.Write([]byte{0x02, 0x01, byte(op), 0, 0, 0, 0, 0, 0, 0}); err != nil {
			t.Fatal(err)
		}
		_ = raw.SetReadDeadline(time.Now().Add(5 * time.Second))
		var hdr [10]byte
		if _, err := io.ReadFull(raw, hdr[:]); err != nil || hdr[1] != 0x7f {
			t.Fatalf("op 0x%02x: answer %x, %v; want an error envelope", op, hdr, err)
		}
		raw.Close()
	}
	code, metrics := httpGet(t, adminURL(t, s.gateway)+"/metrics")
	if code != http.StatusOK {
		t.Fatalf("/metrics = %d", code)
	}
	ops := map[string]bool{}
	for _, m := range regexp.MustCompile(`doip_requests_total\{[^}]*op="([^"]+)"`).FindAllStringSubmatch(metrics, -1) {
		ops[m[1]] = true
	}
	if !ops["other"] || len(ops) > 11 {
		t.Errorf("op labels after 64 undefined op bytes: %v; want them under \"other\"", ops)
	}

	// /readyz tells why it is not ready without naming an address: retrieve-svc at the
	// gateway's address is gone now.
	code, body := httpGet(t, adminURL(t, s.gateway)+"/readyz")
	addr := s.retrieve.addr("grpc")
	if code != http.StatusServiceUnavailable || strings.Contains(body, addr) || strings.Contains(body, "127.0.0.1") {
		t.Errorf("/readyz with retrieve-svc gone = %d %q; want 503 naming no address (%s)", code, body, addr)
	}
}
