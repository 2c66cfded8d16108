package e2e_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/envelope"
)

// The reference client's own bytes, replayed on one connection, get hello, list
// operations, the record and the PDF of Q123.
func TestReferenceClientVectors(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	c := s.dial(t)

	must := func(name string) *client.Response {
		t.Helper()
		if err := c.WriteRaw(vector(t, name)); err != nil {
			t.Fatal(err)
		}
		resp, err := c.ReadResponse()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if resp.Header.Type != envelope.TypeResponse || resp.Header.Version != envelope.Version {
			t.Fatalf("%s: header %+v", name, resp.Header)
		}
		return resp
	}

	hello := must("mardi-request-hello.bin")
	var hi struct {
		Operation  string         `json:"operation"`
		Status     string         `json:"status"`
		Version    int            `json:"version"`
		Operations map[string]int `json:"availableOperations"`
		Workflows  []string       `json:"workflows"`
	}
	if err := json.Unmarshal(hello.Metadata, &hi); err != nil {
		t.Fatal(err)
	}
	if hello.Header.Op != doip.OpHello || hi.Operation != "hello" || hi.Status != "ok" || hi.Version != 2 ||
		hi.Operations["hello"] != 1 || hi.Operations["retrieve"] != 2 || hi.Operations["invoke"] != 5 {
		t.Errorf("hello = %s", hello.Metadata)
	}

	ops := must("mardi-request-list-ops.bin")
	if ops.Header.Op != doip.OpListOps || !bytes.Contains(ops.Metadata, []byte(`"list_operations"`)) ||
		!bytes.Contains(ops.Metadata, []byte(`"retrieve":2`)) {
		t.Errorf("list operations = %s", ops.Metadata)
	}

	rec := must("mardi-request-retrieve-metadata.bin")
	want, err := os.ReadFile(filepath.Join(s.dataDir, "records", "Q123.json"))
	if err != nil {
		t.Fatal(err)
	}
	if rec.ObjectID != "Q123" || !jsonEqual(t, rec.Metadata, want) {
		t.Errorf("record of Q123 differs from the stored one:\n%s", rec.Metadata)
	}

	pdf := must("mardi-request-retrieve-component.bin")
	if len(pdf.Components) != 1 {
		t.Fatalf("component answer has %d components", len(pdf.Components))
	}
	got := pdf.Components[0]
	if got.ID != "doip:bitstream/Q123/main-pdf" || got.MediaType != "application/pdf" {
		t.Errorf("component block id %q type %q", got.ID, got.MediaType)
	}
	if !bytes.Equal(got.Content, s.component(t, "00/01/23", "Q123", "main-pdf")) {
		t.Errorf("main-pdf: %d bytes differ from the stored file", len(got.Content))
	}
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if json.Unmarshal(a, &x) != nil || json.Unmarshal(b, &y) != nil {
		return false
	}
	xa, _ := json.Marshal(x)
	ya, _ := json.Marshal(y)
	return bytes.Equal(xa, ya)
}

