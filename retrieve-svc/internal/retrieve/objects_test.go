package retrieve

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
)

type upload struct {
	id   string
	data string
	size int64 // -2: len(data); -1: unknown
	cut  bool  // send half the bytes, then cancel the stream
}

// writeObject sends one WriteObject call.
func writeObject(ctx context.Context, c retrievev1.RetrieveServiceClient, h *retrievev1.ObjectHeader, ups ...upload) (*retrievev1.WriteObjectResponse, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	stream, err := c.WriteObject(ctx)
	if err != nil {
		return nil, err
	}
	if err := stream.Send(&retrievev1.WriteObjectRequest{Msg: &retrievev1.WriteObjectRequest_Object{Object: h}}); err != nil {
		return nil, err
	}
	for _, u := range ups {
		size := u.size
		if size == -2 {
			size = int64(len(u.data))
		}
		_ = stream.Send(&retrievev1.WriteObjectRequest{Msg: &retrievev1.WriteObjectRequest_Element{Element: &retrievev1.ElementHeader{Id: u.id, Size: size}}})
		data := u.data
		if u.cut {
			data = data[:len(data)/2]
		}
		_ = stream.Send(&retrievev1.WriteObjectRequest{Msg: &retrievev1.WriteObjectRequest_Chunk{Chunk: []byte(data)}})
		if u.cut {
			cancel()
			_, err := stream.CloseAndRecv()
			return nil, err
		}
	}
	return stream.CloseAndRecv()
}

func readElement(t *testing.T, c retrievev1.RetrieveServiceClient, qid, id, version string) (string, error) {
	t.Helper()
	s, err := c.StreamComponent(t.Context(), &retrievev1.StreamComponentRequest{ObjectId: qid, ComponentId: id, Version: version})
	if err != nil {
		return "", err
	}
	var b strings.Builder
	for {
		m, err := s.Recv()
		if err == io.EOF {
			return b.String(), nil
		}
		if err != nil {
			return "", err
		}
		b.Write(m.GetChunk())
	}
}

func wantCodeOnly(t *testing.T, err error, code codes.Code, what string) {
	t.Helper()
	if status.Code(err) != code {
		t.Errorf("%s: err = %v, want %s", what, err, code)
	}
}

// TestObjectLifecycle creates an object with two elements, updates one, deletes the object,
// and reads every version back; the history lists the three commits newest first.
func TestObjectLifecycle(t *testing.T) {
	t.Parallel()
	c, _ := newFolderClient(t)
	ctx := t.Context()
	created, err := writeObject(ctx, c, &retrievev1.ObjectHeader{
		Create: true, Type: "Document", Author: "alice",
		AttributesJson: []byte(`{"content": {"id": "", "name": "Hello"}}`),
		Elements:       []*retrievev1.ElementDescriptor{{Id: "a.txt", MediaType: "text/plain"}, {Id: "b", AttributesJson: []byte(`{"filename":"b.bin"}`)}},
	}, upload{id: "a.txt", data: "alpha", size: -2}, upload{id: "b", data: "beta", size: -1})
	if err != nil {
		t.Fatal(err)
	}
	rec := created.GetRecord()
	qid, v1 := rec.GetObjectId(), created.GetVersion()
	if !strings.HasPrefix(qid, "Q99") || v1 == "" {
		t.Fatalf("created %q at %q", qid, v1)
	}
	if got := string(rec.GetRecordJson()); got != `{"id":"`+qid+`","name":"Hello"}` {
		t.Errorf("content = %s", got)
	}
	if len(rec.GetComponents()) != 2 || rec.GetComponents()[1].GetSize() != 4 || rec.GetComponents()[1].GetFilename() != "b.bin" {
		t.Errorf("components = %v", rec.GetComponents())
	}

	up, err := writeObject(ctx, c, &retrievev1.ObjectHeader{ObjectId: qid, ExpectedVersion: v1, Author: "bob"}, upload{id: "a.txt", data: "ALPHA2", size: -2})
	if err != nil {
		t.Fatal(err)
	}
	v2 := up.GetVersion()
	// The same expected version again: the object changed since.
	_, err = writeObject(ctx, c, &retrievev1.ObjectHeader{ObjectId: qid, ExpectedVersion: v1}, upload{id: "a.txt", data: "lost", size: -2})
	wantCodeOnly(t, err, codes.Aborted, "stale update")

	for _, tc := range []struct{ version, want string }{{v1, "alpha"}, {v2, "ALPHA2"}, {"", "ALPHA2"}} {
		if got, err := readElement(t, c, qid, "a.txt", tc.version); err != nil || got != tc.want {
			t.Errorf("a.txt at %q = %q, %v; want %q", tc.version, got, err, tc.want)
		}
	}
	if got, err := readElement(t, c, qid, "b", v2); err != nil || got != "beta" {
		t.Errorf("b kept = %q, %v", got, err)
	}

	del, err := c.DeleteObject(ctx, &retrievev1.DeleteObjectRequest{ObjectId: qid, Author: "carol"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: qid})
	wantCodeOnly(t, err, codes.NotFound, "record after delete")
	got, err := c.GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: qid, Version: v2})
	if err != nil || got.GetVersion() != v2 || len(got.GetComponents()) != 2 {
		t.Errorf("record at the old version = %v, %v", got, err)
	}
	if s, err := readElement(t, c, qid, "a.txt", v1); err != nil || s != "alpha" {
		t.Errorf("a.txt at v1 after delete = %q, %v", s, err)
	}

	hist, err := c.ListVersions(ctx, &retrievev1.ListVersionsRequest{ObjectId: qid, PageSize: 2})
	if err != nil {
		t.Fatal(err)
	}
	vs := hist.GetVersions()
	if len(vs) != 2 || vs[0].GetVersion() != del.GetVersion() || vs[0].GetChange() != "deleted" || vs[0].GetAuthor() != "carol" ||
		vs[1].GetVersion() != v2 || vs[1].GetAuthor() != "bob" || hist.GetNextPageToken() == "" {
		t.Fatalf("history page 1 = %v", hist)
	}
	hist, err = c.ListVersions(ctx, &retrievev1.ListVersionsRequest{ObjectId: qid, PageSize: 2, PageToken: hist.GetNextPageToken()})
	if err != nil || len(hist.GetVersions()) != 1 || hist.GetVersions()[0].GetVersion() != v1 || hist.GetVersions()[0].GetChange() != "created" || hist.GetNextPageToken() != "" {
		t.Fatalf("history page 2 = %v, %v", hist, err)
	}
}

