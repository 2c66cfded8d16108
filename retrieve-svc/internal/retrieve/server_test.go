package retrieve

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/fdo"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/objectid"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/sampledata"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storagemem"
	"github.com/fdo-doip/doip-gateway/shared/chunkcodec"
	"github.com/fdo-doip/doip-gateway/shared/doipid"
	retrievev1 "github.com/fdo-doip/doip-gateway/shared/gen/doip/retrieve/v1"
	"github.com/fdo-doip/doip-gateway/shared/grpcapp"
	"github.com/fdo-doip/doip-gateway/shared/grpctest"
	"github.com/fdo-doip/doip-gateway/shared/logtest"
)

const recordQ123 = `{
  "@context": ["https://w3id.org/fdo/context/v1", {"fdo": "https://w3id.org/fdo/vocabulary/"}],
  "@id": "https://fdo.example.org/fdo/Q123",
  "@type": "DigitalObject",
  "kernel": {
    "@id": "https://fdo.example.org/fdo/Q123",
    "digitalObjectType": "https://fdo.example.org/fdo/types/ScholarlyArticle",
    "primaryIdentifier": "mardi:Q123",
    "fdo:hasComponent": [
      {"@id": "#fulltext.pdf", "componentId": "fulltext.pdf", "mediaType": "application/pdf"},
      {"@id": "#main-pdf", "componentId": "main-pdf", "mimeType": "application/pdf"},
      {"@id": "#big.bin", "componentId": "big.bin"},
      {"@id": "#digits", "componentId": "digits", "mediaType": "text/plain; charset=utf-8"},
      {"@id": "#empty.txt", "componentId": "empty.txt", "mediaType": "text/plain"},
      {"@id": "#missing.pdf", "componentId": "missing.pdf", "mediaType": "application/pdf"},
      {"@id": "#rocrate", "componentId": "rocrate", "mediaType": "application/zip"}
    ]
  },
  "profile": {"@type": "ScholarlyArticle", "name": "On the numerical solution of ..."}
}`

var (
	pdfBytes = []byte("%PDF-1.7\n fulltext \x00\xff\n%%EOF\n")
	bigBytes = func() []byte {
		b := make([]byte, 1<<20+3)
		for i := range b {
			b[i] = byte(i*7 + i>>9)
		}
		return b
	}()
)

// fixture is a RetrieveService over bufconn with records in a folder and components in memory.
type fixture struct {
	client  retrievev1.RetrieveServiceClient
	bucket  *storagemem.Bucket
	logs    *logtest.Buffer
	records string // the records folder
}

func newFixture(t testing.TB, src fdo.Source, opts ...Option) *fixture {
	t.Helper()
	dir := t.TempDir()
	f := &fixture{bucket: storagemem.New(), logs: &logtest.Buffer{}, records: filepath.Join(dir, "records")}
	if src == nil {
		if err := os.MkdirAll(f.records, 0o755); err != nil {
			t.Fatal(err)
		}
		f.writeRecord(t, "Q123", recordQ123)
		f.writeRecord(t, "Q7", `{"kernel":{"digitalObjectType":"https://fdo.example.org/fdo/types/Person"}}`)
		f.writeRecord(t, "Q8", `[1]`)
		src = fdo.NewDir(dir)
	}
	for id, data := range map[string][]byte{
		"fulltext.pdf": pdfBytes,
		"main-pdf":     pdfBytes,
		"big.bin":      bigBytes,
		"digits":       []byte("0123456789"),
		"empty.txt":    nil,
		"rocrate":      []byte("PK\x03\x04"),
		"secret.txt":   []byte("stored but not listed"),
		"derived/equation_extraction/equations.json": []byte(`{"equations":[]}`),
	} {
		f.put(t, "Q123", id, data)
	}
	f.put(t, "Q124", "fulltext.pdf", []byte("another object"))

	logger := slog.New(slog.NewTextHandler(io.MultiWriter(f.logs, t.Output()), &slog.HandlerOptions{Level: slog.LevelDebug}))
	f.client = serve(t, NewServer(fdo.NewCache(src, time.Hour, 100), presigning{f.bucket}, "main", logger, append([]Option{WithPresign(time.Minute)}, opts...)...))
	return f
}

// serve runs s on an in-memory listener until the test ends and returns a client of it.
func serve(t testing.TB, s *Server) retrievev1.RetrieveServiceClient {
	t.Helper()
	srv := grpcapp.NewServer(chunkcodec.Server)
	retrievev1.RegisterRetrieveServiceServer(srv.GRPC, s)
	return retrievev1.NewRetrieveServiceClient(grpctest.Serve(t, srv.GRPC))
}

