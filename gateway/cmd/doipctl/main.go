// Command doipctl is a DOIP client for people and scripts. It speaks the binary envelope to
// a gateway's port 3567 (or any port given):
//
//	doipctl hello
//	doipctl list-ops [ID]
//	doipctl retrieve Q123                               # the record, as JSON
//	doipctl retrieve Q123 --component main-pdf -o paper.pdf
//	doipctl invoke Q123 --workflow equation_extraction --params '{"pages":[1]}'
//	doipctl purge Q123
//
// Metadata is printed as indented JSON on stdout; component bytes go to -o FILE, or to
// stdout. A DOIP error prints its kind and message on stderr and exits with status 2;
// usage and connection problems exit with status 1.
package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

const usageText = `usage: doipctl [FLAGS] COMMAND [ARGS] [FLAGS]

commands:
  hello                      say hello: server, version, operations, workflows
  list-ops [ID]              list the operations (of the service, or of one object)
  retrieve ID                print an object's FDO record
  retrieve ID --component C  download one component (-o FILE, else stdout)
  invoke ID --workflow W     run a workflow (--params JSON); derived components with -o DIR
  purge ID                   drop the gateway's cached record of an object

flags (before or after the command):
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

type options struct {
	host, port        string
	useTLS, insecure  bool
	caFile            string
	timeout           time.Duration
	component, output string
	workflow, params  string
	quiet             bool
	standard          bool   // speak standard DOIP v2.0
	portSet           bool   // --port was given
	target            string // the service id for hello and service-level list-ops
}

func newFlags(stderr io.Writer, o *options) *flag.FlagSet {
	fs := flag.NewFlagSet("doipctl", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.host, "host", envOr("DOIP_HOST", "127.0.0.1"), "gateway host (env DOIP_HOST)")
	fs.StringVar(&o.port, "port", envOr("DOIP_PORT", "3567"), "gateway binary port (env DOIP_PORT)")
	fs.BoolVar(&o.useTLS, "tls", false, "connect with TLS")
	fs.BoolVar(&o.insecure, "insecure", false, "with --tls: accept any certificate (self-signed)")
	fs.StringVar(&o.caFile, "ca", "", "with --tls: trust this CA certificate file (PEM)")
	fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "deadline per request, refreshed while bytes flow")
	fs.StringVar(&o.component, "component", "", "retrieve: the component id (e.g. main-pdf)")
	fs.StringVar(&o.output, "o", "", "retrieve: write the bytes to this file; invoke: write derived components into this folder")
	fs.StringVar(&o.workflow, "workflow", "", "invoke: the workflow name")
	fs.StringVar(&o.params, "params", "", "invoke: the params as a JSON object")
	fs.BoolVar(&o.quiet, "q", false, "no progress bar")
	fs.BoolVar(&o.standard, "standard", false, "speak standard DOIP v2.0 (text segments over TLS; port 3568 unless --port): works with other DOIP servers too")
	fs.StringVar(&o.target, "service", "service", "with --standard: the service id that hello and service-level list-ops target")
	fs.Usage = func() {
		fmt.Fprint(stderr, usageText)
		fs.PrintDefaults()
	}
	return fs
}

func envOr(k, def string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return def
}

// parse parses flags and positional arguments in any order.
func parse(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	var o options
	fs := newFlags(stderr, &o)
	if len(args) == 0 {
		fs.Usage()
		return 1
	}
	pos, err := parse(fs, args)
	if err != nil {
		return 1
	}
	if len(pos) == 0 {
		fs.Usage()
		return 1
	}
	cmd, pos := pos[0], pos[1:]
	if cmd == "help" || cmd == "-h" || cmd == "--help" {
		fs.Usage()
		return 0
	}
	fs.Visit(func(f *flag.Flag) { o.portSet = o.portSet || f.Name == "port" })
	if o.standard {
		return runStandard(ctx, cmd, pos, &o, stdout, stderr)
	}
	req, err := buildRequest(cmd, pos, &o)
	if err != nil {
		fmt.Fprintln(stderr, "doipctl:", err)
		return 1
	}
	tlsCfg, err := o.tlsConfig()
	if err != nil {
		fmt.Fprintln(stderr, "doipctl:", err)
		return 1
	}
	dctx, cancel := context.WithTimeout(ctx, o.timeout)
	conn, err := client.Dial(dctx, net.JoinHostPort(o.host, o.port), tlsCfg)
	cancel()
	if err != nil {
		fmt.Fprintln(stderr, "doipctl:", err)
		return 1
	}
	defer conn.Close()
	conn.Timeout = o.timeout
	go func() { <-ctx.Done(); _ = conn.Close() }()

	sink, finish := o.sink(req, stdout, stderr)
	resp, err := conn.Do(context.Background(), req, sink)
	if ferr := finish(err); err == nil {
		err = ferr
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
	if err := printResponse(stdout, resp, req, &o); err != nil {
		fmt.Fprintln(stderr, "doipctl:", err)
		return 1
	}
	return 0
}

func buildRequest(cmd string, pos []string, o *options) (client.Request, error) {
	need := func(n int) error {
		if len(pos) != n {
			return fmt.Errorf("%s takes %d argument(s), got %d: %q", cmd, n, len(pos), pos)
		}
		return nil
	}
	switch cmd {
	case "hello":
		return client.Request{Op: doip.OpHello}, need(0)
	case "list-ops", "list-operations":
		if len(pos) > 1 {
			return client.Request{}, need(1)
		}
		r := client.Request{Op: doip.OpListOps}
		if len(pos) == 1 {
			r.ObjectID = pos[0]
		}
		return r, nil
	case "retrieve":
		r := client.Request{Op: doip.OpRetrieve, Metadata: map[string]any{}}
		if err := need(1); err != nil {
			return r, err
		}
		r.ObjectID = pos[0]
		if o.component != "" {
			r.Metadata["element"] = o.component
		}
		return r, nil
	case "invoke":
		r := client.Request{Op: doip.OpInvoke, Metadata: map[string]any{}}
		if err := need(1); err != nil {
			return r, err
		}
		if o.workflow == "" {
			return r, errors.New("invoke needs --workflow NAME")
		}
		r.ObjectID = pos[0]
		r.Metadata["workflow"] = o.workflow
		if o.params != "" {
			var p map[string]any
			if err := json.Unmarshal([]byte(o.params), &p); err != nil {
				return r, fmt.Errorf("--params must be a JSON object: %v", err)
			}
			r.Metadata["params"] = p
		}
		return r, nil
	case "purge":
		r := client.Request{Op: doip.OpPurge}
		if err := need(1); err != nil {
			return r, err
		}
		r.ObjectID = pos[0]
		return r, nil
	}
	return client.Request{}, fmt.Errorf("unknown command %q (try doipctl help)", cmd)
}

func (o *options) tlsConfig() (*tls.Config, error) {
	if !o.useTLS {
		return nil, nil
	}
	cfg := &tls.Config{MinVersion: tls.VersionTLS12, ServerName: o.host, InsecureSkipVerify: o.insecure} //nolint:gosec // --insecure is the user's explicit choice for self-signed gateways
	if o.caFile != "" {
		pem, err := os.ReadFile(o.caFile)
		if err != nil {
			return nil, fmt.Errorf("--ca: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ca %s: no PEM certificate in it", o.caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// sink decides where component bytes go: the -o file (written to a temporary name and
// renamed when complete, so a failed download leaves no partial file), a folder for
// invoke, or stdout. finish completes or removes what was written.
func (o *options) sink(req client.Request, stdout, stderr io.Writer) (*client.Sink, func(error) error) {
	var (
		files []*os.File
		final []string
	)
	s := &client.Sink{}
	s.Open = func(id, mediaType string, size int64) (io.Writer, error) {
		target := ""
		switch {
		case req.Op == doip.OpRetrieve && o.output != "" && o.output != "-":
			target = o.output
		case req.Op == doip.OpInvoke && o.output != "":
			target = filepath.Join(o.output, filepath.Base(strings.ReplaceAll(id, ":", "_")))
		case req.Op == doip.OpRetrieve:
			return stdout, nil
		default:
			return nil, nil // keep in memory, printed in the JSON summary
		}
		f, err := os.CreateTemp(filepath.Dir(target), "."+filepath.Base(target)+".part-*")
		if err != nil {
			return nil, err
		}
		files, final = append(files, f), append(final, target)
		return f, nil
	}
	var bar *progressBar
	if !o.quiet && isTerminal(stderr) && (o.output != "" && o.output != "-") {
		bar = &progressBar{w: stderr, start: time.Now()}
		s.Progress = bar.update
	}
	return s, func(err error) error {
		if bar != nil {
			bar.done()
		}
		var errs []error
		for i, f := range files {
			if cerr := f.Close(); cerr != nil && err == nil {
				err = cerr
			}
			if err != nil {
				_ = os.Remove(f.Name())
				continue
			}
			errs = append(errs, os.Rename(f.Name(), final[i]))
		}
		return errors.Join(errs...)
	}
}

func printResponse(stdout io.Writer, resp *client.Response, req client.Request, o *options) error {
	if req.Op == doip.OpRetrieve && o.component != "" {
		if o.output != "" && o.output != "-" && len(resp.Components) == 1 {
			c := resp.Components[0]
			return printJSON(stdout, map[string]any{"componentId": c.ID, "mediaType": c.MediaType, "size": c.Size, "file": o.output})
		}
		return nil // the bytes went to stdout
	}
	if req.Op == doip.OpInvoke {
		var result any = json.RawMessage(resp.Workflow)
		if len(resp.Workflow) == 0 {
			result = json.RawMessage(resp.Metadata)
		}
		out := map[string]any{"result": result}
		derived := []map[string]any{}
		for _, c := range resp.Components {
			d := map[string]any{"componentId": c.ID, "mediaType": c.MediaType, "size": c.Size}
			if c.Content != nil && json.Valid(c.Content) {
				d["content"] = json.RawMessage(c.Content)
			}
			derived = append(derived, d)
		}
		out["derivedComponents"] = derived
		return printJSON(stdout, out)
	}
	return printJSON(stdout, resp.Metadata)
}

func printJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	if raw, ok := v.(json.RawMessage); ok {
		if err := json.Indent(&buf, raw, "", "  "); err != nil {
			return fmt.Errorf("answer is not JSON: %w", err)
		}
	} else {
		b, err := json.MarshalIndent(v, "", "  ")
		if err != nil {
			return err
		}
		buf.Write(b)
	}
	buf.WriteByte('\n')
	_, err := w.Write(buf.Bytes())
	return err
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// progressBar draws one line on a terminal: bytes done, total, percent and rate.
type progressBar struct {
	w     io.Writer
	start time.Time
	last  time.Time
}

func (p *progressBar) update(done, total int64) {
	now := time.Now()
	if now.Sub(p.last) < 100*time.Millisecond && done < total {
		return
	}
	p.last = now
	pct := 100.0
	if total > 0 {
		pct = 100 * float64(done) / float64(total)
	}
	rate := float64(done) / max(now.Sub(p.start).Seconds(), 1e-3)
	const width = 30
	fill := int(pct / 100 * width)
	fmt.Fprintf(p.w, "\r[%s%s] %6.1f%% %s / %s  %s/s ", strings.Repeat("=", fill), strings.Repeat(" ", width-fill),
		pct, human(done), human(total), human(int64(rate)))
}

func (p *progressBar) done() { fmt.Fprintln(p.w) }

func human(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
