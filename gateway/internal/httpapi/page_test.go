package httpapi_test

import (
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/fdo-doip/doip-gateway/gateway/internal/httpapi"
)

// The object page: HTML for a browser with everything the issue lists; the record for JSON.
func TestObjectPage(t *testing.T) {
	t.Parallel()
	srv, c := newServer(t, &fake{})
	r := do(t, c, "GET", srv.URL+"/objects/Q1", "", "Accept", "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8")
	page := string(r.body)
	if r.code != 200 || r.h.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("%d %s", r.code, r.h.Get("Content-Type"))
	}
	for _, want := range []string{
		`<h1 id="title">A paper on energy</h1>`, `type Item`, `<dt>description</dt><dd>with two equations</dd>`,
		`<a href="/doip/retrieve/Q1/data.bin" download>data.bin</a>`, `<td>1000 B</td>`, `<a href="/doip/retrieve/Q1/paper.pdf" download>paper.pdf</a>`,
		`<button type="button" class="run" data-workflow="equation_extraction">Run equation_extraction</button>`, `role="status"`,
		`data-tex="E = mc^2"`, `<span class="eq-number">(1)</span>`, `<a href="/doip/retrieve/Q1/paper.pdf#page=3">page 3</a>`,
		`<main id="main"`, `<header role="banner">`, `<nav aria-label="Site">`, `<footer role="contentinfo">`, `<label for="q">`, `name="viewport"`,
		`/static/katex/katex.min.js`, `lang="en"`,
	} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %s", want)
		}
	}
	if strings.Contains(page, "cdn") || strings.Contains(page, "https://") {
		t.Error("page names an outside address")
	}
	js := do(t, c, "GET", srv.URL+"/objects/Q1", "", "Accept", "application/json")
	if js.code != 200 || js.h.Get("Content-Type") != "application/json" || jsonField(t, js.body, "id") != "Q1" {
		t.Errorf("JSON: %d %s", js.code, js.body)
	}
	missing := do(t, c, "GET", srv.URL+"/objects/Q9", "", "Accept", "text/html")
	if missing.code != 404 || !strings.Contains(string(missing.body), "no object Q9") {
		t.Errorf("unknown object: %d %s", missing.code, missing.body)
	}
	if r := do(t, c, "GET", srv.URL+"/objects/Q9", "", "Accept", "application/json"); r.code != 404 {
		t.Errorf("unknown object as JSON: %d", r.code)
	}
}

// The service page: hello, the operations, a search box; searching an id opens its page.
func TestServicePage(t *testing.T) {
	t.Parallel()
	srv, c := newServer(t, &fake{})
	r := do(t, c, "GET", srv.URL+"/", "", "Accept", "text/html")
	for _, want := range []string{`<h1>test/service</h1>`, `<code>retrieve</code>`, `<code>equation_extraction</code>`, `role="search"`, `<label for="q2">`} {
		if !strings.Contains(string(r.body), want) {
			t.Errorf("service page lacks %s", want)
		}
	}
	if r := do(t, c, "GET", srv.URL+"/", "", "Accept", "application/json"); jsonField(t, r.body, "type") != "0.TYPE/DOIPServiceInfo" {
		t.Errorf("service as JSON: %s", r.body)
	}
	noRedirect := *c
	noRedirect.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	if r := do(t, &noRedirect, "GET", srv.URL+"/search?q=q1", ""); r.code != 303 || r.h.Get("Location") != "/objects/Q1" {
		t.Errorf("search for an id: %d %s", r.code, r.h.Get("Location"))
	}
	if r := do(t, c, "GET", srv.URL+"/search?q=energy", ""); r.code != 200 || !strings.Contains(string(r.body), `role="alert"`) {
		t.Errorf("search words: %d %s", r.code, r.body)
	}
	if r := do(t, c, "GET", srv.URL+"/nope", ""); r.code != 404 {
		t.Errorf("unknown page: %d", r.code)
	}
}

// The KaTeX files are served by the gateway itself.
func TestStatic(t *testing.T) {
	t.Parallel()
	srv, c := newServer(t, &fake{})
	for path, ct := range map[string]string{
		"/static/katex/katex.min.js": "text/javascript; charset=utf-8", "/static/katex/katex.min.css": "text/css; charset=utf-8",
		"/static/katex/fonts/KaTeX_Main-Regular.woff2": "font/woff2", "/static/app.js": "text/javascript; charset=utf-8",
	} {
		if r := do(t, c, "GET", srv.URL+path, ""); r.code != 200 || r.h.Get("Content-Type") != ct || len(r.body) < 100 {
			t.Errorf("%s: %d %s %d bytes", path, r.code, r.h.Get("Content-Type"), len(r.body))
		}
	}
	if r := do(t, c, "GET", srv.URL+"/static/nope.js", ""); r.code != 404 {
		t.Errorf("unknown file: %d", r.code)
	}
}

// The OpenAPI description lists exactly the routes that exist, with their methods.
func TestOpenAPIMatchesRoutes(t *testing.T) {
	t.Parallel()
	srv, c := newServer(t, &fake{})
	r := do(t, c, "GET", srv.URL+httpapi.OpenAPIPath, "")
	var doc struct {
		OpenAPI string                    `json:"openapi"`
		Paths   map[string]map[string]any `json:"paths"`
	}
	if err := json.Unmarshal(r.body, &doc); err != nil || r.code != 200 || doc.OpenAPI == "" {
		t.Fatalf("%d %v", r.code, err)
	}
	documented := map[string][]string{}
	for path, item := range doc.Paths {
		for m := range item {
			if m != "parameters" {
				documented[path] = append(documented[path], strings.ToUpper(m))
			}
		}
		slices.Sort(documented[path])
	}
	rest := regexp.MustCompile(`\{(\w+)\.\.\.\}`)
	api := httpapi.New(httpapi.Options{Handler: &fake{}})
	served := map[string][]string{}
	for _, pat := range api.Routes() {
		method, path, ok := strings.Cut(pat, " ")
		if !ok {
			method, path = "", pat
		}
		path = rest.ReplaceAllString(strings.ReplaceAll(path, "{$}", ""), "{$1}")
		if method == "" {
			served[path] = []string{"GET", "POST"}
		} else {
			served[path] = append(served[path], method)
		}
	}
	for path, methods := range served {
		if !slices.Equal(documented[path], methods) {
			t.Errorf("route %s %v is documented as %v", path, methods, documented[path])
		}
		// And the route answers at that path (not a 404 from no route at all).
		probe := strings.NewReplacer("{id}", "Q1", "{component}", "data.bin", "{op}", "0.DOIP/Op.Hello", "{path}", "app.css").Replace(path)
		req, _ := http.NewRequestWithContext(t.Context(), methods[0], srv.URL+probe, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode == 404 && resp.Header.Get("Doip-Status") == "" {
			t.Errorf("%s %s: no route", methods[0], probe)
		}
	}
	for path := range documented {
		if _, ok := served[path]; !ok {
			t.Errorf("documented path %s is not served", path)
		}
	}
}
