package httpapi

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strconv"
	"strings"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doiptext"
	"github.com/fdo-doip/doip-gateway/gateway/internal/gateway"
)

// responseWriter is the [doip.ResponseWriter] of one HTTP request.
type responseWriter struct {
	w    http.ResponseWriter
	r    *http.Request
	req  *doip.Request
	face face

	// rng is the single byte range the client asked for, if any; ifRange its If-Range.
	rng     *doip.Range
	ifRange string
	// sse: the answer is a stream of server-sent events (progress, then the result).
	sse     bool
	started bool // the event stream's header went out

	// probe: this pass only learns the component's size, to judge a refused range;
	// probeErr is the refusal.
	probe, probed bool
	probeErr      *doip.Error
	// again asks for a second pass with the request as it now is.
	again bool

	wrote  bool
	status string // "ok" or the error kind, for metrics
	code   int    // the HTTP status sent
	err    error  // a write error after the answer began
}

func newResponseWriter(w http.ResponseWriter, r *http.Request, req *doip.Request, f face) *responseWriter {
	hw := &responseWriter{w: w, r: r, req: req, face: f, ifRange: r.Header.Get("If-Range")}
	if req.Range != nil {
		rng := *req.Range
		hw.rng = &rng
	}
	hw.sse = req.Progress && acceptsEvents(r)
	return hw
}

// reset readies the writer for a pass.
func (hw *responseWriter) reset() { hw.wrote, hw.again = false, false }

// Respond writes a response: a component's bytes, or the standard framing's output as JSON.
func (hw *responseWriter) Respond(resp *doip.Response) error {
	if hw.wrote {
		return errors.New("httpapi: answer already written")
	}
	hw.wrote, hw.status = true, gateway.StatusOK
	if resp.Component != nil {
		hw.err = hw.writeComponent(resp.Component)
		return hw.err
	}
	out := *resp
	if out.Invoke != nil && len(out.Invoke.Derived) > 0 {
		// The result lists what was derived; the bytes are a retrieve away.
		inv := *out.Invoke
		inv.Derived = nil
		out.Invoke = &inv
	}
	elements := out.Elements
	out.Elements = nil
	attrs, output, err := doiptext.RenderOutput(hw.req, &out, doiptext.Options{})
	if err != nil {
		hw.status = string(doip.KindInternal)
		hw.writeError(doip.Errorf(doip.KindInternal, "internal error"))
		hw.err = err
		return err
	}
	if len(output) == 0 {
		output = json.RawMessage("null")
	}
	if hw.sse {
		hw.startEvents()
		hw.err = hw.event("result", resultEvent{Attributes: attrs, Output: output})
		return hw.err
	}
	h := hw.w.Header()
	h.Set(StatusHeader, doiptext.StatusSuccess)
	if v := headerJSON(attrs); v != "" {
		h.Set("Doip-Attributes", v)
	}
	if out.Record != nil && hw.req.IncludeElementData {
		hw.err = hw.writeParts(output, elements)
		return hw.err
	}
	hw.err = hw.writeJSON(http.StatusOK, output)
	return hw.err
}

// writeParts answers a retrieve with includeElementData: a multipart/mixed body whose
// first part, named "json", is the digital object, and then one part per element, named by
// its id, with its media type and filename. Each element's bytes are streamed in turn.
func (hw *responseWriter) writeParts(object json.RawMessage, elements []doip.ComponentBody) error {
	mw := multipart.NewWriter(hw.w)
	hw.w.Header().Set("Content-Type", "multipart/mixed; boundary="+mw.Boundary())
	hw.code = http.StatusOK
	hw.w.WriteHeader(http.StatusOK)
	if hw.r.Method == http.MethodHead {
		return nil
	}
	pw, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Type":        {"application/json"},
		"Content-Disposition": {`inline; name="json"`},
	})
	if err != nil {
		return err
	}
	if _, err := pw.Write(append(object, '\n')); err != nil {
		return err
	}
	for _, el := range elements {
		params := map[string]string{"name": el.ID}
		if el.Filename != "" {
			params["filename"] = el.Filename
		}
		ph := textproto.MIMEHeader{
			"Content-Type":        {mediaType(el.MediaType)},
			"Content-Disposition": {mime.FormatMediaType("attachment", params)},
		}
		if el.Size >= 0 {
			ph.Set("Content-Length", strconv.FormatInt(el.Size, 10))
		}
		pw, err := mw.CreatePart(ph)
		if err != nil {
			return err
		}
		if err := doip.CopyExact(pw, el.Body, el.Size); err != nil {
			return err
		}
	}
	return mw.Close()
}

