package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// credentials are what the write commands authenticate with.
type credentials struct {
	user, password, token string
}

// addCredentialFlags adds --user, --password and --token, defaulting to DOIP_USER,
// DOIP_PASSWORD and DOIP_TOKEN (better than a flag, which other users of the machine can
// see in the process list).
func (a *app) addCredentialFlags(cmd *cobra.Command, c *credentials) {
	f := cmd.Flags()
	f.StringVar(&c.user, "user", a.getenv("DOIP_USER"), "user name, with --password (env DOIP_USER)")
	f.StringVar(&c.password, "password", a.getenv("DOIP_PASSWORD"), "password of --user (env DOIP_PASSWORD)")
	f.StringVar(&c.token, "token", a.getenv("DOIP_TOKEN"), "bearer token or OIDC access token (env DOIP_TOKEN)")
}

// meta adds the credentials to a binary request's metadata.
func (c credentials) meta(m map[string]any) {
	if c.user != "" {
		m["username"], m["password"] = c.user, c.password
	} else if c.token != "" {
		m["token"] = c.token
	}
}

// std is the credentials as standard DOIP's "authentication".
func (c credentials) std() map[string]string {
	switch {
	case c.user != "":
		return map[string]string{"username": c.user, "password": c.password}
	case c.token != "":
		return map[string]string{"token": c.token}
	}
	return nil
}

// fileArg is one --file ID=PATH (or PATH, whose base name is the id).
type fileArg struct {
	id, path, mediaType string
	size                int64
}