func (f *fixture) writeRecord(t testing.TB, qid, body string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(f.records, qid+".json"), []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) put(t testing.TB, qid, id string, data []byte) {
	t.Helper()
	key := objectid.ComponentKey("main", qid, id)
	if _, err := f.bucket.Put(context.Background(), key, bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}
}

func wantStatus(t *testing.T, err error, code codes.Code, msg string) {
	t.Helper()
	st, ok := status.FromError(err)
	if !ok || st.Code() != code || st.Message() != msg {
		t.Errorf("error = %v; want %s %q", err, code, msg)
	}
}

// noLeak checks that a status message names no storage key, path or address beyond the
// ids the client sent.
func noLeak(t *testing.T, err error, sent ...string) {
	t.Helper()
	msg := status.Convert(err).Message()
	for _, s := range sent {
		msg = strings.ReplaceAll(msg, doipid.Quote(s), "")
	}
	for _, bad := range []string{"main/", "/components/", "records", string(filepath.Separator) + "tmp", "127.0.0.1", "storage"} {
		if strings.Contains(msg, bad) && !strings.Contains(msg, "component storage unavailable") {
			t.Errorf("status message %q contains %q", msg, bad)
		}
	}
}

func TestGetRecord(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	resp, err := f.client.GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: "q123_fulltext"})
	if err != nil {
		t.Fatal(err)
	}
	if resp.GetObjectId() != "Q123" || string(resp.GetRecordJson()) != recordQ123 || resp.GetCached() ||
		resp.GetObjectType() != "https://fdo.example.org/fdo/types/ScholarlyArticle" {
		t.Errorf("GetRecord = id %q type %q cached %v, record equal: %v", resp.GetObjectId(), resp.GetObjectType(),
			resp.GetCached(), string(resp.GetRecordJson()) == recordQ123)
	}
	want := []*retrievev1.Component{
		{ComponentId: "fulltext.pdf", MediaType: "application/pdf", Filename: "fulltext.pdf"},
		{ComponentId: "main-pdf", MediaType: "application/pdf", Filename: "main-pdf.pdf"},
		{ComponentId: "big.bin", MediaType: "application/octet-stream", Filename: "big.bin"},
		{ComponentId: "digits", MediaType: "text/plain; charset=utf-8", Filename: "digits.txt"},
		{ComponentId: "empty.txt", MediaType: "text/plain", Filename: "empty.txt"},
		{ComponentId: "missing.pdf", MediaType: "application/pdf", Filename: "missing.pdf"},
		{ComponentId: "rocrate", MediaType: "application/zip", Filename: "rocrate.zip"},
	}
	checkComponents(t, resp.GetComponents(), want)

	resp, err = f.client.GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: "Q123", WithComponentSizes: true})
	if err != nil {
		t.Fatal(err)
	}
	if !resp.GetCached() {
		t.Error("second GetRecord not cached")
	}
	for i, size := range []int64{int64(len(pdfBytes)), int64(len(pdfBytes)), 1<<20 + 3, 10, 0, -1, 4} {
		if size >= 0 {
			want[i].Size = proto.Int64(size)
		}
	}
	checkComponents(t, resp.GetComponents(), want)
}

func checkComponents(t *testing.T, got, want []*retrievev1.Component) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%d components; want %d", len(got), len(want))
	}
	for i := range want {
		if !proto.Equal(got[i], want[i]) {
			t.Errorf("component %d = %v; want %v", i, got[i], want[i])
		}
	}
}

func TestGetRecordNoComponents(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	resp, err := f.client.GetRecord(t.Context(), &retrievev1.GetRecordRequest{ObjectId: "Q7", WithComponentSizes: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.GetComponents()) != 0 || resp.GetObjectType() != "https://fdo.example.org/fdo/types/Person" {
		t.Errorf("GetRecord(Q7) = %v", resp)
	}
}

func TestGetRecordErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tests := []struct {
		id   string
		code codes.Code
		msg  string
	}{
		{"Q999", codes.NotFound, "no object Q999"},
		{"q999_FULLTEXT", codes.NotFound, "no object Q999"},
		{"X1", codes.InvalidArgument, `invalid object id "X1": want Q followed by 1 to 12 digits`},
		{"", codes.InvalidArgument, `invalid object id "": want Q followed by 1 to 12 digits`},
		{"../records/Q123", codes.InvalidArgument, `invalid object id "../records/Q123": want Q followed by 1 to 12 digits`},
		{"Q1234567890123", codes.InvalidArgument, `invalid object id "Q1234567890123": more than 12 digits`},
		{"Q8", codes.Internal, "record of Q8 is malformed"},
	}
	for _, tt := range tests {
		_, err := f.client.GetRecord(t.Context(), &retrievev1.GetRecordRequest{ObjectId: tt.id})
		wantStatus(t, err, tt.code, tt.msg)
		noLeak(t, err, tt.id)
	}
}

