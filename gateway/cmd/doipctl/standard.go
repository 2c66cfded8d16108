package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// runStandard runs a command in standard DOIP v2.0 (text segments over TLS).
func runStandard(ctx context.Context, cmd string, pos []string, o *options, stdout, stderr io.Writer) int {
	req, err := standardRequest(cmd, pos, o)
	if err != nil {
		fmt.Fprintln(stderr, "doipctl:", err)
		return 1
	}
	port := o.port
	if !o.portSet {
		port = "3568"
	}
	o.useTLS = true
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		fmt.Fprintln(stderr, "doipctl:", err)
		return 1
	}
	dctx, cancel := context.WithTimeout(ctx, o.timeout)
	conn, err := client.DialStandard(dctx, net.JoinHostPort(o.host, port), tlsCfg)
	cancel()
	if err != nil {
		fmt.Fprintln(stderr, "doipctl:", err)
		if !o.insecure && o.caFile == "" {
			fmt.Fprintln(stderr, "doipctl: (a gateway with a self-signed certificate needs --insecure or --ca FILE)")
		}
		return 1
	}
	defer conn.Close()
	conn.Timeout = o.timeout
	go func() { <-ctx.Done(); _ = conn.Close() }()

	download := cmd == "retrieve" && o.component != "" && o.output != "" && o.output != "-"
	var (
		tmp    *os.File
		bar    *progressBar
		toFile = func(int) (io.Writer, error) { return nil, nil }
	)
	if cmd == "retrieve" && o.component != "" {
		toFile = func(int) (io.Writer, error) {
			if !download {
				return stdout, nil
			}
			f, err := os.CreateTemp(filepath.Dir(o.output), "."+filepath.Base(o.output)+".part-*")
			if err != nil {
				return nil, err
			}
			tmp = f
			if !o.quiet && isTerminal(stderr) {
				bar = &progressBar{w: stderr, start: time.Now()}
				return &progressWriter{w: f, bar: bar}, nil
			}
			return f, nil
		}
	}
	resp, err := conn.Do(context.Background(), req, toFile)
	if bar != nil {
		bar.done()
	}
	if tmp != nil {
		cerr := tmp.Close()
		if err == nil && cerr == nil {
			err = os.Rename(tmp.Name(), o.output)
		} else {
			_ = os.Remove(tmp.Name())
		}
	}
	var de *doip.Error
	if errors.As(err, &de) {
		fmt.Fprintf(stderr, "doipctl: %s: %s\n", de.Kind, de.Message)
		return 2
	}
	if err != nil {
		fmt.Fprintln(stderr, "doipctl:", err)
		return 1
	}
	if cmd == "retrieve" && o.component != "" && !download {
		return 0
	}
	if err := printStandard(stdout, resp, download, o); err != nil {
		fmt.Fprintln(stderr, "doipctl:", err)
		return 1
	}
	return 0
}

func standardRequest(cmd string, pos []string, o *options) (client.StdRequest, error) {
	target := func() (string, error) {
		if len(pos) != 1 {
			return "", fmt.Errorf("%s takes one object id, got %q", cmd, pos)
		}
		return pos[0], nil
	}
	switch cmd {
	case "hello":
		return client.StdRequest{TargetID: o.target, OperationID: "0.DOIP/Op.Hello"}, nil
	case "list-ops", "list-operations":
		t := o.target
		if len(pos) == 1 {
			t = pos[0]
		}
		return client.StdRequest{TargetID: t, OperationID: "0.DOIP/Op.ListOperations"}, nil
	case "retrieve":
		t, err := target()
		r := client.StdRequest{TargetID: t, OperationID: "0.DOIP/Op.Retrieve"}
		if o.component != "" {
			r.Attributes = map[string]any{"element": o.component}
		}
		return r, err
	case "invoke":
		t, err := target()
		if err != nil {
			return client.StdRequest{}, err
		}
		if o.workflow == "" {
			return client.StdRequest{}, errors.New("invoke needs --workflow NAME")
		}
		r := client.StdRequest{TargetID: t, OperationID: o.workflow}
		if o.params != "" {
			var p map[string]any
			if err := json.Unmarshal([]byte(o.params), &p); err != nil {
				return r, fmt.Errorf("--params must be a JSON object: %v", err)
			}
			r.Input = p
		}
		return r, nil
	}
	return client.StdRequest{}, fmt.Errorf("command %q has no standard DOIP form (try hello, list-ops, retrieve, invoke)", cmd)
}

func printStandard(w io.Writer, resp *client.StdResponse, download bool, o *options) error {
	switch {
	case download:
		return printJSON(w, map[string]any{"file": o.output, "attributes": resp.Attributes})
	case resp.Output != nil:
		return printJSON(w, resp.Output)
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

// progressWriter reports bytes written to a progress bar (total unknown in this framing).
type progressWriter struct {
	w    io.Writer
	bar  *progressBar
	done int64
}

func (p *progressWriter) Write(b []byte) (int, error) {
	n, err := p.w.Write(b)
	p.done += int64(n)
	p.bar.update(p.done, 0)
	return n, err
}
