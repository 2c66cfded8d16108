package main

import (
	"cmp"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"
)

// options are the global flags, shared by every command.
type options struct {
	host, port       string
	useTLS, insecure bool
	caFile           string
	timeout          time.Duration
	quiet            bool
	standard         bool   // speak standard DOIP v2.0
	httpURL          string // speak DOIP over HTTP to this base URL
	portSet          bool   // --port was given
}

const rootLong = `doipctl talks to a DOIP gateway: it says hello, lists operations, retrieves FDO
records and component bytes, and invokes workflows.

It speaks the gateway's binary envelope (port 3567) unless --standard is given, in which
case it speaks standard DOIP v2.0 over TLS (port 3568), as other DOIP clients and servers do,
or --http URL is given: then it speaks DOIP over HTTP (Cordra's /doip; port 3569 on a gateway).

Metadata is printed as indented JSON on stdout. Exit status: 0 success, 2 a DOIP error (its
kind and message on stderr), 1 a usage or connection problem.`

const rootExample = `  doipctl hello
  doipctl retrieve Q123
  doipctl retrieve Q123 --component main-pdf -o paper.pdf
  doipctl invoke Q123 --workflow echo --params '{"hello":"world"}'
  doipctl --standard --insecure retrieve Q123
  doipctl --http https://127.0.0.1:3569 --insecure retrieve Q123 --component main-pdf -o paper.pdf
  doipctl --http https://127.0.0.1:3569 --insecure create --token "$TOKEN" --type Dataset --file data.csv
  DOIP_HOST=gw.example.org doipctl --tls hello`

// newRootCmd builds the doipctl command tree. Output and help go to a.stdout, errors are
// left to [app.run].
func (a *app) newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:     "doipctl",
		Short:   "A DOIP client for people and scripts",
		Long:    rootLong,
		Example: rootExample,
		// Unknown commands are reported by unknownCommand with cobra's suggestions;
		// without a command the help goes to stderr and the status is 1.
		Args: unknownCommand,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cmd.SetOut(a.stderr)
			_ = cmd.Help()
			return errHelpShown
		},
		SuggestionsMinimumDistance: 2,
		SilenceErrors:              true,
		SilenceUsage:               true,
		PersistentPreRunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Name() == cobra.ShellCompRequestCmd || cmd.HasParent() && cmd.Parent().Name() == "completion" {
				return nil // completion scripts need no gateway, and must work whatever DOIP_PORT says
			}
			return a.opts.check(cmd)
		},
	}
	if a.stdin != nil {
		root.SetIn(a.stdin)
	} else {
		root.SetIn(strings.NewReader(""))
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.SetFlagErrorFunc(flagError)

	o := &a.opts
	f := root.PersistentFlags()
	f.StringVar(&o.host, "host", cmp.Or(a.getenv("DOIP_HOST"), "127.0.0.1"), "gateway host (env DOIP_HOST)")
	f.StringVar(&o.port, "port", cmp.Or(a.getenv("DOIP_PORT"), "3567"), "gateway port: 3567 binary envelope, 3568 standard DOIP (env DOIP_PORT)")
	f.BoolVar(&o.useTLS, "tls", false, "connect with TLS")
	f.BoolVar(&o.insecure, "insecure", false, "with --tls or --standard: accept any certificate (a gateway's self-signed one)")
	f.StringVar(&o.caFile, "ca", "", "with --tls or --standard: trust the CA certificate in this PEM `FILE`")
	o.timeout = 60 * time.Second
	f.Var((*seconds)(&o.timeout), "timeout", "deadline per request, refreshed while bytes flow (30s, 2m, or a number of seconds)")
	f.BoolVarP(&o.quiet, "quiet", "q", false, "no progress bar")
	f.StringVar(&o.httpURL, "http", a.getenv("DOIP_HTTP"), "speak DOIP over HTTP to this base `URL` (https://host:3569; env DOIP_HTTP)")
	f.BoolVar(&o.standard, "standard", false, "speak standard DOIP v2.0 (text segments over TLS; port 3568 unless --port): works with other DOIP servers too")

	root.AddCommand(
		a.newHelloCmd(),
		a.newListOpsCmd(),
		a.newRetrieveCmd(),
		a.newInvokeCmd(),
		a.newPurgeCmd(),
		a.newSearchCmd(),
		a.newCreateCmd(),
		a.newUpdateCmd(),
		a.newDeleteCmd(),
		a.newHistoryCmd(),
		a.newHashPasswordCmd(),
	)
	return root
}

