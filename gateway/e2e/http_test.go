package e2e_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/httpapi/httpapitest"
)

// httpURL returns the base URL of the gateway's HTTPS listener, which logs its address
// after the DOIP ports.
func (s *system) httpURL(t testing.TB) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for s.gateway.addr("http") == "" {
		if time.Now().After(deadline) {
			t.Fatalf("the gateway logged no http address\n%s", s.gateway.logText())
		}
		time.Sleep(10 * time.Millisecond)
	}
	return "https://" + s.gateway.addr("http")
}

// httpsClient trusts the gateway's self-signed certificate.
func httpsClient() *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // the test gateway's self-signed certificate
	tr.ForceAttemptHTTP2 = true
	return &http.Client{Transport: tr, Timeout: 2 * time.Minute}
}

// Everything a DOIP client does, with curl's means, against the real binaries: hello, list
// operations, the record, a component with a range, a workflow with its progress events,
// purge; the metrics count the requests under the http listener.
func TestHTTPEndToEnd(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	u := s.httpURL(t)
	c := httpsClient()

	resp, body := httpapitest.Do(t, c, "GET", u+"/doip?operationId=0.DOIP/Op.Hello&targetId=service", "")
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"0.TYPE/DOIPServiceInfo"`)) || resp.TLS == nil {
		t.Fatalf("hello: %d %s", resp.StatusCode, body)
	}
	resp, body = httpapitest.Do(t, c, "GET", u+"/doip/0.DOIP/Op.ListOperations?targetId=Q123", "")
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"equation_extraction"`)) {
		t.Fatalf("list operations: %d %s", resp.StatusCode, body)
	}
	resp, body = httpapitest.Do(t, c, "GET", u+"/doip/0.DOIP/Op.Retrieve?targetId=Q123", "")
	if resp.StatusCode != 200 || jsonOf(t, body)["id"] != "Q123" {
		t.Fatalf("record: %d %s", resp.StatusCode, body)
	}
	want := s.component(t, "00/01/23", "Q123", "source.tex")
	resp, body = httpapitest.Do(t, c, "GET", u+"/doip/retrieve/Q123/source.tex", "")
	if resp.StatusCode != 200 || !bytes.Equal(body, want) || resp.Header.Get("Content-Disposition") != `attachment; filename=source.tex` {
		t.Fatalf("component: %d %v, %d bytes of %d", resp.StatusCode, resp.Header, len(body), len(want))
	}
	resp, body = httpapitest.Do(t, c, "GET", u+"/doip?o=0.DOIP/Op.Retrieve&t=Q123&attributes.element=source.tex", "", "Range", "bytes=10-19")
	if resp.StatusCode != 206 || !bytes.Equal(body, want[10:20]) {
		t.Fatalf("range: %d %q", resp.StatusCode, body)
	}
	resp, _ = httpapitest.Do(t, c, "GET", u+"/doip/retrieve/Q123/source.tex", "", "Range", "bytes=99999999-")
	if resp.StatusCode != 416 || resp.Header.Get("Content-Range") == "" {
		t.Fatalf("unsatisfiable range: %d %v", resp.StatusCode, resp.Header)
	}
	resp, body = httpapitest.Do(t, c, "GET", u+"/doip/retrieve/Q999999/x", "")
	if resp.StatusCode != 404 || jsonOf(t, body)["detail"] == nil {
		t.Fatalf("unknown object: %d %s", resp.StatusCode, body)
	}

	// The workflow, with its progress as server-sent events.
	resp, body = httpapitest.Do(t, c, "POST", u+"/doip?operationId=equation_extraction&targetId=Q123", "", "Accept", "text/event-stream")
	events := map[string]int{}
	var result map[string]any
	sc := bufio.NewScanner(bytes.NewReader(body))
	var name string
	for sc.Scan() {
		line := sc.Text()
		if n, ok := strings.CutPrefix(line, "event: "); ok {
			name = n
			events[n]++
		} else if d, ok := strings.CutPrefix(line, "data: "); ok && name == "result" {
			result = jsonOf(t, []byte(d))
		}
	}
	if resp.StatusCode != 200 || events["progress"] == 0 || events["result"] != 1 || result == nil {
		t.Fatalf("invoke: %d %v\n%s", resp.StatusCode, events, body)
	}
	if out := result["output"].(map[string]any); out["equationCount"] == nil {
		t.Errorf("invoke result: %v", result)
	}
	resp, body = httpapitest.Do(t, c, "GET", u+"/doip/retrieve/Q123/equations.json", "")
	var doc equationsDoc
	if resp.StatusCode != 200 || json.Unmarshal(body, &doc) != nil || len(doc.Equations) == 0 {
		t.Fatalf("equations.json: %d %s", resp.StatusCode, body)
	}
	// The object page shows the nine numbered equations.
	resp, body = httpapitest.Do(t, c, "GET", u+"/objects/Q123", "", "Accept", "text/html")
	if resp.StatusCode != 200 || bytes.Count(body, []byte(`class="eq-number">(`)) != 9 {
		t.Errorf("object page: %d, %d numbered equations", resp.StatusCode, bytes.Count(body, []byte(`class="eq-number">(`)))
	}

	resp, body = httpapitest.Do(t, c, "POST", u+"/doip/purge/Q123", "")
	if resp.StatusCode != 200 || !bytes.Contains(body, []byte(`"purged"`)) {
		t.Fatalf("purge: %d %s", resp.StatusCode, body)
	}
	_, metrics := httpGet(t, adminURL(t, s.gateway)+"/metrics")
	if !strings.Contains(metrics, `doip_requests_total{framing="http",listener="http",op="retrieve",status="ok"}`) ||
		!strings.Contains(metrics, `doip_requests_total{framing="http",listener="http",op="retrieve",status="NotFound"}`) {
		t.Errorf("metrics lack the http requests:\n%s", grepLines(metrics, "doip_requests_total"))
	}
	if !eventuallyLog(t, s.gateway, `"framing":"http"`, 10*time.Second) { // the log is written in batches
		t.Error("no request logged with framing http")
	}
}

