package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// call is one request as a command built it: its binary envelope form, its standard DOIP
// form (nil when it has none), and where its bytes go.
type call struct {
	req       client.Request
	std       *client.StdRequest
	component string // retrieve --component
	output    string // -o: a file for retrieve, a folder for invoke
}

// toFile reports whether a retrieve writes component bytes to a file (-o FILE, not -o -).
func (c *call) toFile() bool {
	return c.req.Op == doip.OpRetrieve && c.component != "" && c.output != "" && c.output != "-"
}

// checkOutput checks -o before anything is sent, so that a workflow does not run only to
// find that its results have nowhere to go.
func (c *call) checkOutput() error {
	if c.output == "" {
		return nil
	}
	switch c.req.Op {
	case doip.OpRetrieve:
		if c.component == "" {
			return usagef("-o writes a component's bytes: add --component ID (the record is printed on stdout; redirect it with > FILE)")
		}
		if c.output == "-" {
			return nil
		}
		if fi, err := os.Stat(c.output); err == nil && fi.IsDir() {
			return usagef("-o %s is a folder: give a file name, such as -o %s", c.output, filepath.Join(c.output, filepath.Base(c.component)))
		}
		return checkFolder(filepath.Dir(c.output), "-o "+c.output)
	case doip.OpInvoke:
		return checkFolder(c.output, "-o "+c.output)
	}
	return nil
}

// checkFolder reports, with what to do, when dir is not an existing folder.
func checkFolder(dir, what string) error {
	fi, err := os.Stat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: folder %s does not exist: create it first (mkdir -p %s); nothing was sent", what, dir, dir)
	case err != nil:
		return fmt.Errorf("%s: %w", what, err)
	case !fi.IsDir():
		return fmt.Errorf("%s: %s is a file, not a folder; nothing was sent", what, dir)
	}
	return nil
}

// do sends c and prints the answer.
func (a *app) do(ctx context.Context, c call) error {
	if err := c.checkOutput(); err != nil {
		return err
	}
	if a.opts.httpURL != "" {
		return a.doHTTP(ctx, c)
	}
	if a.opts.standard {
		return a.doStandard(ctx, c)
	}
	conn, addr, err := a.dialEnvelope(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	defer context.AfterFunc(ctx, func() { _ = conn.Close() })()

	sink, finish := a.sink(c)
	resp, err := conn.Do(context.Background(), c.req, sink)
	if ferr := finish(err); err == nil {
		err = ferr
	}
	if err != nil {
		return &connError{addr: addr, err: err}
	}
	return a.printResponse(resp, c)
}

// sink decides where component bytes go: the -o file (written to a temporary name and
// renamed when complete, so a failed download leaves no partial file), a folder for
// invoke, or stdout. finish completes or removes what was written.
func (a *app) sink(c call) (*client.Sink, func(error) error) {
	var out outputFiles
	s := &client.Sink{}
	s.Open = func(id, mediaType string, _ int64) (io.Writer, error) {
		switch {
		case c.toFile():
			return out.create(c.output)
		case c.req.Op == doip.OpInvoke && c.output != "":
			return out.create(filepath.Join(c.output, filepath.Base(strings.ReplaceAll(id, ":", "_"))))
		case c.req.Op == doip.OpRetrieve:
			return a.stdoutFor(c, id, mediaType), nil
		default:
			return nil, nil // kept in memory, printed in the JSON summary
		}
	}
	var bar *progressBar
	if !a.opts.quiet && a.isTerminal(a.stderr) && c.toFile() {
		bar = &progressBar{w: a.stderr, start: time.Now()}
		s.Progress = bar.update
	}
	return s, func(err error) error {
		if bar != nil {
			bar.done()
		}
		return out.finish(err)
	}
}

func (a *app) printResponse(resp *client.Response, c call) error {
	if c.req.Op == doip.OpRetrieve && c.component != "" {
		if c.toFile() && len(resp.Components) == 1 {
			comp := resp.Components[0]
			return printJSON(a.stdout, map[string]any{"componentId": comp.ID, "mediaType": comp.MediaType, "size": comp.Size, "file": c.output})
		}
		return nil // the bytes went to stdout
	}
	if c.req.Op == doip.OpInvoke {
		var result any = json.RawMessage(resp.Workflow)
		if len(resp.Workflow) == 0 {
			result = json.RawMessage(resp.Metadata)
		}
		derived := []map[string]any{}
		for _, comp := range resp.Components {
			d := map[string]any{"componentId": comp.ID, "mediaType": comp.MediaType, "size": comp.Size}
			if comp.Content != nil && json.Valid(comp.Content) {
				d["content"] = json.RawMessage(comp.Content)
			}
			derived = append(derived, d)
		}
		return printJSON(a.stdout, map[string]any{"result": result, "derivedComponents": derived})
	}
	return printJSON(a.stdout, resp.Metadata)
}
