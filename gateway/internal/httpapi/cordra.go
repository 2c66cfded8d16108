package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doiptext"
)

// cordraQuery serves Cordra's query form: /doip?operationId=…&targetId=….
func (a *API) cordraQuery(w http.ResponseWriter, r *http.Request) { a.cordra(w, r, "") }

// cordraPath serves Cordra's path form: /doip/0.DOIP/Op.Retrieve?targetId=…, where the
// operation id spans the rest of the path.
func (a *API) cordraPath(w http.ResponseWriter, r *http.Request) {
	a.cordra(w, r, r.PathValue("op"))
}

func (a *API) cordra(w http.ResponseWriter, r *http.Request, pathOp string) {
	switch r.Method {
	case http.MethodGet, http.MethodHead, http.MethodPost:
	default:
		w.Header().Set("Allow", "GET, HEAD, POST")
		a.fail(w, r, faceCordra, methodError(r.Method))
		return
	}
	req, err := a.cordraRequest(w, r, pathOp)
	if err != nil {
		a.fail(w, r, faceCordra, err)
		return
	}
	if r.Method != http.MethodPost && !readOnly(req.Op) {
		w.Header().Set("Allow", "POST")
		a.fail(w, r, faceCordra, &httpError{http.StatusMethodNotAllowed, req.OperationID + " changes or runs something: use POST"})
		return
	}
	a.prepareBytes(r, req)
	a.do(w, r, req, faceCordra)
}

// readOnly lists the operations a GET may perform (Cordra: "generally read-only" ones).
func readOnly(op doip.Op) bool {
	switch op {
	case doip.OpHello, doip.OpListOps, doip.OpRetrieve, doip.OpSearch, doip.OpDescribe:
		return true
	}
	return false
}

// httpError is a refusal with its own HTTP status, before any DOIP request was made.
type httpError struct {
	code int
	msg  string
}

func (e *httpError) Error() string { return e.msg }

func methodError(m string) error {
	return &httpError{http.StatusMethodNotAllowed, "method " + m + " is not allowed here"}
}

// searchParams are the search attributes Cordra's callers send as top-level parameters.
var searchParams = []string{"query", "pageNum", "pageSize", "sortFields", "type", "facets", "filterQueries"}

// cordraRequest assembles the standard request object from an HTTP request (contract §1)
// and decodes it as the standard framing does:
//
//	operationId | o | the path after /doip/   operationId
//	targetId | t ("service": the service)    targetId
//	attributes (a JSON object), attributes.NAME=value, and for searches query, pageNum,
//	pageSize, sortFields, type, facets, filterQueries                   attributes
//	Authorization: Bearer T | Basic U:P, or authentication (JSON)      authentication
//	requestId, or the X-Request-Id header                              requestId
//	a POST body of JSON                                                input
//	a multipart POST body (create, update): the part input, then       input, and the
//	one part per element                                               elements' bytes
//	an update's body with attributes.element=ID: that element's bytes  the element's bytes
func (a *API) cordraRequest(w http.ResponseWriter, r *http.Request, pathOp string) (*doip.Request, error) {
	q := r.URL.Query()
	one := func(names ...string) (string, error) {
		var v string
		for _, n := range names {
			if vs := q[n]; len(vs) > 0 {
				if len(vs) > 1 || v != "" && v != vs[0] {
					return "", doip.Errorf(doip.KindBadRequest, "%s is given more than once", strings.Join(names, "/"))
				}
				v = vs[0]
			}
		}
		return v, nil
	}
	opID, err := one("operationId", "o")
	if err != nil {
		return nil, err
	}
	switch {
	case pathOp != "" && opID != "" && opID != pathOp:
		return nil, doip.Errorf(doip.KindBadRequest, "the path names operation %q and the query %q", pathOp, opID)
	case pathOp != "":
		opID = pathOp
	case opID == "":
		return nil, doip.Errorf(doip.KindBadRequest, "no operation: give operationId (or o)")
	}
	target, err := one("targetId", "t")
	if err != nil {
		return nil, err
	}
	if target == "" || target == "service" {
		if target == "" && opID != doiptext.OpIDHello && opID != doiptext.OpIDListOperations {
			return nil, doip.Errorf(doip.KindBadRequest, "no target: give targetId (or t)")
		}
		target = a.opts.ServiceID
	}
	obj := map[string]any{"targetId": target, "operationId": opID}
	if rid, err := one("requestId"); err != nil {
		return nil, err
	} else if rid != "" {
		obj["requestId"] = rid
	}
	attrs, err := attributes(q, opID == doiptext.OpIDSearch)
	if err != nil {
		return nil, err
	}
	if len(attrs) > 0 {
		obj["attributes"] = attrs
	}
	if auth, err := authentication(r, q); err != nil {
		return nil, err
	} else if auth != nil {
		obj["authentication"] = auth
	}
	var parts doip.ElementStream
	boundary, err := multipartBoundary(r)
	switch {
	case err != nil:
		return nil, err
	case r.Method == http.MethodPost && opID == doiptext.OpIDUpdate && len(attrs["element"]) > 0 && boundary == "":
		// One element's bytes as the whole body (not multipart): the object is left as it is.
		var id string
		if json.Unmarshal(attrs["element"], &id) != nil || id == "" {
			return nil, doip.Errorf(doip.KindBadRequest, "attributes.element must name the element the body replaces")
		}
		delete(attrs, "element")
		if len(attrs) == 0 {
			delete(obj, "attributes")
		}
		obj["input"] = json.RawMessage(`{}`)
		if parts, err = a.rawElement(w, r, id); err != nil {
			return nil, err
		}
	case boundary != "" && r.Method == http.MethodPost:
		if opID != doiptext.OpIDCreate && opID != doiptext.OpIDUpdate {
			return nil, &httpError{http.StatusUnsupportedMediaType, "a multipart body carries element bytes, which only " + doiptext.OpIDCreate + " and " + doiptext.OpIDUpdate + " take"}
		}
		input, pe, err := a.multipartInput(w, r, boundary)
		if err != nil {
			return nil, err
		}
		obj["input"], parts = input, pe
	default:
		if input, err := a.jsonInput(w, r); err != nil {
			return nil, err
		} else if input != nil {
			obj["input"] = input
		}
	}
	js, err := json.Marshal(obj)
	if err != nil {
		return nil, err
	}
	req, err := doiptext.DecodeRequest(js, a.opts.Limits)
	if err != nil {
		return nil, err
	}
	if parts != nil && req.Write != nil {
		// The object came whole in the first part; its elements follow in the body. A
		// write whose object was refused keeps its refusal.
		if _, err := req.Write.Elements.Next(); errors.Is(err, io.EOF) {
			req.Write.Elements = parts
		}
	}
	return req, nil
}

