package httpapi

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doiptext"
	"github.com/fdo-doip/doip-gateway/gateway/internal/gateway"
	"github.com/fdo-doip/doip-gateway/shared/requestid"
)

// MaRDI's routes (contract §2, §4): the same requests as Cordra's face builds, with MaRDI's
// {"detail":…} error bodies, but never 200 with an error, and HTTP done properly for bytes.

// decode builds a request from a standard request object, as the Cordra face does.
func (a *API) decode(obj map[string]any) (*doip.Request, error) {
	js, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	return doiptext.DecodeRequest(js, a.opts.Limits)
}

// withAuth adds the Authorization header's credentials to a request object.
func withAuth(r *http.Request, obj map[string]any) error {
	auth, err := authentication(r, nil)
	if err != nil {
		return err
	}
	if auth != nil {
		obj["authentication"] = auth
	}
	return nil
}

// mardiRetrieve serves GET /doip/retrieve/{id}/{component}[?force_reload]: the component's
// bytes. force_reload, with any value, purges the cached record first (a failed purge is
// ignored, as MaRDI's server does).
func (a *API) mardiRetrieve(w http.ResponseWriter, r *http.Request) {
	req, ok := a.mardiRequest(w, r, map[string]any{"targetId": r.PathValue("id"), "operationId": doiptext.OpIDRetrieve,
		"attributes": map[string]string{"element": r.PathValue("component")}})
	if !ok {
		return
	}
	if _, ok := r.URL.Query()["force_reload"]; ok {
		purge := &doip.Request{Op: doip.OpPurge, OperationID: doip.OpPurge.String(), ObjectID: req.ObjectID, Token: req.Token, Framing: doip.FramingHTTP}
		ctx := requestid.NewContext(r.Context(), requestid.FromClient(r.Header.Get(RequestIDHeader)))
		start, dw := time.Now(), &discardWriter{status: gateway.StatusOK}
		a.opts.Handler.ServeDOIP(ctx, dw, purge)
		a.opts.Metrics.RequestDone(a.opts.Listener, purge, dw.status, time.Since(start).Seconds())
		a.opts.Logger.LogAttrs(ctx, slog.LevelInfo, "force_reload purge done", slog.String("object", purge.ObjectID), slog.String("status", dw.status))
	}
	a.prepareBytes(r, req)
	a.do(w, r, req, faceMardi)
}

// discardWriter takes an answer nobody reads, keeping its status for the metrics.
type discardWriter struct{ status string }

func (d *discardWriter) Respond(*doip.Response) error { return nil }

func (d *discardWriter) Error(e *doip.Error) error {
	d.status = string(e.Kind)
	return nil
}

func (d *discardWriter) Progress(string, string, float64) error { return nil }

// mardiSearch serves GET /doip/search?q=…&limit=…&namespaces=…: q is required, limit is
// 1…50 (10 by default), namespaces is "all" or comma-separated numbers (120, Items, by
// default). They become the search's query, pageSize and namespaces attributes.
func (a *API) mardiSearch(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("q") == "" {
		a.fail(w, r, faceMardi, &httpError{http.StatusUnprocessableEntity, "q is required"})
		return
	}
	limit := 10
	if v := q.Get("limit"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 50 {
			a.fail(w, r, faceMardi, &httpError{http.StatusUnprocessableEntity, "limit must be a whole number from 1 to 50"})
			return
		}
		limit = n
	}
	var namespaces any = []int{120}
	if v := q.Get("namespaces"); v == "all" {
		namespaces = "all"
	} else if v != "" {
		var ns []int
		for _, p := range strings.Split(v, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || n < 0 {
				a.fail(w, r, faceMardi, doip.Errorf(doip.KindBadRequest, "namespaces must be comma-separated integers or 'all'"))
				return
			}
			ns = append(ns, n)
		}
		namespaces = ns
	}
	obj := map[string]any{"targetId": a.opts.ServiceID, "operationId": doiptext.OpIDSearch,
		"attributes": map[string]any{"query": q.Get("q"), "pageSize": limit, "namespaces": namespaces}}
	a.mardiCall(w, r, obj)
}

// mardiPurge serves POST /doip/purge/{id}: the cached record is dropped.
func (a *API) mardiPurge(w http.ResponseWriter, r *http.Request) {
	req := &doip.Request{Op: doip.OpPurge, OperationID: doip.OpPurge.String(), ObjectID: r.PathValue("id")}
	if _, pass, ok := r.BasicAuth(); ok {
		req.Token = pass
	} else if tok, ok := cutScheme(r.Header.Get("Authorization"), "Bearer"); ok {
		req.Token = tok
	}
	a.do(w, r, req, faceMardi)
}

// mardiCreate serves POST /doip/create: a JSON body with either "label" (and "description",
// "claims") or "type" (and "fields"), never both; credentials come from the Authorization
// header (Basic: the bot user and password).
func (a *API) mardiCreate(w http.ResponseWriter, r *http.Request) {
	input, err := a.jsonInput(w, r)
	if err != nil {
		a.fail(w, r, faceMardi, err)
		return
	}
	var body map[string]json.RawMessage
	if input == nil || json.Unmarshal(input, &body) != nil || body == nil {
		a.fail(w, r, faceMardi, &httpError{http.StatusUnprocessableEntity, "the body must be a JSON object"})
		return
	}
	_, label := body["label"]
	_, typ := body["type"]
	switch {
	case label && typ:
		a.fail(w, r, faceMardi, &httpError{http.StatusUnprocessableEntity, "'label' and 'type' are mutually exclusive"})
		return
	case !label && !typ:
		a.fail(w, r, faceMardi, &httpError{http.StatusUnprocessableEntity, "either 'label' (raw format) or 'type' (typed format) is required"})
		return
	}
	obj := map[string]any{"targetId": a.opts.ServiceID, "operationId": doiptext.OpIDCreate, "input": input}
	a.mardiCall(w, r, obj)
}

// mardiCall decodes obj with the request's credentials and serves it with MaRDI's bodies.
func (a *API) mardiCall(w http.ResponseWriter, r *http.Request, obj map[string]any) {
	if req, ok := a.mardiRequest(w, r, obj); ok {
		a.do(w, r, req, faceMardi)
	}
}

// mardiRequest decodes obj with the request's credentials; when it cannot, it answers with
// MaRDI's error body and reports false.
func (a *API) mardiRequest(w http.ResponseWriter, r *http.Request, obj map[string]any) (*doip.Request, bool) {
	err := withAuth(r, obj)
	var req *doip.Request
	if err == nil {
		req, err = a.decode(obj)
	}
	if err != nil {
		a.fail(w, r, faceMardi, err)
		return nil, false
	}
	return req, true
}
