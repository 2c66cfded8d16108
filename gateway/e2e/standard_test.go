package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"encoding/json"
	"encoding/pem"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doiptext"
	"github.com/fdo-doip/doip-gateway/gateway/internal/tlsconf"
)

var insecureTLS = &tls.Config{InsecureSkipVerify: true, MinVersion: tls.VersionTLS12}

func (s *system) segmentsAddr() string { return s.gateway.addr("segments") }

// stdVector reads a standard-framing vector from the doiptext codec's copy of the spec's.
func stdVector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "internal", "doiptext", "testdata", "vectors", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// tlsDial opens a TLS connection to the segments port.
func tlsDial(t *testing.T, addr string) *tls.Conn {
	t.Helper()
	d := &net.Dialer{Timeout: 10 * time.Second}
	c, err := tls.DialWithDialer(d, "tcp", addr, insecureTLS)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return c
}

// readMessages reads n whole standard messages.
func readMessages(t *testing.T, r io.Reader, n int) [][]doiptext.Segment {
	t.Helper()
	rd := doiptext.NewReader(bufio.NewReader(r))
	var out [][]doiptext.Segment
	for range n {
		segs, err := rd.ReadMessage()
		if err != nil {
			t.Fatalf("reading answer %d: %v", len(out)+1, err)
		}
		out = append(out, segs)
	}
	return out
}