// failingSource fails like a façade that is down, with details clients must not see.
type failingSource struct{ err error }

func (s failingSource) Record(context.Context, string) ([]byte, error) { return nil, s.err }

func TestRecordSourceErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		err  error
		code codes.Code
		msg  string
	}{
		{fmt.Errorf("fdo: record Q123: %w: dial tcp 10.1.2.3:443: connection refused", fdo.ErrUnavailable),
			codes.Unavailable, "record source unavailable"},
		{fmt.Errorf("fdo: record Q123: %w (facade answered 400 Bad Request)", fdo.ErrBadRequest),
			codes.InvalidArgument, `invalid object id "Q123"`},
		{fmt.Errorf("fdo: record Q123: %w: more than 8388608 bytes", fdo.ErrTooLarge),
			codes.Internal, "record of Q123 is too large"},
		{errors.New("open /srv/secret/records/Q123.json: permission denied"),
			codes.Internal, "record of Q123 could not be read"},
	}
	for _, tt := range tests {
		f := newFixture(t, failingSource{tt.err})
		_, err := f.client.GetRecord(t.Context(), &retrievev1.GetRecordRequest{ObjectId: "Q123"})
		wantStatus(t, err, tt.code, tt.msg)
		_, _, err = collect(t.Context(), f.client, &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "fulltext.pdf"})
		wantStatus(t, err, tt.code, tt.msg)
		if tt.code != codes.InvalidArgument && !strings.Contains(f.logs.String(), "err=") {
			t.Errorf("the cause was not logged under err:\n%s", f.logs.String())
		}
	}
}

// collect reads a whole component stream: the header, the bytes, and the chunk sizes.
func collect(ctx context.Context, c retrievev1.RetrieveServiceClient, req *retrievev1.StreamComponentRequest) (*retrievev1.ComponentHeader, []int, error) {
	h, _, chunks, err := collectData(ctx, c, req)
	return h, chunks, err
}

func collectData(ctx context.Context, c retrievev1.RetrieveServiceClient, req *retrievev1.StreamComponentRequest) (*retrievev1.ComponentHeader, []byte, []int, error) {
	stream, err := c.StreamComponent(ctx, req)
	if err != nil {
		return nil, nil, nil, err
	}
	var (
		header *retrievev1.ComponentHeader
		data   []byte
		chunks []int
	)
	for {
		msg, err := stream.Recv()
		if err == io.EOF {
			return header, data, chunks, nil
		}
		if err != nil {
			return header, data, chunks, err
		}
		switch m := msg.GetMsg().(type) {
		case *retrievev1.StreamComponentResponse_Header:
			if header != nil || len(chunks) > 0 {
				return nil, nil, nil, errors.New("header not first, or twice")
			}
			header = m.Header
		case *retrievev1.StreamComponentResponse_Chunk:
			if header == nil {
				return nil, nil, nil, errors.New("chunk before the header")
			}
			data = append(data, m.Chunk...)
			chunks = append(chunks, len(m.Chunk))
		}
	}
}