type resultEvent struct {
	Attributes json.RawMessage `json:"attributes,omitempty"`
	Output     json.RawMessage `json:"output"`
}

// headerJSON returns js if it can travel in a header (printable ASCII, short), else "".
func headerJSON(js json.RawMessage) string {
	if len(js) == 0 || len(js) > 4096 || string(js) == "{}" {
		return ""
	}
	for _, c := range js {
		if c < ' ' || c > '~' {
			return ""
		}
	}
	return string(js)
}

func (hw *responseWriter) writeJSON(code int, js []byte) error {
	h := hw.w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(js)+1))
	hw.code = code
	hw.w.WriteHeader(code)
	if hw.r.Method == http.MethodHead {
		return nil
	}
	_, err := hw.w.Write(append(js, '\n'))
	return err
}

// Error writes an error answer: an HTTP status for its kind and a JSON body,
// {"message":…} (Cordra's face) or {"detail":…} (MaRDI's). A retrieve whose range was
// refused asks for a second pass that learns the component's size instead.
func (hw *responseWriter) Error(e *doip.Error) error {
	if hw.wrote {
		return errors.New("httpapi: answer already written")
	}
	hw.wrote = true
	if hw.rng != nil && !hw.probed && e.Kind == doip.KindBadRequest && hw.req.Element != "" {
		// Was it the range? Ask for the size and judge the range against it.
		hw.probe, hw.probed, hw.again = true, true, true
		hw.req.Range = nil
		hw.probeErr = e
		return nil
	}
	hw.writeError(e)
	return nil
}

// writeError writes e, as an event when the event stream has begun.
func (hw *responseWriter) writeError(e *doip.Error) {
	hw.status = string(e.Kind)
	if hw.started {
		hw.err = hw.event("error", errorBody{Status: doiptext.StatusFor(e.Kind), Message: e.Message})
		return
	}
	h := hw.w.Header()
	for _, k := range []string{"Content-Disposition", "ETag", "Accept-Ranges", "Content-Range", "Doip-Attributes"} {
		h.Del(k)
	}
	h.Set(StatusHeader, doiptext.StatusFor(e.Kind))
	code := httpStatus(e.Kind)
	if hw.code != 0 { // a refusal with its own status
		code = hw.code
	}
	if code == http.StatusUnauthorized {
		h.Set("WWW-Authenticate", `Bearer realm="doip"`)
	}
	var js []byte
	if hw.face == faceMardi {
		js, _ = json.Marshal(struct {
			Detail string `json:"detail"`
		}{e.Message})
	} else {
		js, _ = json.Marshal(errorBody{Status: doiptext.StatusFor(e.Kind), Message: e.Message})
	}
	hw.err = hw.writeJSON(code, js)
}

type errorBody struct {
	Status  string `json:"status,omitempty"`
	Message string `json:"message"`
}

