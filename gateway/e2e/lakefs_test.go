package e2e_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/lakefstest"
)

// lakeFSRecords makes a records folder with the sample records and one more, Q900, that
// lists a component big.bin.
func lakeFSRecords(t testing.TB) string {
	t.Helper()
	root, err := repoRoot()
	if err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(root, "retrieve-svc", "internal", "sampledata", "objects", "records")
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "records"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"Q123.json", "Q456.json"} {
		b, err := os.ReadFile(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "records", name), b, 0o644); err != nil {
			t.Fatal(err)
		}
		if name == "Q456.json" {
			q900 := strings.NewReplacer("Q456", "Q900", "data.csv", "big.bin", "text/csv", "application/octet-stream").Replace(string(b))
			if err := os.WriteFile(filepath.Join(dir, "records", "Q900.json"), []byte(q900), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

// bigFile writes n pseudo-random bytes to a file and returns its path and SHA-256.
func bigFile(t testing.TB, n int64) (string, string) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "big.bin")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	w := bufio.NewWriterSize(io.MultiWriter(f, h), 1<<20)
	if _, err := io.CopyN(w, rand.NewChaCha8([32]byte{1}), n); err != nil {
		t.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return p, hex.EncodeToString(h.Sum(nil))
}

// startLakeFSSystem starts retrieve-svc on lakeFS (STORAGE=lakefs, records from dataDir),
// one invoke-svc and the gateway.
func startLakeFSSystem(t testing.TB, l *lakefstest.Server, dataDir string, retrieveEnv ...string) *system {
	t.Helper()
	s := &system{dataDir: dataDir}
	env := append([]string{"STORAGE=lakefs", "LAKEFS_URL=" + l.URL(), "LAKEFS_REPO=" + lakefstest.Repo, "LAKEFS_BRANCH=" + lakefstest.Branch,
		"LAKEFS_USER=" + lakefstest.AccessKey, "LAKEFS_PASSWORD=" + lakefstest.SecretKey}, retrieveEnv...)
	s.retrieve = start(t, "retrieve-svc", 1, []string{"--listen", "127.0.0.1:0", "--data-dir", dataDir, "--s3-timeout", "5s"}, env...)
	s.invoke = start(t, "invoke-svc", 1, []string{"--listen", "127.0.0.1:0", "--retrieve-addr", s.retrieve.addr("grpc")})
	s.workers = []*proc{s.invoke}
	s.gateway = start(t, "doip-gateway", 2, []string{"--host", "127.0.0.1", "--port", "0", "--retrieve-addr", s.retrieve.addr("grpc"),
		"--invoke-addr", s.invoke.addr("grpc"), "--call-timeout", "8s",
		"--tls-cert", filepath.Join(t.TempDir(), "none.crt"), "--tls-key", filepath.Join(t.TempDir(), "none.key")}) // plaintext, or TLS with a certificate made at start-up
	return s
}

var adminAddrRE = regexp.MustCompile(`"msg":"admin listening"[^\n]*"admin_addr":"([^"]+)"`)

// readyz asks a process's admin port for /readyz.
func readyz(t *testing.T, p *proc) (int, string) {
	t.Helper()
	m := adminAddrRE.FindStringSubmatch(p.logText())
	for deadline := time.Now().Add(10 * time.Second); m == nil && time.Now().Before(deadline); m = adminAddrRE.FindStringSubmatch(p.logText()) {
		time.Sleep(20 * time.Millisecond) // "admin listening" follows "listening"
	}
	if m == nil {
		t.Fatalf("%s logged no admin address", p.name)
	}
	resp, err := http.Get("http://" + m[1] + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitReady polls /readyz until it answers want, for up to 30 s.
func waitReady(t *testing.T, p *proc, want int) string {
	t.Helper()
	var (
		code int
		body string
	)
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		if code, body = readyz(t, p); code == want {
			return body
		}
	}
	t.Fatalf("%s /readyz = %d %q, want %d", p.name, code, body, want)
	return ""
}

func retrieveAt(ctx context.Context, c *client.Conn, qid, element, version string) (*client.Response, error) {
	meta := map[string]any{"element": element}
	if version != "" {
		meta["version"] = version
	}
	return c.Do(ctx, client.Request{Op: doip.OpRetrieve, ObjectID: qid, Metadata: meta}, nil)
}

// lakeFSCommit is the part of a lakeFS commit the tests look at.
type lakeFSCommit struct {
	ID       string            `json:"id"`
	Message  string            `json:"message"`
	Parents  []string          `json:"parents"`
	Metadata map[string]string `json:"metadata"`
}

// noLeftovers checks that main has nothing staged and that no run branch is left.
func noLeftovers(t *testing.T, l *lakefstest.Server) {
	t.Helper()
	var diff struct {
		Results []struct {
			Path string `json:"path"`
		} `json:"results"`
	}
	if code := l.API(t, http.MethodGet, "/repositories/"+lakefstest.Repo+"/branches/"+lakefstest.Branch+"/diff", &diff); code != http.StatusOK || len(diff.Results) != 0 {
		t.Errorf("main has uncommitted changes (HTTP %d): %+v", code, diff.Results)
	}
	var branches struct {
		Results []struct {
			ID string `json:"id"`
		} `json:"results"`
	}
	l.API(t, http.MethodGet, "/repositories/"+lakefstest.Repo+"/branches?show_hidden=true&amount=1000", &branches)
	for _, b := range branches.Results {
		if strings.HasPrefix(b.ID, "doip-run-") {
			t.Errorf("run branch %s left behind", b.ID)
		}
	}
}

// TestRealLakeFS runs the three binaries against a real lakeFS, set up as compose sets it up:
// records, small components, a 200 MiB component through the presigned hand-off, versions,
// invoke with commits, purge, readiness, a key lakeFS's S3 gateway refuses, and lakeFS
// stopped and started again.
func TestRealLakeFS(t *testing.T) {
	l := startLakeFS(t)
	root, _ := repoRoot()
	samples := filepath.Join(root, "retrieve-svc", "internal", "sampledata", "objects", "main")

	const bigSize = 200 << 20
	bigPath, bigSum := bigFile(t, bigSize)
	l.MustLakectl(t, "fs", "upload", "--no-progress", "--source", bigPath, "lakefs://"+lakefstest.Repo+"/"+lakefstest.Branch+"/00/09/00/Q900/components/big.bin")
	l.MustLakectl(t, "commit", "lakefs://"+lakefstest.Repo+"/"+lakefstest.Branch, "--message", "a 200 MiB component")
	var head lakeFSCommit
	l.API(t, http.MethodGet, "/repositories/"+lakefstest.Repo+"/commits/"+lakefstest.Branch, &head)
	if len(head.ID) != 64 || len(head.Parents) != 1 {
		t.Fatalf("head of main: %+v", head)
	}
	samplesCommit := head.Parents[0]

	s := startLakeFSSystem(t, l, lakeFSRecords(t))
	c := s.dial(t)
	c.Timeout = 2 * time.Minute

	t.Run("records", func(t *testing.T) {
		for _, qid := range []string{"Q123", "Q456", "Q900"} {
			resp, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: qid}, nil)
			if err != nil {
				t.Fatalf("%s: %v", qid, err)
			}
			var rec struct {
				Version string `json:"version"`
				ID      string `json:"@id"`
			}
			if err := json.Unmarshal(resp.Metadata, &rec); err != nil || rec.Version != head.ID || !strings.HasSuffix(rec.ID, "/"+qid) {
				t.Errorf("%s: record %+v (%v), want version %s", qid, rec, err, head.ID)
			}
		}
	})

	t.Run("small components", func(t *testing.T) {
		for _, tc := range []struct{ qid, shard, id string }{
			{"Q123", "00/01/23", "main-pdf"}, {"Q123", "00/01/23", "source.tex"}, {"Q456", "00/04/56", "data.csv"},
		} {
			want, err := os.ReadFile(filepath.Join(samples, tc.shard, tc.qid, "components", tc.id))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := retrieveAt(t.Context(), c, tc.qid, tc.id, "")
			if err != nil || len(resp.Components) != 1 || !bytes.Equal(resp.Components[0].Content, want) {
				t.Errorf("%s/%s: %v", tc.qid, tc.id, err)
			}
			// At the commit of the samples, before the big component came: the same bytes.
			resp, err = retrieveAt(t.Context(), c, tc.qid, tc.id, samplesCommit)
			if err != nil || len(resp.Components) != 1 || !bytes.Equal(resp.Components[0].Content, want) {
				t.Errorf("%s/%s at %s: %v", tc.qid, tc.id, samplesCommit, err)
			}
		}
		var de *doip.Error
		if _, err := retrieveAt(t.Context(), c, "Q123", "main-pdf", "no-such-branch"); !errors.As(err, &de) || de.Kind != doip.KindNotFound || !strings.Contains(de.Message, "no-such-branch") {
			t.Errorf("unknown version: %v, want NotFound naming it", err)
		}
		if _, err := retrieveAt(t.Context(), c, "Q123", "main-pdf", "a/b"); !errors.As(err, &de) || de.Kind != doip.KindBadRequest || !strings.Contains(de.Message, "version") {
			t.Errorf("malformed version: %v, want BadRequest", err)
		}
		if _, err := retrieveAt(t.Context(), c, "Q900", "big.bin", samplesCommit); !errors.As(err, &de) || de.Kind != doip.KindNotFound {
			t.Errorf("big.bin before its commit: %v, want NotFound", err)
		}
	})

	t.Run("200 MiB through the presigned hand-off", func(t *testing.T) {
		h := sha256.New()
		var n int64
		resp, err := c.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q900", Metadata: map[string]any{"element": "big.bin"}},
			&client.Sink{Open: func(string, string, int64) (io.Writer, error) { return countingWriter{h, &n}, nil }})
		if err != nil || len(resp.Components) != 1 {
			t.Fatalf("big.bin: %v", err)
		}
		if got := hex.EncodeToString(h.Sum(nil)); n != bigSize || got != bigSum {
			t.Errorf("big.bin: %d bytes, SHA-256 %s; want %d, %s", n, got, int64(bigSize), bigSum)
		}
		if !strings.Contains(s.retrieve.logText(), `"msg":"component handed off"`) {
			t.Error("big.bin was not handed off to a presigned lakeFS URL")
		}
		t.Logf("lakeFS RSS after serving 200 MiB: %d MiB", l.RSS()>>20)
	})

	var v1, v2 string
	var first []byte
	t.Run("invoke commits", func(t *testing.T) {
		invoke := func(params map[string]any) string {
			t.Helper()
			resp, err := c.Do(t.Context(), client.Request{Op: doip.OpInvoke, ObjectID: "Q123",
				Metadata: map[string]any{"workflow": "equation_extraction", "params": params}}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var meta struct {
				Version string `json:"version"`
			}
			if err := json.Unmarshal(resp.Metadata, &meta); err != nil || len(meta.Version) != 64 {
				t.Fatalf("invoke answer %s: no version", resp.Metadata)
			}
			return meta.Version
		}
		v1 = invoke(map[string]any{})
		var commit lakeFSCommit
		if code := l.API(t, http.MethodGet, "/repositories/"+lakefstest.Repo+"/commits/"+v1, &commit); code != http.StatusOK {
			t.Fatalf("commit %s: HTTP %d", v1, code)
		}
		for _, k := range []string{"workflow", "object", "params_sha256", "source_component", "source_sha256", "request_id", "client"} {
			if commit.Metadata[k] == "" {
				t.Errorf("commit metadata has no %s: %v", k, commit.Metadata)
			}
		}
		if commit.Metadata["workflow"] != "equation_extraction" || commit.Metadata["source_component"] != "source.tex" || commit.Metadata["client"] != "anonymous" {
			t.Errorf("commit metadata %v", commit.Metadata)
		}
		resp, err := retrieveAt(t.Context(), c, "Q123", "equations.json", v1)
		if err != nil || len(resp.Components) != 1 {
			t.Fatalf("equations.json at %s: %v", v1, err)
		}
		first = resp.Components[0].Content

		// Another run changes equations.json: the branch has the new bytes, v1 the old.
		v2 = invoke(map[string]any{"component": "main-pdf"})
		if v2 == v1 {
			t.Fatal("the second run made no new commit")
		}
		now, err := retrieveAt(t.Context(), c, "Q123", "equations.json", "")
		if err != nil || bytes.Equal(now.Components[0].Content, first) || !strings.Contains(string(now.Components[0].Content), `"pdf-layout"`) {
			t.Fatalf("equations.json after the second run: %v", err)
		}
		old, err := retrieveAt(t.Context(), c, "Q123", "equations.json", v1)
		if err != nil || !bytes.Equal(old.Components[0].Content, first) {
			t.Errorf("equations.json at the first run's commit: %v, changed bytes", err)
		}
		// A tag names the commit as well.
		l.MustLakectl(t, "tag", "create", "lakefs://"+lakefstest.Repo+"/first-run", "lakefs://"+lakefstest.Repo+"/"+v1)
		tagged, err := retrieveAt(t.Context(), c, "Q123", "equations.json", "first-run")
		if err != nil || !bytes.Equal(tagged.Components[0].Content, first) {
			t.Errorf("equations.json at the tag first-run: %v", err)
		}
		noLeftovers(t, l)
	})

	t.Run("standard DOIP at a version", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		defer cancel()
		sc, err := client.DialStandard(ctx, s.segmentsAddr(), insecureTLS)
		if err != nil {
			t.Fatal(err)
		}
		defer sc.Close()
		resp, err := sc.Do(ctx, client.StdRequest{TargetID: "Q123", OperationID: "0.DOIP/Op.Retrieve",
			Attributes: map[string]any{"element": "equations.json", "version": v1}}, nil)
		if err != nil || len(resp.Bytes) != 1 || !bytes.Equal(resp.Bytes[0], first) || string(resp.Attributes["version"]) != `"`+v1+`"` {
			t.Fatalf("equations.json at %s over standard DOIP: %v", v1, err)
		}
		resp, err = sc.Do(ctx, client.StdRequest{TargetID: "Q123", OperationID: "0.DOIP/Op.Retrieve", Attributes: map[string]any{"version": v1}}, nil)
		var do struct {
			Attributes struct {
				Version string `json:"version"`
			} `json:"attributes"`
		}
		if err != nil || json.Unmarshal(resp.Output, &do) != nil || do.Attributes.Version != v1 {
			t.Errorf("the digital object at %s: %v, version %q", v1, err, do.Attributes.Version)
		}
	})

	t.Run("a failed commit leaves nothing staged", func(t *testing.T) {
		conn, err := grpc.NewClient(s.retrieve.addr("grpc"), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		stream, err := retrievev1.NewRetrieveServiceClient(conn).CommitComponents(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range []*retrievev1.CommitComponentsRequest{
			{Msg: &retrievev1.CommitComponentsRequest_Commit{Commit: &retrievev1.CommitHeader{ObjectId: "Q123", Workflow: "equation_extraction"}}},
			{Msg: &retrievev1.CommitComponentsRequest_File{File: &retrievev1.WriteComponentHeader{Path: "stray.json", Size: 2}}},
			{Msg: &retrievev1.CommitComponentsRequest_Chunk{Chunk: []byte("{}")}},
			{Msg: &retrievev1.CommitComponentsRequest_File{File: &retrievev1.WriteComponentHeader{Path: "short.json", Size: 10}}},
			{Msg: &retrievev1.CommitComponentsRequest_Chunk{Chunk: []byte("{}")}},
		} {
			if err := stream.Send(m); err != nil {
				break
			}
		}
		if _, err := stream.CloseAndRecv(); status.Code(err) != codes.InvalidArgument {
			t.Fatalf("short commit: %v, want InvalidArgument", err)
		}
		noLeftovers(t, l)
		var de *doip.Error
		if _, err := retrieveAt(t.Context(), c, "Q123", "stray.json", ""); !errors.As(err, &de) || de.Kind != doip.KindNotFound {
			t.Errorf("stray.json of the failed commit: %v, want NotFound", err)
		}
	})

	t.Run("purge", func(t *testing.T) {
		if _, err := c.Do(t.Context(), client.Request{Op: doip.OpPurge, ObjectID: "Q123"}, nil); err != nil {
			t.Error(err)
		}
	})

	t.Run("readiness", func(t *testing.T) {
		waitReady(t, s.retrieve, http.StatusOK)
		// A key lakeFS does not know: not ready, and the reason says so.
		stranger := start(t, "retrieve-svc", 1, []string{"--listen", "127.0.0.1:0", "--data-dir", s.dataDir},
			"STORAGE=lakefs", "LAKEFS_URL="+l.URL(), "LAKEFS_REPO="+lakefstest.Repo, "LAKEFS_USER=unknown-key", "LAKEFS_PASSWORD="+lakefstest.SecretKey)
		if body := waitReady(t, stranger, http.StatusServiceUnavailable); !strings.Contains(body, "rejected this service's credentials") {
			t.Errorf("/readyz with an unknown key: %q, want the cause", body)
		}
		// Compose's old default: a lakeFS made with a 21-character key. lakectl (the REST
		// API) takes it, so the setup succeeds; lakeFS's S3 gateway does not.
		old := startLakeFS(t, lakefstest.WithAccessKey("local-only-access-key"))
		bad := start(t, "retrieve-svc", 1, []string{"--listen", "127.0.0.1:0", "--data-dir", s.dataDir},
			"STORAGE=lakefs", "LAKEFS_URL="+old.URL(), "LAKEFS_REPO="+lakefstest.Repo, "LAKEFS_USER=local-only-access-key", "LAKEFS_PASSWORD="+lakefstest.SecretKey)
		body := waitReady(t, bad, http.StatusServiceUnavailable)
		if !strings.Contains(body, "access key id") || !strings.Contains(body, "3 to 20") {
			t.Errorf("/readyz with a 21-character key: %q, want the cause", body)
		}
		conn, err := grpc.NewClient(bad.addr("grpc"), grpc.WithTransportCredentials(insecure.NewCredentials()))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		stream, err := retrievev1.NewRetrieveServiceClient(conn).StreamComponent(t.Context(), &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "main-pdf"})
		if err == nil {
			_, err = stream.Recv()
		}
		if status.Code(err) != codes.Unavailable || !strings.Contains(err.Error(), "3 to 20") {
			t.Errorf("a read with a 21-character key: %v, want Unavailable naming the cause", err)
		}
		for deadline := time.Now().Add(10 * time.Second); !strings.Contains(bad.logText(), "3 to 20") && time.Now().Before(deadline); {
			time.Sleep(50 * time.Millisecond)
		}
		if !strings.Contains(bad.logText(), "lakeFS wants 3 to 20 characters") {
			t.Error("retrieve-svc did not log the cause at start-up")
		}
	})

	t.Run("lakeFS stopped and started again", func(t *testing.T) {
		l.Stop(t)
		waitReady(t, s.retrieve, http.StatusServiceUnavailable)
		begin := time.Now()
		_, err := retrieveAt(t.Context(), c, "Q123", "main-pdf", "")
		if o := outcome(t, err, time.Since(begin)); o != "unavailable" {
			t.Errorf("lakeFS down: %s (%v), want Unavailable", o, err)
		}
		l.Restart(t)
		waitReady(t, s.retrieve, http.StatusOK)
		retrieveUntilOK(t, s, client.Request{Op: doip.OpRetrieve, ObjectID: "Q123", Metadata: map[string]any{"element": "main-pdf"}})
		c := s.dial(t)
		old, err := retrieveAt(t.Context(), c, "Q123", "equations.json", v1)
		if err != nil || !bytes.Equal(old.Components[0].Content, first) {
			t.Errorf("equations.json at %s after the restart: %v", v1, err)
		}
	})

	if strings.Contains(s.retrieve.logText(), lakefstest.SecretKey) {
		t.Error("the lakeFS secret appears in retrieve-svc's logs")
	}
}

