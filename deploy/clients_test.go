package deploy_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/doipvectors"
)

// The captured clients log in with a user and password of their own; a system as it is
// configured out of the box knows one write token. These are what the scenarios replace.
const (
	doipyLogin = `"authentication": {"username": "admin", "password": "secret"}`
	mardiLogin = `"username":"capture@bot","password":"bot-secret"`
)

// gatewayUnderTest is a running gateway as its clients reach it.
type gatewayUnderTest struct {
	t        *testing.T
	root     string // the repository: the vectors are read from its gateway module
	doipctl  string
	binary   string // host:port of the binary envelope
	segments string // host:port of the JSON segments (standard DOIP)
	token    string // the write token the system is configured with
}

// writeToken returns the token of the first name:token:permissions entry of ACCESS_TOKENS
// that may write.
func writeToken(t *testing.T, accessTokens string) string {
	t.Helper()
	for entry := range strings.SplitSeq(accessTokens, ",") {
		parts := strings.Split(strings.TrimSpace(entry), ":")
		if len(parts) == 3 && slices.Contains(strings.Split(parts[2], "+"), "write") {
			return parts[1]
		}
	}
	t.Fatalf("ACCESS_TOKENS %q has no token that may write", accessTokens)
	return ""
}

// ctl runs doipctl against the gateway's binary port and returns its stdout and error.
func (g *gatewayUnderTest) ctl(args ...string) (string, error) {
	g.t.Helper()
	host, port, _ := net.SplitHostPort(g.binary)
	ctx, cancel := context.WithTimeout(g.t.Context(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, g.doipctl, append(args, "--host", host, "--port", port)...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + g.t.TempDir()}
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		return out.String() + errOut.String(), err
	}
	return out.String(), nil
}

