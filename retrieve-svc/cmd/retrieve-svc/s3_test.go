package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storages3/s3test"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
)

// streamAll reads a component stream: its header and the bytes of its chunks.
func streamAll(t *testing.T, client retrievev1.RetrieveServiceClient, req *retrievev1.StreamComponentRequest) (*retrievev1.ComponentHeader, []byte, error) {
	t.Helper()
	return streamAllContext(t.Context(), client, req)
}

// streamAllContext is streamAll with the context of the call.
func streamAllContext(ctx context.Context, client retrievev1.RetrieveServiceClient, req *retrievev1.StreamComponentRequest) (*retrievev1.ComponentHeader, []byte, error) {
	stream, err := client.StreamComponent(ctx, req)
	if err != nil {
		return nil, nil, err
	}
	var hdr *retrievev1.ComponentHeader
	var data []byte
	for {
		msg, err := stream.Recv()
		if errors.Is(err, io.EOF) {
			return hdr, data, nil
		}
		if err != nil {
			return hdr, data, err
		}
		if h := msg.GetHeader(); h != nil {
			hdr = h
		}
		data = append(data, msg.GetChunk()...)
	}
}

// TestRunS3 runs the service against versitygw as lakeFS's S3 gateway: the record comes from
// the folder, the component bytes from the bucket at the lakeFS key, and a derived component
// written over gRPC lands in the bucket. Nothing is seeded, and no secret reaches the logs.
func TestRunS3(t *testing.T) {
	t.Parallel()
	srv := s3test.Start(t)
	srv.MakeBucket(t, "sandbox")

	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "records"), 0o755); err != nil {
		t.Fatal(err)
	}
	record := `{"kernel":{"digitalObjectType":"https://fdo.example.org/fdo/types/ScholarlyArticle",
		"fdo:hasComponent":[{"componentId":"fulltext.pdf","mediaType":"application/pdf"},
		{"componentId":"source.tar.gz","mediaType":"application/gzip"}]}}`
	if err := os.WriteFile(filepath.Join(dir, "records", "Q123.json"), []byte(record), 0o644); err != nil {
		t.Fatal(err)
	}
	pdf := make([]byte, 600<<10+5) // three chunks
	rand.Read(pdf)
	const key = "main/00/01/23/Q123/components/fulltext.pdf"
	if _, err := srv.Client(t).PutObject(t.Context(), "sandbox", key, bytes.NewReader(pdf), int64(len(pdf)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}

	s := start(t, []string{"--data-dir", dir}, env(
		"LAKEFS_URL", srv.Endpoint, "LAKEFS_REPO", "sandbox",
		"LAKEFS_USER", srv.AccessKey, "LAKEFS_PASSWORD", srv.SecretKey,
		"S3_TIMEOUT", "10s"))
	client := retrievev1.NewRetrieveServiceClient(s.conn)

	resp, err := client.GetRecord(t.Context(), &retrievev1.GetRecordRequest{ObjectId: "Q123", WithComponentSizes: true})
	if err != nil {
		t.Fatal(err)
	}
	if c := resp.GetComponents(); len(c) != 2 || c[0].GetSize() != int64(len(pdf)) || c[1].Size != nil {
		t.Errorf("components with sizes = %v; want fulltext.pdf of %d bytes and source.tar.gz without a size", c, len(pdf))
	}

	hdr, data, err := streamAll(t, client, &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "doip:bitstream/Q123/fulltext.pdf"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, pdf) || hdr.GetSize() != int64(len(pdf)) || hdr.GetMediaType() != "application/pdf" {
		t.Errorf("streamed %d bytes (header %v); want the %d bytes put", len(data), hdr, len(pdf))
	}
	start, end := int64(300<<10), int64(300<<10+99)
	_, data, err = streamAll(t, client, &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "fulltext.pdf",
		Range: &retrievev1.ByteRange{Start: &start, End: &end}})
	if err != nil || !bytes.Equal(data, pdf[start:end+1]) {
		t.Errorf("range: %d bytes, %v", len(data), err)
	}
	_, _, err = streamAll(t, client, &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "source.tar.gz"})
	if status.Code(err) != codes.NotFound {
		t.Errorf("a listed component missing from the bucket: %v; want NOT_FOUND", err)
	}

	// a derived component written through the service lands in the bucket
	w, err := client.WriteComponent(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	out := []byte(`[{"latex":"e^{i\\pi}+1=0"}]`)
	for _, m := range []*retrievev1.WriteComponentRequest{
		{Msg: &retrievev1.WriteComponentRequest_Header{Header: &retrievev1.WriteComponentHeader{
			ObjectId: "Q123", Workflow: "equation_extraction", Path: "equations.json", MediaType: "application/json", Size: int64(len(out))}}},
		{Msg: &retrievev1.WriteComponentRequest_Chunk{Chunk: out}},
	} {
		if err := w.Send(m); err != nil {
			t.Fatal(err)
		}
	}
	wresp, err := w.CloseAndRecv()
	if err != nil {
		t.Fatal(err)
	}
	const derived = "main/00/01/23/Q123/components/derived/equation_extraction/equations.json"
	if wresp.GetStorageKey() != derived {
		t.Errorf("derived key %q; want %q", wresp.GetStorageKey(), derived)
	}
	if got, err := os.ReadFile(filepath.Join(srv.Dir, "sandbox", filepath.FromSlash(derived))); err != nil || !bytes.Equal(got, out) {
		t.Errorf("derived object in the bucket: %q, %v", got, err)
	}
	_, data, err = streamAll(t, client, &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "equations.json"})
	if err != nil || !bytes.Equal(data, out) {
		t.Errorf("derived component by file name: %q, %v", data, err)
	}

	// With S3 storage the data dir holds the seeded records and the search index (state
	// derived from storage, rebuilt by reindex), and nothing of the components.
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if e.Name() != "records" && e.Name() != "search-index" {
			t.Errorf("the data dir gained %s with storage s3: %v", e.Name(), entries)
		}
	}
	if err := s.stop(); err != nil {
		t.Errorf("run returned %v", err)
	}
	logs := s.logs.String()
	for _, want := range []string{"storage=s3", "s3_endpoint=" + srv.Host, "bucket=sandbox", `msg="s3 bucket ok"`, "records=folder"} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, srv.SecretKey) || strings.Contains(logs, "seeded sample") {
		t.Errorf("logs show the secret or a seeding:\n%s", logs)
	}
}

