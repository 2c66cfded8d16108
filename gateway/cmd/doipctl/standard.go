package main

import (
	"context"
	"io"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// doStandard sends c in standard DOIP v2.0 (text segments over TLS, port 3568 unless
// --port) and prints the answer.
func (a *app) doStandard(ctx context.Context, c call) error {
	if c.std == nil {
		return usagef("%s has no standard DOIP form: leave out --standard", c.req.Op)
	}
	if c.req.Op == doip.OpInvoke && c.output != "" {
		return usagef("invoke -o DIR writes derived components with the binary envelope only: leave out --standard, or -o")
	}
	conn, addr, err := a.dialStandard(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	o := a.opts
	defer context.AfterFunc(ctx, func() { _ = conn.Close() })()

	var (
		out  outputFiles
		bar  *progressBar
		sink func(int) (io.Writer, error)
	)
	if c.req.Op == doip.OpRetrieve && c.component != "" {
		sink = func(int) (io.Writer, error) {
			if !c.toFile() {
				return a.stdoutFor(c, c.component, ""), nil
			}
			f, err := out.create(c.output)
			if err != nil {
				return nil, err
			}
			if !o.quiet && a.isTerminal(a.stderr) {
				bar = &progressBar{w: a.stderr, start: time.Now()}
				return &progressWriter{w: f, bar: bar}, nil
			}
			return f, nil
		}
	}
	resp, err := conn.Do(context.Background(), *c.std, sink)
	if bar != nil {
		bar.done()
	}
	if ferr := out.finish(err); err == nil {
		err = ferr
	}
	if err != nil {
		return &connError{addr: addr, standard: true, answered: resp != nil, err: err}
	}
	if c.req.Op == doip.OpRetrieve && c.component != "" && !c.toFile() {
		return nil // the bytes went to stdout
	}
	return printStandard(a.stdout, resp, c)
}

func printStandard(w io.Writer, resp *client.StdResponse, c call) error {
	switch {
	case c.toFile():
		return printJSON(w, map[string]any{"file": c.output, "attributes": resp.Attributes})
	case resp.Output != nil:
		return printJSON(w, resp.Output)
	case c.req.Op == doip.OpSearch && len(resp.Segments) == 1:
		return printJSON(w, resp.Segments[0]) // {"size":N,"results":[…]}
	default:
		out := map[string]any{"status": resp.Status}
		if len(resp.Attributes) > 0 {
			out["attributes"] = resp.Attributes
		}
		if len(resp.Segments) > 0 {
			out["segments"] = resp.Segments
		}
		return printJSON(w, out)
	}
}
