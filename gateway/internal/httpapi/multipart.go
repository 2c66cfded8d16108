package httpapi

import (
	"encoding/json"
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// A create or an update with element bytes comes as a multipart body (multipart/form-data,
// or any multipart/* with a boundary), read in order as the handler asks for it:
//
//	part 1, named "input" (or "json")   the digital object, JSON, at most Limits.MaxSegment
//	each further part                    one element: its id is the part's name (else its
//	                                     filename), its media type the part's Content-Type
//
// Nothing is held: each element part is handed to the handler as the element's body. The
// whole body is capped at Limits.MaxUpload (413 past it).

// multipartBoundary returns the boundary of a multipart body, or "" when the body is not
// multipart.
func multipartBoundary(r *http.Request) (string, error) {
	mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		return "", nil
	}
	if params["boundary"] == "" {
		return "", &httpError{http.StatusBadRequest, "the multipart body has no boundary parameter in its Content-Type"}
	}
	return params["boundary"], nil
}

// partName is the name a part goes by: the name of its Content-Disposition, else its
// filename.
func partName(p *multipart.Part) string {
	_, params, err := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
	if err != nil {
		return ""
	}
	if n := params["name"]; n != "" {
		return n
	}
	return params["filename"]
}

// isInputName reports whether a part carries the digital object.
func isInputName(name string) bool { return name == "input" || name == "json" }

// uploadBody reads a request body for the multipart reader: at most max bytes (a TooLarge
// error past them), each read under a fresh deadline, so that a slow but moving upload of
// any size gets through and a stalled one is cut off.
type uploadBody struct {
	r       io.Reader
	rc      *http.ResponseController
	timeout time.Duration
	max, n  int64
}

func (u *uploadBody) Read(p []byte) (int, error) {
	if u.n > u.max {
		return 0, u.tooLarge()
	}
	if rem := u.max - u.n + 1; int64(len(p)) > rem {
		p = p[:rem] // one byte past the cap tells a body of exactly max bytes from a longer one
	}
	_ = u.rc.SetReadDeadline(time.Now().Add(u.timeout))
	n, err := u.r.Read(p)
	u.n += int64(n)
	if u.n > u.max {
		return 0, u.tooLarge()
	}
	if err != nil {
		_ = u.rc.SetReadDeadline(time.Time{}) // the body is read: the connection waits for the next request as usual
	}
	return n, err
}

func (u *uploadBody) tooLarge() error {
	return doip.Errorf(doip.KindTooLarge, "the upload is over %d bytes", u.max)
}

// multipartInput opens a multipart body and reads its first part, the digital object. The
// elements that follow are read by the returned stream.
func (a *API) multipartInput(w http.ResponseWriter, r *http.Request, boundary string) (json.RawMessage, *partElements, error) {
	max := int64(a.opts.Limits.MaxUpload)
	body := &uploadBody{r: r.Body, rc: http.NewResponseController(w), timeout: a.opts.ReadTimeout, max: max}
	mr := multipart.NewReader(body, boundary)
	p, err := mr.NextPart()
	if err != nil {
		w.Header().Set("Connection", "close")
		return nil, nil, partError(err, "reading the first part")
	}
	if name := partName(p); !isInputName(name) {
		w.Header().Set("Connection", "close")
		return nil, nil, doip.Errorf(doip.KindBadRequest, "the first part must be the digital object, named input (or json), not %q", name)
	}
	lim := int64(a.opts.Limits.MaxSegment)
	js, err := io.ReadAll(io.LimitReader(p, lim+1))
	switch {
	case err != nil:
		w.Header().Set("Connection", "close")
		return nil, nil, partError(err, "reading the digital object")
	case int64(len(js)) > lim:
		w.Header().Set("Connection", "close")
		return nil, nil, doip.Errorf(doip.KindTooLarge, "the digital object (part input) is over %d bytes", lim)
	case !json.Valid(js):
		return nil, nil, doip.Errorf(doip.KindBadRequest, "the digital object (part input) is not valid JSON")
	}
	return js, &partElements{mr: mr, w: w}, nil
}

