// Command doipctl is a DOIP client for people and scripts. It speaks the binary envelope to
// a gateway's port 3567 (or any port given), or standard DOIP v2.0 with --standard:
//
//	doipctl hello
//	doipctl list-ops [ID]
//	doipctl retrieve Q123                               # the record, as JSON
//	doipctl retrieve Q123 --component main-pdf -o paper.pdf
//	doipctl invoke Q123 --workflow equation_extraction --params '{"pages":[1]}'
//	doipctl purge Q123
//	doipctl completion bash                             # or zsh, fish, powershell
//
// Metadata is printed as indented JSON on stdout; component bytes go to -o FILE, or to
// stdout when it is not a terminal (or with -o -). Help goes to stdout: doipctl COMMAND
// --help. A DOIP error prints its kind and message on stderr and exits with status 2;
// usage and connection problems exit with status 1, with a line that says what to do.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"golang.org/x/term"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	a := &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, isTerminal: isTerminal}
	os.Exit(a.run(ctx, os.Args[1:]))
}

// Exit statuses.
const (
	exitOK    = 0
	exitUsage = 1 // usage and connection problems
	exitDOIP  = 2 // the server answered with a DOIP error
)

// app is one run of doipctl: where it writes, what it reads from the environment, and the
// global flags once parsed. Tests fill it with buffers.
type app struct {
	stdin          io.Reader // nil: read as empty
	stdout, stderr io.Writer
	getenv         func(string) string
	// isTerminal reports whether a writer is a terminal (component bytes are not dumped
	// into one, and the progress bar is drawn only on one).
	isTerminal func(io.Writer) bool
	opts       options
}

// run runs doipctl with args (without the program name) and returns its exit status.
func (a *app) run(ctx context.Context, args []string) int {
	root := a.newRootCmd()
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return exitOK
	}
	var de *doip.Error
	if errors.As(err, &de) {
		fmt.Fprintf(a.stderr, "doipctl: %s: %s\n", de.Kind, de.Message)
		return exitDOIP
	}
	if errors.Is(err, errHelpShown) {
		return exitUsage
	}
	fmt.Fprintln(a.stderr, "doipctl:", err)
	var ue *usageError
	if errors.As(err, &ue) {
		fmt.Fprintf(a.stderr, "See '%s --help'.\n", cmd.CommandPath())
		return exitUsage
	}
	if h := a.hint(err); h != "" {
		fmt.Fprintln(a.stderr, h)
	}
	return exitUsage
}

// usageError is a problem with the command line: doipctl prints it with a pointer to the
// command's help.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// errHelpShown ends a run whose help went to stderr already (doipctl without a command).
var errHelpShown = errors.New("help shown")

func usagef(format string, args ...any) error {
	return &usageError{fmt.Errorf(format, args...)}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}
