package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/httpapi"
)

// FuzzRequest: whatever the path, query, headers and body, the API answers with a status it
// documents, and never panics or hangs.
func FuzzRequest(f *testing.F) {
	for _, s := range []struct{ method, target, rng, body string }{
		{"GET", "/doip?o=0.DOIP/Op.Hello", "", ""},
		{"GET", "/doip/0.DOIP/Op.Retrieve?t=Q1&attributes.element=data.bin", "bytes=5-", ""},
		{"GET", `/doip?o=0.DOIP/Op.Retrieve&t=Q1&attributes={"element":"data.bin","range":{"start":3}}`, "bytes=-3", ""},
		{"POST", "/doip/equation_extraction?t=Q1&authentication={}", "", `{"pages":[1]}`},
		{"POST", "/doip/create", "", `{"label":"x"}`},
		{"GET", "/doip/search?q=x&limit=3&namespaces=1,2", "", ""},
		{"GET", "/doip/retrieve/Q1/data.bin?force_reload", "bytes=0-0,2-3", ""},
		{"GET", "/objects/Q1", "", ""},
	} {
		f.Add(s.method, s.target, s.rng, s.body)
	}
	api := httpapi.New(httpapi.Options{Handler: &fake{}, ServiceID: serviceID})
	allowed := map[int]bool{200: true, 206: true, 303: true, 304: true, 400: true, 401: true, 404: true, 405: true,
		413: true, 415: true, 416: true, 422: true, 500: true, 503: true}
	f.Fuzz(func(t *testing.T, method, target, rng, body string) {
		if method != "GET" && method != "POST" && method != "HEAD" {
			method = "GET"
		}
		u, err := url.ParseRequestURI(target)
		if err != nil || !strings.HasPrefix(u.Path, "/") {
			return
		}
		req := httptest.NewRequestWithContext(t.Context(), method, "https://gw"+u.RequestURI(), strings.NewReader(body))
		if body != "" {
			req.Header.Set("Content-Type", "application/json")
		}
		req.Header.Set("Range", rng)
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		if !allowed[rec.Code] && !(rec.Code == http.StatusMovedPermanently || rec.Code == http.StatusTemporaryRedirect) {
			t.Errorf("%s %s (Range %q): status %d", method, target, rng, rec.Code)
		}
	})
}
