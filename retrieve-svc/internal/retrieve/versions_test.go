package retrieve

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/fdo"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/objectid"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storageos"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/requestid"
)

// newFolderClient serves the retrieve service over the folder backend (which keeps
// versions) with Q123's record and one source component.
func newFolderClient(t *testing.T) (retrievev1.RetrieveServiceClient, string) {
	t.Helper()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "records"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "records", "Q123.json"), []byte(recordQ123), 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := storageos.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	if _, err := b.Put(t.Context(), objectid.ComponentKey("main", "Q123", "fulltext.pdf"), bytes.NewReader(pdfBytes), int64(len(pdfBytes))); err != nil {
		t.Fatal(err)
	}
	logger := slog.New(slog.NewTextHandler(t.Output(), nil))
	return serve(t, NewServer(fdo.NewCache(fdo.NewDir(dir), time.Hour, 100), b, "main", logger,
		WithComponentCache(1<<20, 1<<10, time.Hour))), dir
}

type file struct {
	path string
	data []byte
}

// commitFiles sends one CommitComponents call; cut > 0 ends the stream after that many
// bytes of the last file, as a client that breaks off would.
func commitFiles(ctx context.Context, c retrievev1.RetrieveServiceClient, meta map[string]string, files []file, cut int) (*retrievev1.CommitComponentsResponse, error) {
	stream, err := c.CommitComponents(ctx)
	if err != nil {
		return nil, err
	}
	send := func(m *retrievev1.CommitComponentsRequest) {
		if err == nil {
			err = stream.Send(m)
		}
	}
	send(&retrievev1.CommitComponentsRequest{Msg: &retrievev1.CommitComponentsRequest_Commit{Commit: &retrievev1.CommitHeader{
		ObjectId: "Q123", Workflow: "equation_extraction", Metadata: meta}}})
	for i, f := range files {
		send(&retrievev1.CommitComponentsRequest{Msg: &retrievev1.CommitComponentsRequest_File{File: &retrievev1.WriteComponentHeader{
			Path: f.path, MediaType: "application/json", Size: int64(len(f.data))}}})
		data := f.data
		if cut > 0 && i == len(files)-1 {
			data = data[:cut]
		}
		send(&retrievev1.CommitComponentsRequest{Msg: &retrievev1.CommitComponentsRequest_Chunk{Chunk: data}})
	}
	return stream.CloseAndRecv()
}

func readAt(t *testing.T, c retrievev1.RetrieveServiceClient, id, version string) (*retrievev1.ComponentHeader, []byte, error) {
	t.Helper()
	hdr, data, _, err := collectData(t.Context(), c, &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: id, Version: version})
	return hdr, data, err
}

