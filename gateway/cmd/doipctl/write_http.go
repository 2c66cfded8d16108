package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
)

// writeHTTP sends a create or an update over DOIP for HTTP (--http URL): a POST to /doip
// whose multipart/form-data body is the digital object (part input), then one part per file,
// named by its element id, streamed from the file as the gateway takes it.
func (a *app) writeHTTP(ctx context.Context, w writeCall, open func(string) (*os.File, error), progress func(done, total int64)) error {
	base, err := a.httpBase()
	if err != nil {
		return err
	}
	first, do := w.standard()
	q := url.Values{"operationId": {first["operationId"].(string)}, "targetId": {first["targetId"].(string)}}
	if attrs, ok := first["attributes"]; ok {
		js, err := json.Marshal(attrs)
		if err != nil {
			return err
		}
		q.Set("attributes", string(js))
	}
	object, err := json.Marshal(do)
	if err != nil {
		return err
	}
	files := make([]*os.File, len(w.files))
	for i, f := range w.files {
		if files[i], err = open(f.path); err != nil {
			return err
		}
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() { pw.CloseWithError(writeParts(mw, object, w.files, files, progress)) }()
	defer pr.Close()
	header := http.Header{}
	switch {
	case w.creds.user != "":
		header.Set("Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(w.creds.user+":"+w.creds.password)))
	case w.creds.token != "":
		header.Set("Authorization", "Bearer "+w.creds.token)
	}
	target := *base
	target.Path += "/doip"
	target.RawQuery = q.Encode()
	resp, _, err := a.httpDo(ctx, base, http.MethodPost, target.String(), mw.FormDataContentType(), pr, header)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	js, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &connError{addr: base.Host, err: err}
	}
	return printJSON(a.stdout, json.RawMessage(js))
}

// writeParts writes the multipart body of a write: the object, then each file.
func writeParts(mw *multipart.Writer, object []byte, args []fileArg, files []*os.File, progress func(done, total int64)) error {
	pw, err := mw.CreatePart(textproto.MIMEHeader{
		"Content-Disposition": {`form-data; name="input"`},
		"Content-Type":        {"application/json"},
	})
	if err != nil {
		return err
	}
	if _, err := pw.Write(object); err != nil {
		return err
	}
	var done int64
	buf := make([]byte, 256<<10)
	for i, f := range args {
		pw, err := mw.CreatePart(textproto.MIMEHeader{
			"Content-Disposition": {mime.FormatMediaType("form-data", map[string]string{"name": f.id, "filename": filepath.Base(f.path)})},
			"Content-Type":        {f.mediaType},
		})
		if err != nil {
			return err
		}
		for {
			n, rerr := files[i].Read(buf)
			if n > 0 {
				if _, err := pw.Write(buf[:n]); err != nil {
					return err
				}
				done += int64(n)
				progress(done, 0)
			}
			if rerr == io.EOF {
				break
			}
			if rerr != nil {
				return rerr
			}
		}
	}
	return mw.Close()
}
