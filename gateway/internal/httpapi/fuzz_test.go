package httpapi_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
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
	allowed := map[int]bool{200: true, 206: true, 303: true, 304: true, 400: true, 401: true, 403: true, 404: true, 405: true, 409: true,
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

// FuzzMultipartWrite: whatever a multipart create carries, the API answers 200, 400, 403 or
// 413, and never panics or hangs.
func FuzzMultipartWrite(f *testing.F) {
	for _, body := range []string{
		"--b\r\nContent-Disposition: form-data; name=\"input\"\r\n\r\n{\"type\":\"Dataset\"}\r\n--b\r\n" +
			"Content-Disposition: form-data; name=\"a.csv\"; filename=\"a.csv\"\r\nContent-Type: text/csv\r\n\r\nx,y\r\n--b--\r\n",
		"--b\r\nContent-Disposition: form-data; name=\"json\"\r\n\r\n{}\r\n--b--\r\n",
		"--b\r\nContent-Disposition: form-data; name=\"input\"\r\n\r\n{}\r\n--b\r\nContent-Disposition: form-data\r\n\r\nx\r\n--b--",
		"--b\r\n\r\n",
	} {
		f.Add(body, token)
	}
	api := httpapi.New(httpapi.Options{Handler: &writer{}, ServiceID: serviceID, Limits: doip.Limits{MaxUpload: 1 << 16, MaxSegment: 1 << 10}})
	f.Fuzz(func(t *testing.T, body, tok string) {
		req := httptest.NewRequestWithContext(t.Context(), "POST", "https://gw/doip?o=0.DOIP/Op.Create&t=service", strings.NewReader(body))
		req.Header.Set("Content-Type", "multipart/form-data; boundary=b")
		req.Header.Set("Authorization", "Bearer "+tok)
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 400, 401, 403, 413:
		default:
			t.Errorf("status %d: %s", rec.Code, rec.Body)
		}
	})
}