// httpStatus maps an error kind to its HTTP status (contract §4.3):
//
//	BadRequest, Unsupported  400
//	Unauthenticated          401
//	Forbidden                403
//	NotFound                 404
//	Conflict                 409
//	TooLarge                 413
//	Unavailable              503
//	LimitExceeded, Internal  500
func httpStatus(k doip.ErrorKind) int {
	switch k {
	case doip.KindBadRequest, doip.KindUnsupported:
		return http.StatusBadRequest
	case doip.KindUnauthenticated:
		return http.StatusUnauthorized
	case doip.KindForbidden:
		return http.StatusForbidden
	case doip.KindNotFound:
		return http.StatusNotFound
	case doip.KindConflict:
		return http.StatusConflict
	case doip.KindTooLarge:
		return http.StatusRequestEntityTooLarge
	case doip.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

// Progress sends a progress event when the client asked for an event stream.
func (hw *responseWriter) Progress(stage, message string, fraction float64) error {
	if !hw.sse || hw.wrote {
		return nil
	}
	hw.startEvents()
	return hw.event("progress", struct {
		Stage    string  `json:"stage"`
		Message  string  `json:"message,omitempty"`
		Fraction float64 `json:"fraction"`
	}{stage, message, fraction})
}

func (hw *responseWriter) startEvents() {
	if hw.started {
		return
	}
	hw.started = true
	h := hw.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-store")
	hw.code = http.StatusOK
	hw.w.WriteHeader(http.StatusOK)
}

// event writes one server-sent event and flushes it.
func (hw *responseWriter) event(name string, v any) error {
	js, err := json.Marshal(v)
	if err != nil {
		return err
	}
	if _, err := fmt.Fprintf(hw.w, "event: %s\ndata: %s\n\n", name, js); err != nil {
		return err
	}
	return http.NewResponseController(hw.w).Flush()
}

// etag is the entity tag of a component's bytes at a version: it changes whenever the
// version, the object, the component or its size does. Without a version there is none.
func etag(objectID string, cb *doip.ComponentBody, total int64) string {
	if cb.Version == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(cb.Version + "\x00" + objectID + "\x00" + cb.ID + "\x00" + strconv.FormatInt(total, 10)))
	return `"` + hex.EncodeToString(sum[:12]) + `"`
}

// writeComponent sends a component's bytes with their headers, honouring HEAD, a range,
// If-None-Match and If-Range. The body is streamed: memory stays flat whatever the size.
func (hw *responseWriter) writeComponent(cb *doip.ComponentBody) error {
	total := cb.TotalSize
	if total <= 0 && hw.req.Range == nil {
		total = cb.Size
	}
	if hw.probe {
		// The second pass of a refused range: judge the range against the size.
		hw.wrote, hw.probe = false, false
		if clamped := clampRange(hw.rng, total); clamped != nil {
			// A range reaching past the end selects the bytes up to it (RFC 9110 §14.1.2).
			hw.again, hw.req.Range, hw.probeErr = true, clamped, nil
			return nil
		}
		if unsatisfiable(hw.rng, total) {
			hw.wrote, hw.status = true, string(doip.KindBadRequest)
			h := hw.w.Header()
			h.Set("Content-Range", "bytes */"+strconv.FormatInt(total, 10))
			h.Set(StatusHeader, doiptext.StatusInvalid)
			js, _ := json.Marshal(errorBody{Status: doiptext.StatusInvalid, Message: fmt.Sprintf("range not satisfiable: the component has %d bytes", total)})
			return hw.writeJSON(http.StatusRequestedRangeNotSatisfiable, js)
		}
		hw.wrote = true
		hw.writeError(hw.probeErr)
		return nil
	}
	tag := etag(hw.req.ObjectID, cb, total)
	if hw.rng != nil && hw.ifRange != "" && hw.ifRange != tag {
		// The client's copy is of another version: it gets the whole component.
		hw.wrote, hw.again, hw.rng, hw.req.Range = false, true, nil, nil
		return nil
	}
	h := hw.w.Header()
	h.Set(StatusHeader, doiptext.StatusSuccess)
	h.Set("Content-Type", mediaType(cb.MediaType))
	h.Set("Content-Disposition", contentDisposition(cb))
	h.Set("Accept-Ranges", "bytes")
	if cb.Version != "" {
		h.Set("Doip-Version", cb.Version)
	}
	if tag != "" {
		h.Set("ETag", tag)
		if matchesETag(hw.r.Header.Get("If-None-Match"), tag) {
			hw.code = http.StatusNotModified
			hw.w.WriteHeader(http.StatusNotModified)
			return nil
		}
	}
	h.Set("Content-Length", strconv.FormatInt(cb.Size, 10))
	hw.code = http.StatusOK
	if hw.req.Range != nil {
		start := total - cb.Size
		if hw.req.Range.Start != nil {
			start = *hw.req.Range.Start
		}
		h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, start+cb.Size-1, total))
		hw.code = http.StatusPartialContent
	}
	hw.w.WriteHeader(hw.code)
	if hw.r.Method == http.MethodHead {
		return nil
	}
	return doip.CopyExact(hw.w, cb.Body, cb.Size)
}