// partError names what broke in a multipart body: the cap's own TooLarge error, else a bad
// request.
func partError(err error, doing string) error {
	var e *doip.Error
	if errors.As(err, &e) {
		return e
	}
	if errors.Is(err, io.EOF) {
		return doip.Errorf(doip.KindBadRequest, "%s: the multipart body ended without it", doing)
	}
	return doip.Errorf(doip.KindBadRequest, "%s: the multipart body is malformed: %v", doing, err)
}

// partElements is the [doip.ElementStream] of a multipart body: one element per part.
type partElements struct {
	mr   *multipart.Reader
	w    http.ResponseWriter
	done bool
	err  error
}

// Next returns the next part as an element; the multipart reader skips what the handler
// left of the previous one.
func (pe *partElements) Next() (*doip.ElementUpload, error) {
	if pe.done {
		return nil, io.EOF
	}
	if pe.err != nil {
		return nil, pe.err
	}
	p, err := pe.mr.NextPart()
	if errors.Is(err, io.EOF) {
		pe.done = true
		return nil, io.EOF
	}
	if err != nil {
		return nil, pe.fail(partError(err, "reading an element part"))
	}
	id := partName(p)
	switch {
	case id == "":
		return nil, pe.fail(doip.Errorf(doip.KindBadRequest, "an element part has no name: name each part by its element id"))
	case isInputName(id):
		return nil, pe.fail(doip.Errorf(doip.KindBadRequest, "the digital object (part %s) is given twice: it comes first, once", id))
	}
	mt, _, _ := mime.ParseMediaType(p.Header.Get("Content-Type"))
	return &doip.ElementUpload{ID: id, MediaType: mt, Size: -1, Body: &partBody{p: p, pe: pe, id: id}}, nil
}

func (pe *partElements) fail(err error) error {
	pe.err = err
	pe.w.Header().Set("Connection", "close")
	return err
}

// Close ends the stream. What is left unread stays unread: the HTTP server skips a little
// of it and otherwise closes the connection after the answer.
func (pe *partElements) Close() error { return pe.err }

// partBody is an element part's bytes; a broken body ends the stream with the error that
// names it.
type partBody struct {
	p  *multipart.Part
	pe *partElements
	id string
}

func (b *partBody) Read(p []byte) (int, error) {
	n, err := b.p.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = b.pe.fail(partError(err, "reading element "+b.id))
	}
	return n, err
}

// rawElement is the element stream of an update whose whole body is one element's bytes
// (attributes.element names it; Content-Type is its media type), capped at MaxUpload.
// curl's --data-binary sends application/x-www-form-urlencoded unless told otherwise: that
// type says nothing of the bytes.
func (a *API) rawElement(w http.ResponseWriter, r *http.Request, id string) (doip.ElementStream, error) {
	max := int64(a.opts.Limits.MaxUpload)
	if r.ContentLength > max {
		w.Header().Set("Connection", "close")
		return nil, doip.Errorf(doip.KindTooLarge, "the upload is over %d bytes", max)
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		mt = ""
	}
	size := r.ContentLength // -1 when unknown
	body := &uploadBody{r: r.Body, rc: http.NewResponseController(w), timeout: a.opts.ReadTimeout, max: max}
	return &oneElement{up: &doip.ElementUpload{ID: id, MediaType: mt, Size: size, Body: body}}, nil
}

// oneElement yields one element, then io.EOF.
type oneElement struct {
	up   *doip.ElementUpload
	done bool
}

func (o *oneElement) Next() (*doip.ElementUpload, error) {
	if o.done {
		return nil, io.EOF
	}
	o.done = true
	return o.up, nil
}

func (o *oneElement) Close() error { return nil }
