package retrieve

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storagemem"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"google.golang.org/grpc/codes"
)

// presigning is an in-memory bucket that also presigns, as S3 does.
type presigning struct{ *storagemem.Bucket }

func (presigning) Presign(_ context.Context, key string, expiry time.Duration) (string, error) {
	return "https://s3.example.invalid/bucket/" + key + "?X-Amz-Expires=" + expiry.String(), nil
}

func TestHandOffToPresignedURL(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	open := func(req *retrievev1.StreamComponentRequest) (*retrievev1.ComponentHeader, int, error) {
		stream, err := f.client.StreamComponent(t.Context(), req)
		if err != nil {
			return nil, 0, err
		}
		first, err := stream.Recv()
		if err != nil {
			return nil, 0, err
		}
		chunks := 0
		for {
			_, err := stream.Recv()
			if errors.Is(err, io.EOF) {
				return first.GetHeader(), chunks, nil
			}
			if err != nil {
				return nil, chunks, err
			}
			chunks++
		}
	}
	h, chunks, err := open(&retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "digits", AllowDirect: true})
	if err != nil {
		t.Fatal(err)
	}
	if chunks != 0 || h.GetSize() != 10 || h.GetOffset() != 0 || h.GetDirectUrl() != "https://s3.example.invalid/bucket/main/00/01/23/Q123/components/digits?X-Amz-Expires=1m0s" {
		t.Errorf("hand-off header %+v with %d chunks", h, chunks)
	}
	start, end := int64(2), int64(5)
	h, _, err = open(&retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "digits", AllowDirect: true,
		Range: &retrievev1.ByteRange{Start: &start, End: &end}})
	if err != nil || h.GetOffset() != 2 || h.GetSize() != 4 || h.GetTotalSize() != 10 {
		t.Errorf("ranged hand-off %+v, %v", h, err)
	}
	// Without allow_direct, the bytes come as chunks as before.
	if h, chunks, err = open(&retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "digits"}); err != nil || h.GetDirectUrl() != "" || chunks != 1 {
		t.Errorf("plain stream: %+v, %d chunks, %v", h, chunks, err)
	}
	_, _, err = open(&retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "missing.pdf", AllowDirect: true})
	wantStatus(t, err, codes.NotFound, `component "missing.pdf" of Q123 is not stored`)
	if strings.Contains(f.logs.String(), "X-Amz-Expires") {
		t.Error("the presigned URL was logged")
	}
}
