package settings

import (
	"context"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// RunFunc runs a process until ctx is done: args is the command line without the program
// name, getenv reads the environment, and stderr takes the logs. It returns nil after a
// clean shutdown and, for -h, a [*HelpError].
type RunFunc func(ctx context.Context, args []string, getenv func(string) string, stderr io.Writer) error

// Main is the whole of a service's main: it calls run with the process's command line,
// environment and stderr, and a context that ends at SIGINT or SIGTERM, then exits with
// the status of [Exit].
func Main(program string, run RunFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Stderr)
	stop()
	os.Exit(Exit(program, err, os.Stdout, os.Stderr))
}
