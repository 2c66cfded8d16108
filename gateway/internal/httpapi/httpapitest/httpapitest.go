// Package httpapitest holds what the tests of the HTTP face share: one request with Go's
// client, its answer read whole.
package httpapitest

import (
	"net/http"
	"testing"

	"github.com/fdo-doip/doip-gateway/shared/webtest"
)

// Do sends method url with body (as application/json when not empty) and the header pairs
// (name, value, …), and returns the answer with its body read whole. It fails t on an error
// of the request itself ([webtest.Call]).
func Do(t testing.TB, c *http.Client, method, url, body string, header ...string) (*http.Response, []byte) {
	t.Helper()
	return webtest.Call(t, c, method, url, body, header...)
}
