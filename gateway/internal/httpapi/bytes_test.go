package httpapi_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"strconv"
	"testing"
)

// Ranges, conditional requests and HEAD on a component, through both faces.
func TestComponentBytes(t *testing.T) {
	t.Parallel()
	f := &fake{}
	srv, c := newServer(t, f)
	full := do(t, c, "GET", srv.URL+"/doip/retrieve/Q1/data.bin", "")
	tag := full.h.Get("ETag")
	if full.code != 200 || tag == "" || full.h.Get("Content-Length") != strconv.Itoa(dataSize) || full.h.Get("Accept-Ranges") != "bytes" ||
		full.h.Get("Content-Type") != "application/octet-stream" || full.h.Get("Doip-Version") != version {
		t.Fatalf("full: %d %v", full.code, full.h)
	}
	for _, base := range []string{"/doip/retrieve/Q1/data.bin", "/doip?o=0.DOIP/Op.Retrieve&t=Q1&attributes.element=data.bin"} {
		for _, tt := range []struct {
			name         string
			hdr          []string
			code         int
			from, to     int64 // the bytes expected, [from, to)
			contentRange string
		}{
			{"first bytes", []string{"Range", "bytes=0-99"}, 206, 0, 100, "bytes 0-99/1000"},
			{"middle", []string{"Range", "bytes=500-501"}, 206, 500, 502, "bytes 500-501/1000"},
			{"open end", []string{"Range", "bytes=990-"}, 206, 990, 1000, "bytes 990-999/1000"},
			{"suffix", []string{"Range", "bytes=-10"}, 206, 990, 1000, "bytes 990-999/1000"},
			{"end past the size", []string{"Range", "bytes=995-5000"}, 206, 995, 1000, "bytes 995-999/1000"},
			{"suffix longer than the size", []string{"Range", "bytes=-5000"}, 206, 0, 1000, "bytes 0-999/1000"},
			{"start past the size", []string{"Range", "bytes=1000-"}, 416, 0, 0, "bytes */1000"},
			{"empty suffix", []string{"Range", "bytes=-0"}, 416, 0, 0, "bytes */1000"},
			{"several ranges: all", []string{"Range", "bytes=0-1,5-6"}, 200, 0, 1000, ""},
			{"malformed: all", []string{"Range", "bytes=9-3"}, 200, 0, 1000, ""},
			{"other unit: all", []string{"Range", "items=0-3"}, 200, 0, 1000, ""},
			{"If-Range matches", []string{"Range", "bytes=0-9", "If-Range", tag}, 206, 0, 10, "bytes 0-9/1000"},
			{"If-Range stale: all", []string{"Range", "bytes=0-9", "If-Range", `"old"`}, 200, 0, 1000, ""},
			{"If-None-Match current", []string{"If-None-Match", tag}, 304, 0, 0, ""},
			{"If-None-Match list", []string{"If-None-Match", `"x", W/` + tag}, 304, 0, 0, ""},
			{"If-None-Match star", []string{"If-None-Match", "*"}, 304, 0, 0, ""},
			{"If-None-Match stale", []string{"If-None-Match", `"old"`}, 200, 0, 1000, ""},
		} {
			t.Run(base+" "+tt.name, func(t *testing.T) {
				r := do(t, c, "GET", srv.URL+base, "", tt.hdr...)
				want := dataBytes(tt.from, tt.to)
				if tt.code != 200 && tt.code != 206 {
					want = nil
				}
				if r.code != tt.code || r.h.Get("Content-Range") != tt.contentRange {
					t.Fatalf("%d %q %s, want %d %q", r.code, r.h.Get("Content-Range"), r.body, tt.code, tt.contentRange)
				}
				if tt.code == 416 {
					return
				}
				if !bytes.Equal(r.body, want) {
					t.Fatalf("%d bytes, want %d (%d-%d)", len(r.body), len(want), tt.from, tt.to)
				}
				if tt.code != 304 && r.h.Get("Content-Length") != strconv.Itoa(len(want)) {
					t.Errorf("Content-Length %q, want %d", r.h.Get("Content-Length"), len(want))
				}
				if r.h.Get("ETag") != tag {
					t.Errorf("ETag %q, want %q", r.h.Get("ETag"), tag)
				}
			})
		}
	}
	// HEAD: the headers of GET, no body, and no byte read from the backend's stream.
	r := do(t, c, "HEAD", srv.URL+"/doip/retrieve/Q1/data.bin", "")
	if r.code != 200 || len(r.body) != 0 || r.h.Get("Content-Length") != strconv.Itoa(dataSize) || r.h.Get("ETag") != tag {
		t.Errorf("HEAD: %d %v", r.code, r.h)
	}
	r = do(t, c, "HEAD", srv.URL+"/doip/retrieve/Q1/data.bin", "", "Range", "bytes=10-19")
	if r.code != 206 || r.h.Get("Content-Length") != "10" || r.h.Get("Content-Range") != "bytes 10-19/1000" {
		t.Errorf("HEAD with Range: %d %v", r.code, r.h)
	}
	r = do(t, c, "HEAD", srv.URL+"/doip/retrieve/Q1/nope", "")
	if r.code != 404 || len(r.body) != 0 {
		t.Errorf("HEAD of an unknown component: %d", r.code)
	}
}

// A download cut in the middle and resumed with Range and If-Range gets exactly the bytes it
// missed.
func TestResumeAfterCut(t *testing.T) {
	t.Parallel()
	f := &fake{size: 8 << 20}
	srv, c := newServer(t, f)
	ctx, cancel := context.WithCancel(t.Context())
	req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/doip/retrieve/Q1/data.bin", nil)
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	tag := resp.Header.Get("ETag")
	got := make([]byte, 3<<20+17)
	if _, err := io.ReadFull(resp.Body, got); err != nil {
		t.Fatal(err)
	}
	cancel() // the cut
	resp.Body.Close()

	r := do(t, c, "GET", srv.URL+"/doip/retrieve/Q1/data.bin", "", "Range", "bytes="+strconv.Itoa(len(got))+"-", "If-Range", tag)
	if r.code != 206 {
		t.Fatalf("resume: %d %s", r.code, r.body)
	}
	got = append(got, r.body...)
	if int64(len(got)) != f.size || !bytes.Equal(got, dataBytes(0, f.size)) {
		t.Fatalf("resumed download: %d bytes, not the component's %d", len(got), f.size)
	}
}
