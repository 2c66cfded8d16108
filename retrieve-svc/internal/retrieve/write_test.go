package retrieve

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
)

func header(qid, wf, p string, size int64) *retrievev1.WriteComponentRequest {
	return &retrievev1.WriteComponentRequest{Msg: &retrievev1.WriteComponentRequest_Header{Header: &retrievev1.WriteComponentHeader{
		ObjectId: qid, Workflow: wf, Path: p, MediaType: "application/json", Size: size}}}
}

func chunk(b []byte) *retrievev1.WriteComponentRequest {
	return &retrievev1.WriteComponentRequest{Msg: &retrievev1.WriteComponentRequest_Chunk{Chunk: b}}
}

func write(t *testing.T, f *fixture, msgs ...*retrievev1.WriteComponentRequest) (*retrievev1.WriteComponentResponse, error) {
	t.Helper()
	stream, err := f.client.WriteComponent(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		if err := stream.Send(m); err != nil {
			break // the server gave up; CloseAndRecv says why
		}
	}
	return stream.CloseAndRecv()
}

func TestWriteComponentThenRetrieveByName(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	data := bytes.Repeat([]byte(`{"n":1},`), 70_000) // 560 KB: three chunks
	want := sha256.Sum256(data)
	resp, err := write(t, f, header("q123", "wf2", "equations.json", int64(len(data))),
		chunk(data[:256<<10]), chunk(data[256<<10:512<<10]), chunk(data[512<<10:]))
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetComponentId() != "equations.json" || resp.GetSize() != int64(len(data)) || resp.GetSha256() != hex.EncodeToString(want[:]) ||
		resp.GetStorageKey() != "main/00/01/23/Q123/components/derived/wf2/equations.json" {
		t.Errorf("response = %+v", resp)
	}
	// By file name: the newest derived/*/equations.json, here wf2's (the fixture has an
	// older one under equation_extraction).
	hdr, got, _, err := collectData(t.Context(), f.client, &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "doip:bitstream/Q123/equations.json"})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, data) || hdr.GetComponentId() != "derived/wf2/equations.json" || hdr.GetFilename() != "equations.json" || hdr.GetMediaType() != "application/json" {
		t.Errorf("retrieved %d bytes, header %+v", len(got), hdr)
	}
}

func TestWriteComponentRefusals(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	for _, tc := range []struct {
		name string
		msgs []*retrievev1.WriteComponentRequest
		code codes.Code
		msg  string
	}{
		{"no header", []*retrievev1.WriteComponentRequest{chunk([]byte("x"))}, codes.InvalidArgument, "header"},
		{"empty stream", nil, codes.InvalidArgument, "header"},
		{"bad object", []*retrievev1.WriteComponentRequest{header("X1", "wf", "a.json", 0)}, codes.InvalidArgument, "X1"},
		{"traversal", []*retrievev1.WriteComponentRequest{header("Q123", "wf", "../../records/Q123.json", 1)}, codes.InvalidArgument, ".."},
		{"absolute", []*retrievev1.WriteComponentRequest{header("Q123", "wf", "/etc/x", 1)}, codes.InvalidArgument, "segment"},
		{"dot workflow", []*retrievev1.WriteComponentRequest{header("Q123", "..", "a.json", 1)}, codes.InvalidArgument, "workflow"},
		{"hidden file", []*retrievev1.WriteComponentRequest{header("Q123", "wf", ".tmp-x", 1)}, codes.InvalidArgument, ".tmp-x"},
		{"negative size", []*retrievev1.WriteComponentRequest{header("Q123", "wf", "a.json", -1)}, codes.InvalidArgument, "size"},
		{"fewer bytes", []*retrievev1.WriteComponentRequest{header("Q123", "wf", "short.json", 5), chunk([]byte("abc"))}, codes.InvalidArgument, "announced 5 bytes"},
		{"more bytes", []*retrievev1.WriteComponentRequest{header("Q123", "wf", "long.json", 2), chunk([]byte("abc"))}, codes.InvalidArgument, "announced 2 bytes"},
		{"second header", []*retrievev1.WriteComponentRequest{header("Q123", "wf", "twice.json", 2), header("Q123", "wf", "x", 1)}, codes.InvalidArgument, "second header"},
	} {
		_, err := write(t, f, tc.msgs...)
		if st, ok := status.FromError(err); !ok || st.Code() != tc.code || !strings.Contains(st.Message(), tc.msg) {
			t.Errorf("%s: error = %v; want %s containing %q", tc.name, err, tc.code, tc.msg)
		}
		var sent []string
		if len(tc.msgs) > 0 && tc.msgs[0].GetHeader() != nil {
			h := tc.msgs[0].GetHeader()
			sent = append(sent, h.GetObjectId(), h.GetWorkflow(), h.GetPath())
		}
		noLeak(t, err, sent...)
	}
	// Nothing half-written is visible.
	for _, id := range []string{"short.json", "long.json", "twice.json"} {
		_, _, _, err := collectData(t.Context(), f.client, &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: id})
		wantStatus(t, err, codes.NotFound, `object Q123 has no component "`+id+`"`)
	}
}