func TestStreamComponent(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tests := []struct {
		obj, comp  string
		wantHeader *retrievev1.ComponentHeader
		want       []byte
	}{
		{"Q123", "fulltext.pdf", &retrievev1.ComponentHeader{ComponentId: "fulltext.pdf", MediaType: "application/pdf",
			Size: int64(len(pdfBytes)), Filename: "fulltext.pdf", TotalSize: int64(len(pdfBytes))}, pdfBytes},
		{"Q123", "doip:bitstream/Q123/main-pdf", &retrievev1.ComponentHeader{ComponentId: "main-pdf", MediaType: "application/pdf",
			Size: int64(len(pdfBytes)), Filename: "main-pdf.pdf", TotalSize: int64(len(pdfBytes))}, pdfBytes},
		{"q123_FULLTEXT", "doip:bitstream/q123/main-pdf", &retrievev1.ComponentHeader{ComponentId: "main-pdf", MediaType: "application/pdf",
			Size: int64(len(pdfBytes)), Filename: "main-pdf.pdf", TotalSize: int64(len(pdfBytes))}, pdfBytes},
		{"Q123", "main-pdf", &retrievev1.ComponentHeader{ComponentId: "main-pdf", MediaType: "application/pdf",
			Size: int64(len(pdfBytes)), Filename: "main-pdf.pdf", TotalSize: int64(len(pdfBytes))}, pdfBytes},
		{"Q123", "big.bin", &retrievev1.ComponentHeader{ComponentId: "big.bin", MediaType: "application/octet-stream",
			Size: 1<<20 + 3, Filename: "big.bin", TotalSize: 1<<20 + 3}, bigBytes},
		{"Q123", "empty.txt", &retrievev1.ComponentHeader{ComponentId: "empty.txt", MediaType: "text/plain",
			Filename: "empty.txt"}, nil},
		{"Q123", "rocrate", &retrievev1.ComponentHeader{ComponentId: "rocrate", MediaType: "application/zip",
			Size: 4, Filename: "rocrate.zip", TotalSize: 4}, []byte("PK\x03\x04")},
		{"Q123", "derived/equation_extraction/equations.json", &retrievev1.ComponentHeader{
			ComponentId: "derived/equation_extraction/equations.json", MediaType: "application/json",
			Size: 16, Filename: "equations.json", TotalSize: 16}, []byte(`{"equations":[]}`)},
		{"Q123", "doip:bitstream/Q123/derived/equation_extraction/equations.json", &retrievev1.ComponentHeader{
			ComponentId: "derived/equation_extraction/equations.json", MediaType: "application/json",
			Size: 16, Filename: "equations.json", TotalSize: 16}, []byte(`{"equations":[]}`)},
	}
	for _, tt := range tests {
		t.Run(tt.comp, func(t *testing.T) {
			t.Parallel()
			h, data, chunks, err := collectData(t.Context(), f.client, &retrievev1.StreamComponentRequest{ObjectId: tt.obj, ComponentId: tt.comp})
			if err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(h, tt.wantHeader) {
				t.Errorf("header = %v; want %v", h, tt.wantHeader)
			}
			if !bytes.Equal(data, tt.want) {
				t.Errorf("got %d bytes, not the %d stored", len(data), len(tt.want))
			}
			checkChunks(t, chunks, len(tt.want))
		})
	}
}

// checkChunks checks that every chunk but the last is exactly ChunkSize, and none is empty.
func checkChunks(t *testing.T, chunks []int, total int) {
	t.Helper()
	if want := (total + ChunkSize - 1) / ChunkSize; len(chunks) != want {
		t.Errorf("%d chunks for %d bytes; want %d", len(chunks), total, want)
	}
	for i, n := range chunks {
		if n > ChunkSize || n == 0 || (i < len(chunks)-1 && n != ChunkSize) {
			t.Errorf("chunk %d of %d has %d bytes", i, len(chunks), n)
		}
	}
}

func TestStreamComponentErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	tests := []struct {
		obj, comp string
		code      codes.Code
		msg       string
	}{
		{"Q999", "fulltext.pdf", codes.NotFound, "no object Q999"},
		{"X", "fulltext.pdf", codes.InvalidArgument, `invalid object id "X": want Q followed by 1 to 12 digits`},
		{"Q123", "secret.txt", codes.NotFound, `object Q123 has no component "secret.txt"`},
		{"Q123", "nope", codes.NotFound, `object Q123 has no component "nope"`},
		{"Q123", "Fulltext.pdf", codes.NotFound, `object Q123 has no component "Fulltext.pdf"`},
		{"Q123", "derived/equation_extraction/missing.json", codes.NotFound,
			`object Q123 has no component "derived/equation_extraction/missing.json"`},
		{"Q123", "missing.pdf", codes.NotFound, `component "missing.pdf" of Q123 is not stored`},
		{"Q123", "doip:bitstream/Q123/missing.pdf", codes.NotFound, `component "missing.pdf" of Q123 is not stored`},
		{"Q7", "fulltext.pdf", codes.NotFound, `object Q7 has no component "fulltext.pdf"`},
		{"Q123", "doip:bitstream/Q124/fulltext.pdf", codes.InvalidArgument,
			`invalid component id "doip:bitstream/Q124/fulltext.pdf": names object Q124, not Q123`},
		{"Q123", "", codes.InvalidArgument, `invalid component id "": empty`},
	}
	for _, tt := range tests {
		_, _, err := collect(t.Context(), f.client, &retrievev1.StreamComponentRequest{ObjectId: tt.obj, ComponentId: tt.comp})
		wantStatus(t, err, tt.code, tt.msg)
		noLeak(t, err, tt.obj, tt.comp)
	}
}