// unsatisfiable reports whether rng selects no byte of a component of total bytes.
func unsatisfiable(rng *doip.Range, total int64) bool {
	switch {
	case rng == nil:
		return false
	case rng.Start == nil:
		return rng.End == nil || *rng.End == 0 || total == 0
	default:
		return *rng.Start >= total
	}
}

// clampRange returns rng cut to a component of total bytes when it reaches past the end
// but selects some bytes, else nil.
func clampRange(rng *doip.Range, total int64) *doip.Range {
	if rng == nil || total <= 0 || unsatisfiable(rng, total) {
		return nil
	}
	last := total - 1
	switch {
	case rng.Start == nil && *rng.End > total:
		zero := int64(0)
		return &doip.Range{Start: &zero, End: &last}
	case rng.Start != nil && rng.End != nil && *rng.End > last:
		start := *rng.Start
		return &doip.Range{Start: &start, End: &last}
	}
	return nil
}

// matchesETag reports whether an If-None-Match value names tag (or is "*"); weak
// comparison, as RFC 9110 §13.1.2 asks.
func matchesETag(header, tag string) bool {
	if header == "" {
		return false
	}
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == "*" || t == tag {
			return true
		}
	}
	return false
}

func mediaType(t string) string {
	if t == "" {
		return "application/octet-stream"
	}
	return t
}

// contentDisposition names the download: the component's filename, else the last part of
// its id; a non-ASCII name also goes as filename* (RFC 6266), which mime does.
func contentDisposition(cb *doip.ComponentBody) string {
	name := cb.Filename
	if name == "" {
		name = cb.ID[strings.LastIndexByte(cb.ID, '/')+1:]
	}
	if name == "" {
		return "attachment"
	}
	if v := mime.FormatMediaType("attachment", map[string]string{"filename": name}); v != "" {
		return v
	}
	return "attachment"
}

// parseRange reads a Range header with one range of bytes ("bytes=0-99", "bytes=100-",
// "bytes=-500") into a DOIP range. Anything else, several ranges included, gives nil: the
// header is then ignored and the whole component sent, as RFC 9110 §14.2 allows.
func parseRange(h string) *doip.Range {
	spec, ok := strings.CutPrefix(strings.TrimSpace(h), "bytes=")
	if !ok || strings.Contains(spec, ",") {
		return nil
	}
	first, last, ok := strings.Cut(strings.TrimSpace(spec), "-")
	if !ok {
		return nil
	}
	num := func(s string) (*int64, bool) {
		if s == "" {
			return nil, true
		}
		n, err := strconv.ParseInt(s, 10, 64)
		if err != nil || n < 0 {
			return nil, false
		}
		return &n, true
	}
	start, ok1 := num(first)
	end, ok2 := num(last)
	if !ok1 || !ok2 || start == nil && end == nil || start != nil && end != nil && *end < *start {
		return nil
	}
	return &doip.Range{Start: start, End: end}
}