// Operation errors are answered and the connection stays open for the next request.
func TestErrorsKeepConnectionOpen(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	c := s.dial(t)
	cases := []struct {
		name     string
		object   string
		element  string
		wantKind doip.ErrorKind
		wantText string
	}{
		{"unknown object", "Q999", "", doip.KindNotFound, "Q999"},
		{"malformed object id", "not-an-id", "", doip.KindBadRequest, "not-an-id"},
		{"unknown component", "Q123", "no-such-thing", doip.KindNotFound, "no-such-thing"},
		{"unknown component, full form", "Q123", "doip:bitstream/Q123/nothing.pdf", doip.KindNotFound, "nothing.pdf"},
		{"component of another object", "Q123", "doip:bitstream/Q456/data.csv", doip.KindBadRequest, ""},
		{"dot-dot", "Q123", "../../../records/Q123.json", doip.KindBadRequest, ""},
		{"dot-dot in full form", "Q123", "doip:bitstream/Q123/../Q456/data.csv", doip.KindBadRequest, ""},
		{"absolute path", "Q123", "/etc/passwd", doip.KindBadRequest, ""},
		{"backslash", "Q123", `..\..\records\Q123.json`, doip.KindBadRequest, ""},
		{"percent-encoded", "Q123", "%2e%2e%2f%2e%2e%2frecords", doip.KindBadRequest, ""},
		{"NUL byte", "Q123", "main-pdf\x00.txt", doip.KindBadRequest, ""},
	}
	for _, tc := range cases {
		meta := map[string]any{}
		if tc.element != "" {
			meta["element"] = tc.element
		}
		resp, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: tc.object, Metadata: meta}, nil)
		var de *doip.Error
		if !errors.As(err, &de) {
			t.Fatalf("%s: err = %v, want a DOIP error", tc.name, err)
		}
		if de.Kind != tc.wantKind || !strings.Contains(de.Message, tc.wantText) {
			t.Errorf("%s: got %s %q, want %s naming %q", tc.name, de.Kind, de.Message, tc.wantKind, tc.wantText)
		}
		if resp.Header.Type != envelope.TypeError || resp.Header.Op != doip.OpRetrieve || resp.ObjectID != tc.object {
			t.Errorf("%s: error header %+v id %q: want type 0x7f echoing op and object", tc.name, resp.Header, resp.ObjectID)
		}
		if strings.Contains(de.Message, s.dataDir) {
			t.Errorf("%s: message leaks a server path: %q", tc.name, de.Message)
		}
	}
	// Still usable.
	if _, err := c.Do(t.Context(), client.Request{Op: doip.OpHello}, nil); err != nil {
		t.Fatalf("hello after errors: %v", err)
	}
}

// Several requests on one connection, and a request written one byte at a time.
func TestManyRequestsAndOneByteWrites(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	c := s.dial(t)
	for i := range 50 {
		if _, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q456"}, nil); err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
	}
	raw, err := net.Dial("tcp", s.envelopeAddr())
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	for _, b := range vector(t, "mardi-request-retrieve-component.bin") {
		if _, err := raw.Write([]byte{b}); err != nil {
			t.Fatal(err)
		}
	}
	rc := client.NewConn(raw)
	rc.Timeout = 20 * time.Second
	resp, err := rc.ReadResponse()
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Components) != 1 || !bytes.Equal(resp.Components[0].Content, s.component(t, "00/01/23", "Q123", "main-pdf")) {
		t.Errorf("one-byte-written retrieve got %d components", len(resp.Components))
	}
}

// A broken frame gets an error envelope with operation 0, then the connection closes.
func TestMalformedFrameClosesConnection(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t, "--max-payload", "4096")
	for _, tc := range []struct {
		name, in string
		kind     doip.ErrorKind
	}{
		{"bad version", "\x03\x01\x01\x00\x00\x00\x00\x00\x00\x00", doip.KindBadRequest},
		{"payload over the limit", "\x02\x01\x01\x00\x00\x00\xff\xff\xff\xff", doip.KindTooLarge},
		{"metadata not JSON", "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x08\x01\x00\x00\x00\x03{{{", doip.KindBadRequest},
		{"unknown block type", "\x02\x01\x01\x00\x00\x00\x00\x00\x00\x05\x09\x00\x00\x00\x00", doip.KindBadRequest},
	} {
		c := s.dial(t)
		if err := c.WriteRaw([]byte(tc.in)); err != nil {
			t.Fatal(err)
		}
		resp, err := c.ReadResponse()
		var de *doip.Error
		if !errors.As(err, &de) || de.Kind != tc.kind || resp.Header.Op != 0 {
			t.Errorf("%s: got %v (header %+v), want a %s error with operation 0", tc.name, err, resp, tc.kind)
			continue
		}
		if _, err := c.ReadResponse(); err == nil {
			t.Errorf("%s: connection still open after a framing error", tc.name)
		}
	}
}