// TestRunS3Down starts against an S3 endpoint where nothing listens: the service starts,
// logs that the bucket is not usable, and answers a component request UNAVAILABLE instead
// of hanging. It needs no S3 server.
func TestRunS3Down(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "records"), 0o755); err != nil {
		t.Fatal(err)
	}
	record := `{"kernel":{"fdo:hasComponent":[{"componentId":"data.csv","mediaType":"text/csv"}]}}`
	if err := os.WriteFile(filepath.Join(dir, "records", "Q42.json"), []byte(record), 0o644); err != nil {
		t.Fatal(err)
	}
	const secret = "pa55-w0rd-s3"
	s := start(t, []string{"--data-dir", dir, "--s3-timeout", "2s"}, env(
		"LAKEFS_URL", "http://127.0.0.1:1", "LAKEFS_REPO", "sandbox", "LAKEFS_USER", "key", "LAKEFS_PASSWORD", secret))
	_, _, err := streamAll(t, retrievev1.NewRetrieveServiceClient(s.conn), &retrievev1.StreamComponentRequest{ObjectId: "Q42", ComponentId: "data.csv"})
	if status.Code(err) != codes.Unavailable {
		t.Errorf("component with S3 down: %v; want UNAVAILABLE", err)
	}
	// The start-up check runs in the background; wait (bounded) for its verdict.
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(s.logs.String(), "s3 bucket not usable yet"); {
		if time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := s.stop(); err != nil {
		t.Errorf("run returned %v", err)
	}
	logs := s.logs.String()
	if !strings.Contains(logs, `msg="s3 bucket not usable yet"`) || !strings.Contains(logs, "storage=s3") {
		t.Errorf("logs lack the bucket warning:\n%s", logs)
	}
	if strings.Contains(logs, secret) {
		t.Errorf("logs show the secret:\n%s", logs)
	}
}