func firstSegment(t *testing.T, segs []doiptext.Segment) map[string]json.RawMessage {
	t.Helper()
	if len(segs) == 0 || segs[0].Kind != doiptext.SegmentJSON {
		t.Fatalf("answer does not start with a JSON segment: %+v", segs)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(segs[0].JSON, &m); err != nil {
		t.Fatal(err)
	}
	return m
}

func str(m map[string]json.RawMessage, k string) string {
	var s string
	_ = json.Unmarshal(m[k], &s)
	return s
}

// doipy's captured requests, with its test ids swapped for the sample objects' ids, over
// TLS on the segments port, answered in the shapes of the std-response vectors.
func TestDoipyRequestsOverTLS(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	// A real client learns the service id from hello; doipy's captures say "test/service".
	swap := strings.NewReplacer(`"test/abc"`, `"Q123"`, `"element": "file"`, `"element": "main-pdf"`, `"test/missing"`, `"Q999"`,
		`"test/service"`, `"fdo-gateway"`)
	ask := func(name string) []doiptext.Segment {
		c := tlsDial(t, s.segmentsAddr())
		if _, err := c.Write([]byte(swap.Replace(string(stdVector(t, name))))); err != nil {
			t.Fatal(err)
		}
		return readMessages(t, c, 1)[0]
	}

	hello := firstSegment(t, ask("doipy-request-hello.bin"))
	var info struct {
		ID         string `json:"id"`
		Type       string `json:"type"`
		Attributes struct {
			Port            int               `json:"port"`
			Protocol        string            `json:"protocol"`
			ProtocolVersion string            `json:"protocolVersion"`
			PublicKey       map[string]string `json:"publicKey"`
		} `json:"attributes"`
	}
	if err := json.Unmarshal(hello["output"], &info); err != nil {
		t.Fatal(err)
	}
	_, port, _ := net.SplitHostPort(s.segmentsAddr())
	if str(hello, "status") != "0.DOIP/Status.001" || info.Type != "0.TYPE/DOIPServiceInfo" || info.Attributes.ProtocolVersion != "2.0" ||
		info.Attributes.Protocol != "TCP" || info.Attributes.PublicKey["kty"] != "RSA" || port != jsonInt(info.Attributes.Port) {
		t.Errorf("hello = %s", hello["output"])
	}
	if _, ok := hello["requestId"]; ok {
		t.Error("doipy sent no requestId, but the answer has one")
	}

	ops := firstSegment(t, ask("doipy-request-list-ops.bin"))
	var list []string
	if err := json.Unmarshal(ops["output"], &list); err != nil || !contains(list, "0.DOIP/Op.Hello") || !contains(list, "0.DOIP/Op.Retrieve") {
		t.Errorf("list operations = %s", ops["output"])
	}

	rec := firstSegment(t, ask("doipy-request-retrieve-metadata.bin"))
	var do struct {
		ID         string `json:"id"`
		Attributes struct {
			Content json.RawMessage `json:"content"`
		} `json:"attributes"`
		Elements []struct {
			ID         string            `json:"id"`
			Type       string            `json:"type"`
			Length     int64             `json:"length"`
			Attributes map[string]string `json:"attributes"`
		} `json:"elements"`
	}
	if err := json.Unmarshal(rec["output"], &do); err != nil {
		t.Fatal(err)
	}
	pdf := s.component(t, "00/01/23", "Q123", "main-pdf")
	if do.ID != "Q123" || len(do.Elements) != 2 || do.Elements[0].ID != "main-pdf" || do.Elements[0].Length != int64(len(pdf)) ||
		do.Elements[0].Type != "application/pdf" || !bytes.Contains(do.Attributes.Content, []byte("fdo:hasComponent")) {
		t.Errorf("record DO = %s", rec["output"])
	}

	el := ask("doipy-request-retrieve-element.bin")
	first := firstSegment(t, el)
	var attrs map[string]string
	_ = json.Unmarshal(first["attributes"], &attrs)
	if str(first, "status") != "0.DOIP/Status.001" || attrs["filename"] == "" || attrs["mediaType"] != "application/pdf" {
		t.Errorf("element first segment = %s", el[0].JSON)
	}
	if len(el) != 2 || el[1].Kind != doiptext.SegmentBytes || !bytes.Equal(el[1].Data, pdf) {
		t.Errorf("element answer: %d segments; want the first and one bytes segment equal to the stored PDF", len(el))
	}

	missing := firstSegment(t, ask("doipy-request-retrieve-missing.bin"))
	var msg map[string]string
	_ = json.Unmarshal(missing["attributes"], &msg)
	if str(missing, "status") != "0.DOIP/Status.104" || !strings.Contains(msg["message"], "Q999") {
		t.Errorf("missing object = %v", missing)
	}
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// CNRI-style pipelining: two requests written at once get two answers, in order, each
// echoing its requestId, on one connection.
func TestPipelinedRequestsEchoRequestIDs(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	c := tlsDial(t, s.segmentsAddr())
	in := string(stdVector(t, "cnri-style-two-requests-one-connection.bin"))
	in = strings.NewReplacer(`"test/abc"`, `"Q123"`, `"test/service"`, `"fdo-gateway"`, `"element":"file"`, `"element":"source.tex"`).Replace(in)
	if _, err := c.Write([]byte(in)); err != nil {
		t.Fatal(err)
	}
	rd := doiptext.NewReader(bufio.NewReader(strings.NewReader(in)))
	var ids []string
	for {
		segs, err := rd.ReadMessage()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, str(firstSegment(t, segs), "requestId"))
	}
	answers := readMessages(t, c, len(ids))
	for i, a := range answers {
		if got := str(firstSegment(t, a), "requestId"); got != ids[i] || ids[i] == "" {
			t.Errorf("answer %d has requestId %q, want %q", i, got, ids[i])
		}
		if st := str(firstSegment(t, a), "status"); st != "0.DOIP/Status.001" {
			t.Errorf("answer %d status %s", i, st)
		}
	}
	// The connection stays open for more.
	if _, err := c.Write([]byte(`{"requestId":"third","targetId":"service","operationId":"0.DOIP/Op.Hello"}` + "\n#\n#\n")); err != nil {
		t.Fatal(err)
	}
	if got := str(firstSegment(t, readMessages(t, c, 1)[0]), "requestId"); got != "third" {
		t.Errorf("third answer requestId %q", got)
	}
}

// A malformed message gets 101 with a message, then the connection closes.
func TestMalformedStandardMessage(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	for _, in := range []string{
		"{\"targetId\":\"Q123\"\n#\n#\n",                                     // no operationId
		"{\"targetId\":\"Q123\",\"operationId\":5}\n#\n#\n",                  // operationId not a string
		"{\"targetId\":\"x\",\"operationId\":\"y\"}\n#\n@\n012\nabc\n#\n#\n", // size with a leading zero
		"{not json}\n#\n#\n",
	} {
		c := tlsDial(t, s.segmentsAddr())
		if _, err := c.Write([]byte(in)); err != nil {
			t.Fatal(err)
		}
		segs, err := doiptext.NewReader(bufio.NewReader(c)).ReadMessage()
		if err != nil {
			t.Fatalf("%q: reading the answer: %v", in, err)
		}
		first := firstSegment(t, segs)
		var attrs map[string]string
		_ = json.Unmarshal(first["attributes"], &attrs)
		if str(first, "status") != "0.DOIP/Status.101" || attrs["message"] == "" {
			t.Errorf("%q: answer %v", in, first)
		}
		if n, err := c.Read(make([]byte, 1)); n != 0 || err == nil {
			t.Errorf("%q: connection still open after a malformed message", in)
		}
	}
}

// The length-prefixed form on the same port retrieves the same bytes, one request per
// connection.
func TestLengthPrefixedRetrieve(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	for _, useTLS := range []bool{false, true} {
		var c net.Conn
		if useTLS {
			c = tlsDial(t, s.segmentsAddr())
		} else {
			var err error
			if c, err = net.DialTimeout("tcp", s.segmentsAddr(), 10*time.Second); err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
		}
		req := []byte(`{"targetId":"Q123","operationId":2,"attributes":{"element":"doip:bitstream/Q123/main-pdf"}}`)
		msg := binary.BigEndian.AppendUint32(nil, uint32(len(req)))
		msg = append(append(msg, req...), 0, 0, 0, 0)
		if _, err := c.Write(msg); err != nil {
			t.Fatal(err)
		}
		all, err := io.ReadAll(c) // the server closes after one answer
		if err != nil {
			t.Fatal(err)
		}
		var segs [][]byte
		for len(all) >= 4 {
			n := binary.BigEndian.Uint32(all)
			if n == 0 || int(n) > len(all)-4 {
				break
			}
			segs = append(segs, all[4:4+n])
			all = all[4+n:]
		}
		if len(segs) != 2 || !bytes.Contains(segs[0], []byte(`"status":"success"`)) ||
			!bytes.Equal(segs[1], s.component(t, "00/01/23", "Q123", "main-pdf")) || !bytes.Equal(all, []byte{0, 0, 0, 0}) {
			t.Errorf("tls=%v: %d segments, first %q, rest %q", useTLS, len(segs), firstN(segs), all)
		}
	}
}

func firstN(segs [][]byte) string {
	if len(segs) == 0 {
		return ""
	}
	return string(segs[0][:min(len(segs[0]), 200)])
}

// With certificate files both ports require TLS: a plaintext client is logged and closed,
// a TLS client is served with the configured certificate.
func TestRequiredTLSWithCertificateFiles(t *testing.T) {
	skipShort(t)
	t.Parallel()
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	cert, err := tlsconf.SelfSigned("test/files")
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	for name, blk := range map[string]*pem.Block{certFile: {Type: "CERTIFICATE", Bytes: cert.Certificate[0]}, keyFile: {Type: "PRIVATE KEY", Bytes: keyDER}} {
		if err := os.WriteFile(name, pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s := startSystem(t, "--tls-cert", certFile, "--tls-key", keyFile, "--service-id", "test/files")
	for _, addr := range []string{s.envelopeAddr(), s.segmentsAddr()} {
		plain, err := net.DialTimeout("tcp", addr, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		_ = plain.SetDeadline(time.Now().Add(20 * time.Second))
		_, _ = plain.Write([]byte("{\"targetId\":\"service\",\"operationId\":\"0.DOIP/Op.Hello\"}\n#\n#\n"))
		if b, _ := io.ReadAll(plain); len(b) != 0 {
			t.Errorf("%s: plaintext client got %q on a TLS-required port", addr, b)
		}
		plain.Close()

		c := tlsDial(t, addr)
		if cn := c.ConnectionState().PeerCertificates[0].Subject.CommonName; cn != "test/files" {
			t.Errorf("%s: certificate subject %q, want the configured one", addr, cn)
		}
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(s.gateway.logText(), "client sent plaintext to a TLS port") {
		if time.Now().After(deadline) {
			t.Fatal("no log line for a plaintext client on a TLS port")
		}
		time.Sleep(20 * time.Millisecond)
	}
	// doipctl --standard against it, as a user would.
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Second)
	defer cancel()
	sc, err := client.DialStandard(ctx, s.segmentsAddr(), insecureTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	resp, err := sc.Do(ctx, client.StdRequest{RequestID: "x1", TargetID: "Q456", OperationID: "0.DOIP/Op.Retrieve", Attributes: map[string]any{"element": "data.csv"}}, nil)
	if err != nil || resp.RequestID != "x1" || len(resp.Bytes) != 1 || !bytes.Equal(resp.Bytes[0], s.component(t, "00/04/56", "Q456", "data.csv")) {
		t.Errorf("standard retrieve of data.csv over required TLS: %v", err)
	}
}

// doipctl --standard speaks the standard framing with the same commands.
func TestDoipctlStandard(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	host, port, _ := net.SplitHostPort(s.segmentsAddr())
	out, errOut, code := runCtl(t, "--standard", "--insecure", "--host", host, "--port", port, "hello")
	if code != 0 || !strings.Contains(out, "0.TYPE/DOIPServiceInfo") {
		t.Errorf("hello: %d %q %q", code, out, errOut)
	}
	file := filepath.Join(t.TempDir(), "src.tex")
	if _, errOut, code := runCtl(t, "retrieve", "Q123", "--component", "source.tex", "-o", file, "--standard", "--insecure", "--host", host, "--port", port); code != 0 {
		t.Fatalf("download: %d %s", code, errOut)
	}
	if got, _ := os.ReadFile(file); !bytes.Equal(got, s.component(t, "00/01/23", "Q123", "source.tex")) {
		t.Error("downloaded source.tex differs")
	}
	if _, errOut, code := runCtl(t, "--standard", "--insecure", "--host", host, "--port", port, "retrieve", "Q999"); code != 2 || !strings.Contains(errOut, "0.DOIP/Status.104") {
		t.Errorf("missing object: %d %q", code, errOut)
	}
}

// A standard client that asks for progress sees the workflow's events before its result.
func TestStandardInvokeWithProgress(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startSystem(t)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	sc, err := client.DialStandard(ctx, s.segmentsAddr(), insecureTLS)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	resp, err := sc.Do(ctx, client.StdRequest{RequestID: "inv-1", TargetID: "Q123", OperationID: "equation_extraction",
		Attributes: map[string]any{"progress": true}, Input: map[string]any{"force": true}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var stages []string
	var result map[string]json.RawMessage
	for _, seg := range resp.Segments {
		var m map[string]json.RawMessage
		if json.Unmarshal(seg, &m) != nil {
			continue
		}
		if p, ok := m["progress"]; ok {
			var ev struct{ Stage string }
			_ = json.Unmarshal(p, &ev)
			stages = append(stages, ev.Stage)
		} else if _, ok := m["workflow"]; ok && result == nil {
			result = m
		}
	}
	// A worker opens every admitted run with an "accepted" event.
	if len(stages) > 0 && stages[0] == "accepted" {
		stages = stages[1:]
	}
	if resp.RequestID != "inv-1" || len(stages) < 3 || stages[0] != "read" || result == nil || len(resp.Bytes) != 1 {
		t.Errorf("progress %v, result %v, %d element(s)", stages, result, len(resp.Bytes))
	}
	var doc equationsDoc
	if err := json.Unmarshal(resp.Bytes[0], &doc); err != nil || len(doc.Equations) == 0 {
		t.Errorf("equations.json from the standard invoke: %v", err)
	}
}
