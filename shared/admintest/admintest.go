// Package admintest asks a process's admin server (shared/admin) in tests. It is for tests
// only; nothing in a binary imports it.
package admintest

import (
	"io"
	"net/http"
	"testing"
)

// Do sends one request without a body to url and returns the status code and the body. A
// request that gets no answer fails the test.
func Do(t testing.TB, method, url string) (int, string) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, string(b)
}

// Get is [Do] with GET.
func Get(t testing.TB, url string) (int, string) {
	t.Helper()
	return Do(t, http.MethodGet, url)
}