// TestStreamComponentTraversal sends ids that try to leave the object's prefix; each must be
// refused before storage is asked, even though Q124's component exists there.
func TestStreamComponentTraversal(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	for _, id := range []string{
		"../../../../Q124/components/fulltext.pdf", "../fulltext.pdf", "..", ".", "/main/00/01/24/Q124/components/fulltext.pdf",
		`..\..\Q124\components\fulltext.pdf`, "fulltext.pdf\x00", "%2e%2e/%2e%2e/Q124/components/fulltext.pdf",
		"..%2f..%2fQ124%2fcomponents%2ffulltext.pdf", "derived/../fulltext.pdf", "derived/../../../../../Q124/components/fulltext.pdf",
		"doip:bitstream/Q123/../../../../Q124/components/fulltext.pdf", "derived/equation_extraction/../../secret.txt",
		"a/b", "derived/x", strings.Repeat("x", 256), "fulltext.pdf/", "./fulltext.pdf",
	} {
		_, _, err := collect(t.Context(), f.client, &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: id})
		if status.Code(err) != codes.InvalidArgument || !strings.HasPrefix(status.Convert(err).Message(), "invalid component id ") {
			t.Errorf("component %q: error = %v; want InvalidArgument", id, err)
		}
		noLeak(t, err, id)
	}
}

func TestStreamComponentRange(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	i64 := proto.Int64
	tests := []struct {
		comp       string
		start, end *int64
		want       []byte
	}{
		{"digits", i64(2), i64(4), []byte("234")},
		{"digits", i64(0), i64(9), []byte("0123456789")},
		{"digits", i64(9), i64(9), []byte("9")},
		{"digits", i64(0), i64(0), []byte("0")},
		{"digits", i64(7), nil, []byte("789")},
		{"digits", i64(0), nil, []byte("0123456789")},
		{"digits", nil, i64(3), []byte("789")},
		{"digits", nil, i64(10), []byte("0123456789")},
		{"digits", nil, nil, []byte("0123456789")},
		{"big.bin", i64(ChunkSize - 2), i64(2*ChunkSize + 5), bigBytes[ChunkSize-2 : 2*ChunkSize+6]},
		{"big.bin", nil, i64(ChunkSize + 1), bigBytes[len(bigBytes)-ChunkSize-1:]},
		{"derived/equation_extraction/equations.json", i64(1), i64(11), []byte(`"equations"`)},
	}
	for _, tt := range tests {
		req := &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: tt.comp,
			Range: &retrievev1.ByteRange{Start: tt.start, End: tt.end}}
		h, data, chunks, err := collectData(t.Context(), f.client, req)
		if err != nil {
			t.Errorf("%v: %v", req.GetRange(), err)
			continue
		}
		if !bytes.Equal(data, tt.want) || h.GetSize() != int64(len(tt.want)) {
			t.Errorf("%s %v: header size %d, %d bytes; want %d", tt.comp, req.GetRange(), h.GetSize(), len(data), len(tt.want))
		}
		if total, _ := f.bucket.Stat(t.Context(), objectid.ComponentKey("main", "Q123", tt.comp)); h.GetTotalSize() != total.Size {
			t.Errorf("total_size = %d; want %d", h.GetTotalSize(), total.Size)
		}
		checkChunks(t, chunks, len(tt.want))
	}
}

