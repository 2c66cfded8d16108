package e2e_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doiptext"
	"github.com/fdo-doip/doip-gateway/gateway/internal/envelope"
	"github.com/fdo-doip/doip-gateway/shared/doipvectors"
	"github.com/fdo-doip/doip-gateway/shared/lakefstest"
)

// The identities of the write tests: doipy's captured requests log in as admin/secret,
// MaRDI's client's as capture@bot/bot-secret; a read-only token; a token that may write.
const (
	writeToken = "writer-token-7c1e"
	readToken  = "reader-token-2b9d"
)

// startWriteSystem starts retrieve-svc (with retrieveEnv: the folder backend by default) and
// the gateway with users and tokens for the write tests; no invoke-svc.
func startWriteSystem(t *testing.T, dataDir string, retrieveEnv ...string) *system {
	t.Helper()
	return startWriteSystemTB(t, dataDir, retrieveEnv...)
}

// startWriteSystemTB is startWriteSystem for tests and benchmarks.
func startWriteSystemTB(t testing.TB, dataDir string, retrieveEnv ...string) *system {
	t.Helper()
	hash := func(pw string) string {
		h, err := bcrypt.GenerateFromPassword([]byte(pw), bcrypt.MinCost)
		if err != nil {
			t.Fatal(err)
		}
		return string(h)
	}
	s := &system{dataDir: dataDir}
	s.retrieve = start(t, "retrieve-svc", 1, []string{"--listen", "127.0.0.1:0", "--data-dir", dataDir, "--s3-timeout", "60s"}, retrieveEnv...)
	s.gateway = start(t, "doip-gateway", 2, []string{"--host", "127.0.0.1", "--port", "0", "--retrieve-addr", s.retrieve.addr("grpc"),
		"--invoke-addr", "", "--call-timeout", "8s", "--read-timeout", "3s",
		"--tls-cert", filepath.Join(t.TempDir(), "none.crt"), "--tls-key", filepath.Join(t.TempDir(), "none.key")},
		"USERS=admin:"+hash("secret")+":read+write,capture@bot:"+hash("bot-secret")+":read+write",
		"ACCESS_TOKENS=writer:"+writeToken+":read+write,reader:"+readToken+":read")
	return s
}

// stdConn opens a plaintext standard connection (first byte '{').
func stdConn(t *testing.T, s *system) *client.StdConn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.segmentsAddr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c := client.NewStdConn(nc)
	c.Timeout = 30 * time.Second
	t.Cleanup(func() { c.Close() })
	return c
}

