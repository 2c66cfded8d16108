package e2e_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/httpapi/httpapitest"
)

// postForm sends parts as multipart/form-data, streamed as curl -F does, with a bearer token,
// and returns the answer's status and body.
func postForm(t *testing.T, c *http.Client, u, token string, parts ...httpapitest.Part) (int, []byte) {
	t.Helper()
	body, ct := httpapitest.Multipart(parts...)
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, u, body)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// seqReader yields n bytes of a pattern, without holding them.
type seqReader struct{ off, n int64 }

func (r *seqReader) Read(p []byte) (int, error) {
	if r.n == 0 {
		return 0, io.EOF
	}
	p = p[:min(int64(len(p)), r.n)]
	for i := range p {
		p[i] = byte((r.off + int64(i)) * 13 >> 3)
	}
	r.off += int64(len(p))
	r.n -= int64(len(p))
	return len(p), nil
}

// Writes over HTTPS, as curl -F makes them, against the real binaries: a create with two
// elements, both read back over HTTPS (one by one and in one multipart answer) and over the
// binary port; an update of one; a reader's write refused; a 256 MiB upload that keeps the
// gateway's memory flat.
func TestHTTPWrites(t *testing.T) {
	skipShort(t)
	t.Parallel()
	s := startWriteSystem(t, filepath.Join(t.TempDir(), "data"))
	u := s.httpURL(t)
	c := httpsClient()
	env := s.dial(t)

	code, body := postForm(t, c, u+"/doip?operationId=0.DOIP/Op.Create&targetId=service", writeToken,
		httpapitest.Part{Name: "input", Body: strings.NewReader(`{"type":"Dataset","attributes":{"content":{"name":"over http"}}}`)},
		httpapitest.Part{Name: "data.csv", Filename: "data.csv", MediaType: "text/csv", Body: strings.NewReader("a,b\n1,2\n")},
		httpapitest.Part{Name: "blob.bin", Filename: "blob.bin", MediaType: "application/octet-stream", Body: &seqReader{n: 3 << 20}})
	if code != 200 {
		t.Fatalf("create: %d %s", code, body)
	}
	var do storedDO
	if err := json.Unmarshal(body, &do); err != nil || do.ID == "" || len(do.Elements) != 2 {
		t.Fatalf("create answered %s", body)
	}
	qid := do.ID
	blob, _ := io.ReadAll(&seqReader{n: 3 << 20})
	resp, got := httpapitest.Do(t, c, "GET", u+"/doip?o=0.DOIP/Op.Retrieve&t="+url.QueryEscape(qid)+"&attributes.element=data.csv", "")
	if resp.StatusCode != 200 || string(got) != "a,b\n1,2\n" || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
		t.Errorf("data.csv over HTTPS: %d %s %q", resp.StatusCode, resp.Header.Get("Content-Type"), got)
	}
	if resp, got := httpapitest.Do(t, c, "GET", u+"/doip/retrieve/"+qid+"/blob.bin", ""); resp.StatusCode != 200 || !bytes.Equal(got, blob) {
		t.Errorf("blob.bin over HTTPS: %d, %d bytes", resp.StatusCode, len(got))
	}
	if got := elementBytes(t, env, qid, "data.csv", ""); got != "a,b\n1,2\n" {
		t.Errorf("data.csv over the binary port = %q", got)
	}
	if got := elementBytes(t, env, qid, "blob.bin", ""); got != string(blob) {
		t.Errorf("blob.bin over the binary port: %d bytes differ", len(got))
	}

	// Both elements in one answer: the object, then each element.
	resp, got = httpapitest.Do(t, c, "GET", u+"/doip?o=0.DOIP/Op.Retrieve&t="+url.QueryEscape(qid)+"&attributes.includeElementData=true", "")
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "multipart/mixed;") {
		t.Fatalf("includeElementData: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	parts := map[string][]byte{}
	for _, p := range httpapitest.ReadMultipart(t, resp.Header.Get("Content-Type"), bytes.NewReader(got)) {
		parts[p.Name] = p.Body
	}
	if len(parts) != 3 || !bytes.Contains(parts["json"], []byte(`"id":"`+qid+`"`)) ||
		string(parts["data.csv"]) != "a,b\n1,2\n" || !bytes.Equal(parts["blob.bin"], blob) {
		t.Errorf("includeElementData parts: %d, object %s", len(parts), parts["json"])
	}

	// An update of one element; the other stays.
	code, body = postForm(t, c, u+"/doip/0.DOIP/Op.Update?targetId="+url.QueryEscape(qid), writeToken,
		httpapitest.Part{Name: "input", Body: strings.NewReader(`{}`)},
		httpapitest.Part{Name: "data.csv", Filename: "data.csv", MediaType: "text/csv", Body: strings.NewReader("a,b\n3,4\n")})
	if code != 200 {
		t.Fatalf("update: %d %s", code, body)
	}
	if got := elementBytes(t, env, qid, "data.csv", ""); got != "a,b\n3,4\n" {
		t.Errorf("data.csv after the update = %q", got)
	}
	if got := elementBytes(t, env, qid, "blob.bin", ""); len(got) != 3<<20 {
		t.Errorf("blob.bin after the update: %d bytes", len(got))
	}

	// One element's bytes as the whole body; the record stays as it was.
	resp, got = httpapitest.Do(t, c, "POST", u+"/doip?o=0.DOIP/Op.Update&t="+url.QueryEscape(qid)+"&attributes.element=data.csv", "a,b\n5,6\n",
		"Content-Type", "text/csv", "Authorization", "Bearer "+writeToken)
	if resp.StatusCode != 200 {
		t.Fatalf("raw update: %d %s", resp.StatusCode, got)
	}
	if got := elementBytes(t, env, qid, "data.csv", ""); got != "a,b\n5,6\n" {
		t.Errorf("data.csv after the raw update = %q", got)
	}
	if resp, got := httpapitest.Do(t, c, "GET", u+"/doip?o=0.DOIP/Op.Retrieve&t="+url.QueryEscape(qid), ""); resp.StatusCode != 200 ||
		!bytes.Contains(got, []byte(`"name":"over http"`)) {
		t.Errorf("the record after the updates: %d %s", resp.StatusCode, got)
	}

	// A reader may not write: refused before any byte is stored.
	code, body = postForm(t, c, u+"/doip?o=0.DOIP/Op.Create&t=service", readToken,
		httpapitest.Part{Name: "input", Body: strings.NewReader(`{"type":"Dataset"}`)},
		httpapitest.Part{Name: "x.bin", Filename: "x.bin", Body: &seqReader{n: 8 << 20}})
	if code != http.StatusForbidden {
		t.Errorf("a reader's create: %d %s", code, body)
	}

	// 256 MiB in one element: the gateway's memory stays flat.
	const size = 256 << 20
	before := rssMiB(t, s.gateway)
	peak := samplePeakRSS(t, s.gateway)
	start := time.Now()
	code, body = postForm(t, c, u+"/doip?o=0.DOIP/Op.Create&t=service", writeToken,
		httpapitest.Part{Name: "input", Body: strings.NewReader(`{"type":"Dataset"}`)},
		httpapitest.Part{Name: "big.bin", Filename: "big.bin", Body: &seqReader{n: size}})
	took := time.Since(start)
	peakMiB := peak()
	if code != 200 {
		t.Fatalf("%d MiB create: %d %s", size>>20, code, body)
	}
	var big storedDO
	_ = json.Unmarshal(body, &big)
	t.Logf("%d MiB uploaded over HTTPS in %v (%.0f MiB/s); gateway RSS %d MiB before, peak %d MiB", size>>20, took, float64(size>>20)/took.Seconds(), before, peakMiB)
	const bound = 96 // MiB, far below the upload's 256
	if peakMiB > bound {
		t.Errorf("gateway RSS peaked at %d MiB, over %d MiB", peakMiB, bound)
	}
	resp, err := c.Get(u + "/doip/retrieve/" + big.ID + "/big.bin")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	h, want := sha256.New(), sha256.New()
	n, err := io.Copy(h, resp.Body)
	_, _ = io.Copy(want, &seqReader{n: size})
	if err != nil || n != size || !bytes.Equal(h.Sum(nil), want.Sum(nil)) {
		t.Errorf("big.bin read back: %d bytes, %v, same bytes %v", n, err, bytes.Equal(h.Sum(nil), want.Sum(nil)))
	}
}