func TestStreamComponentRangeErrors(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	i64 := proto.Int64
	const of = ` is out of bounds for component "digits" of Q123 (10 bytes)`
	tests := []struct {
		comp       string
		start, end *int64
		code       codes.Code
		msg        string
	}{
		{"digits", i64(10), nil, codes.OutOfRange, "range start 10" + of},
		{"digits", i64(-1), nil, codes.OutOfRange, "range start -1" + of},
		{"digits", i64(5), i64(10), codes.OutOfRange, "range 5-10" + of},
		{"digits", i64(5), i64(4), codes.OutOfRange, "range 5-4" + of},
		{"digits", i64(-1), i64(3), codes.OutOfRange, "range -1-3" + of},
		{"digits", i64(10), i64(20), codes.OutOfRange, "range 10-20" + of},
		{"digits", nil, i64(11), codes.OutOfRange, "range of the last 11 bytes" + of},
		{"digits", nil, i64(0), codes.OutOfRange, "range of the last 0 bytes" + of},
		{"digits", nil, i64(-3), codes.OutOfRange, "range of the last -3 bytes" + of},
		{"empty.txt", i64(0), i64(0), codes.OutOfRange, `range 0-0 is out of bounds for component "empty.txt" of Q123 (0 bytes)`},
		{"missing.pdf", i64(0), i64(0), codes.NotFound, `component "missing.pdf" of Q123 is not stored`},
		{"secret.txt", i64(0), i64(0), codes.NotFound, `object Q123 has no component "secret.txt"`},
	}
	for _, tt := range tests {
		req := &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: tt.comp,
			Range: &retrievev1.ByteRange{Start: tt.start, End: tt.end}}
		_, _, err := collect(t.Context(), f.client, req)
		wantStatus(t, err, tt.code, tt.msg)
	}
}

func TestPurgeRecord(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	get := func() bool {
		t.Helper()
		resp, err := f.client.GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: "Q123"})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetCached()
	}
	purge := func(id string) bool {
		t.Helper()
		resp, err := f.client.PurgeRecord(ctx, &retrievev1.PurgeRecordRequest{ObjectId: id})
		if err != nil {
			t.Fatal(err)
		}
		return resp.GetPurged()
	}
	if get() || !get() {
		t.Fatal("want uncached, then cached")
	}
	// the record changes at its source; the cache hides that until a purge
	f.writeRecord(t, "Q123", `{"kernel":{}}`)
	if !purge("q123_fulltext") {
		t.Error("purge of a cached record = false")
	}
	if purge("Q123") {
		t.Error("second purge = true")
	}
	resp, err := f.client.GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: "Q123"})
	if err != nil || resp.GetCached() || string(resp.GetRecordJson()) != `{"kernel":{}}` {
		t.Errorf("after purge: %v, %v", resp, err)
	}
	_, err = f.client.PurgeRecord(ctx, &retrievev1.PurgeRecordRequest{ObjectId: "Q"})
	wantStatus(t, err, codes.InvalidArgument, `invalid object id "Q": no digits after Q`)
}

// TestStreamCancel checks that a client going away mid-stream ends the stream.
func TestStreamCancel(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	stream, err := f.client.StreamComponent(ctx, &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "big.bin"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := stream.Recv(); err != nil { // the header
		t.Fatal(err)
	}
	cancel()
	for {
		_, err := stream.Recv()
		if err == nil {
			continue
		}
		if status.Code(err) != codes.Canceled {
			t.Errorf("Recv after cancel: %v; want Canceled", err)
		}
		break
	}
}

func TestFilename(t *testing.T) {
	t.Parallel()
	tests := []struct{ id, mediaType, want string }{
		{"fulltext.pdf", "application/pdf", "fulltext.pdf"},
		{"archive.tar.gz", "application/gzip", "archive.tar.gz"},
		{"main-pdf", "application/pdf", "main-pdf.pdf"},
		{"fulltext", "application/pdf", "fulltext.pdf"},
		{"rocrate", "application/zip", "rocrate.zip"},
		{"software-archive", "application/gzip", "software-archive.gz"},
		{"meta", "application/ld+json", "meta.json"},
		{"meta", "application/json; charset=utf-8", "meta.json"},
		{"source", "text/x-tex", "source.tex"},
		{"source", "application/x-tex", "source.tex"},
		{"notes", "text/plain", "notes.txt"},
		{"table", "text/csv", "table.csv"},
		{"blob", "application/octet-stream", "blob.bin"},
		{"blob", "", "blob.bin"},
		{"blob", "not a media type", "blob.bin"},
		{"v1.2-notes", "text/plain", "v1.2-notes.txt"},
		{".hidden", "text/plain", ".hidden.txt"},
		{"derived/wf/equations.json", "application/json", "equations.json"},
		{"derived/wf/output", "text/csv", "output.csv"},
	}
	for _, tt := range tests {
		if got := Filename(tt.id, tt.mediaType); got != tt.want {
			t.Errorf("Filename(%q, %q) = %q; want %q", tt.id, tt.mediaType, got, tt.want)
		}
	}
}

// fakeStream is a server stream that records what is sent and can fail or be cancelled.
type fakeStream struct {
	grpc.ServerStream
	ctx     context.Context
	sent    int
	failAt  int // Send number (1-based) that fails with errSend; 0 never
	afterFn func(n int)
}

var errSend = errors.New("transport is closing")

func (s *fakeStream) Context() context.Context { return s.ctx }

// SendMsg takes the chunks, which go out as [chunkcodec.Owned] values, as Send does.
func (s *fakeStream) SendMsg(any) error { return s.Send(nil) }

func (s *fakeStream) Send(*retrievev1.StreamComponentResponse) error {
	s.sent++
	if s.sent == s.failAt {
		return errSend
	}
	if s.afterFn != nil {
		s.afterFn(s.sent)
	}
	return nil
}

func newDirectServer(t *testing.T) *Server {
	t.Helper()
	f := newFixture(t, nil)
	return NewServer(fdo.NewCache(fdo.NewDir(filepath.Dir(f.records)), time.Hour, 10), f.bucket, "main",
		slog.New(slog.NewTextHandler(t.Output(), nil)))
}

func TestStreamReturnsFirstSendError(t *testing.T) {
	t.Parallel()
	s := newDirectServer(t)
	for _, failAt := range []int{1, 2, 3} {
		st := &fakeStream{ctx: t.Context(), failAt: failAt}
		err := s.StreamComponent(&retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "big.bin"}, st)
		if !errors.Is(err, errSend) {
			t.Errorf("fail at send %d: error = %v; want the send error", failAt, err)
		}
		if st.sent != failAt {
			t.Errorf("fail at send %d: %d sends; want no more after the failure", failAt, st.sent)
		}
	}
}