type countingWriter struct {
	w io.Writer
	n *int64
}

func (c countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}

// BenchmarkLakeFS512MiB reads one 512 MiB component from a real lakeFS in one run, two ways:
// through the gateway (retrieve-svc hands the read off to a presigned lakeFS URL, the gateway
// fetches it and writes the envelope) and as a direct S3 GET of the same object from
// lakeFS's S3 gateway with minio-go. It reports lakeFS's resident memory afterwards.
//
//	go test -run '^$' -bench LakeFS512MiB -benchtime 3x ./gateway/e2e/
func BenchmarkLakeFS512MiB(b *testing.B) {
	const size = 512 << 20
	const key = lakefstest.Branch + "/00/09/00/Q900/components/big.bin"
	l := startLakeFS(b)
	path, _ := bigFile(b, size)
	l.MustLakectl(b, "fs", "upload", "--no-progress", "--source", path, "lakefs://"+lakefstest.Repo+"/"+key)
	l.MustLakectl(b, "commit", "lakefs://"+lakefstest.Repo+"/"+lakefstest.Branch, "--message", "a 512 MiB component")
	s := startLakeFSSystem(b, l, lakeFSRecords(b))

	b.Run("gateway", func(b *testing.B) {
		c, err := client.Dial(b.Context(), s.envelopeAddr(), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		c.Timeout = 5 * time.Minute
		b.SetBytes(size)
		for b.Loop() {
			var n int64
			_, err := c.Do(b.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q900", Metadata: map[string]any{"element": "big.bin"}},
				&client.Sink{Open: func(string, string, int64) (io.Writer, error) { return countingWriter{io.Discard, &n}, nil }})
			if err != nil || n != size {
				b.Fatalf("%d bytes: %v", n, err)
			}
		}
		b.ReportMetric(float64(l.RSS())/(1<<20), "lakefs-rss-MiB")
	})
	// A 207 KiB component (main-pdf): after the first read it comes from retrieve-svc's
	// memory cache, so this measures the per-read work around the bytes, above all the
	// lookup of the branch's commit in lakeFS that every read without a version makes.
	b.Run("small-component-gateway", func(b *testing.B) {
		c, err := client.Dial(b.Context(), s.envelopeAddr(), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		for b.Loop() {
			resp, err := c.Do(b.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q123", Metadata: map[string]any{"element": "main-pdf"}}, nil)
			if err != nil || len(resp.Components) != 1 {
				b.Fatal(err)
			}
			b.SetBytes(resp.Components[0].Size)
		}
	})
	b.Run("direct-s3", func(b *testing.B) {
		mc, err := minio.New(l.Addr, &minio.Options{Creds: credentials.NewStaticV4(lakefstest.AccessKey, lakefstest.SecretKey, ""), BucketLookup: minio.BucketLookupPath, Region: "us-east-1"})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		buf := make([]byte, 1<<20) // io.Discard's ReadFrom would read in 8 KiB pieces
		for b.Loop() {
			obj, err := mc.GetObject(b.Context(), lakefstest.Repo, key, minio.GetObjectOptions{})
			if err != nil {
				b.Fatal(err)
			}
			var n int64
			for err == nil {
				var k int
				k, err = obj.Read(buf)
				n += int64(k)
			}
			if err == io.EOF {
				err = nil
			}
			obj.Close()
			if err != nil || n != size {
				b.Fatalf("%d bytes: %v", n, err)
			}
		}
		b.ReportMetric(float64(l.RSS())/(1<<20), "lakefs-rss-MiB")
	})
}
