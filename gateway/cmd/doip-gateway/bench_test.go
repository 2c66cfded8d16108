package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
)

// startupLog keeps the first 64 KiB the gateway logs, to learn its addresses and to check
// its start-up lines, and passes everything on to out.
type startupLog struct {
	mu  sync.Mutex
	b   bytes.Buffer
	out io.Writer
}

func (s *startupLog) Write(p []byte) (int, error) {
	s.mu.Lock()
	if s.b.Len() < 64<<10 {
		s.b.Write(p)
	}
	s.mu.Unlock()
	return s.out.Write(p)
}

func (s *startupLog) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// envelopeAddrRE finds the envelope port's address in the gateway's JSON log.
var envelopeAddrRE = regexp.MustCompile(`"msg":"listening".*"listener":"envelope","addr":"([^"]+)"`)

// benchGateway runs the gateway with its default settings (logs on, at info) against a
// stub retrieve-svc and returns the envelope port's address.
func benchGateway(b *testing.B, extra ...string) string {
	b.Helper()
	lis, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	rs := grpcapp.NewServer()
	retrievev1.RegisterRetrieveServiceServer(rs.GRPC, &recordStub{})
	rs.SetServing(retrievev1.RetrieveService_ServiceDesc.ServiceName)
	go func() { _ = rs.GRPC.Serve(lis) }()
	b.Cleanup(rs.GRPC.Stop)
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = null.Close() })
	logs := &startupLog{out: null}
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	args := append([]string{"--host", "127.0.0.1", "--port", "0", "--http-port", "off", "--tls-mode", "off", "--invoke-addr=",
		"--retrieve-addr", lis.Addr().String(), "--admin-addr=", "--log-format", "json", "--config="}, extra...)
	go func() { errc <- run(ctx, args, func(string) string { return "" }, logs) }()
	b.Cleanup(func() { cancel(); <-errc })
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if m := envelopeAddrRE.FindStringSubmatch(logs.String()); m != nil {
			return m[1]
		}
	}
	b.Fatal("the gateway did not start")
	return ""
}

// processCPU is the CPU time the process has used, user and system, in nanoseconds. On a
// shared machine it moves far less with the load than the wall time does.
func processCPU() int64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return ru.Utime.Nano() + ru.Stime.Nano()
}

// recordStub serves every record as a small JSON object, as retrieve-svc does from its cache.
type recordStub struct {
	retrievev1.UnimplementedRetrieveServiceServer
}

func (recordStub) GetRecord(_ context.Context, req *retrievev1.GetRecordRequest) (*retrievev1.GetRecordResponse, error) {
	if req.GetObjectId() == versionedObject {
		return &retrievev1.GetRecordResponse{ObjectId: req.GetObjectId(), RecordJson: []byte(versionedRecord), Version: benchVersion,
			ObjectType: "https://fdo.example.org/fdo/types/ScholarlyArticle", Components: []*retrievev1.Component{
				{ComponentId: "main-pdf", MediaType: "application/pdf", Filename: "main-pdf.pdf"},
				{ComponentId: "source.tex", MediaType: "application/x-tex", Filename: "source.tex"}}}, nil
	}
	return &retrievev1.GetRecordResponse{ObjectId: req.GetObjectId(),
		RecordJson: []byte(`{"@id":"https://fdo.example.org/fdo/Q123","@type":"DigitalObject","kernel":{"digitalObjectType":"https://fdo.example.org/fdo/types/Dataset"}}`)}, nil
}

// versionedObject is served as retrieve-svc serves a record on versioned storage after a
// commit: a full record, as the source wrote it, with its components and the commit's id.
const (
	versionedObject = "Q124"
	benchVersion    = "5f1c0b6e2a9d4e7f8a3b1c2d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f6071"
	versionedRecord = `{
  "@context": ["https://w3id.org/fdo/context/v1", {"schema": "https://schema.org/", "fdo": "https://w3id.org/fdo/vocabulary/"}],
  "@id": "https://fdo.example.org/fdo/Q124",
  "@type": "DigitalObject",
  "kernel": {
    "@id": "https://fdo.example.org/fdo/Q124",
    "digitalObjectType": "https://fdo.example.org/fdo/types/ScholarlyArticle",
    "primaryIdentifier": "mardi:Q124",
    "modified": "2024-03-15T09:00:00Z",
    "fdo:hasComponent": [
      {"@id": "#main-pdf", "componentId": "main-pdf", "mediaType": "application/pdf"},
      {"@id": "#source.tex", "componentId": "source.tex", "mediaType": "application/x-tex"}
    ]
  },
  "profile": {
    "@type": "ScholarlyArticle",
    "name": "A Short Note on Richardson Extrapolation of the Composite Trapezoidal Rule",
    "author": [{"@type": "Person", "@id": "https://fdo.example.org/fdo/Q6190920", "name": "Ada M. Lindqvist"}],
    "keywords": ["trapezoidal rule", "Euler-Maclaurin formula", "Richardson extrapolation"],
    "numberOfPages": 3
  }
}`
)

// BenchmarkRequestPath measures requests end to end through the gateway's server path on
// persistent connections (the client's work included), with the log written per record
// (log-buffer=0, the former behaviour) and in batches (the default). record-version is a
// full record that names the commit it was read at, as on versioned storage. Compare ns/op and
// allocs/op of the two in one run; with conns=16 ns/op is per request across connections.
// cpu-ns/op is the CPU time of the process (client, gateway and stub) per request.
func BenchmarkRequestPath(b *testing.B) {
	reqs := []struct {
		name string
		req  client.Request
	}{
		{"hello", client.Request{Op: doip.OpHello, ObjectID: "service"}},
		{"listops", client.Request{Op: doip.OpListOps, ObjectID: "service"}},
		{"record", client.Request{Op: doip.OpRetrieve, ObjectID: "Q123"}},
		{"record-version", client.Request{Op: doip.OpRetrieve, ObjectID: versionedObject}},
	}
	for _, logBuffer := range []string{"0", "65536"} {
		addr := benchGateway(b, "--log-buffer", logBuffer)
		for _, r := range reqs {
			for _, conns := range []int{1, 16} {
				b.Run(fmt.Sprintf("%s/conns=%d/logbuf=%s", r.name, conns, logBuffer), func(b *testing.B) {
					benchRequests(b, addr, r.req, conns)
				})
			}
		}
	}
}

func benchRequests(b *testing.B, addr string, req client.Request, conns int) {
	cs := make([]*client.Conn, conns)
	for i := range cs {
		c, err := client.Dial(b.Context(), addr, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		if _, err := c.Do(b.Context(), req, nil); err != nil {
			b.Fatal(err)
		}
		cs[i] = c
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu0 := processCPU()
	var wg sync.WaitGroup
	var mu sync.Mutex
	var failed error
	for i, c := range cs {
		n := b.N / conns
		if i < b.N%conns {
			n++
		}
		wg.Go(func() {
			for range n {
				if _, err := c.Do(context.Background(), req, nil); err != nil {
					mu.Lock()
					failed = err
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	b.ReportMetric(float64(processCPU()-cpu0)/float64(b.N), "cpu-ns/op")
	if failed != nil && !strings.Contains(failed.Error(), "NotFound") {
		b.Fatal(failed)
	}
}
