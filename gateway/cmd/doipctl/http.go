package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// doHTTP sends c over DOIP for HTTP (--http URL): Cordra's /doip query form, GET for hello,
// list operations and retrieve, POST with the input as JSON for the rest; purge, which
// standard DOIP lacks, goes to POST /doip/purge/{id}. It prints the answer as the standard
// framing does.
func (a *app) doHTTP(ctx context.Context, c call) error {
	base, err := a.httpBase()
	if err != nil {
		return err
	}
	if c.req.Op == doip.OpInvoke && c.output != "" {
		return usagef("invoke -o DIR writes derived components with the binary envelope only: leave out --http, or -o (the result lists them; retrieve each with --component)")
	}
	method, target := http.MethodGet, *base
	var body io.Reader
	switch {
	case c.req.Op == doip.OpPurge:
		method = http.MethodPost
		target.Path += "/doip/purge/" + url.PathEscape(c.req.ObjectID)
	case c.std == nil:
		return usagef("%s has no DOIP form for HTTP: leave out --http", c.req.Op)
	default:
		target.Path += "/doip"
		q := url.Values{"operationId": {c.std.OperationID}, "targetId": {c.std.TargetID}}
		if len(c.std.Attributes) > 0 {
			js, err := json.Marshal(c.std.Attributes)
			if err != nil {
				return err
			}
			q.Set("attributes", string(js))
		}
		target.RawQuery = q.Encode()
		if c.req.Op != doip.OpHello && c.req.Op != doip.OpListOps && c.req.Op != doip.OpRetrieve {
			method = http.MethodPost
			if c.std.Input != nil {
				js, err := json.Marshal(c.std.Input)
				if err != nil {
					return err
				}
				body = strings.NewReader(string(js))
			}
		}
	}
	ct := ""
	if body != nil {
		ct = "application/json"
	}
	resp, o, err := a.httpDo(ctx, base, method, target.String(), ct, body, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if c.req.Op == doip.OpRetrieve && c.component != "" {
		return a.httpBytes(resp, c, o)
	}
	js, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return &connError{addr: base.Host, err: err}
	}
	return printJSON(a.stdout, json.RawMessage(js))
}

// httpBase parses --http.
func (a *app) httpBase() (*url.URL, error) {
	base, err := url.Parse(strings.TrimSuffix(a.opts.httpURL, "/"))
	if err != nil || (base.Scheme != "https" && base.Scheme != "http") || base.Host == "" {
		return nil, usagef("--http %q is not a base URL such as https://gw.example.org:3569", a.opts.httpURL)
	}
	return base, nil
}

// httpDo sends one request to the gateway at base, with a body of Content-Type ct (none
// when ""), and returns the answer, or the DOIP error of an error answer. It also returns
// the options the connection was made with.
func (a *app) httpDo(ctx context.Context, base *url.URL, method, target, ct string, body io.Reader, header http.Header) (*http.Response, options, error) {
	o := a.opts
	o.useTLS = base.Scheme == "https"
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		return nil, o, err
	}
	if tlsCfg != nil {
		tlsCfg.ServerName = base.Hostname()
	}
	tr := &http.Transport{TLSClientConfig: tlsCfg, ResponseHeaderTimeout: o.timeout, ForceAttemptHTTP2: true, Proxy: http.ProxyFromEnvironment}
	req, err := http.NewRequestWithContext(ctx, method, target, body)
	if err != nil {
		return nil, o, err
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if ct != "" {
		req.Header.Set("Content-Type", ct)
	}
	resp, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		tr.CloseIdleConnections()
		return nil, o, &connError{addr: base.Host, err: err}
	}
	resp.Body = closeIdle{resp.Body, tr}
	if resp.StatusCode >= 400 {
		defer resp.Body.Close()
		return nil, o, httpError(resp)
	}
	return resp, o, nil
}

// closeIdle is an answer's body that closes the transport's connections with it.
type closeIdle struct {
	io.ReadCloser
	tr *http.Transport
}

func (c closeIdle) Close() error {
	err := c.ReadCloser.Close()
	c.tr.CloseIdleConnections()
	return err
}

// httpBytes writes a component's bytes to -o FILE (with a progress bar on a terminal) or
// stdout.
func (a *app) httpBytes(resp *http.Response, c call, o options) error {
	if !c.toFile() {
		_, err := io.Copy(a.stdoutFor(c, c.component, resp.Header.Get("Content-Type")), resp.Body)
		return err
	}
	var out outputFiles
	f, err := out.create(c.output)
	if err != nil {
		return err
	}
	var w io.Writer = f
	var bar *progressBar
	if !o.quiet && a.isTerminal(a.stderr) {
		bar = &progressBar{w: a.stderr, start: time.Now()}
		w = &sizedProgress{w: f, bar: bar, total: resp.ContentLength}
	}
	n, err := io.Copy(w, resp.Body)
	if err == nil && resp.ContentLength >= 0 && n != resp.ContentLength {
		err = fmt.Errorf("the answer ended after %d of %d bytes", n, resp.ContentLength)
	}
	if bar != nil {
		bar.done()
	}
	if ferr := out.finish(err); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	mt, _, _ := mime.ParseMediaType(resp.Header.Get("Content-Type"))
	return printJSON(a.stdout, map[string]any{"componentId": c.component, "mediaType": mt, "size": n, "file": c.output})
}

// sizedProgress reports bytes written to a progress bar against a known total.
type sizedProgress struct {
	w     io.Writer
	bar   *progressBar
	done  int64
	total int64
}

func (p *sizedProgress) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.bar.update(p.done, max(p.total, 0))
	return n, err
}

// httpError reads an error answer ({"status","message"}, or MaRDI's {"detail"}) as the DOIP
// error it carries.
func httpError(resp *http.Response) error {
	var e struct {
		Status  string `json:"status"`
		Message string `json:"message"`
		Detail  string `json:"detail"`
	}
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	_ = json.Unmarshal(b, &e)
	msg := e.Message
	if msg == "" {
		msg = e.Detail
	}
	if msg == "" {
		msg = strings.TrimSpace(resp.Status)
	}
	status := resp.Header.Get("Doip-Status")
	if status == "" {
		status = e.Status
	}
	kind := doip.KindInternal
	switch {
	case status == "0.DOIP/Status.101" || resp.StatusCode == http.StatusBadRequest && status == "":
		kind = doip.KindBadRequest
	case status == "0.DOIP/Status.102" || resp.StatusCode == http.StatusUnauthorized:
		kind = doip.KindUnauthenticated
	case status == "0.DOIP/Status.104" || resp.StatusCode == http.StatusNotFound:
		kind = doip.KindNotFound
	case status == "0.DOIP/Status.200":
		kind = doip.KindUnsupported
	case status == "0.DOIP/Status.103" || resp.StatusCode == http.StatusForbidden:
		kind = doip.KindForbidden
	case status == "0.DOIP/Status.105" || resp.StatusCode == http.StatusConflict:
		kind = doip.KindConflict
	case resp.StatusCode == http.StatusRequestEntityTooLarge:
		kind = doip.KindTooLarge
	case resp.StatusCode == http.StatusServiceUnavailable:
		kind = doip.KindUnavailable
	}
	return &doip.Error{Kind: kind, Message: msg}
}