// sendRaw sends bytes to the gateway's port 3568 on a new connection, under a deadline.
func sendRaw(t *testing.T, s *system, msg []byte) net.Conn {
	t.Helper()
	nc, err := net.DialTimeout("tcp", s.segmentsAddr(), 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := nc.Write(msg); err != nil {
		nc.Close()
		t.Fatal(err)
	}
	return nc
}

// replay sends captured request bytes (with ids replaced) and reads one answer.
func replay(t *testing.T, s *system, raw []byte) (map[string]json.RawMessage, []doiptext.Segment) {
	t.Helper()
	nc := sendRaw(t, s, raw)
	defer nc.Close()
	segs := readMessages(t, nc, 1)[0]
	return firstSegment(t, segs), segs
}

// storedDO is a DO as the standard framing answers it.
type storedDO = doipvectors.DO

func outputDO(t *testing.T, first map[string]json.RawMessage) storedDO {
	t.Helper()
	var do storedDO
	if err := json.Unmarshal(first["output"], &do); err != nil || do.ID == "" {
		t.Fatalf("output = %s (%v)", first["output"], err)
	}
	return do
}

func wantStatus(t *testing.T, first map[string]json.RawMessage, want, what string) {
	t.Helper()
	if got := str(first, "status"); got != want {
		t.Fatalf("%s: status %s, want %s (attributes %s)", what, got, want, first["attributes"])
	}
}

func elementBytes(t *testing.T, c *client.Conn, qid, id, version string) string {
	t.Helper()
	resp, err := retrieveAt(t.Context(), c, qid, id, version)
	if err != nil {
		t.Fatalf("retrieve %s/%s at %q: %v", qid, id, version, err)
	}
	if len(resp.Components) != 1 {
		t.Fatalf("retrieve %s/%s: %d components", qid, id, len(resp.Components))
	}
	return string(resp.Components[0].Content)
}

// runWrites is the write scenario, on whatever storage s runs on.
func runWrites(t *testing.T, s *system, leftovers func(t *testing.T)) {
	ctx := t.Context()
	env := s.dial(t)

	// doipy's create with one element, its bytes as captured: the service makes the id and
	// fills doipy's empty content.id with it.
	first, _ := replay(t, s, writeVector(t, "doiptext", "doipy-request-create-with-bytes"))
	wantStatus(t, first, doiptext.StatusSuccess, "doipy create")
	created := outputDO(t, first)
	qid, v1 := created.ID, created.Attributes.Version
	if !strings.HasPrefix(qid, "Q99") || v1 == "" || len(created.Elements) != 1 || created.Elements[0].Length != 12 ||
		!strings.Contains(string(created.Attributes.Content), `"id":"`+qid+`"`) {
		t.Fatalf("created = %+v", created)
	}
	uuid := created.Elements[0].ID
	if got := elementBytes(t, env, qid, uuid, ""); got != "Hello World\n" {
		t.Errorf("created element = %q", got)
	}

	// A create with two elements through the standard framing, then read back through the
	// binary one; retrieve answers with compact output and attributes.version (doipy's
	// update helpers read output.attributes.content).
	sc := stdConn(t, s)
	resp, err := sc.DoWrite(ctx, json.RawMessage(`{"targetId":"svc","operationId":"0.DOIP/Op.Create","authentication":{"token":"`+writeToken+`"}}`),
		map[string]any{"type": "Dataset", "attributes": map[string]any{"content": map[string]any{"name": "two"}},
			"elements": []map[string]any{{"id": "a.txt", "type": "text/plain"}, {"id": "b.bin"}}},
		[]client.StdElement{{ID: "a.txt", Body: strings.NewReader("alpha v1")}, {ID: "b.bin", Body: bytes.NewReader(bytes.Repeat([]byte{7}, 300<<10))}}, nil)
	if err != nil {
		t.Fatalf("create with two elements: %v", err)
	}
	var two storedDO
	_ = json.Unmarshal(resp.Output, &two)
	if len(two.Elements) != 2 || two.Elements[1].Length != 300<<10 {
		t.Fatalf("created = %s", resp.Output)
	}
	obj, c1 := two.ID, two.Attributes.Version
	// The search index follows the write: the new object is found by its record.
	if m := awaitHits(t, env, "name:two AND id:"+obj); m.Results[0].QID != obj {
		t.Errorf("search for the new object found %+v", m.Results)
	}
	if got := elementBytes(t, env, obj, "b.bin", ""); len(got) != 300<<10 {
		t.Errorf("b.bin is %d bytes", len(got))
	}
	ret, err := sc.DoRaw(ctx, `{"targetId":"`+obj+`","operationId":"0.DOIP/Op.Retrieve"}`)
	if err != nil || len(ret.Segments) != 0 || !bytes.Contains(ret.Output, []byte(`"version":"`+c1+`"`)) {
		t.Fatalf("retrieve: %v, output %s, %d more segments", err, ret.Output, len(ret.Segments))
	}

	// doipy's update (element bytes), aimed at our object: a new version; both readable.
	upd := doipvectors.Replace(t, writeVector(t, "doiptext", "doipy-request-update"), "test/abc", obj)
	upd = doipvectors.Replace(t, upd, `"id": "file"`, `"id": "a.txt"`)
	upd = doipvectors.Replace(t, upd, "12\nHello World\n", "12\nalpha v2 :-\n")
	first, _ = replay(t, s, upd)
	wantStatus(t, first, doiptext.StatusSuccess, "doipy update")
	c2 := outputDO(t, first).Attributes.Version
	if got := elementBytes(t, env, obj, "a.txt", c1); got != "alpha v1" {
		t.Errorf("a.txt at the first version = %q", got)
	}
	if got := elementBytes(t, env, obj, "a.txt", c2); got != "alpha v2 :-\n" {
		t.Errorf("a.txt at the second version = %q", got)
	}

	// The object as an RO-Crate, built on the fly: the metadata, the record, every element.
	crate, err := retrieveAt(ctx, env, obj, "rocrate", "")
	if err != nil || len(crate.Components) != 1 || crate.Components[0].MediaType != "application/zip" {
		t.Fatalf("rocrate: %+v, %v", crate, err)
	}
	zr, err := zip.NewReader(bytes.NewReader(crate.Components[0].Content), int64(len(crate.Components[0].Content)))
	if err != nil {
		t.Fatalf("rocrate is not a ZIP: %v", err)
	}
	files := map[string]string{}
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		if err != nil {
			t.Fatalf("rocrate entry %s: %v", f.Name, err)
		}
		files[f.Name] = string(b)
	}
	if files["a.txt"] != "alpha v2 :-\n" || len(files["b.bin"]) != 300<<10 || !strings.Contains(files["ro-crate-metadata.json"], `"identifier": "`+obj+`"`) ||
		!strings.Contains(files["fdo-record.json"], `"name":"Hello World"`) {
		t.Errorf("rocrate holds %d files; metadata %s", len(files), files["ro-crate-metadata.json"])
	}

	// Two updates that both read c2: exactly one wins, the other is told of the conflict.
	var (
		wg       sync.WaitGroup
		statuses [2]string
	)
	for i := range statuses {
		wg.Go(func() {
			c := stdConn(t, s)
			r, _ := c.DoWrite(ctx, json.RawMessage(`{"targetId":"`+obj+`","operationId":"0.DOIP/Op.Update","attributes":{"expectedVersion":"`+c2+`"},"authentication":{"token":"`+writeToken+`"}}`),
				map[string]any{"attributes": map[string]any{"content": map[string]any{"name": "writer", "n": i}}}, nil, nil)
			if r != nil {
				statuses[i] = r.Status
			}
		})
	}
	wg.Wait()
	if !(statuses[0] == doiptext.StatusSuccess) != (statuses[1] == doiptext.StatusSuccess) ||
		(statuses[0] != doiptext.StatusConflict && statuses[1] != doiptext.StatusConflict) {
		t.Errorf("concurrent updates: %v, want one success and one 105", statuses)
	}

	// MaRDI's binary create and update, as captured (the update aimed at the new object).
	if err := env.WriteRaw(writeVector(t, "envelope", "mardi-head-request-create")); err != nil {
		t.Fatal(err)
	}
	mc, err := env.ReadResponse()
	if err != nil || mc.Header.Type != envelope.TypeResponse || !strings.HasPrefix(mc.ObjectID, "Q99") ||
		string(mc.Metadata) != `{"operation":"create","status":"created","qid":"`+mc.ObjectID+`"}` {
		t.Fatalf("MaRDI create = %+v %s, %v", mc, mc.Metadata, err)
	}
	// The captured update names Q123: the same bytes with the new object's id in the header.
	if err := env.WriteRaw(doipvectors.PatchEnvelope(t, writeVector(t, "envelope", "mardi-head-request-update"), mc.ObjectID)); err != nil {
		t.Fatal(err)
	}
	mr, err := env.ReadResponse()
	var um struct{ Status, ObjectID, ComponentID, CommitID string }
	if err != nil || json.Unmarshal(mr.Metadata, &um) != nil || um.Status != "committed" || um.ComponentID != "notes.txt" || len(um.CommitID) != 64 {
		t.Fatalf("MaRDI update = %s, %v", mr.Metadata, err)
	}
	if got := elementBytes(t, env, mc.ObjectID, "notes.txt", ""); got != "Hello World\n" {
		t.Errorf("notes.txt = %q", got)
	}

	// The length-prefixed framing: a create with one element, then read back.
	ans := segmentCall(t, s, segmentFrame(`{"targetId":"","operationId":"create","attributes":{"token":"`+writeToken+`","content":{"name":"seg"}}}`,
		`{"id":"s.txt","type":"text/plain"}`, "segment bytes"))
	var sa struct {
		Status   string `json:"status"`
		Metadata []struct {
			QID string `json:"qid"`
		} `json:"metadata"`
	}
	if json.Unmarshal([]byte(ans), &sa) != nil || sa.Status != "success" || len(sa.Metadata) != 1 || !strings.HasPrefix(sa.Metadata[0].QID, "Q99") {
		t.Fatalf("length-prefixed create = %s", ans)
	}
	if got := elementBytes(t, env, sa.Metadata[0].QID, "s.txt", ""); got != "segment bytes" {
		t.Errorf("s.txt = %q", got)
	}

	// Delete with doipy's bytes; the object is gone, its versions stay readable.
	first, segs := replay(t, s, doipvectors.Replace(t, writeVector(t, "doiptext", "doipy-request-delete"), "test/abc", obj))
	wantStatus(t, first, doiptext.StatusSuccess, "doipy delete")
	awaitNoHits(t, env, "id:"+obj) // and the deleted one is gone from it
	if len(segs) != 1 || len(first) != 1 {
		t.Errorf("delete answer has more than a bare status: %v", first)
	}
	if _, err := retrieveAt(ctx, env, obj, "", ""); !isKind(err, doip.KindNotFound) {
		t.Errorf("retrieve after delete: %v, want NotFound", err)
	}
	if got := elementBytes(t, env, obj, "a.txt", c2); got != "alpha v2 :-\n" {
		t.Errorf("a.txt at an old version after delete = %q", got)
	}

	// History, newest first, with authors.
	h, err := env.Do(ctx, historyRequest(obj), nil)
	var hist struct {
		Versions []doip.VersionInfo `json:"versions"`
	}
	if err != nil || json.Unmarshal(h.Metadata, &hist) != nil || len(hist.Versions) != 4 ||
		hist.Versions[0].Change != "deleted" || hist.Versions[3].Version != c1 || hist.Versions[3].Author != "writer" || hist.Versions[2].Author != "admin" {
		t.Errorf("history = %+v, %v", h, err)
	}

	stdHist, err := stdConn(t, s).DoRaw(ctx, `{"targetId":"`+obj+`","operationId":"history","attributes":{"pageSize":2}}`)
	if err != nil || !bytes.Contains(stdHist.Output, []byte(`"change":"deleted"`)) || !bytes.Contains(stdHist.Output, []byte(`"nextPageToken"`)) {
		t.Errorf("standard history = %+v, %v", stdHist, err)
	}

	// Permissions: anonymous writes are refused in every framing, a read-only token too.
	anonCreate := `{"targetId":"svc","operationId":"0.DOIP/Op.Create"}` + "\n#\n{\"attributes\":{}}\n#\n#\n"
	first, _ = replay(t, s, []byte(anonCreate))
	wantStatus(t, first, doiptext.StatusUnauthenticated, "anonymous standard create")
	first, _ = replay(t, s, []byte(strings.Replace(anonCreate, `"operationId"`, `"authentication":{"token":"`+readToken+`"},"operationId"`, 1)))
	wantStatus(t, first, doiptext.StatusUnauthorized, "read-only token create")
	if _, err := env.Write(ctx, doip.OpCreate, "", map[string]any{"json": "{}"}, nil, nil); !isKind(err, doip.KindUnauthenticated) {
		t.Errorf("anonymous binary create: %v", err)
	}
	if _, err := env.Write(ctx, doip.OpUpdate, qid, map[string]any{"token": readToken}, []client.Upload{{ID: "x", Size: 1, Body: strings.NewReader("x")}}, nil); !isKind(err, doip.KindForbidden) {
		t.Errorf("read-only binary update: %v", err)
	}
	if err := segmentCreate(t, s); err == nil {
		t.Error("anonymous length-prefixed create was not refused")
	}

	// An upload cut off mid-stream leaves nothing: no object, nothing staged.
	cut, err := net.Dial("tcp", s.envelopeAddr())
	if err != nil {
		t.Fatal(err)
	}
	meta := []byte(`{"operation":"create","json":"{\"label\":\"cut\"}","token":"` + writeToken + `"}`)
	var msg []byte
	msg = append(msg, envelope.Version, byte(envelope.TypeRequest), 0x08, 0, 0, 0)
	total := envelope.JSONBlockLen(len(meta)) + envelope.ComponentBlockLen("big", "", 8<<20)
	msg = append(msg, byte(total>>24), byte(total>>16), byte(total>>8), byte(total))
	msg = append(msg, byte(envelope.BlockMetadata), 0, 0, byte(len(meta)>>8), byte(len(meta)))
	msg = append(msg, meta...)
	body := envelope.ComponentBlockLen("big", "", 8<<20) - 5
	msg = append(msg, byte(envelope.BlockComponent), byte(body>>24), byte(body>>16), byte(body>>8), byte(body), 0, 3, 'b', 'i', 'g', 0, 0, 0, 0x80, 0, 0)
	msg = append(msg, bytes.Repeat([]byte("z"), 2<<20)...)
	if _, err := cut.Write(msg); err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond)
	_ = cut.Close()
	// The gateway sees the connection end, cancels the write, and retrieve-svc aborts it.
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline) && !strings.Contains(s.retrieve.logText(), `"msg":"write not made"`); {
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(s.retrieve.logText(), `"msg":"write not made"`) {
		t.Error("retrieve-svc did not see the cut upload fail")
	}
	time.Sleep(500 * time.Millisecond)
	leftovers(t)
	if strings.Contains(s.gateway.logText(), "secret") || strings.Contains(s.gateway.logText(), writeToken) {
		t.Error("a password or token appears in the gateway's logs")
	}
}

