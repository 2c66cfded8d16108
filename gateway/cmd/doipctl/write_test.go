package main

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/fdo-doip/doip-gateway/gateway/internal/envelope"
)

// recorder answers every request with js and keeps what was sent.
type recorder struct {
	mu   sync.Mutex
	msgs []*envelope.Message
}

func (r *recorder) answer(js string) func(*envelope.Message) *envelope.Message {
	return func(req *envelope.Message) *envelope.Message {
		r.mu.Lock()
		r.msgs = append(r.msgs, req)
		r.mu.Unlock()
		return jsonAnswer(js)(req)
	}
}

func (r *recorder) last(t *testing.T) *envelope.Message {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.msgs) == 0 {
		t.Fatal("nothing sent")
	}
	return r.msgs[len(r.msgs)-1]
}

func TestCreateSendsFilesAsComponents(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	csv := filepath.Join(dir, "data.csv")
	if err := os.WriteFile(csv, []byte("a,b\n1,2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	var rec recorder
	g := startFake(t, rec.answer(`{"operation":"create","status":"created","qid":"Q99123"}`))
	r := ctlWith(t, map[string]string{"DOIP_TOKEN": "tok"}, nil, append([]string{"create", "--content", `{"name":"x"}`, "--type", "Dataset",
		"--file", csv, "--file", "notes=" + csv}, at(g.addr)...)...)
	if r.code != 0 || !strings.Contains(r.out, `"qid": "Q99123"`) {
		t.Fatalf("create: %+v", r)
	}
	m := rec.last(t)
	if m.Header.Op != 0x08 || len(m.Blocks) != 3 {
		t.Fatalf("sent op %s with %d blocks", m.Header.Op, len(m.Blocks))
	}
	meta := string(m.Blocks[0].(*envelope.MetadataBlock).JSON)
	for _, want := range []string{`"attributes":{"content":{"name":"x"}}`, `"token":"tok"`, `"type":"Dataset"`} {
		if !strings.Contains(meta, want) {
			t.Errorf("metadata %s lacks %s", meta, want)
		}
	}
	c1, c2 := m.Blocks[1].(*envelope.ComponentBlock), m.Blocks[2].(*envelope.ComponentBlock)
	if c1.ID != "data.csv" || c1.MediaType != "text/csv" || string(c1.Content) != "a,b\n1,2\n" || c2.ID != "notes" {
		t.Errorf("components %+v %+v", c1, c2)
	}
}

func TestUpdateDeleteHistory(t *testing.T) {
	t.Parallel()
	var rec recorder
	g := startFake(t, rec.answer(`{"status":"ok"}`))
	env := map[string]string{"DOIP_USER": "alice", "DOIP_PASSWORD": "pw"}
	for _, tc := range []struct {
		args []string
		op   uint8
		want []string
	}{
		{[]string{"update", "Q991", "--remove", "old.csv", "--expect-version", "v1"}, 0x03, []string{`"elementsToDelete":["old.csv"]`, `"expectedVersion":"v1"`, `"username":"alice"`, `"password":"pw"`}},
		{[]string{"delete", "Q991"}, 0x0a, []string{`"operation":"delete"`, `"username":"alice"`}},
		{[]string{"history", "Q991", "--page-size", "5"}, 0x0b, []string{`"operation":"history"`, `"pageSize":5`}},
	} {
		r := ctlWith(t, env, nil, append(tc.args, at(g.addr)...)...)
		if r.code != 0 {
			t.Fatalf("%v: %+v", tc.args, r)
		}
		m := rec.last(t)
		meta := string(m.Blocks[0].(*envelope.MetadataBlock).JSON)
		if uint8(m.Header.Op) != tc.op || m.ObjectID != "Q991" {
			t.Errorf("%v: op %#x id %s", tc.args, uint8(m.Header.Op), m.ObjectID)
		}
		for _, w := range tc.want {
			if !strings.Contains(meta, w) {
				t.Errorf("%v: metadata %s lacks %s", tc.args, meta, w)
			}
		}
	}
	if r := ctl(t, append([]string{"update", "Q991"}, at(g.addr)...)...); r.code != 1 || !strings.Contains(r.err, "nothing to change") {
		t.Errorf("update without changes: %+v", r)
	}
}

// hash-password reads the first line of stdin and prints a USERS entry whose hash matches
// it; with nothing on stdin it fails and says how to pipe one in.
func TestHashPassword(t *testing.T) {
	t.Parallel()
	r := ctl(t, "hash-password", "--name", "bob")
	if r.code == 0 || !strings.Contains(r.err, "no password on stdin") {
		t.Errorf("no password on stdin accepted: %+v", r)
	}
	var out, errb bytes.Buffer
	a := &app{stdin: strings.NewReader("s3cret pass\nnot this\n"), stdout: &out, stderr: &errb,
		getenv: func(string) string { return "" }, isTerminal: func(io.Writer) bool { return false }}
	if code := a.run(t.Context(), []string{"hash-password", "--name", "bob", "--permissions", "read+write"}); code != 0 {
		t.Fatalf("hash-password: exit %d, %s", code, errb.String())
	}
	name, rest, _ := strings.Cut(strings.TrimSpace(out.String()), ":")
	hash, perms, _ := strings.Cut(rest, ":")
	if name != "bob" || perms != "read+write" || bcrypt.CompareHashAndPassword([]byte(hash), []byte("s3cret pass")) != nil {
		t.Errorf("hash-password printed %q", out.String())
	}
}