func TestStreamStopsWhenContextDone(t *testing.T) {
	t.Parallel()
	s := newDirectServer(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	st := &fakeStream{ctx: ctx, afterFn: func(n int) {
		if n == 2 { // the header and one chunk
			cancel()
		}
	}}
	err := s.StreamComponent(&retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "big.bin"}, st)
	if status.Code(err) != codes.Canceled {
		t.Errorf("error = %v; want Canceled", err)
	}
	if st.sent != 2 {
		t.Errorf("%d sends; want 2", st.sent)
	}
}

// shrinkingBucket reports a larger size than it then delivers, like an object replaced
// between Stat and Get.
type shrinkingBucket struct{ *storagemem.Bucket }

func (b shrinkingBucket) GetRange(ctx context.Context, key string, offset, length int64) (io.ReadCloser, error) {
	rc, err := b.Bucket.GetRange(ctx, key, offset, length)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{io.LimitReader(rc, length/2), rc}, nil
}

func TestStreamShortObject(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	s := NewServer(fdo.NewCache(fdo.NewDir(filepath.Dir(f.records)), time.Hour, 10), shrinkingBucket{f.bucket}, "main",
		slog.New(slog.NewTextHandler(t.Output(), nil)))
	st := &fakeStream{ctx: t.Context()}
	err := s.StreamComponent(&retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "digits",
		Range: &retrievev1.ByteRange{Start: proto.Int64(0)}}, st)
	wantStatus(t, err, codes.Internal, `component "digits" of Q123 ended after 0 of 10 bytes`)
}

// BenchmarkStreamComponent streams a 64 MiB component through bufconn.
func BenchmarkStreamComponent(b *testing.B) {
	f := newFixture(b, nil)
	const size = 64 << 20
	f.put(b, "Q123", "huge.bin", make([]byte, size))
	f.writeRecord(b, "Q123", strings.Replace(recordQ123, `"fdo:hasComponent": [`,
		`"fdo:hasComponent": [{"componentId": "huge.bin"},`, 1))
	req := &retrievev1.StreamComponentRequest{ObjectId: "Q123", ComponentId: "huge.bin"}
	b.SetBytes(size)
	b.ReportAllocs()
	for b.Loop() {
		stream, err := f.client.StreamComponent(b.Context(), req)
		if err != nil {
			b.Fatal(err)
		}
		var n int64
		for {
			msg, err := stream.Recv()
			if err == io.EOF {
				break
			}
			if err != nil {
				b.Fatal(err)
			}
			n += int64(len(msg.GetChunk()))
		}
		if n != size {
			b.Fatalf("%d bytes; want %d", n, size)
		}
	}
}

