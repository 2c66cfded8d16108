package retrieve

import (
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/fdo"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/objectid"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/sampledata"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storageos"
	"github.com/fdo-doip/doip-gateway/shared/chunkcodec"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/grpctest"
	"github.com/fdo-doip/doip-gateway/shared/metrics"
)

// benchServer is a server as retrieve-svc runs it on its defaults: the sample objects in a
// data folder (records and versioned storage), the record cache, metrics, and a JSON log at
// info. With committed, the branch has a commit (a derived component of Q123), so every
// record names a version.
func benchServer(b *testing.B, committed bool) (*Server, *prometheus.Registry) {
	b.Helper()
	root := b.TempDir()
	if _, err := sampledata.Seed(root); err != nil {
		b.Fatal(err)
	}
	bucket, err := storageos.New(root)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = bucket.Close() })
	if committed {
		tx, err := bucket.Begin(b.Context(), "main")
		if err != nil {
			b.Fatal(err)
		}
		const data = `{"equations":[]}`
		key := objectid.ComponentKey("main", "Q123", "derived/equation_extraction/equations.json")
		if _, err := tx.Put(b.Context(), key, strings.NewReader(data), int64(len(data))); err != nil {
			b.Fatal(err)
		}
		if _, err := tx.Commit(b.Context(), "bench", nil); err != nil {
			b.Fatal(err)
		}
	}
	reg := prometheus.NewRegistry()
	logger := slog.New(slog.NewJSONHandler(io.Discard, nil))
	records := fdo.NewCache(fdo.NewDir(root), time.Hour, 1000, fdo.WithMetrics(fdo.NewCacheMetrics(reg)))
	return NewServer(records, bucket, "main", logger, WithMetrics(NewMetrics(reg))), reg
}

// BenchmarkGetRecord retrieves the record of Q123 (cached after the first call) without
// component sizes, as a DOIP retrieve of the record does: called directly, and through gRPC
// (bufconn, with the interceptors retrieve-svc installs) with the client's work included.
func BenchmarkGetRecord(b *testing.B) {
	req := &retrievev1.GetRecordRequest{ObjectId: "Q123"}
	for _, committed := range []bool{false, true} {
		name := "fresh"
		if committed {
			name = "committed"
		}
		b.Run("direct/"+name, func(b *testing.B) {
			s, _ := benchServer(b, committed)
			b.ReportAllocs()
			for b.Loop() {
				resp, err := s.GetRecord(b.Context(), req)
				if err != nil || len(resp.GetComponents()) != 2 {
					b.Fatalf("GetRecord = %v, %v", resp, err)
				}
			}
		})
		b.Run("grpc/"+name, func(b *testing.B) {
			s, reg := benchServer(b, committed)
			gm := metrics.NewGRPCServer(reg)
			srv := grpcapp.NewServer(append(gm.ServerOptions(), chunkcodec.Server)...)
			retrievev1.RegisterRetrieveServiceServer(srv.GRPC, s)
			client := retrievev1.NewRetrieveServiceClient(grpctest.Serve(b, srv.GRPC))
			b.ReportAllocs()
			for b.Loop() {
				resp, err := client.GetRecord(b.Context(), req)
				if err != nil || len(resp.GetComponents()) != 2 {
					b.Fatalf("GetRecord = %v, %v", resp, err)
				}
			}
		})
	}
}
