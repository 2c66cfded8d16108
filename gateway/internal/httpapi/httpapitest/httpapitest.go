// Package httpapitest holds what the tests of the HTTP face share: one request with Go's
// client, its answer read whole; a multipart body, sent and read.
package httpapitest

import (
	"errors"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"strings"
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

// Part is one part of a multipart/form-data body: its form name, its filename and media type
// (none when ""), and its bytes.
type Part struct {
	Name, Filename, MediaType string
	Body                      io.Reader
}

// Multipart streams parts as multipart/form-data through a pipe, as curl -F sends them, and
// returns the body and its Content-Type. A part whose body fails ends the body with its
// error.
func Multipart(parts ...Part) (io.Reader, string) {
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		for _, p := range parts {
			h := textproto.MIMEHeader{}
			params := map[string]string{"name": p.Name}
			if p.Filename != "" {
				params["filename"] = p.Filename
			}
			h.Set("Content-Disposition", mime.FormatMediaType("form-data", params))
			if p.MediaType != "" {
				h.Set("Content-Type", p.MediaType)
			}
			w, err := mw.CreatePart(h)
			if err == nil {
				_, err = io.Copy(w, p.Body)
			}
			if err != nil {
				pw.CloseWithError(err)
				return
			}
		}
		pw.CloseWithError(mw.Close())
	}()
	return pr, mw.FormDataContentType()
}

// Got is one part of a multipart answer, read whole.
type Got struct {
	Name, Filename, MediaType string
	Body                      []byte
}

// ReadMultipart reads a multipart body of the given Content-Type to its end, failing t when it
// is not one or is broken.
func ReadMultipart(t testing.TB, contentType string, body io.Reader) []Got {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil || !strings.HasPrefix(mt, "multipart/") {
		t.Fatalf("Content-Type %q is not multipart", contentType)
	}
	var got []Got
	mr := multipart.NewReader(body, params["boundary"])
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return got
		}
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(p)
		if err != nil {
			t.Fatal(err)
		}
		_, dp, _ := mime.ParseMediaType(p.Header.Get("Content-Disposition"))
		got = append(got, Got{Name: dp["name"], Filename: dp["filename"], MediaType: p.Header.Get("Content-Type"), Body: b})
	}
}