// mustCtl is ctl that fails the test when doipctl does.
func (g *gatewayUnderTest) mustCtl(args ...string) string {
	g.t.Helper()
	out, err := g.ctl(args...)
	if err != nil {
		g.t.Fatalf("doipctl %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (g *gatewayUnderTest) dial(addr string) net.Conn {
	g.t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 10*time.Second)
	if err != nil {
		g.t.Fatal(err)
	}
	_ = nc.SetDeadline(time.Now().Add(time.Minute))
	return nc
}

// std sends standard DOIP bytes and returns the segments of the answer.
func (g *gatewayUnderTest) std(raw []byte) [][]byte {
	g.t.Helper()
	nc := g.dial(g.segments)
	defer nc.Close()
	if _, err := nc.Write(raw); err != nil {
		g.t.Fatal(err)
	}
	segs, err := doipvectors.ReadStd(bufio.NewReader(nc))
	if err != nil || len(segs) == 0 {
		g.t.Fatalf("answer to\n%s\n: %q, %v", raw, segs, err)
	}
	return segs
}

// envelope sends a binary message and returns the answer's metadata.
func (g *gatewayUnderTest) envelope(raw []byte) []byte {
	g.t.Helper()
	nc := g.dial(g.binary)
	defer nc.Close()
	if _, err := nc.Write(raw); err != nil {
		g.t.Fatal(err)
	}
	e, err := doipvectors.ReadEnvelope(nc)
	if err != nil {
		g.t.Fatalf("answer to %q: %v", raw, err)
	}
	return e.Metadata()
}

func (g *gatewayUnderTest) vector(codec, set, name string) []byte {
	return doipvectors.Read(g.t, filepath.Join(g.root, "gateway"), codec, set, name)
}

// stdDO is the first segment of a standard answer.
type stdDO struct {
	Status string         `json:"status"`
	Output doipvectors.DO `json:"output"`
}

func (g *gatewayUnderTest) stdStatus(segs [][]byte, what string) stdDO {
	g.t.Helper()
	var a stdDO
	if err := json.Unmarshal(segs[0], &a); err != nil || a.Status != "0.DOIP/Status.001" {
		g.t.Fatalf("%s: %s (%v)", what, segs[0], err)
	}
	return a
}

// writes replays doipy's create (with bytes), update and delete and MaRDI's binary create
// and update with the system's write token, and reads what they made with doipctl. commit,
// when not nil, checks that a version is a commit of the storage. It returns the id doipy
// created (deleted by then).
func (g *gatewayUnderTest) writes(commit func(version string)) string {
	t := g.t
	tokenJSON := strconv.Quote(g.token)

	// doipy's create with one element.
	create := doipvectors.Replace(t, g.vector("doiptext", "writes", "doipy-request-create-with-bytes"), doipyLogin, `"authentication": {"token": `+tokenJSON+`}`)
	created := g.stdStatus(g.std(create), "doipy create")
	id, v1 := created.Output.ID, created.Output.Attributes.Version
	if id == "" || v1 == "" || len(created.Output.Elements) != 1 || created.Output.Elements[0].Length != 12 {
		t.Fatalf("doipy create: %+v", created)
	}
	elem := created.Output.Elements[0].ID
	if out := g.mustCtl("retrieve", id); !strings.Contains(out, `"Hello World"`) || !strings.Contains(out, v1) {
		t.Errorf("retrieve %s: %s", id, out)
	}
	if out := g.mustCtl("retrieve", id, "--component", elem); out != "Hello World\n" {
		t.Errorf("retrieve %s --component %s: %q", id, elem, out)
	}

	// doipy's update, aimed at that object: a second element, a new version.
	update := doipvectors.Replace(t, doipvectors.Replace(t, g.vector("doiptext", "writes", "doipy-request-update"), "test/abc", id), doipyLogin, `"authentication": {"token": `+tokenJSON+`}`)
	updated := g.stdStatus(g.std(update), "doipy update")
	v2 := updated.Output.Attributes.Version
	if v2 == "" || v2 == v1 || len(updated.Output.Elements) != 2 {
		t.Fatalf("doipy update: %+v (created at %s)", updated, v1)
	}
	if out := g.mustCtl("retrieve", id, "--component", "file"); out != "Hello World\n" {
		t.Errorf("the updated element: %q", out)
	}
	if commit != nil {
		commit(v1)
		commit(v2)
	}
	if out := g.mustCtl("history", id); !strings.Contains(out, v1) || !strings.Contains(out, v2) {
		t.Errorf("history of %s lacks %s or %s: %s", id, v1, v2, out)
	}
	// The old version is readable as it was: without the element the update added.
	if out := g.mustCtl("retrieve", id, "--version", v1); !strings.Contains(out, `"version": "`+v1+`"`) {
		t.Errorf("retrieve %s --version %s: %s", id, v1, out)
	}
	if out := g.mustCtl("retrieve", id, "--component", elem, "--version", v1); out != "Hello World\n" {
		t.Errorf("retrieve %s --component %s --version %s: %q", id, elem, v1, out)
	}
	if out, err := g.ctl("retrieve", id, "--component", "file", "--version", v1); err == nil {
		t.Errorf("the element added later is there at %s: %q", v1, out)
	}

	// MaRDI's binary create and update (the update aimed at the object just made).
	var mc struct{ Operation, Status, QID string }
	meta := g.envelope(doipvectors.PatchEnvelope(t, g.vector("envelope", "writes", "mardi-head-request-create"), "", mardiLogin, `"token":`+tokenJSON))
	if json.Unmarshal(meta, &mc) != nil || mc.Status != "created" || mc.QID == "" {
		t.Fatalf("MaRDI create: %s", meta)
	}
	if out := g.mustCtl("retrieve", mc.QID); !strings.Contains(out, "Test item") {
		t.Errorf("retrieve %s: %s", mc.QID, out)
	}
	var mu struct{ Status, ObjectID, ComponentID, CommitID string }
	meta = g.envelope(doipvectors.PatchEnvelope(t, g.vector("envelope", "writes", "mardi-head-request-update"), mc.QID, mardiLogin, `"token":`+tokenJSON))
	if json.Unmarshal(meta, &mu) != nil || mu.Status != "committed" || mu.ComponentID != "notes.txt" || mu.CommitID == "" {
		t.Fatalf("MaRDI update: %s", meta)
	}
	if commit != nil {
		commit(mu.CommitID)
	}
	if out := g.mustCtl("retrieve", mc.QID, "--component", "notes.txt"); out != "Hello World\n" {
		t.Errorf("notes.txt of %s: %q", mc.QID, out)
	}

	// doipy's delete: the object is gone, its versions stay readable.
	del := doipvectors.Replace(t, doipvectors.Replace(t, g.vector("doiptext", "writes", "doipy-request-delete"), "test/abc", id), doipyLogin, `"authentication": {"token": `+tokenJSON+`}`)
	g.stdStatus(g.std(del), "doipy delete")
	if out, err := g.ctl("retrieve", id); err == nil || !strings.Contains(out, "NotFound") && !strings.Contains(out, "not found") && !strings.Contains(out, "no object") {
		t.Errorf("retrieve %s after delete: %v, %s", id, err, out)
	}
	if out := g.mustCtl("retrieve", id, "--component", "file", "--version", v2); out != "Hello World\n" {
		t.Errorf("an element at a version before the delete: %q", out)
	}
	if out := g.mustCtl("history", id); !strings.Contains(out, "deleted") {
		t.Errorf("history after delete: %s", out)
	}
	return id
}

// searches finds Q123 by its title and by a formula of it (equation_extraction must have run
// on it) with doipy's and MaRDI's captured search requests. The index follows writes and
// derived outputs in the background, so each query is repeated until it finds something.
func (g *gatewayUnderTest) searches() {
	for _, q := range []string{`title:"composite trapezoidal rule"`, `formula:"\int_a^b f(x)\,dx"`} {
		qJSON, _ := json.Marshal(q)
		doipy := doipvectors.Replace(g.t, g.vector("doiptext", "vectors-search", "doipy-request-search"), `"query": "type:Document"`, `"query": `+string(qJSON))
		g.await("doipy search "+q, func() (string, bool) {
			segs := g.std(doipy)
			var r hits
			ok := len(segs) == 2 && json.Unmarshal(segs[1], &r) == nil && r.first() == "Q123"
			return string(bytes.Join(segs, []byte("#\n"))), ok
		})
		mardi := doipvectors.PatchEnvelope(g.t, g.vector("envelope", "vectors-search", "mardi-head-request-search"), "",
			`"query":"Conrad"`, `"query":`+string(qJSON), `"type":"person"`, `"type":"publication"`)
		g.await("MaRDI search "+q, func() (string, bool) {
			meta := g.envelope(mardi)
			var m hits
			return string(meta), json.Unmarshal(meta, &m) == nil && m.Status == "ok" && m.first() == "Q123"
		})
	}
}

// hits is what the searches read of a search answer: doipy's results segment, or the
// metadata of MaRDI's.
type hits struct {
	Status  string `json:"status"`
	Results []struct {
		ID  string `json:"id"`  // doipy's
		QID string `json:"qid"` // MaRDI's
	} `json:"results"`
}

// first returns the object found first, "" when none was.
func (h hits) first() string {
	if len(h.Results) == 0 {
		return ""
	}
	return h.Results[0].ID + h.Results[0].QID
}

// await repeats try until it succeeds, for up to 30 seconds.
func (g *gatewayUnderTest) await(what string, try func() (string, bool)) {
	g.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		got, ok := try()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			g.t.Fatalf("%s: not found within 30s; last answer %s", what, got)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// accessTokensRE finds the default of ACCESS_TOKENS in scripts/run.sh.
var accessTokensRE = regexp.MustCompile(`ACCESS_TOKENS="\$\{ACCESS_TOKENS-([^}"]*)\}"`)
