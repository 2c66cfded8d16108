// Package webtest sends the HTTP requests of tests: to a process's admin server
// (shared/admin), and to the gateway's HTTP face. It is for tests only; nothing in a binary
// imports it.
package webtest

import (
	"io"
	"net/http"
	"strings"
	"testing"
)

// Call sends method url with c, with body (as application/json when not empty) and the
// header pairs (name, value, …), and returns the answer with its body read whole. It fails
// t on an error of the request itself.
func Call(t testing.TB, c *http.Client, method, url, body string, header ...string) (*http.Response, []byte) {
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

// Do sends one request without a body to url and returns the status code and the body.
func Do(t testing.TB, method, url string) (int, string) {
	t.Helper()
	resp, b := Call(t, http.DefaultClient, method, url, "")
	return resp.StatusCode, string(b)
}

// Get is [Do] with GET.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	return Do(t, http.MethodGet, url)
}