func jsonOf(t *testing.T, b []byte) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("not a JSON object: %.200s", b)
	}
	return m
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// A 512 MiB component over HTTPS arrives whole and intact while the gateway's memory stays
// flat, as on the DOIP ports; a download cut halfway and resumed with Range gets exactly
// the missing bytes.
func TestHTTPLargeDownloadFlatMemory(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	const size = 512 << 20
	want := s.addBigObject(t, "Q900512", "90/05/12", size)
	u := s.httpURL(t) + "/doip/retrieve/Q900512/big.bin"
	c := httpsClient()

	before := rssMiB(t, s.gateway)
	peak := samplePeakRSS(t, s.gateway)
	start := time.Now()
	req, _ := http.NewRequestWithContext(t.Context(), "GET", u, nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	n, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	took := time.Since(start)
	peakMiB := peak()
	if err != nil || n != size || resp.ContentLength != size {
		t.Fatalf("got %d bytes (Content-Length %d): %v", n, resp.ContentLength, err)
	}
	var got [32]byte
	copy(got[:], h.Sum(nil))
	if got != want {
		t.Fatal("the bytes differ from the stored component")
	}
	t.Logf("512 MiB over HTTPS in %v (%.0f MiB/s); gateway RSS %d MiB before, peak %d MiB", took, float64(size>>20)/took.Seconds(), before, peakMiB)
	const bound = 96 // MiB, far below the component's 512
	if peakMiB > bound {
		t.Errorf("gateway RSS peaked at %d MiB, over %d MiB", peakMiB, bound)
	}

	// Cut at 200 MiB, then resume.
	req, _ = http.NewRequestWithContext(t.Context(), "GET", u, nil)
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	tag := resp.Header.Get("ETag")
	h = sha256.New()
	cut := int64(200 << 20)
	if _, err := io.CopyN(h, resp.Body, cut); err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	req, _ = http.NewRequestWithContext(t.Context(), "GET", u, nil)
	req.Header.Set("Range", "bytes="+strconv.FormatInt(cut, 10)+"-")
	if tag != "" {
		req.Header.Set("If-Range", tag)
	}
	resp, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	rest, err := io.Copy(h, resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != 206 || cut+rest != size {
		t.Fatalf("resume: %d, %d + %d bytes: %v", resp.StatusCode, cut, rest, err)
	}
	copy(got[:], h.Sum(nil))
	if got != want {
		t.Error("the resumed download differs from the stored component")
	}
}

// TestDownloadThroughput measures one 512 MiB download over HTTPS (HTTP/1.1 and HTTP/2) and
// over the binary port (plaintext and TLS) of the same gateway, in the same run, for
// BENCHMARKS.md. It runs when DOWNLOAD_BENCH is set:
// DOWNLOAD_BENCH=1 go test -run TestDownloadThroughput -v ./gateway/e2e
func TestDownloadThroughput(t *testing.T) {
	skipShort(t)
	if os.Getenv("DOWNLOAD_BENCH") == "" {
		t.Skip("set DOWNLOAD_BENCH=1 to measure")
	}
	s := startSystem(t)
	const size = 512 << 20
	s.addBigObject(t, "Q900513", "90/05/13", size)
	u := s.httpURL(t) + "/doip/retrieve/Q900513/big.bin"
	h2 := httpsClient()
	h1 := httpsClient()
	h1.Transport.(*http.Transport).ForceAttemptHTTP2 = false
	h1.Transport.(*http.Transport).TLSNextProto = map[string]func(string, *tls.Conn) http.RoundTripper{}
	h2big := httpsClient()
	h2big.Transport.(*http.Transport).HTTP2 = &http.HTTP2Config{MaxReadFrameSize: 1 << 20, MaxReceiveBufferPerStream: 16 << 20, MaxReceiveBufferPerConnection: 64 << 20}
	overHTTP := func(c *http.Client, proto string) func() {
		return func() {
			req, _ := http.NewRequestWithContext(t.Context(), "GET", u, nil)
			resp, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			n, err := io.Copy(io.Discard, resp.Body)
			if err != nil || n != size || resp.Proto != proto {
				t.Fatalf("%s: %d bytes over %s: %v", proto, n, resp.Proto, err)
			}
		}
	}
	overEnvelope := func(tlsCfg *tls.Config) func() {
		return func() {
			conn, err := client.Dial(t.Context(), s.envelopeAddr(), tlsCfg)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			conn.Timeout = 5 * time.Minute
			var got int64
			_, err = conn.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q900513", Metadata: map[string]any{"element": "big.bin"}},
				&client.Sink{Open: func(string, string, int64) (io.Writer, error) { return countWriter{&got}, nil }})
			if err != nil || got != size {
				t.Fatalf("envelope: %d bytes: %v", got, err)
			}
		}
	}
	ways := []struct {
		name string
		run  func()
	}{
		{"HTTPS, HTTP/1.1", overHTTP(h1, "HTTP/1.1")},
		{"HTTPS, HTTP/2", overHTTP(h2, "HTTP/2.0")},
		{"HTTPS, HTTP/2, large windows", overHTTP(h2big, "HTTP/2.0")},
		{"binary envelope, TLS", overEnvelope(&tls.Config{InsecureSkipVerify: true})}, //nolint:gosec // the test gateway's self-signed certificate
		{"binary envelope, plaintext", overEnvelope(nil)},
	}
	for round := range 3 {
		for _, w := range ways {
			start := time.Now()
			w.run()
			took := time.Since(start)
			t.Logf("round %d: %-27s %7v  %4.0f MiB/s", round+1, w.name, took.Round(time.Millisecond), 512/took.Seconds())
		}
	}
}

type countWriter struct{ n *int64 }

func (w countWriter) Write(p []byte) (int, error) { *w.n += int64(len(p)); return len(p), nil }