// attributes gathers the attributes parameter (a JSON object), attributes.NAME=value
// parameters (strings; they win over the object's keys) and, for a search, Cordra's
// top-level search parameters.
func attributes(q url.Values, search bool) (map[string]json.RawMessage, error) {
	attrs := map[string]json.RawMessage{}
	if v := q.Get("attributes"); v != "" {
		if err := json.Unmarshal([]byte(v), &attrs); err != nil || attrs == nil {
			return nil, doip.Errorf(doip.KindBadRequest, "the attributes parameter must be a JSON object")
		}
	}
	for k, vs := range q {
		if name, ok := strings.CutPrefix(k, "attributes."); ok && name != "" {
			attrs[name], _ = json.Marshal(vs[0])
		}
	}
	if search {
		for _, k := range searchParams {
			v := q.Get(k)
			switch {
			case v == "":
			case k == "pageNum" || k == "pageSize":
				n, err := strconv.Atoi(v)
				if err != nil {
					return nil, doip.Errorf(doip.KindBadRequest, "%s must be a whole number", k)
				}
				attrs[k], _ = json.Marshal(n)
			case (k == "facets" || k == "filterQueries") && json.Valid([]byte(v)):
				attrs[k] = json.RawMessage(v)
			default:
				attrs[k], _ = json.Marshal(v)
			}
		}
	}
	return attrs, nil
}

// authentication reads the credentials: an Authorization header (Bearer token, or Basic
// user:password whose password is the token), else an authentication parameter.
func authentication(r *http.Request, q url.Values) (any, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		if tok, ok := cutScheme(h, "Bearer"); ok {
			return map[string]string{"token": tok}, nil
		}
		if user, pass, ok := r.BasicAuth(); ok {
			return map[string]string{"username": user, "password": pass}, nil
		}
		return nil, doip.Errorf(doip.KindUnauthenticated, "the Authorization header must be Bearer or Basic")
	}
	if v := q.Get("authentication"); v != "" {
		var auth map[string]any
		if json.Unmarshal([]byte(v), &auth) != nil {
			return nil, doip.Errorf(doip.KindBadRequest, "the authentication parameter must be a JSON object")
		}
		return auth, nil
	}
	return nil, nil
}

func cutScheme(h, scheme string) (string, bool) {
	if len(h) > len(scheme)+1 && strings.EqualFold(h[:len(scheme)], scheme) && h[len(scheme)] == ' ' {
		return strings.TrimSpace(h[len(scheme)+1:]), true
	}
	return "", false
}

// jsonInput reads a POST body of JSON, at most Limits.MaxSegment bytes: the request's input.
// An empty body is no input; a body of another type is refused (415).
func (a *API) jsonInput(w http.ResponseWriter, r *http.Request) (json.RawMessage, error) {
	if r.Method != http.MethodPost || r.Body == nil || r.ContentLength == 0 {
		return nil, nil
	}
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || mt != "application/json" && !strings.HasSuffix(mt, "+json") {
			return nil, &httpError{http.StatusUnsupportedMediaType, "the body must be JSON (application/json), or multipart (multipart/form-data) for a create or an update with element bytes"}
		}
	}
	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(a.opts.ReadTimeout))
	body, err := io.ReadAll(io.LimitReader(r.Body, int64(a.opts.Limits.MaxSegment)+1))
	if err != nil || int64(len(body)) > int64(a.opts.Limits.MaxSegment) {
		// The rest of the body is not read: the connection closes after the answer, and the
		// read deadline stays, so that the server does not wait for what is left either.
		w.Header().Set("Connection", "close")
		if err != nil {
			return nil, doip.Errorf(doip.KindBadRequest, "reading the body: %v", err)
		}
		return nil, doip.Errorf(doip.KindTooLarge, "the body is over %d bytes", a.opts.Limits.MaxSegment)
	}
	_ = rc.SetReadDeadline(time.Time{})
	if len(strings.TrimSpace(string(body))) == 0 {
		return nil, nil
	}
	if !json.Valid(body) {
		return nil, doip.Errorf(doip.KindBadRequest, "the body is not valid JSON")
	}
	return body, nil
}

// prepareBytes carries the HTTP byte-range headers of a component retrieve into req, and
// an event stream's Accept into an invoke's progress.
func (a *API) prepareBytes(r *http.Request, req *doip.Request) {
	if req.Op == doip.OpRetrieve && req.Element != "" && req.Range == nil {
		if rng := parseRange(r.Header.Get("Range")); rng != nil {
			req.Range = rng
		}
	}
	if req.Op == doip.OpInvoke && acceptsEvents(r) {
		req.Progress = true
	}
}

func acceptsEvents(r *http.Request) bool {
	return strings.Contains(r.Header.Get("Accept"), "text/event-stream")
}