// writeVector reads a captured write from a codec's copy of the contract's vectors.
func writeVector(t *testing.T, codec, name string) []byte {
	t.Helper()
	return doipvectors.Read(t, "..", codec, "writes", name)
}

// historyRequest asks for an object's history in the binary envelope.
func historyRequest(id string) client.Request {
	return client.Request{Op: doip.OpHistory, ObjectID: id, Metadata: map[string]any{"operation": "history", "pageSize": 10}}
}

// jsonHas reports whether compact JSON holds a fragment.
func jsonHas(js []byte, fragment string) bool { return bytes.Contains(js, []byte(fragment)) }

func isKind(err error, k doip.ErrorKind) bool {
	var de *doip.Error
	return errors.As(err, &de) && de.Kind == k
}

// segmentFrame builds a length-prefixed message.
func segmentFrame(parts ...string) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p)))
		b = append(b, p...)
	}
	return append(b, 0, 0, 0, 0)
}

// segmentCall sends one length-prefixed message and returns the answer's status segment.
func segmentCall(t *testing.T, s *system, msg []byte) string {
	t.Helper()
	nc := sendRaw(t, s, msg)
	defer nc.Close()
	var hdr [4]byte
	if _, err := io.ReadFull(nc, hdr[:]); err != nil {
		t.Fatalf("length-prefixed answer: %v", err)
	}
	ans := make([]byte, int(hdr[0])<<24|int(hdr[1])<<16|int(hdr[2])<<8|int(hdr[3]))
	if _, err := io.ReadFull(nc, ans); err != nil {
		t.Fatal(err)
	}
	return string(ans)
}

