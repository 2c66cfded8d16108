// Command healthprobe checks whether a service answers, for the HEALTHCHECK of the container
// images and the healthchecks of docker-compose.yml. The images are distroless: they have no
// shell, curl or grpc_health_probe, so each one carries this small static binary instead.
//
//	healthprobe [-timeout 3s] grpc ADDR [SERVICE]   grpc.health.v1 Check over plaintext; passes on SERVING
//	healthprobe [-timeout 3s] tcp ADDR              passes when a TCP connection opens
//	healthprobe [-timeout 3s] http URL              passes when a GET answers 2xx
//
// The exit status is 0 when the check passes, 1 when it fails (the reason on stderr, one
// line) and 2 for a usage error. The whole check, connecting included, is bounded by
// -timeout. Proxy environment variables are ignored: a probe always talks to the address it
// is given, usually on loopback inside the container. TLS is not spoken on the gRPC check,
// because the internal services run plaintext gRPC.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	healthpb "google.golang.org/grpc/health/grpc_health_v1"
	"google.golang.org/grpc/status"
)

// DefaultTimeout bounds one check when -timeout is not given. It is below the timeout that
// docker-compose.yml gives each healthcheck, so the probe reports its own reason rather than
// being killed.
const DefaultTimeout = 3 * time.Second

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

const usage = `usage: healthprobe [-timeout DURATION] grpc ADDR [SERVICE]
       healthprobe [-timeout DURATION] tcp ADDR
       healthprobe [-timeout DURATION] http URL

  grpc  grpc.health.v1.Health/Check over plaintext; passes when the status is SERVING
        (SERVICE empty or absent: the server as a whole)
  tcp   passes when a TCP connection to ADDR (host:port) opens
  http  passes when GET URL answers with a 2xx status

Exit status: 0 the check passed, 1 it failed (reason on stderr), 2 usage error.
`

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stderr))
}

// run parses args, runs one check and returns the exit status. Failures and usage errors are
// written to stderr.
func run(ctx context.Context, args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("healthprobe", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	timeout := fs.Duration("timeout", DefaultTimeout, "bound on the whole check")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stderr, usage)
			return exitUsage
		}
		return usageError(stderr, err.Error())
	}
	if *timeout <= 0 {
		return usageError(stderr, fmt.Sprintf("-timeout %s: want a positive duration such as 3s", *timeout))
	}
	rest := fs.Args()
	if len(rest) == 0 {
		return usageError(stderr, "missing the kind of check: grpc, tcp or http")
	}
	kind, operands := rest[0], rest[1:]

	var check func(context.Context) error
	switch kind {
	case "grpc":
		if len(operands) < 1 || len(operands) > 2 {
			return usageError(stderr, "grpc takes ADDR and an optional SERVICE")
		}
		addr, service := operands[0], ""
		if len(operands) == 2 {
			service = operands[1]
		}
		if err := checkHostPort(addr); err != nil {
			return usageError(stderr, err.Error())
		}
		check = func(ctx context.Context) error { return checkGRPC(ctx, addr, service) }
	case "tcp":
		if len(operands) != 1 {
			return usageError(stderr, "tcp takes one ADDR")
		}
		addr := operands[0]
		if err := checkHostPort(addr); err != nil {
			return usageError(stderr, err.Error())
		}
		check = func(ctx context.Context) error { return checkTCP(ctx, addr) }
	case "http":
		if len(operands) != 1 {
			return usageError(stderr, "http takes one URL")
		}
		u, err := url.Parse(operands[0])
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return usageError(stderr, fmt.Sprintf("%q: want an http:// or https:// URL", operands[0]))
		}
		check = func(ctx context.Context) error { return checkHTTP(ctx, u.String()) }
	default:
		return usageError(stderr, fmt.Sprintf("unknown check %q: want grpc, tcp or http", kind))
	}

	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	if err := check(ctx); err != nil {
		if errors.Is(err, context.DeadlineExceeded) || status.Code(err) == codes.DeadlineExceeded {
			err = fmt.Errorf("no answer within %s: %w", *timeout, err)
		}
		fmt.Fprintf(stderr, "healthprobe: %s %s: %v\n", kind, operands[0], err)
		return exitFail
	}
	return exitOK
}

func usageError(stderr io.Writer, msg string) int {
	fmt.Fprintf(stderr, "healthprobe: %s\n%s", msg, usage)
	return exitUsage
}

// checkHostPort rejects an address the dialers would only refuse later, with a less clear
// message.
func checkHostPort(addr string) error {
	// An empty host is allowed: it means the local system, as for net.Dial.
	if _, port, err := net.SplitHostPort(addr); err != nil || port == "" {
		return fmt.Errorf("address %q: want host:port", addr)
	}
	return nil
}

// checkGRPC asks the health service of the server at addr about service ("" for the whole
// server) and passes on SERVING.
func checkGRPC(ctx context.Context, addr, service string) error {
	conn, err := grpc.NewClient("passthrough:///"+addr,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithNoProxy(),
		grpc.WithUserAgent("healthprobe"),
	)
	if err != nil {
		return err
	}
	defer conn.Close()
	resp, err := healthpb.NewHealthClient(conn).Check(ctx, &healthpb.HealthCheckRequest{Service: service})
	if err != nil {
		switch status.Code(err) {
		case codes.Unimplemented:
			return errors.New("the server does not implement grpc.health.v1.Health")
		case codes.NotFound:
			return fmt.Errorf("the server knows no service %q", service)
		case codes.DeadlineExceeded:
			return err
		}
		if s, ok := status.FromError(err); ok {
			return fmt.Errorf("%s: %s", s.Code(), s.Message())
		}
		return err
	}
	if st := resp.GetStatus(); st != healthpb.HealthCheckResponse_SERVING {
		name := "the server"
		if service != "" {
			name = fmt.Sprintf("service %q", service)
		}
		return fmt.Errorf("%s is %s", name, st)
	}
	return nil
}

// checkTCP passes when a connection to addr opens; it sends nothing and closes at once.
func checkTCP(ctx context.Context, addr string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	return c.Close()
}

// maxBody is how much of a response body is read before the connection is closed; a
// health endpoint answers with a few bytes.
const maxBody = 64 << 10

// checkHTTP passes when GET rawURL answers 2xx (after redirects).
func checkHTTP(ctx context.Context, rawURL string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return err
	}
	req.Header.Set("User-Agent", "healthprobe")
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return fmt.Errorf("status %s", resp.Status)
	}
	return nil
}
