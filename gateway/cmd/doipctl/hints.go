package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"

	"github.com/fdo-doip/doip-gateway/gateway/internal/client"
)

// connError is an error talking to the server at addr; [app.hint] explains the common ones.
type connError struct {
	addr     string
	standard bool // the request was standard DOIP
	answered bool // the first segment of a standard answer arrived
	err      error
}

// Error is the underlying error's message, or only the refusal to write binary bytes to a
// terminal, which says all there is to say.
func (e *connError) Error() string {
	var bt *binaryToTerminalError
	if errors.As(e.err, &bt) {
		return bt.Error()
	}
	return e.err.Error()
}
func (e *connError) Unwrap() error { return e.err }

// hint says what to do about a connection error, or returns "" when it has nothing to add.
func (a *app) hint(err error) string {
	var ce *connError
	if !errors.As(err, &ce) {
		return ""
	}
	ports := "is --port right? 3567 is the binary port, 3568 the standard one (with --standard)"
	untrusted := "the server's certificate is not trusted (a gateway without certificate files makes a self-signed one): add --insecure to accept it, or --ca FILE to trust the CA that signed it"
	var (
		hostErr   x509.HostnameError
		verifyErr *tls.CertificateVerificationError
		recordErr tls.RecordHeaderError
		dnsErr    *net.DNSError
	)
	switch {
	case errors.Is(err, syscall.ECONNREFUSED):
		return fmt.Sprintf("nothing listens on %s: is the gateway running (make run)? Are --host and --port right?", ce.addr)
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		return fmt.Sprintf("no host named %q: check --host (or DOIP_HOST)", a.opts.host)
	case errors.As(err, &hostErr) && hostErr.Certificate != nil && bytes.Equal(hostErr.Certificate.RawIssuer, hostErr.Certificate.RawSubject):
		return untrusted // a self-signed certificate names no host; trusting it is the question
	case errors.As(err, &hostErr):
		return fmt.Sprintf("the server's certificate is not for %q: give --host the name it was issued for, or add --insecure", a.opts.host)
	case errors.As(err, &verifyErr):
		return untrusted
	case errors.As(err, &recordErr) && ce.standard:
		return "standard DOIP runs over TLS, and this port does not speak it: " + ports
	case errors.As(err, &recordErr):
		return "the server does not speak TLS on this port: leave out --tls, or " + ports
	case errors.Is(err, client.ErrNotEnvelope):
		return "this port speaks another protocol (HTTP? TLS? standard DOIP?): " + ports
	case errors.Is(err, client.ErrNoAnswer):
		return "the server closed the connection without answering: if it requires TLS, add --tls (and --insecure for a self-signed certificate); " + ports
	case ce.standard && !ce.answered && (errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF)):
		return "the server closed the connection without a standard DOIP answer: is --port right? 3568 is the standard port, 3567 the binary one (without --standard)"
	case errors.Is(err, os.ErrDeadlineExceeded), errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("no answer from %s within %s: is --host right? A long workflow may need a larger --timeout, such as --timeout 5m", ce.addr, a.opts.timeout)
	}
	return ""
}
