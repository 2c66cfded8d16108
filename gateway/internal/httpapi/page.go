package httpapi

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"html/template"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/fdo-doip/doip-gateway/gateway/internal/bytesize"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doiptext"
	"github.com/fdo-doip/doip-gateway/shared/katex"
	"github.com/fdo-doip/doip-gateway/shared/requestid"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"size":    bytesize.Format,
	"pathesc": url.PathEscape,
}).ParseFS(templateFS, "templates/*.html"))

// EquationsComponent is the component the object page shows equations from: what the
// equation_extraction workflow derives.
const EquationsComponent = "equations.json"

// maxEquationsDoc caps the equations document the object page reads.
const maxEquationsDoc = 8 << 20

// static serves the embedded stylesheet and script, and KaTeX's files (package shared/katex)
// below /static/katex/.
func (a *API) static(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "public, max-age=3600")
	if strings.HasPrefix(r.URL.Path, "/static/katex/") {
		http.StripPrefix("/static/katex/", http.FileServerFS(katex.Files)).ServeHTTP(w, r)
		return
	}
	sub, _ := fs.Sub(staticFS, "static")
	http.StripPrefix("/static/", http.FileServerFS(sub)).ServeHTTP(w, r)
}

// wantsJSON reports whether the client prefers JSON to HTML: it names application/json and
// not text/html (browsers name text/html first).
func wantsJSON(r *http.Request) bool {
	acc := r.Header.Get("Accept")
	return strings.Contains(acc, "application/json") && !strings.Contains(acc, "text/html")
}

// call runs one request through the handler for a page and returns its answer. A component
// answer's bytes are read, up to maxEquationsDoc.
func (a *API) call(ctx context.Context, req *doip.Request) (*doip.Response, []byte, error) {
	req.Framing = doip.FramingHTTP
	c := &captureWriter{}
	a.opts.Handler.ServeDOIP(ctx, c, req)
	switch {
	case c.err != nil:
		return nil, nil, c.err
	case c.resp == nil:
		return nil, nil, doip.Errorf(doip.KindInternal, "no answer")
	}
	return c.resp, c.body, c.readErr
}

// captureWriter keeps an answer for a page.
type captureWriter struct {
	resp    *doip.Response
	body    []byte
	err     *doip.Error
	readErr error
}

func (c *captureWriter) Respond(resp *doip.Response) error {
	c.resp = resp
	if cb := resp.Component; cb != nil {
		if cb.Size > maxEquationsDoc {
			c.readErr = doip.Errorf(doip.KindTooLarge, "component %s is over %d bytes", cb.ID, maxEquationsDoc)
			return nil
		}
		c.body, c.readErr = io.ReadAll(io.LimitReader(cb.Body, cb.Size))
	}
	return nil
}

func (c *captureWriter) Error(e *doip.Error) error              { c.err = e; return nil }
func (c *captureWriter) Progress(string, string, float64) error { return nil }

// objectView is what the object page shows.
type objectView struct {
	ID, Title, Type, Version string
	Attributes               []attribute
	Components               []componentView
	Workflows                []string
	Equations                *equationsView
	RecordJSON               string
}

type attribute struct{ Name, Value string }

type componentView struct {
	ID, Name, MediaType, Href string
	Size                      int64
}

type equationsView struct {
	Source, SourceHref string
	PDF                bool
	List               []equationView
}

type equationView struct {
	Number, TeX, Text string
	Page              int
}