// Type records are served as "types/{TypeId}" (or by URL) from their own cache, verbatim,
// without components; purge drops them; the façade's unknown-type record is NotFound.
func TestTypeRecords(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	if _, err := sampledata.Seed(root); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(root, "records", "types", "ScholarlyArticle.json"))
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, nil, WithTypes(fdo.NewTypeCache(fdo.NewDir(root), time.Hour, 10)))
	f.writeRecord(t, "Q9", `{"@id":"https://portal.mardi4nfdi.de/entity/Q9","@type":"mardi:UnknownType",`+
		`"kernel":{"@type":"mardi:UnknownType","name":"Q9","description":""}}`)
	f.writeRecord(t, "Q10", `{"@id":"x"}`)
	ctx := t.Context()
	for i, id := range []string{"types/ScholarlyArticle", "TYPES/ScholarlyArticle", "https://fdo.example.org/fdo/types/ScholarlyArticle"} {
		resp, err := f.client.GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: id, WithComponentSizes: true})
		if err != nil {
			t.Fatalf("GetRecord(%s): %v", id, err)
		}
		if resp.GetObjectId() != "types/ScholarlyArticle" || !bytes.Equal(resp.GetRecordJson(), want) ||
			len(resp.GetComponents()) != 0 || resp.GetCached() != (i > 0) ||
			resp.GetObjectType() != "https://fdo.example.org/fdo/types/FDOType" {
			t.Errorf("GetRecord(%s) = id %q, type %q, %d components, cached %v", id, resp.GetObjectId(), resp.GetObjectType(),
				len(resp.GetComponents()), resp.GetCached())
		}
	}
	p, err := f.client.PurgeRecord(ctx, &retrievev1.PurgeRecordRequest{ObjectId: "types/ScholarlyArticle"})
	if err != nil || !p.GetPurged() {
		t.Errorf("PurgeRecord(types/ScholarlyArticle) = %v, %v; want purged", p, err)
	}
	if resp, err := f.client.GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: "types/ScholarlyArticle"}); err != nil || resp.GetCached() {
		t.Errorf("after purge: %v, %v; want a fresh read", resp, err)
	}
	for id, code := range map[string]codes.Code{
		"types/Unicorn":          codes.NotFound,
		"types/scholarlyarticle": codes.NotFound, // type ids are case-sensitive
		"types/../Q123":          codes.InvalidArgument,
		"types/":                 codes.InvalidArgument,
		"Q9":                     codes.NotFound, // the façade's unknown-type marker
		"Q10":                    codes.NotFound, // no kernel
	} {
		_, err := f.client.GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: id})
		if status.Code(err) != code {
			t.Errorf("GetRecord(%s) = %v; want %s", id, err, code)
		}
	}
	// Without type records configured, a type id is NotFound, not an invalid QID.
	plain := newFixture(t, nil)
	if _, err := plain.client.GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: "types/Dataset"}); status.Code(err) != codes.NotFound {
		t.Errorf("no type source: %v; want NotFound", err)
	}
}

// The components of a cached record are made once per cache fill: a record fetched again
// (after a purge) answers with its new components, and an answer with sizes leaves the
// answers without them as they were.
func TestRecordComponentsFollowFills(t *testing.T) {
	t.Parallel()
	f := newFixture(t, nil)
	ctx := t.Context()
	ids := func(sizes bool) (out []string) {
		t.Helper()
		resp, err := f.client.GetRecord(ctx, &retrievev1.GetRecordRequest{ObjectId: "Q7", WithComponentSizes: sizes})
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range resp.GetComponents() {
			s := c.GetComponentId() + ":" + c.GetFilename()
			if c.Size != nil {
				s += fmt.Sprintf(":%d", c.GetSize())
			}
			out = append(out, s)
		}
		return out
	}
	if got := ids(false); len(got) != 0 {
		t.Fatalf("Q7's components = %v; want none", got)
	}
	f.writeRecord(t, "Q7", `{"kernel":{"fdo:hasComponent":[{"componentId":"notes","mediaType":"text/plain"}]}}`)
	f.put(t, "Q7", "notes", []byte("four"))
	if got := ids(false); len(got) != 0 {
		t.Fatalf("Q7's components before the purge = %v; want the cached none", got)
	}
	if _, err := f.client.PurgeRecord(ctx, &retrievev1.PurgeRecordRequest{ObjectId: "Q7"}); err != nil {
		t.Fatal(err)
	}
	for _, want := range [][]string{{"notes:notes.txt"}, {"notes:notes.txt:4"}, {"notes:notes.txt"}} {
		if got := ids(len(want[0]) > len("notes:notes.txt")); strings.Join(got, " ") != want[0] {
			t.Errorf("Q7's components = %v; want %v", got, want)
		}
	}
}
