package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/httpapi"
)

// httpGateway serves the HTTP face over TLS with a handler that answers as the dispatcher
// does for one object, and records each request, and the elements of its writes
// ("id|mediaType|bytes").
func httpGateway(t *testing.T) (string, func() doip.Request, func() []string) {
	t.Helper()
	var (
		mu      sync.Mutex
		last    doip.Request
		uploads []string
	)
	h := doip.HandlerFunc(func(_ context.Context, w doip.ResponseWriter, req *doip.Request) {
		mu.Lock()
		last = *req
		mu.Unlock()
		switch {
		case req.Op == doip.OpCreate || req.Op == doip.OpUpdate && req.ObjectID == "Q123":
			rec := &doip.Record{ObjectID: "Q123", Type: req.Write.Object.Type}
			for {
				up, err := req.Write.Elements.Next()
				if err != nil {
					break
				}
				b, _ := io.ReadAll(up.Body)
				mu.Lock()
				uploads = append(uploads, up.ID+"|"+up.MediaType+"|"+string(b))
				mu.Unlock()
				rec.Components = append(rec.Components, doip.ComponentInfo{ID: up.ID, MediaType: up.MediaType, Size: int64(len(b))})
			}
			_ = w.Respond(&doip.Response{Op: req.Op, ObjectID: "Q123", Written: &doip.WriteResult{Record: rec, Version: "v2"}})
		case req.Op == doip.OpHello:
			_ = w.Respond(&doip.Response{Op: req.Op, Hello: &doip.ServiceInfo{ServiceID: "gw", Server: "doip-gateway"}})
		case req.ObjectID != "Q123":
			_ = w.Error(doip.Errorf(doip.KindNotFound, "no object %s", req.ObjectID))
		case req.Op == doip.OpListOps:
			_ = w.Respond(&doip.Response{Op: req.Op, Operations: &doip.OperationList{Object: "Q123", Workflows: []string{"echo"}}})
		case req.Op == doip.OpRetrieve && req.Element == "main-pdf":
			_ = w.Respond(&doip.Response{Op: req.Op, Component: &doip.ComponentBody{ID: "main-pdf", MediaType: "application/pdf",
				Size: int64(len(pdf)), Body: bytes.NewReader(pdf)}})
		case req.Op == doip.OpRetrieve:
			_ = w.Respond(&doip.Response{Op: req.Op, Record: &doip.Record{ObjectID: "Q123", JSON: json.RawMessage(`{"name":"paper"}`)}})
		case req.Op == doip.OpInvoke:
			_ = w.Respond(&doip.Response{Op: req.Op, Invoke: &doip.InvokeResult{Workflow: req.Workflow, Result: req.Params}})
		case req.Op == doip.OpPurge:
			_ = w.Respond(&doip.Response{Op: req.Op, Purge: &doip.PurgeResult{Purged: true}})
		}
	})
	srv := httptest.NewTLSServer(httpapi.New(httpapi.Options{Handler: h, ServiceID: "gw"}))
	t.Cleanup(srv.Close)
	return srv.URL, func() doip.Request { mu.Lock(); defer mu.Unlock(); return last },
		func() []string { mu.Lock(); defer mu.Unlock(); return append([]string(nil), uploads...) }
}