// objectPage serves /objects/{id}: HTML for a browser, the record (as Cordra's retrieve
// answers it) for a client asking for JSON.
func (a *API) objectPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if wantsJSON(r) {
		req, err := a.decode(map[string]any{"targetId": id, "operationId": doiptext.OpIDRetrieve})
		if err != nil {
			a.fail(w, r, faceCordra, err)
			return
		}
		a.do(w, r, req, faceCordra)
		return
	}
	ctx := requestid.NewContext(r.Context(), requestid.FromClient(r.Header.Get(RequestIDHeader)))
	resp, _, err := a.call(ctx, &doip.Request{Op: doip.OpRetrieve, OperationID: doiptext.OpIDRetrieve, ObjectID: id, ElementSizes: true})
	if err != nil {
		a.errorPage(w, r, err)
		return
	}
	v := objectView{ID: id, Type: resp.Record.Type, Version: resp.Record.Version}
	if resp.Record.ObjectID != "" {
		v.ID = resp.Record.ObjectID
	}
	v.Title, v.Attributes = describe(resp.Record.JSON)
	if v.Title == "" {
		v.Title = v.ID
	}
	for _, c := range resp.Record.Components {
		short := c.ID[strings.LastIndexByte(c.ID, '/')+1:]
		v.Components = append(v.Components, componentView{ID: c.ID, Name: cmpOr(c.Filename, short), MediaType: c.MediaType, Size: c.Size,
			Href: "/doip/retrieve/" + url.PathEscape(v.ID) + "/" + url.PathEscape(short)})
	}
	if ops, _, err := a.call(ctx, &doip.Request{Op: doip.OpListOps, OperationID: doiptext.OpIDListOperations, ObjectID: v.ID}); err == nil && ops.Operations != nil {
		v.Workflows = ops.Operations.Workflows
	}
	if _, doc, err := a.call(ctx, &doip.Request{Op: doip.OpRetrieve, OperationID: doiptext.OpIDRetrieve, ObjectID: v.ID, Element: EquationsComponent}); err == nil {
		v.Equations = equations(v.ID, doc)
	} else if e := doip.AsError(err); e.Kind != doip.KindNotFound {
		a.opts.Logger.WarnContext(ctx, "object page: equations not read", slog.String("object", v.ID), slog.Any("err", err))
	}
	if js, err := json.MarshalIndent(json.RawMessage(resp.Record.JSON), "", "  "); err == nil {
		v.RecordJSON = string(js)
	}
	a.render(w, "object.html", http.StatusOK, v)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// describe takes a record's title (its profile's name, or its label, title or name) and
// the fields of its profile (or, without one, its own top-level fields), each as short text.
func describe(js json.RawMessage) (title string, attrs []attribute) {
	var fields map[string]json.RawMessage
	if json.Unmarshal(js, &fields) != nil {
		return "", nil
	}
	shown := fields
	var profile map[string]json.RawMessage
	if json.Unmarshal(fields["profile"], &profile) == nil && len(profile) > 0 {
		shown = profile
	}
	for _, m := range []map[string]json.RawMessage{profile, fields} {
		for _, k := range []string{"name", "label", "title"} {
			var s string
			if title == "" && json.Unmarshal(m[k], &s) == nil && s != "" {
				title = s
			}
		}
	}
	keys := make([]string, 0, len(shown))
	for k := range shown {
		if !strings.HasPrefix(k, "@") && k != "kernel" {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		val := text(shown[k])
		if len(val) > 300 {
			val = val[:300] + "…"
		}
		attrs = append(attrs, attribute{Name: k, Value: val})
	}
	return title, attrs
}

// text renders a JSON value for people: a string as it is, a list joined by commas, an
// object by its name or value, anything else as compact JSON.
func text(raw json.RawMessage) string {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s
	}
	var list []json.RawMessage
	if json.Unmarshal(raw, &list) == nil {
		parts := make([]string, 0, len(list))
		for _, v := range list {
			parts = append(parts, text(v))
		}
		return strings.Join(parts, ", ")
	}
	var obj map[string]json.RawMessage
	if json.Unmarshal(raw, &obj) == nil {
		for _, k := range []string{"name", "value", "@id"} {
			if v, ok := obj[k]; ok {
				return text(v)
			}
		}
	}
	var buf bytes.Buffer
	if json.Compact(&buf, raw) == nil {
		return buf.String()
	}
	return string(raw)
}