func parseFiles(specs []string) ([]fileArg, error) {
	var out []fileArg
	for _, s := range specs {
		id, path, ok := strings.Cut(s, "=")
		if !ok {
			id, path = filepath.Base(s), s
		}
		fi, err := os.Stat(path)
		if err != nil {
			return nil, fmt.Errorf("--file %s: %w", s, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, fmt.Errorf("--file %s: not a regular file", s)
		}
		mt, _, _ := strings.Cut(mime.TypeByExtension(filepath.Ext(path)), ";")
		out = append(out, fileArg{id: id, path: path, mediaType: cmp.Or(mt, "application/octet-stream"), size: fi.Size()})
	}
	return out, nil
}

// writeCall is a create or an update as a command built it.
type writeCall struct {
	op         doip.Op
	objectID   string
	objType    string
	attributes json.RawMessage // a JSON object, or nil
	files      []fileArg
	remove     []string
	expected   string
	creds      credentials
}

// write sends a create or an update, with a progress bar on a terminal, and prints the
// answer.
func (a *app) write(ctx context.Context, w writeCall) error {
	var total int64
	for _, f := range w.files {
		total += f.size
	}
	var bar *progressBar
	progress := func(done, _ int64) {}
	if !a.opts.quiet && a.isTerminal(a.stderr) && total > 0 {
		bar = &progressBar{w: a.stderr, start: time.Now()}
		progress = func(done, _ int64) { bar.update(done, total) }
	}
	defer func() {
		if bar != nil {
			bar.done()
		}
	}()
	var opened []*os.File
	defer func() {
		for _, f := range opened {
			_ = f.Close()
		}
	}()
	open := func(p string) (*os.File, error) {
		f, err := os.Open(p)
		if err == nil {
			opened = append(opened, f)
		}
		return f, err
	}
	if a.opts.httpURL != "" {
		return a.writeHTTP(ctx, w, open, progress)
	}
	if a.opts.standard {
		return a.writeStandard(ctx, w, open, progress)
	}
	meta := map[string]any{"operation": w.op.String()}
	if w.attributes != nil {
		meta["attributes"] = w.attributes
	}
	if w.objType != "" {
		meta["type"] = w.objType
	}
	if len(w.remove) > 0 {
		meta["elementsToDelete"] = w.remove
	}
	if w.expected != "" {
		meta["expectedVersion"] = w.expected
	}
	w.creds.meta(meta)
	var ups []client.Upload
	for _, f := range w.files {
		r, err := open(f.path)
		if err != nil {
			return err
		}
		ups = append(ups, client.Upload{ID: f.id, MediaType: f.mediaType, Size: f.size, Body: r})
	}
	conn, addr, err := a.dialEnvelope(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := conn.Write(ctx, w.op, w.objectID, meta, ups, progress)
	if err != nil {
		return &connError{addr: addr, err: err}
	}
	return printJSON(a.stdout, resp.Metadata)
}

// standard returns a create or an update in standard DOIP: the first segment's
// operationId, targetId and attributes (without credentials), and the digital object, whose
// elements are the files.
func (w writeCall) standard() (first, do map[string]any) {
	first = map[string]any{"targetId": cmp.Or(w.objectID, "service"), "operationId": "0.DOIP/Op.Create"}
	attrs := map[string]any{}
	if w.op == doip.OpUpdate {
		first["operationId"] = "0.DOIP/Op.Update"
		if len(w.remove) > 0 {
			attrs["elementsToDelete"] = w.remove
		}
	}
	if w.expected != "" {
		attrs["expectedVersion"] = w.expected
	}
	if len(attrs) > 0 {
		first["attributes"] = attrs
	}
	do = map[string]any{}
	if w.op == doip.OpCreate && w.objectID != "" {
		do["id"] = w.objectID
	}
	if w.objType != "" {
		do["type"] = w.objType
	}
	if w.attributes != nil {
		do["attributes"] = w.attributes
	}
	var descs []map[string]any
	for _, f := range w.files {
		descs = append(descs, map[string]any{"id": f.id, "type": f.mediaType, "attributes": map[string]string{"filename": filepath.Base(f.path)}})
	}
	if len(descs) > 0 {
		do["elements"] = descs
	}
	return first, do
}

// writeStandard sends a create or an update in standard DOIP: the digital object, then each
// file as an element.
func (a *app) writeStandard(ctx context.Context, w writeCall, open func(string) (*os.File, error), progress func(done, total int64)) error {
	first, do := w.standard()
	if auth := w.creds.std(); auth != nil {
		first["authentication"] = auth
	}
	var els []client.StdElement
	for _, f := range w.files {
		r, err := open(f.path)
		if err != nil {
			return err
		}
		els = append(els, client.StdElement{ID: f.id, Body: r})
	}
	conn, addr, err := a.dialStandard(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := conn.DoWrite(ctx, first, do, els, func(done int64) { progress(done, 0) })
	if err != nil {
		return &connError{addr: addr, standard: true, err: err}
	}
	return printJSON(a.stdout, resp.Output)
}

// dialEnvelope connects to the binary port.
func (a *app) dialEnvelope(ctx context.Context) (*client.Conn, string, error) {
	tlsCfg, err := a.opts.tlsConfig()
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort(a.opts.host, a.opts.port)
	dctx, cancel := context.WithTimeout(ctx, a.opts.timeout)
	defer cancel()
	conn, err := client.Dial(dctx, addr, tlsCfg)
	if err != nil {
		return nil, addr, &connError{addr: addr, err: err}
	}
	conn.Timeout = a.opts.timeout
	return conn, addr, nil
}

// dialStandard connects to the standard port over TLS.
func (a *app) dialStandard(ctx context.Context) (*client.StdConn, string, error) {
	port := a.opts.port
	if !a.opts.portSet {
		port = "3568"
	}
	o := a.opts
	o.useTLS = true
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort(o.host, port)
	dctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	conn, err := client.DialStandard(dctx, addr, tlsCfg)
	if err != nil {
		return nil, addr, &connError{addr: addr, standard: true, err: err}
	}
	conn.Timeout = o.timeout
	return conn, addr, nil
}

// jsonObject checks a --attributes or --content value.
func jsonObject(flag, v string) (json.RawMessage, error) {
	if v == "" {
		return nil, nil
	}
	if strings.HasPrefix(v, "@") {
		b, err := os.ReadFile(v[1:])
		if err != nil {
			return nil, fmt.Errorf("%s: %w", flag, err)
		}
		v = string(b)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal([]byte(v), &m); err != nil {
		return nil, usagef("%s must be a JSON object (or @FILE holding one): %v", flag, err)
	}
	return json.RawMessage(v), nil
}
