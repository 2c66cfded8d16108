package e2e_test

import (
	"encoding/binary"
	"encoding/json"
	"io"
	"net"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/shared/lakefstest"
)

// resetPeak sets a process's peak resident memory (VmHWM) back to its current size.
func resetPeak(tb testing.TB, pid int) {
	tb.Helper()
	if err := os.WriteFile("/proc/"+strconv.Itoa(pid)+"/clear_refs", []byte("5"), 0); err != nil {
		tb.Logf("peak memory not reset: %v", err)
	}
}

// BenchmarkUpload1GiB uploads one 1 GiB element to a real lakeFS in one run: as a create in
// each of the three framings (gateway → retrieve-svc → lakeFS, one commit each), and as a
// direct S3 PUT of the same bytes to lakeFS's S3 gateway with minio-go. It reports the peak
// resident memory of the gateway and of retrieve-svc during each upload.
//
//	go test -run '^$' -bench Upload1GiB -benchtime 1x ./gateway/e2e/
func BenchmarkUpload1GiB(b *testing.B) {
	const size = 1 << 30
	l := startLakeFS(b)
	path, _ := bigFile(b, size)
	s := startWriteSystemTB(b, lakeFSRecords(b), "STORAGE=lakefs", "LAKEFS_URL="+l.URL(), "LAKEFS_REPO="+lakefstest.Repo,
		"LAKEFS_BRANCH="+lakefstest.Branch, "LAKEFS_USER="+lakefstest.AccessKey, "LAKEFS_PASSWORD="+lakefstest.SecretKey)
	open := func(b *testing.B) *os.File {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { f.Close() })
		return f
	}
	peaks := func(b *testing.B) {
		b.ReportMetric(float64(procStatusMiB(b, s.gateway.cmd.Process.Pid, "VmHWM")), "gateway-peak-MiB")
		b.ReportMetric(float64(procStatusMiB(b, s.retrieve.cmd.Process.Pid, "VmHWM")), "retrieve-peak-MiB")
	}
	start := func() {
		resetPeak(b, s.gateway.cmd.Process.Pid)
		resetPeak(b, s.retrieve.cmd.Process.Pid)
	}
	b.Run("envelope", func(b *testing.B) {
		c, err := client.Dial(b.Context(), s.envelopeAddr(), nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		c.Timeout = 5 * time.Minute
		b.SetBytes(size)
		start()
		for b.Loop() {
			if _, err := c.Write(b.Context(), doip.OpCreate, "", map[string]any{"json": `{"name":"big"}`, "token": writeToken},
				[]client.Upload{{ID: "big.bin", Size: size, Body: open(b)}}, nil); err != nil {
				b.Fatal(err)
			}
		}
		peaks(b)
	})
	b.Run("doiptext", func(b *testing.B) {
		nc, err := net.Dial("tcp", s.segmentsAddr())
		if err != nil {
			b.Fatal(err)
		}
		c := client.NewStdConn(nc)
		defer c.Close()
		c.Timeout = 5 * time.Minute
		b.SetBytes(size)
		start()
		for b.Loop() {
			if _, err := c.DoWrite(b.Context(), json.RawMessage(`{"targetId":"svc","operationId":"0.DOIP/Op.Create","authentication":{"token":"`+writeToken+`"}}`),
				map[string]any{"elements": []map[string]string{{"id": "big.bin"}}}, []client.StdElement{{ID: "big.bin", Body: open(b)}}, nil); err != nil {
				b.Fatal(err)
			}
		}
		peaks(b)
	})
	b.Run("segment", func(b *testing.B) {
		b.SetBytes(size)
		start()
		for b.Loop() {
			nc, err := net.Dial("tcp", s.segmentsAddr())
			if err != nil {
				b.Fatal(err)
			}
			first := `{"targetId":"","operationId":"create","attributes":{"token":"` + writeToken + `","content":{}}}`
			hdr := `{"id":"big.bin"}`
			var pre []byte
			for _, p := range []string{first, hdr} {
				pre = append(pre, byte(len(p)>>24), byte(len(p)>>16), byte(len(p)>>8), byte(len(p)))
				pre = append(pre, p...)
			}
			pre = binary.BigEndian.AppendUint32(pre, uint32(size))
			_ = nc.SetDeadline(time.Now().Add(5 * time.Minute))
			if _, err := nc.Write(pre); err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(nc, open(b)); err != nil {
				b.Fatal(err)
			}
			if _, err := nc.Write([]byte{0, 0, 0, 0}); err != nil {
				b.Fatal(err)
			}
			var lenb [4]byte
			if _, err := io.ReadFull(nc, lenb[:]); err != nil {
				b.Fatal(err)
			}
			ans := make([]byte, int(lenb[2])<<8|int(lenb[3]))
			_, _ = io.ReadFull(nc, ans)
			nc.Close()
			var st struct{ Status string }
			if json.Unmarshal(ans, &st) != nil || st.Status != "success" {
				b.Fatalf("answer %s", ans)
			}
		}
		peaks(b)
	})
	b.Run("direct-s3", func(b *testing.B) {
		mc, err := minio.New(l.Addr, &minio.Options{Creds: credentials.NewStaticV4(lakefstest.AccessKey, lakefstest.SecretKey, ""), BucketLookup: minio.BucketLookupPath, Region: "us-east-1"})
		if err != nil {
			b.Fatal(err)
		}
		b.SetBytes(size)
		for b.Loop() {
			if _, err := mc.PutObject(b.Context(), lakefstest.Repo, lakefstest.Branch+"/direct/big.bin", open(b), size,
				minio.PutObjectOptions{PartSize: 16 << 20}); err != nil {
				b.Fatal(err)
			}
		}
		b.ReportMetric(float64(l.RSS())/(1<<20), "lakefs-rss-MiB")
	})
}
