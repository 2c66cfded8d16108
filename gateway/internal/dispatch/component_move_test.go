package dispatch

import (
	"bytes"
	"context"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
)

// rangeRetrieve streams content in 16 KiB chunks, honouring ranges, and records the start of
// every stream it serves.
func rangeRetrieve(content []byte) (*stubRetrieve, func() []int64) {
	var mu sync.Mutex
	var starts []int64
	rs := okRetrieve(content)
	rs.stream = func(r *retrievev1.StreamComponentRequest, st retrievev1.RetrieveService_StreamComponentServer) error {
		if r.GetObjectId() != "Q1" || r.GetComponentId() != "main-pdf" {
			return status.Errorf(codes.NotFound, "no component %q of %q", r.GetComponentId(), r.GetObjectId())
		}
		from, to := int64(0), int64(len(content))-1
		if rg := r.GetRange(); rg != nil {
			if rg.Start == nil || rg.End == nil || rg.GetStart() > rg.GetEnd() || rg.GetEnd() >= int64(len(content)) {
				return status.Errorf(codes.OutOfRange, "range %v", rg)
			}
			from, to = rg.GetStart(), rg.GetEnd()
		}
		mu.Lock()
		starts = append(starts, from)
		mu.Unlock()
		if err := st.Send(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Header{Header: &retrievev1.ComponentHeader{
			ComponentId: "main-pdf", MediaType: "application/pdf", Size: to - from + 1, TotalSize: int64(len(content))}}}); err != nil {
			return err
		}
		for rest := content[from : to+1]; len(rest) > 0; {
			n := min(len(rest), 16<<10)
			if err := st.Send(&retrievev1.StreamComponentResponse{Msg: &retrievev1.StreamComponentResponse_Chunk{Chunk: rest[:n]}}); err != nil {
				return err
			}
			rest = rest[n:]
		}
		return nil
	}
	return rs, func() []int64 { mu.Lock(); defer mu.Unlock(); return append([]int64(nil), starts...) }
}

// pacedWriter blocks its first write for pause, then takes everything at once.
type pacedWriter struct {
	bytes.Buffer
	pause time.Duration
	once  sync.Once
}

func (w *pacedWriter) Write(p []byte) (int, error) {
	w.once.Do(func() { time.Sleep(w.pause) })
	return w.Buffer.Write(p)
}

// A component stream starts on the small-window connection; a client that took FastAfter
// bytes without a slow write moves to the large windows, the rest asked for as a range,
// and gets exactly the component's bytes, whole or ranged. A client whose write blocked
// stays on the small windows.
func TestComponentStreamMovesOnlyFastClients(t *testing.T) {
	t.Parallel()
	content := make([]byte, 1<<20+12345)
	for i := range content {
		content[i] = byte(rand.IntN(256))
	}
	for _, tc := range []struct {
		name       string
		rng        *retrievev1.ByteRange
		pause      time.Duration
		slowWrite  time.Duration
		wantStarts []int64
	}{
		// A fast client's writes never block, but a busy machine can pause any goroutine
		// for tens of milliseconds: its threshold is far above such pauses, so only the
		// slow client's deliberate pause counts as a slow write.
		{"fast, whole", nil, 0, 10 * time.Second, []int64{0, 256 << 10}},
		{"fast, range", &retrievev1.ByteRange{Start: proto.Int64(1000), End: proto.Int64(900_000)}, 0, 10 * time.Second, []int64{1000, 1000 + 256<<10}},
		{"slow, stays", nil, 100 * time.Millisecond, 50 * time.Millisecond, []int64{0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rs, starts := rangeRetrieve(content)
			d := newDispatcher(t, rs, nil)
			small := newDispatcher(t, rs, nil)
			d.RetrieveSmall, d.FastAfter, d.SlowWrite = small.Retrieve, 256<<10, tc.slowWrite
			req := &retrievev1.StreamComponentRequest{ObjectId: "Q1", ComponentId: "main-pdf", Range: tc.rng}
			body, hdr, err := d.openComponent(t.Context(), req)
			if err != nil {
				t.Fatal(err)
			}
			defer body.close()
			w := &pacedWriter{pause: tc.pause}
			n, err := body.WriteTo(w)
			want := content
			if tc.rng != nil {
				want = content[tc.rng.GetStart() : tc.rng.GetEnd()+1]
			}
			if err != nil || n != hdr.GetSize() || !bytes.Equal(w.Bytes(), want) {
				t.Fatalf("WriteTo = %d, %v; %d bytes, equal %v; want %d", n, err, w.Len(), bytes.Equal(w.Bytes(), want), len(want))
			}
			// The move happens at the first chunk boundary after FastAfter bytes.
			got := starts()
			if len(got) != len(tc.wantStarts) || got[0] != tc.wantStarts[0] || (len(got) == 2 && (got[1] < tc.wantStarts[1] || got[1] > tc.wantStarts[1]+16<<10)) {
				t.Errorf("streams started at %v; want about %v", got, tc.wantStarts)
			}
		})
	}
}

// With the small-window connection configured, a retrieve answer read through Read (no
// move) is still the whole component.
func TestComponentSmallWindowThroughServeDOIP(t *testing.T) {
	t.Parallel()
	content := bytes.Repeat([]byte("0123456789abcdef"), 40_000)
	rs, _ := rangeRetrieve(content)
	d := newDispatcher(t, rs, nil)
	d.RetrieveSmall, d.FastAfter = newDispatcher(t, rs, nil).Retrieve, 100_000
	var r recorder
	d.ServeDOIP(context.Background(), &r, &doip.Request{Op: doip.OpRetrieve, ObjectID: "Q1", Element: "main-pdf"})
	if r.err != nil || len(r.bodies) != 1 || !bytes.Equal(r.bodies[0], content) {
		t.Fatalf("answer %v, %d bodies", r.err, len(r.bodies))
	}
}
