package storages3_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage"
	"github.com/fdo-doip/doip-gateway/retrieve-svc/internal/storage/storages3"
)

// These tests need no S3 server: they run against small loopback HTTP servers that answer
// the way some S3 server might, or not at all.

const (
	testAccess = "AKIDTEST"
	testSecret = "s3cr3t-that-must-not-leak"
)

func fakeBucket(t *testing.T, endpoint string, timeout time.Duration) *storages3.Bucket {
	t.Helper()
	b, err := storages3.New(t.Context(), storages3.Options{
		Endpoint: endpoint, Bucket: "sandbox", AccessKey: testAccess, SecretKey: testSecret,
		Timeout: timeout, MaxRetries: 2,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func fakeS3(t *testing.T, h http.HandlerFunc) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

func TestParseEndpoint(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in     string
		host   string
		secure bool
	}{
		{"http://127.0.0.1:8000", "127.0.0.1:8000", false},
		{"https://127.0.0.1:8000", "127.0.0.1:8000", true},
		{"https://lakefs.example.org", "lakefs.example.org", true},
		{"HTTP://lakefs:8000/", "lakefs:8000", false},
		{"http://lakefs:8000/api/v1", "lakefs:8000", false},
		{"http://lakefs:8000/api/v1/", "lakefs:8000", false},
		{"lakefs.example.org", "lakefs.example.org", true},
		{"lakefs:8000", "lakefs:8000", true},
		{"127.0.0.1:8000", "127.0.0.1:8000", false},
		{"127.1.2.3:8000", "127.1.2.3:8000", false},
		{"localhost:8000", "localhost:8000", false},
		{"[::1]:8000", "[::1]:8000", false},
		{"  http://h:1  ", "h:1", false},
	}
	for _, tt := range tests {
		host, secure, err := storages3.ParseEndpoint(tt.in)
		if err != nil || host != tt.host || secure != tt.secure {
			t.Errorf("ParseEndpoint(%q) = %q, %t, %v; want %q, %t", tt.in, host, secure, err, tt.host, tt.secure)
		}
	}
	for _, in := range []string{"", " ", "ftp://h", "http://", "http://user:pw@h:1", "u:pw@h", "http://h/other",
		"http://h/?x=1", "http://h#f", "http://h:port", "h:1?"} {
		_, _, err := storages3.ParseEndpoint(in)
		if err == nil {
			t.Errorf("ParseEndpoint(%q) succeeded", in)
			continue
		}
		if strings.Contains(err.Error(), "pw") {
			t.Errorf("ParseEndpoint(%q) error repeats the password: %v", in, err)
		}
	}
}

func TestNewErrors(t *testing.T) {
	t.Parallel()
	ok := storages3.Options{Endpoint: "http://127.0.0.1:1", Bucket: "sandbox", AccessKey: "a", SecretKey: "s"}
	if _, err := storages3.New(t.Context(), ok, nil); err != nil {
		t.Fatalf("New(%+v): %v", ok, err)
	}
	for name, mod := range map[string]func(*storages3.Options){
		"endpoint":     func(o *storages3.Options) { o.Endpoint = "http://u:" + testSecret + "@h" },
		"bucket":       func(o *storages3.Options) { o.Bucket = "" },
		"access key":   func(o *storages3.Options) { o.AccessKey = "" },
		"secret key":   func(o *storages3.Options) { o.SecretKey = "" },
		"part size":    func(o *storages3.Options) { o.PartSize = 1 << 20 },
		"huge part":    func(o *storages3.Options) { o.PartSize = 6 << 30 },
		"timeout":      func(o *storages3.Options) { o.Timeout = -time.Second },
		"retries":      func(o *storages3.Options) { o.MaxRetries = -1 },
		"bucket chars": func(o *storages3.Options) { o.Bucket = "Bad_Bucket!" },
	} {
		o := ok
		mod(&o)
		_, err := storages3.New(t.Context(), o, nil)
		if err == nil {
			t.Errorf("New with a bad %s succeeded", name)
		} else if strings.Contains(err.Error(), testSecret) {
			t.Errorf("New with a bad %s: error shows the secret: %v", name, err)
		}
	}
}

// TestNotFoundShapes checks that every 404 a server might give reaches the caller as
// ErrNotExist, through Stat (HEAD), Get and GetRange (GET).
func TestNotFoundShapes(t *testing.T) {
	t.Parallel()
	for _, code := range []string{"NoSuchKey", "NoSuchBucket", "NotFound", "NoSuchVersion", "", "SomethingNew"} {
		srv := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotFound)
			if code != "" && r.Method != http.MethodHead {
				fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>gone</Message></Error>`, code)
			}
		})
		b := fakeBucket(t, srv.URL, 5*time.Second)
		if _, err := b.Stat(t.Context(), qkey); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("%q: Stat error = %v", code, err)
		}
		if _, _, err := b.Get(t.Context(), qkey); !errors.Is(err, storage.ErrNotExist) || !strings.Contains(err.Error(), qkey) {
			t.Errorf("%q: Get error = %v; want ErrNotExist naming the key", code, err)
		}
		if _, err := b.GetRange(t.Context(), qkey, 0, 1); !errors.Is(err, storage.ErrNotExist) {
			t.Errorf("%q: GetRange error = %v", code, err)
		}
	}
}

// TestDenied checks the answers of S3 and lakeFS to bad credentials, 403 with or without a
// body, as ErrAccessDenied.
func TestDenied(t *testing.T) {
	t.Parallel()
	srv := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusForbidden)
		if r.Method != http.MethodHead {
			io.WriteString(w, `<Error><Code>InvalidAccessKeyId</Code><Message>The AWS Access Key Id you provided does not exist in our records.</Message></Error>`)
		}
	})
	b := fakeBucket(t, srv.URL, 5*time.Second)
	errs := map[string]error{"Check": b.Check(t.Context())}
	_, errs["Stat"] = b.Stat(t.Context(), qkey)
	_, _, errs["Get"] = b.Get(t.Context(), qkey)
	_, errs["Put"] = b.Put(t.Context(), qkey, strings.NewReader("x"), 1)
	for op, err := range errs {
		if !errors.Is(err, storages3.ErrAccessDenied) || errors.Is(err, storage.ErrNotExist) {
			t.Errorf("%s error = %v; want ErrAccessDenied only", op, err)
		}
		if strings.Contains(err.Error(), testSecret) {
			t.Errorf("%s error shows the secret: %v", op, err)
		}
	}
}

// TestServerHangs points the bucket at a port that accepts connections and never answers:
// each operation fails with a TimeoutError (a context.DeadlineExceeded) after the timeout,
// well before the caller's own deadline.
func TestServerHangs(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var conns []net.Conn
		defer func() {
			for _, c := range conns {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			conns = append(conns, c) // read nothing, answer nothing
		}
	}()
	b := fakeBucket(t, "http://"+l.Addr().String(), 300*time.Millisecond)
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	errs := map[string]error{"Check": b.Check(ctx)}
	_, errs["Stat"] = b.Stat(ctx, qkey)
	_, _, errs["Get"] = b.Get(ctx, qkey)
	_, errs["GetRange"] = b.GetRange(ctx, qkey, 5, 10)
	_, errs["Put"] = b.Put(ctx, qkey, strings.NewReader("abc"), 3)
	for op, err := range errs {
		var te *storages3.TimeoutError
		if !errors.As(err, &te) || !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("%s against a silent server: error = %v; want a TimeoutError", op, err)
		}
	}
	if ctx.Err() != nil {
		t.Error("the operations ran into the caller's deadline")
	}
	t.Logf("Stat: %v", errs["Stat"])
}

// TestBodyStalls has the server send the headers and part of a body, then stop: the read
// that waits fails after the timeout, while a slow reader (time between reads) is not
// penalised.
func TestBodyStalls(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "100")
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		w.WriteHeader(http.StatusOK)
		w.Write(make([]byte, 10))
		w.(http.Flusher).Flush()
		select {
		case <-r.Context().Done():
		case <-release:
		}
	})
	t.Cleanup(func() { close(release) }) // runs before srv.Close
	b := fakeBucket(t, srv.URL, 300*time.Millisecond)
	rc, info, err := b.Get(t.Context(), qkey)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if info.Size != 100 {
		t.Errorf("size %d; want 100 from Content-Length", info.Size)
	}
	n, err := io.ReadFull(rc, make([]byte, 10))
	if err != nil {
		t.Fatalf("first 10 bytes: %d, %v", n, err)
	}
	n, err = io.ReadFull(rc, make([]byte, 90))
	var te *storages3.TimeoutError
	if !errors.As(err, &te) || !strings.Contains(err.Error(), qkey) {
		t.Errorf("read of a stalled body: %d bytes, error %v; want a TimeoutError naming the key", n, err)
	}
}

// TestRangeIgnored has a server that answers a ranged GET with the whole object (200, no
// Content-Range): GetRange still returns exactly the range.
func TestRangeIgnored(t *testing.T) {
	t.Parallel()
	srv := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		io.WriteString(w, "0123456789")
	})
	b := fakeBucket(t, srv.URL, 5*time.Second)
	for _, tt := range []struct {
		off, n int64
		want   string
	}{{2, 3, "234"}, {7, 100, "789"}, {0, 10, "0123456789"}} {
		rc, err := b.GetRange(t.Context(), qkey, tt.off, tt.n)
		if err != nil {
			t.Fatal(err)
		}
		got, err := io.ReadAll(rc)
		rc.Close()
		if string(got) != tt.want || err != nil {
			t.Errorf("GetRange(%d, %d) = %q, %v; want %q", tt.off, tt.n, got, err, tt.want)
		}
	}
	if _, err := b.GetRange(t.Context(), qkey, 11, 1); !errors.Is(err, storage.ErrInvalidRange) {
		t.Errorf("GetRange past the end: %v", err)
	}
}

// TestRetries has a server fail twice with 503 SlowDown before it answers: the caller sees
// only the answer.
func TestRetries(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	srv := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		if calls.Add(1) <= 2 {
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, `<Error><Code>SlowDown</Code><Message>slow down</Message></Error>`)
			return
		}
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Length", "3")
	})
	b, err := storages3.New(t.Context(), storages3.Options{
		Endpoint: srv.URL, Bucket: "sandbox", AccessKey: testAccess, SecretKey: testSecret, MaxRetries: 3,
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	info, err := b.Stat(t.Context(), qkey)
	if err != nil || info.Size != 3 || calls.Load() != 3 {
		t.Errorf("Stat after two 503s = %+v, %v after %d calls; want size 3 after 3", info, err, calls.Load())
	}
}

// TestPathStyle checks the request line: /{bucket}/{key}, the key escaped but verbatim, and
// a SigV4 Authorization header that does not carry the secret.
func TestPathStyle(t *testing.T) {
	t.Parallel()
	got := make(chan *http.Request, 1)
	srv := fakeS3(t, func(w http.ResponseWriter, r *http.Request) {
		got <- r
		w.Header().Set("Last-Modified", time.Now().UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Length", "1")
	})
	b := fakeBucket(t, srv.URL, 5*time.Second)
	key := "main/00/00/07/Q7/components/a b+c.pdf"
	if _, err := b.Stat(t.Context(), key); err != nil {
		t.Fatal(err)
	}
	r := <-got
	if r.URL.Path != "/sandbox/"+key || r.Method != http.MethodHead || r.Host != strings.TrimPrefix(srv.URL, "http://") {
		t.Errorf("request %s %s host %s; want HEAD /sandbox/%s", r.Method, r.URL.Path, r.Host, key)
	}
	auth := r.Header.Get("Authorization")
	if !strings.HasPrefix(auth, "AWS4-HMAC-SHA256 Credential="+testAccess+"/") || strings.Contains(auth, testSecret) {
		t.Errorf("Authorization %q", auth)
	}
}