// check validates the global flags once cobra has parsed them.
func (o *options) check(cmd *cobra.Command) error {
	o.portSet = cmd.Flags().Changed("port")
	if n, err := strconv.Atoi(o.port); err != nil || n < 1 || n > 65535 {
		return usagef("--port %q is not a port number: use 3567 (binary envelope) or 3568 (standard DOIP), or the port the gateway was started with", o.port)
	}
	if o.httpURL != "" && o.standard {
		return usagef("--http and --standard name two ways to talk: give one")
	}
	if o.host == "" {
		return usagef("--host is empty: give the gateway's host name or address (default 127.0.0.1)")
	}
	return nil
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
			return nil, fmt.Errorf("--ca %s: no PEM certificate in it: give the CA certificate file (-----BEGIN CERTIFICATE-----)", o.caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// seconds is a time.Duration flag that also takes a plain number of seconds ("--timeout 5").
type seconds time.Duration

func (s *seconds) String() string { return time.Duration(*s).String() }
func (s *seconds) Type() string   { return "duration" }

func (s *seconds) Set(v string) error {
	d, err := time.ParseDuration(v)
	if err != nil {
		f, ferr := strconv.ParseFloat(v, 64)
		if ferr != nil {
			return fmt.Errorf("want a duration such as 30s, 2m or 1m30s, or a number of seconds")
		}
		d = time.Duration(f * float64(time.Second))
	}
	if d <= 0 {
		return fmt.Errorf("want a positive duration, such as 30s")
	}
	*s = seconds(d)
	return nil
}

// flagError turns pflag's errors into usage errors, and explains the one a Go flag habit
// causes: a long flag with a single dash (-timeout) reads as shorthand flags.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	if i := strings.Index(msg, " in -"); strings.HasPrefix(msg, "unknown shorthand flag") && i >= 0 {
		name, _, _ := strings.Cut(msg[i+len(" in -"):], "=")
		if cmd.Flags().Lookup(name) != nil {
			return usagef("%s: long flags take two dashes: --%s", msg, name)
		}
	}
	return &usageError{err}
}

// unknownCommand is the root's argument check: any argument is a command doipctl does not
// know. It suggests the nearest command names.
func unknownCommand(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q", args[0])
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += ": did you mean " + strings.Join(s, " or ") + "?"
	} else {
		msg += ": the commands are " + strings.Join(commandNames(cmd), ", ")
	}
	return usagef("%s", msg)
}

func commandNames(cmd *cobra.Command) []string {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return names
}

// noArgs, oneID and optionalID check a command's positional arguments and say what was
// expected.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usagef("%s takes no arguments, got %q", cmd.Name(), args)
	}
	return nil
}

func oneID(cmd *cobra.Command, args []string) error {
	switch {
	case len(args) == 0:
		return usagef("%s needs an object id, e.g. doipctl %s Q123", cmd.Name(), cmd.Name())
	case len(args) > 1:
		return usagef("%s takes one object id, got %d: %q (flags start with --)", cmd.Name(), len(args), args)
	}
	return nil
}

func optionalID(cmd *cobra.Command, args []string) error {
	if len(args) > 1 {
		return usagef("%s takes at most one object id, got %d: %q", cmd.Name(), len(args), args)
	}
	return nil
}
