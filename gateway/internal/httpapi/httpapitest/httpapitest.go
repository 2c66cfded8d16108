// Package httpapitest holds what the tests of the HTTP face share: one request with Go's
// client, its answer read whole.
package httpapitest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Do sends method url with body (as application/json when not empty) and the header pairs
// (name, value, …), and returns the answer with its body read whole. It fails t on an error
// of the request itself.
func Do(t testing.TB, c *http.Client, method, url, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}