// equations reads the equations document of an object.
func equations(objectID string, doc []byte) *equationsView {
	var d struct {
		SourceComponent string `json:"sourceComponent"`
		SourceMediaType string `json:"sourceMediaType"`
		Equations       []struct {
			Page   int    `json:"page"`
			Number string `json:"number"`
			LaTeX  string `json:"latex"`
			Text   string `json:"text"`
		} `json:"equations"`
	}
	if json.Unmarshal(doc, &d) != nil {
		return nil
	}
	short := d.SourceComponent[strings.LastIndexByte(d.SourceComponent, '/')+1:]
	v := &equationsView{Source: short, PDF: d.SourceMediaType == "application/pdf"}
	if short != "" {
		v.SourceHref = "/doip/retrieve/" + url.PathEscape(objectID) + "/" + url.PathEscape(short)
	}
	for _, e := range d.Equations {
		v.List = append(v.List, equationView{Number: e.Number, TeX: e.LaTeX, Text: e.Text, Page: e.Page})
	}
	return v
}

// serviceView is what the service page shows.
type serviceView struct {
	ServiceID, Server, Version string
	Operations                 []string
	Workflows                  []string
	Query                      string
	Results                    json.RawMessage
	Error                      string
}

// servicePage serves /: hello, the operations, and a search box.
func (a *API) servicePage(w http.ResponseWriter, r *http.Request) {
	if wantsJSON(r) {
		req, err := a.decode(map[string]any{"targetId": a.opts.ServiceID, "operationId": doiptext.OpIDHello})
		if err != nil {
			a.fail(w, r, faceCordra, err)
			return
		}
		a.do(w, r, req, faceCordra)
		return
	}
	a.render(w, "service.html", http.StatusOK, a.serviceView(r.Context()))
}

func (a *API) serviceView(ctx context.Context) serviceView {
	v := serviceView{ServiceID: a.opts.ServiceID}
	if hi, _, err := a.call(ctx, &doip.Request{Op: doip.OpHello, OperationID: doiptext.OpIDHello, ObjectID: a.opts.ServiceID}); err == nil && hi.Hello != nil {
		v.Server, v.Version, v.Workflows = hi.Hello.Server, hi.Hello.Version, hi.Hello.Workflows
		for name := range hi.Hello.Operations {
			v.Operations = append(v.Operations, name)
		}
		slices.Sort(v.Operations)
	}
	return v
}

// searchPage serves /search?q=…: an object id goes straight to its page; anything else is
// searched for.
func (a *API) searchPage(w http.ResponseWriter, r *http.Request) {
	q := strings.TrimSpace(r.URL.Query().Get("q"))
	if q == "" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if isObjectID(q) {
		http.Redirect(w, r, "/objects/"+url.PathEscape(strings.ToUpper(q)), http.StatusSeeOther)
		return
	}
	v := a.serviceView(r.Context())
	v.Query = q
	req, err := a.decode(map[string]any{"targetId": a.opts.ServiceID, "operationId": doiptext.OpIDSearch,
		"attributes": map[string]any{"query": q, "pageSize": 20}})
	if err == nil {
		var resp *doip.Response
		if resp, _, err = a.call(r.Context(), req); err == nil {
			_, v.Results, err = doiptext.RenderOutput(req, resp, doiptext.Options{})
		}
	}
	if err != nil {
		v.Error = doip.AsError(err).Message
	}
	a.render(w, "service.html", http.StatusOK, v)
}

// isObjectID reports whether s looks like an item id: Q and digits.
func isObjectID(s string) bool {
	if len(s) < 2 || s[0] != 'Q' && s[0] != 'q' {
		return false
	}
	_, err := strconv.ParseUint(s[1:], 10, 64)
	return err == nil
}

func (a *API) errorPage(w http.ResponseWriter, r *http.Request, err error) {
	e := doip.AsError(err)
	a.render(w, "error.html", httpStatus(e.Kind), struct{ Status, Message string }{http.StatusText(httpStatus(e.Kind)), e.Message})
}

// render executes a page template into a buffer first, so a failing template sends a 500,
// not half a page.
func (a *API) render(w http.ResponseWriter, name string, code int, data any) {
	var buf bytes.Buffer
	if err := pages.ExecuteTemplate(&buf, name, data); err != nil {
		a.opts.Logger.Error("page template failed", slog.String("page", name), slog.Any("err", err))
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; frame-ancestors 'none'")
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes())
}