// segmentCreate sends an anonymous create in the length-prefixed framing and returns the
// error it got, if any.
func segmentCreate(t *testing.T, s *system) error {
	t.Helper()
	ans := segmentCall(t, s, segmentFrame(`{"targetId":"","operationId":"create","attributes":{"json":"{}"}}`))
	if strings.Contains(ans, `"error":"Unauthenticated"`) {
		return errors.New(ans)
	}
	return nil
}

// TestWritesFolder runs the write scenario on the folder backend.
func TestWritesFolder(t *testing.T) {
	skipShort(t)
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "data")
	s := startWriteSystem(t, dir)
	runWrites(t, s, func(t *testing.T) {
		staged, _ := os.ReadDir(filepath.Join(dir, ".versions", "staging"))
		if len(staged) != 0 {
			t.Errorf("%d transactions left staged", len(staged))
		}
		if strings.Contains(s.retrieve.logText(), `"msg":"object created"`) &&
			strings.Count(s.retrieve.logText(), `"msg":"object created"`) != 4 {
			t.Errorf("%d objects created, want 4 (the cut upload made none)", strings.Count(s.retrieve.logText(), `"msg":"object created"`))
		}
	})
}

// TestWritesLakeFS runs the write scenario on a real lakeFS: every write one commit, a cut
// upload leaves no run branch and nothing staged on main.
func TestWritesLakeFS(t *testing.T) {
	skipShort(t)
	l := startLakeFS(t)
	s := startWriteSystem(t, lakeFSRecords(t), "STORAGE=lakefs", "LAKEFS_URL="+l.URL(), "LAKEFS_REPO="+lakefstest.Repo,
		"LAKEFS_BRANCH="+lakefstest.Branch, "LAKEFS_USER="+lakefstest.AccessKey, "LAKEFS_PASSWORD="+lakefstest.SecretKey)
	runWrites(t, s, func(t *testing.T) { noLeftovers(t, l) })
}

