package fdo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/slogapp"
)

// fakeFacade serves the record shape of records.md below /fdo/ and counts requests.
type fakeFacade struct {
	*httptest.Server
	requests atomic.Int32
	release  chan struct{} // closed at cleanup, unblocks the slow handler
}

func newFakeFacade(t *testing.T) *fakeFacade {
	t.Helper()
	f := &fakeFacade{release: make(chan struct{})}
	var flaky atomic.Int32
	mux := http.NewServeMux()
	mux.HandleFunc("GET /fdo/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		switch id := r.PathValue("id"); id {
		case "Q123":
			w.Header().Set("Content-Type", "application/ld+json")
			w.Write([]byte(specRecord))
		case "Q404":
			http.Error(w, `{"error":"not found"}`, http.StatusNotFound)
		case "Q400":
			http.Error(w, `{"error":"bad id"}`, http.StatusBadRequest)
		case "Q500": // fails once, then works
			if flaky.Add(1) == 1 {
				http.Error(w, "oops", http.StatusInternalServerError)
				return
			}
			w.Write([]byte(specRecord))
		case "Q501":
			http.Error(w, "no", http.StatusNotImplemented)
		case "Q502":
			http.Error(w, "bad gateway", http.StatusBadGateway)
		case "Q504":
			http.Error(w, "gateway timeout", http.StatusGatewayTimeout)
		case "Q403":
			http.Error(w, "forbidden", http.StatusForbidden)
		case "Q777": // a body over the test's cap
			w.Write(bytes.Repeat([]byte(" "), len(specRecord)+1))
		case "Q999": // slow: answers only when the client gives up
			select {
			case <-r.Context().Done():
			case <-f.release:
			}
		case "Q1": // checks basic authentication
			if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
				http.Error(w, "who are you", http.StatusUnauthorized)
				return
			}
			w.Write([]byte(`{}`))
		default:
			http.Error(w, "unexpected "+id, http.StatusTeapot)
		}
	})
	// The façade's type registry: unknown types are 404 with FastAPI's {"detail":…} body.
	mux.HandleFunc("GET /fdo/types/{type}", func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		w.Header().Set("Content-Type", "application/json")
		if tid := r.PathValue("type"); tid != "Dataset" {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprintf(w, `{"detail":"Type '%s' not found in MaRDI type registry"}`, tid)
			return
		}
		w.Write([]byte(`{"@id":"https://fdo.example.org/fdo/types/Dataset","@type":"DigitalObjectType","kernel":{}}`))
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(func() {
		close(f.release)
		f.Close()
	})
	return f
}

func fastOptions() ClientOptions {
	return ClientOptions{Timeout: 5 * time.Second, RetryWaitMin: time.Millisecond, RetryWaitMax: 2 * time.Millisecond}
}

func newTestClient(t *testing.T, base string, opts ClientOptions) *Client {
	t.Helper()
	c, err := NewClient(base, opts, slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelDebug})))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestClientTypeRecord(t *testing.T) {
	t.Parallel()
	f := newFakeFacade(t)
	c := newTestClient(t, f.URL+"/fdo", fastOptions())
	got, err := c.TypeRecord(t.Context(), "Dataset")
	if err != nil || !strings.Contains(string(got), `"DigitalObjectType"`) {
		t.Fatalf("TypeRecord(Dataset) = %s, %v", got, err)
	}
	if _, err := c.TypeRecord(t.Context(), "Unicorn"); !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), "Unicorn") {
		t.Errorf("TypeRecord(Unicorn) error = %v; want ErrNotFound naming the type", err)
	}
	before := f.requests.Load()
	for _, id := range []string{"", "../Q123", "a/b", "Data set"} {
		if _, err := c.TypeRecord(t.Context(), id); !errors.Is(err, ErrBadRequest) {
			t.Errorf("TypeRecord(%q) error = %v; want ErrBadRequest", id, err)
		}
	}
	if n := f.requests.Load() - before; n != 0 {
		t.Errorf("%d requests for bad type ids; want none", n)
	}
}

func TestClientStatuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		qid          string
		wantErr      error
		wantRequests int32
	}{
		{"Q123", nil, 1},
		{"Q404", ErrNotFound, 1},
		{"Q400", ErrBadRequest, 1},
		{"Q403", ErrUnavailable, 1},
		{"Q500", nil, 2},
		{"Q501", ErrUnavailable, 1},
		{"Q502", ErrUnavailable, 4}, // the first attempt and 3 retries
		{"Q504", ErrUnavailable, 4},
		{"Q777", ErrTooLarge, 1},
	}
	for _, tt := range tests {
		t.Run(tt.qid, func(t *testing.T) {
			t.Parallel()
			f := newFakeFacade(t)
			opts := fastOptions()
			opts.MaxRecordSize = int64(len(specRecord))
			c := newTestClient(t, f.URL+"/fdo", opts) // no trailing slash: added
			body, err := c.Record(t.Context(), tt.qid)
			if !errors.Is(err, tt.wantErr) || (tt.wantErr == nil && err != nil) {
				t.Fatalf("Record(%s) error = %v; want %v", tt.qid, err, tt.wantErr)
			}
			if tt.wantErr == nil && string(body) != specRecord {
				t.Errorf("Record(%s) body = %.40q…", tt.qid, body)
			}
			if got := f.requests.Load(); got != tt.wantRequests {
				t.Errorf("Record(%s) made %d requests; want %d", tt.qid, got, tt.wantRequests)
			}
			if err != nil && strings.Contains(err.Error(), "\n") {
				t.Errorf("error spans lines: %q", err)
			}
		})
	}
}

func TestClientTimeout(t *testing.T) {
	t.Parallel()
	f := newFakeFacade(t)
	opts := fastOptions()
	opts.Timeout = 50 * time.Millisecond
	opts.MaxRetries = -1
	c := newTestClient(t, f.URL+"/fdo/", opts)
	if _, err := c.Record(t.Context(), "Q999"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Record of a slow façade: error = %v; want ErrUnavailable", err)
	}
}

func TestClientConnectionRefused(t *testing.T) {
	t.Parallel()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	c := newTestClient(t, "http://"+addr+"/fdo/", fastOptions())
	if _, err := c.Record(t.Context(), "Q123"); !errors.Is(err, ErrUnavailable) {
		t.Errorf("Record with nobody listening: error = %v; want ErrUnavailable", err)
	}
}

func TestClientCanceled(t *testing.T) {
	t.Parallel()
	f := newFakeFacade(t)
	c := newTestClient(t, f.URL+"/fdo/", fastOptions())
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := c.Record(ctx, "Q123"); !errors.Is(err, context.Canceled) {
		t.Errorf("Record with a canceled context: error = %v; want context.Canceled", err)
	}
}

func TestClientBadID(t *testing.T) {
	t.Parallel()
	f := newFakeFacade(t)
	c := newTestClient(t, f.URL+"/fdo/", fastOptions())
	for _, id := range []string{"", "q123", "Q123_FULLTEXT", "../Q123", "Q123/x", "Q1?x=1"} {
		if _, err := c.Record(t.Context(), id); !errors.Is(err, ErrBadRequest) {
			t.Errorf("Record(%q) error = %v; want ErrBadRequest", id, err)
		}
	}
	if n := f.requests.Load(); n != 0 {
		t.Errorf("%d requests reached the façade", n)
	}
}

// TestClientUserInfo checks that credentials in the base URL become basic authentication and
// never appear in errors or logs.
func TestClientUserInfo(t *testing.T) {
	t.Parallel()
	f := newFakeFacade(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	base := strings.Replace(f.URL, "http://", "http://alice:s3cret@", 1) + "/fdo"
	c, err := NewClient(base, fastOptions(), logger)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Record(t.Context(), "Q1"); err != nil {
		t.Fatalf("Record with basic auth: %v", err)
	}
	_, err = c.Record(t.Context(), "Q502")
	if err == nil || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error = %v; want one without the password", err)
	}
	if strings.Contains(logs.String(), "s3cret") {
		t.Errorf("the password is in the logs:\n%s", logs.String())
	}
	if !strings.Contains(logs.String(), "retrying request") {
		t.Errorf("no debug log of the retries:\n%s", logs.String())
	}
}

func TestNewClientErrors(t *testing.T) {
	t.Parallel()
	for _, base := range []string{"", "ftp://x/", "http://", "http:///fdo", "://x", "http://x/fdo?a=b", "http://user:pw@/x"} {
		_, err := NewClient(base, ClientOptions{}, slogapp.Discard())
		if err == nil {
			t.Errorf("NewClient(%q) succeeded", base)
		} else if strings.Contains(err.Error(), "pw") {
			t.Errorf("NewClient(%q) error %q shows the password", base, err)
		}
	}
}