// TestCommitComponentsVersions: a commit of two files is one version; a later commit
// changes one of them; the old version still reads the old bytes, the branch the new ones,
// and each answer names the version its bytes come from.
func TestCommitComponentsVersions(t *testing.T) {
	t.Parallel()
	c, dir := newFolderClient(t)
	ctx := metadata.AppendToOutgoingContext(t.Context(), requestid.MetadataKey, "req-1")
	first, err := commitFiles(ctx, c, map[string]string{"params_sha256": "abc", "client": "anonymous"},
		[]file{{"equations.json", []byte(`{"v":1}`)}, {"equations-k1.json", []byte(`{"v":1}`)}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(first.GetVersion()) != 64 || len(first.GetComponents()) != 2 || first.GetComponents()[0].GetVersion() != first.GetVersion() {
		t.Fatalf("first commit = %+v", first)
	}
	second, err := commitFiles(t.Context(), c, nil, []file{{"equations.json", []byte(`{"v":2}`)}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if second.GetVersion() == first.GetVersion() || second.GetVersion() == "" {
		t.Fatalf("second commit = %+v", second)
	}
	for _, tc := range []struct{ version, want, wantVersion string }{
		{first.GetVersion(), `{"v":1}`, first.GetVersion()},
		{second.GetVersion(), `{"v":2}`, second.GetVersion()},
		{"main", `{"v":2}`, second.GetVersion()},
		{"", `{"v":2}`, second.GetVersion()},
	} {
		hdr, data, err := readAt(t, c, "equations.json", tc.version)
		if err != nil {
			t.Fatalf("version %q: %v", tc.version, err)
		}
		if string(data) != tc.want || hdr.GetVersion() != tc.wantVersion {
			t.Errorf("version %q: %s from version %q, want %s from %q", tc.version, data, hdr.GetVersion(), tc.want, tc.wantVersion)
		}
	}
	// A source component reads the same at every version.
	if _, data, err := readAt(t, c, "fulltext.pdf", first.GetVersion()); err != nil || !bytes.Equal(data, pdfBytes) {
		t.Errorf("source at the first version: %d bytes, %v", len(data), err)
	}
	// The record names the version.
	rec, err := c.GetRecord(t.Context(), &retrievev1.GetRecordRequest{ObjectId: "Q123", Version: first.GetVersion(), WithComponentSizes: true})
	if err != nil || rec.GetVersion() != first.GetVersion() {
		t.Errorf("record at the first version: %v, version %q", err, rec.GetVersion())
	}
	// The metadata went into the commit, with the service's own keys.
	raw, err := os.ReadFile(filepath.Join(dir, storageos.VersionsDir, "commits", first.GetVersion()+".json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"params_sha256": "abc"`, `"client": "anonymous"`, `"request_id": "req-1"`, `"workflow": "equation_extraction"`, `"object": "Q123"`} {
		if !strings.Contains(string(raw), want) {
			t.Errorf("commit file lacks %s:\n%s", want, raw)
		}
	}
}

// TestCommitComponentsAllOrNothing: a commit whose stream breaks off, or whose file is
// short, leaves no file and no version behind, and the next commit does not take any of
// it along.
func TestCommitComponentsAllOrNothing(t *testing.T) {
	t.Parallel()
	c, _ := newFolderClient(t)
	_, err := commitFiles(t.Context(), c, nil, []file{{"a.json", []byte("aaaa")}, {"b.json", []byte("bbbbbbbb")}}, 3)
	wantCode(t, err, codes.InvalidArgument, "b.json")
	for _, id := range []string{"a.json", "b.json", "derived/equation_extraction/a.json"} {
		_, _, err := readAt(t, c, id, "")
		wantCode(t, err, codes.NotFound, "")
	}
	ok, err := commitFiles(t.Context(), c, nil, []file{{"c.json", []byte("c")}}, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = readAt(t, c, "derived/equation_extraction/a.json", ok.GetVersion())
	wantCode(t, err, codes.NotFound, "")
}

func TestCommitComponentsRefusals(t *testing.T) {
	t.Parallel()
	c, _ := newFolderClient(t)
	for _, tc := range []struct {
		name  string
		meta  map[string]string
		files []file
		msg   string
	}{
		{"no files", nil, nil, "no files"},
		{"reserved key", map[string]string{"workflow": "x"}, []file{{"a.json", nil}}, "set by the service"},
		{"bad key", map[string]string{"a b": "x"}, []file{{"a.json", nil}}, "metadata key"},
		{"long value", map[string]string{"k": strings.Repeat("x", MaxMetadataValue+1)}, []file{{"a.json", nil}}, "value of"},
		{"traversal", nil, []file{{"../x.json", []byte("x")}}, ".."},
	} {
		_, err := commitFiles(t.Context(), c, tc.meta, tc.files, 0)
		if err == nil || !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%s: %v, want InvalidArgument with %q", tc.name, err, tc.msg)
		}
	}
	_, _, err := readAt(t, c, "fulltext.pdf", "nope/x")
	wantCode(t, err, codes.InvalidArgument, "version")
	_, _, err = readAt(t, c, "fulltext.pdf", strings.Repeat("ab", 32))
	wantCode(t, err, codes.NotFound, "no version")
}

// TestWriteComponentIsACommit: the single-file write records a version too.
func TestWriteComponentIsACommit(t *testing.T) {
	t.Parallel()
	c, _ := newFolderClient(t)
	stream, err := c.WriteComponent(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range []*retrievev1.WriteComponentRequest{header("Q123", "wf", "x.json", 2), chunk([]byte("{}"))} {
		if err := stream.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := stream.CloseAndRecv()
	if err != nil || len(resp.GetVersion()) != 64 {
		t.Fatalf("write = %+v, %v", resp, err)
	}
	_, data, err := readAt(t, c, "x.json", resp.GetVersion())
	if err != nil || string(data) != "{}" {
		t.Errorf("x.json at its version: %q, %v", data, err)
	}
}

func wantCode(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	if st, ok := status.FromError(err); !ok || st.Code() != code || !strings.Contains(st.Message(), msg) {
		t.Errorf("error = %v; want %s with %q", err, code, msg)
	}
}

// downVersioner is a versioned bucket whose version lookups fail as a storage that is down.
type downVersioner struct{ *storageos.Bucket }

func (downVersioner) At(context.Context, string) (storage.ReadBucket, string, error) {
	return nil, "", errors.New("lakefs: unavailable")
}

// TestRecordWhileStorageIsDown: the record comes from its own source, so it is served while
// storage cannot resolve versions, naming none; a read at a named version fails.
func TestRecordWhileStorageIsDown(t *testing.T) {
	t.Parallel()
	_, dir := newFolderClient(t)
	b, err := storageos.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	c := serve(t, NewServer(fdo.NewCache(fdo.NewDir(dir), time.Hour, 100), downVersioner{b}, "main", slog.New(slog.NewTextHandler(t.Output(), nil))))
	rec, err := c.GetRecord(t.Context(), &retrievev1.GetRecordRequest{ObjectId: "Q123"})
	if err != nil || rec.GetVersion() != "" || rec.GetObjectId() != "Q123" {
		t.Errorf("record while storage is down: %v, %v", rec, err)
	}
	_, err = c.GetRecord(t.Context(), &retrievev1.GetRecordRequest{ObjectId: "Q123", Version: "main"})
	wantCode(t, err, codes.Unavailable, "component storage unavailable")
}