// A stopped retrieve-svc gives an Unavailable error in bounded time, and the gateway
// recovers by itself when it is back on the same address.
func TestRetrieveServiceDownAndBack(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	c := s.dial(t)
	addr := s.retrieve.addr("grpc")
	s.retrieve.stop(t)

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	_, err := c.Do(ctx, client.Request{Op: doip.OpRetrieve, ObjectID: "Q123"}, nil)
	var de *doip.Error
	if !errors.As(err, &de) || de.Kind != doip.KindUnavailable {
		t.Fatalf("with retrieve-svc down: err = %v, want an Unavailable error", err)
	}
	if strings.Contains(de.Message, addr) {
		t.Errorf("message leaks the backend address: %q", de.Message)
	}
	if _, err := c.Do(ctx, client.Request{Op: doip.OpHello}, nil); err != nil {
		t.Fatalf("hello must not need retrieve-svc: %v", err)
	}

	start(t, "retrieve-svc", 1, []string{"--listen", addr, "--data-dir", s.dataDir})
	var last error
	for attempt := range 40 {
		_, last = c.Do(ctx, client.Request{Op: doip.OpRetrieve, ObjectID: "Q123"}, nil)
		if last == nil {
			return
		}
		time.Sleep(time.Duration(50*(attempt+1)) * time.Millisecond)
	}
	t.Fatalf("gateway did not recover after retrieve-svc came back: %v", last)
}

// With no certificate files the port takes plaintext and TLS alike (self-signed).
func TestOptionalTLS(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, s.envelopeAddr(), &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	resp, err := c.Do(ctx, client.Request{Op: doip.OpRetrieve, ObjectID: "Q456", Metadata: map[string]any{"element": "data.csv"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Components) != 1 || !bytes.Equal(resp.Components[0].Content, s.component(t, "00/04/56", "Q456", "data.csv")) {
		t.Errorf("data.csv over TLS differs")
	}
	old, err := client.Dial(ctx, s.envelopeAddr(), &tls.Config{InsecureSkipVerify: true, MaxVersion: tls.VersionTLS11})
	if err == nil {
		old.Close()
		t.Error("a TLS 1.1 client was accepted; the minimum is 1.2")
	}
}

// doipctl, as a user runs it: hello, a record, a download to a file, and a DOIP error's
// exit status.
func TestDoipctl(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	host, port, _ := net.SplitHostPort(s.envelopeAddr())
	ctl := func(args ...string) (string, string, int) {
		return runCtl(t, append(args, "--host", host, "--port", port)...)
	}
	if out, errOut, code := ctl("hello"); code != 0 || !strings.Contains(out, `"availableOperations"`) {
		t.Errorf("hello: code %d out %q err %q", code, out, errOut)
	}
	if out, _, code := ctl("retrieve", "Q123"); code != 0 || !strings.Contains(out, `"fdo:hasComponent"`) {
		t.Errorf("retrieve Q123: code %d out %q", code, out)
	}
	file := filepath.Join(t.TempDir(), "paper.pdf")
	if _, errOut, code := ctl("retrieve", "Q123", "--component", "main-pdf", "-o", file); code != 0 {
		t.Fatalf("download: code %d: %s", code, errOut)
	}
	got, err := os.ReadFile(file)
	if err != nil || !bytes.Equal(got, s.component(t, "00/01/23", "Q123", "main-pdf")) {
		t.Errorf("downloaded file differs (%v)", err)
	}
	if _, errOut, code := ctl("retrieve", "Q999"); code != 2 || !strings.Contains(errOut, "NotFound") {
		t.Errorf("unknown object: code %d stderr %q, want 2 and NotFound", code, errOut)
	}
	missing := filepath.Join(t.TempDir(), "missing.pdf")
	if _, _, code := ctl("retrieve", "Q123", "--component", "nope", "-o", missing); code != 2 {
		t.Errorf("unknown component: code %d, want 2", code)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a failed download left a file behind")
	}
	if _, _, code := ctl("frobnicate"); code != 1 {
		t.Errorf("unknown command: code %d, want 1", code)
	}
}

func exitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// runCtl runs doipctl and returns its stdout, stderr and exit status.
func runCtl(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	cmd := exec.Command(filepath.Join(binDir, "doipctl"), args...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	code := 0
	if err := cmd.Run(); err != nil {
		code = exitCode(err)
	}
	return out.String(), errb.String(), code
}