// TestWriteObjectRefuses lists the writes that must change nothing.
func TestWriteObjectRefuses(t *testing.T) {
	t.Parallel()
	c, dir := newFolderClient(t)
	ctx := t.Context()
	_, err := writeObject(ctx, c, &retrievev1.ObjectHeader{Create: true, ObjectId: "Q5"})
	wantCodeOnly(t, err, codes.PermissionDenied, "client-chosen id")
	_, err = writeObject(ctx, c, &retrievev1.ObjectHeader{Create: true, Elements: []*retrievev1.ElementDescriptor{{Id: "../x"}}})
	wantCodeOnly(t, err, codes.InvalidArgument, "escaping element id")
	_, err = writeObject(ctx, c, &retrievev1.ObjectHeader{Create: true, AttributesJson: []byte(`[1]`)})
	wantCodeOnly(t, err, codes.InvalidArgument, "attributes not an object")
	// Bytes of an element the header does not list: the element is listed with them.
	unlisted, err := writeObject(ctx, c, &retrievev1.ObjectHeader{Create: true}, upload{id: "extra", data: "x", size: -2})
	if err != nil || len(unlisted.GetRecord().GetComponents()) != 1 || unlisted.GetRecord().GetComponents()[0].GetComponentId() != "extra" {
		t.Errorf("unlisted element = %v, %v", unlisted, err)
	}
	unlistedID := unlisted.GetRecord().GetObjectId()
	_, err = writeObject(ctx, c, &retrievev1.ObjectHeader{Create: true, Elements: []*retrievev1.ElementDescriptor{{Id: "a"}}},
		upload{id: "a", data: "0123456789", size: 20})
	wantCodeOnly(t, err, codes.InvalidArgument, "element shorter than announced")
	_, err = writeObject(ctx, c, &retrievev1.ObjectHeader{Create: true, Elements: []*retrievev1.ElementDescriptor{{Id: "a"}}},
		upload{id: "a", data: "0123456789", size: -2, cut: true})
	if err == nil {
		t.Error("cut upload: no error")
	}
	// The façade's object: its record stays, its components may be replaced.
	_, err = writeObject(ctx, c, &retrievev1.ObjectHeader{ObjectId: "Q123", AttributesJson: []byte(`{}`)})
	wantCodeOnly(t, err, codes.FailedPrecondition, "façade record change")
	_, err = c.DeleteObject(ctx, &retrievev1.DeleteObjectRequest{ObjectId: "Q123"})
	wantCodeOnly(t, err, codes.FailedPrecondition, "façade delete")
	_, err = c.DeleteObject(ctx, &retrievev1.DeleteObjectRequest{ObjectId: "Q77"})
	wantCodeOnly(t, err, codes.NotFound, "delete unknown")

	// Nothing of the refused writes is anywhere: no object folder besides Q123's, nothing staged.
	var stray []string
	_ = filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.Contains(p, "/"+unlistedID+"/") && (strings.Contains(p, "/Q99") || strings.Contains(p, "staging/")) {
			stray = append(stray, p)
		}
		return nil
	})
	if len(stray) > 0 {
		t.Errorf("refused writes left %v", stray)
	}

	up, err := writeObject(ctx, c, &retrievev1.ObjectHeader{ObjectId: "Q123"}, upload{id: "fulltext.pdf", data: "%PDF new", size: -2})
	if err != nil || up.GetVersion() == "" {
		t.Fatalf("façade component replace = %v, %v", up, err)
	}
	if got, err := readElement(t, c, "Q123", "fulltext.pdf", ""); err != nil || got != "%PDF new" {
		t.Errorf("replaced component = %q, %v", got, err)
	}
}

// TestConcurrentUpdates: two updates naming the same version, at once; exactly one wins.
func TestConcurrentUpdates(t *testing.T) {
	t.Parallel()
	c, _ := newFolderClient(t)
	ctx := t.Context()
	created, err := writeObject(ctx, c, &retrievev1.ObjectHeader{Create: true, AttributesJson: []byte(`{"n":0}`)})
	if err != nil {
		t.Fatal(err)
	}
	var (
		wg   sync.WaitGroup
		errs [2]error
	)
	for i := range errs {
		wg.Go(func() {
			_, errs[i] = writeObject(ctx, c, &retrievev1.ObjectHeader{ObjectId: created.GetRecord().GetObjectId(),
				ExpectedVersion: created.GetVersion(), AttributesJson: []byte(`{"n":1}`)})
		})
	}
	wg.Wait()
	ok := 0
	for _, err := range errs {
		if err == nil {
			ok++
		} else {
			wantCodeOnly(t, err, codes.Aborted, "losing update")
		}
	}
	if ok != 1 {
		t.Errorf("%d updates won, want 1: %v", ok, errs)
	}
}