// TestWritesS3 runs the gateway on plain S3 (versitygw), which keeps no versions: every
// write is refused in every framing with a message that says which storage takes writes,
// and reads go on as before.
func TestWritesS3(t *testing.T) {
	skipShort(t)
	t.Parallel()
	bin := findVersitygw(t)
	s3dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(s3dir, "fdo"), 0o755); err != nil {
		t.Fatal(err)
	}
	addr := "127.0.0.1:" + freePort(t)
	defer startS3(t, bin, addr, s3dir)()
	s := startWriteSystem(t, lakeFSRecords(t), "LAKEFS_URL=http://"+addr, "LAKEFS_REPO=fdo", "LAKEFS_USER=e2ekey", "LAKEFS_PASSWORD=e2esecret123")
	env := s.dial(t)
	_, err := env.Write(t.Context(), doip.OpCreate, "", map[string]any{"json": "{}", "token": writeToken},
		[]client.Upload{{ID: "a", Size: 1, Body: strings.NewReader("a")}}, nil)
	if !isKind(err, doip.KindBadRequest) || !strings.Contains(err.Error(), "folder or lakeFS") {
		t.Errorf("binary create on S3: %v", err)
	}
	first, _ := replay(t, s, writeVector(t, "doiptext", "doipy-request-create-with-bytes"))
	if str(first, "status") != doiptext.StatusInvalid || !strings.Contains(string(first["attributes"]), "keeps no versions") {
		t.Errorf("doipy create on S3: %v", first)
	}
	ans := segmentCall(t, s, segmentFrame(`{"targetId":"","operationId":"create","attributes":{"token":"`+writeToken+`","content":{}}}`))
	if !strings.Contains(ans, "keeps no versions") {
		t.Errorf("length-prefixed create on S3: %s", ans)
	}
	if _, err := env.Do(t.Context(), client.Request{Op: doip.OpRetrieve, ObjectID: "Q123"}, nil); err != nil {
		t.Errorf("retrieve on S3: %v", err)
	}
}