// doipctl --http URL speaks DOIP over HTTP: every command, bytes to a file, DOIP errors
// with exit status 2.
func TestHTTPMapping(t *testing.T) {
	t.Parallel()
	u, last, _ := httpGateway(t)
	with := func(args ...string) []string { return append([]string{"--http", u, "--insecure"}, args...) }

	r := ctl(t, with("hello")...)
	if r.code != 0 || !strings.Contains(r.out, `"type": "0.TYPE/DOIPServiceInfo"`) || last().Framing != doip.FramingHTTP {
		t.Errorf("hello: %+v", r)
	}
	r = ctl(t, with("list-ops", "Q123")...)
	if r.code != 0 || !strings.Contains(r.out, `"echo"`) {
		t.Errorf("list-ops: %+v", r)
	}
	r = ctl(t, with("retrieve", "Q123")...)
	if r.code != 0 || !strings.Contains(r.out, `"name": "paper"`) {
		t.Errorf("retrieve: %+v", r)
	}
	file := filepath.Join(t.TempDir(), "paper.pdf")
	r = ctlWith(t, nil, map[string]bool{"stderr": true}, with("retrieve", "Q123", "--component", "main-pdf", "-o", file)...)
	if got, err := os.ReadFile(file); r.code != 0 || err != nil || !bytes.Equal(got, pdf) || !strings.Contains(r.err, "100.0%") ||
		!strings.Contains(r.out, `"mediaType": "application/pdf"`) {
		t.Errorf("download: %+v, %d bytes", r, len(got))
	}
	r = ctl(t, with("invoke", "Q123", "--workflow", "echo", "--params", `{"hello":"world"}`)...)
	if r.code != 0 || !strings.Contains(r.out, `"hello": "world"`) || last().Workflow != "echo" {
		t.Errorf("invoke: %+v", r)
	}
	r = ctl(t, with("purge", "Q123")...)
	if r.code != 0 || !strings.Contains(r.out, `"purged": true`) || last().Op != doip.OpPurge {
		t.Errorf("purge: %+v", r)
	}
	r = ctl(t, with("retrieve", "Q999")...)
	if r.code != exitDOIP || r.err != "doipctl: NotFound: no object Q999\n" {
		t.Errorf("unknown object: %+v", r)
	}
	r = ctl(t, "--http", u, "hello")
	if r.code != exitUsage || !strings.Contains(r.err, "--insecure") {
		t.Errorf("self-signed certificate without --insecure: %+v", r)
	}
	r = ctl(t, "--http", "ftp://x", "hello")
	if r.code != exitUsage || !strings.Contains(r.err, "not a base URL") {
		t.Errorf("bad URL: %+v", r)
	}
	r = ctl(t, "--http", u, "--standard", "hello")
	if r.code != exitUsage || !strings.Contains(r.err, "give one") {
		t.Errorf("--http with --standard: %+v", r)
	}
	r = ctlWith(t, map[string]string{"DOIP_HTTP": u}, nil, "--insecure", "hello")
	if r.code != 0 {
		t.Errorf("DOIP_HTTP: %+v", r)
	}
}

// doipctl --http URL create and update send the object and the files in one multipart body,
// with the credentials in the Authorization header.
func TestHTTPWrite(t *testing.T) {
	t.Parallel()
	u, last, uploaded := httpGateway(t)
	dir := t.TempDir()
	csv := filepath.Join(dir, "data.csv")
	if err := os.WriteFile(csv, []byte("a,b\n1,2\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("hello"), 0o600); err != nil {
		t.Fatal(err)
	}
	r := ctl(t, "--http", u, "--insecure", "create", "--token", "tok", "--type", "Dataset", "--content", `{"name":"x"}`,
		"--file", csv, "--file", "n="+notes)
	got, uploads := last(), uploaded()
	if r.code != 0 || !strings.Contains(r.out, `"id": "Q123"`) || got.Op != doip.OpCreate || got.Token != "tok" ||
		got.Write.Object.Type != "Dataset" || len(got.Write.Object.Elements) != 2 ||
		strings.Join(uploads, ";") != "data.csv|text/csv|a,b\n1,2\n;n|text/plain|hello" {
		t.Errorf("create: %+v; handler saw %+v, uploads %q", r, got.Write, uploads)
	}
	r = ctl(t, "--http", u, "--insecure", "update", "Q123", "--user", "alice", "--password", "pw", "--file", csv, "--remove", "n")
	got, uploads = last(), uploaded()
	if r.code != 0 || got.Op != doip.OpUpdate || got.ObjectID != "Q123" || got.Username != "alice" ||
		strings.Join(got.Write.RemoveElements, ",") != "n" || len(uploads) != 3 {
		t.Errorf("update: %+v; handler saw %+v, uploads %q", r, got.Write, uploads)
	}
	r = ctl(t, "--http", u, "--insecure", "update", "Q999", "--token", "tok", "--file", csv)
	if r.code != exitDOIP {
		t.Errorf("update of an unknown object: %+v", r)
	}
}
