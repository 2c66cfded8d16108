// Package mtls sets up mutual TLS for the internal gRPC connections: every process presents
// a certificate and checks the other side's against one CA. Without files the connections
// stay plaintext (for loopback and private networks); with only some of them, nothing starts.
package mtls

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials"
)

// Files names the PEM files of one process.
type Files struct {
	Cert, Key, CA string
}

// Enabled reports whether any file is named.
func (f Files) Enabled() bool { return f.Cert != "" || f.Key != "" || f.CA != "" }

// Config is a loaded certificate and CA pool.
type Config struct {
	cert tls.Certificate
	pool *x509.CertPool
}

// Load reads the files. It returns nil and no error when none is named, and an error that
// names what is missing when only some are.
func Load(f Files) (*Config, error) {
	if !f.Enabled() {
		return nil, nil
	}
	var missing []string
	for name, v := range map[string]string{"certificate": f.Cert, "key": f.Key, "CA": f.CA} {
		if v == "" {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("mtls: internal TLS needs a certificate, a key and a CA; missing: %v", missing)
	}
	cert, err := tls.LoadX509KeyPair(f.Cert, f.Key)
	if err != nil {
		return nil, fmt.Errorf("mtls: loading %s and %s: %w", f.Cert, f.Key, err)
	}
	pem, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, fmt.Errorf("mtls: reading CA: %w", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pem) {
		return nil, errors.New("mtls: no PEM certificate in the CA file " + f.CA)
	}
	return &Config{cert: cert, pool: pool}, nil
}

// ServerOption makes a gRPC server require and verify client certificates.
func (c *Config) ServerOption() grpc.ServerOption {
	return grpc.Creds(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{c.cert},
		ClientCAs:    c.pool,
		ClientAuth:   tls.RequireAndVerifyClientCert,
		MinVersion:   tls.VersionTLS12,
	}))
}

// ServerOptions returns [Config.ServerOption] as a list to append to a server's options,
// and nothing for a nil c (internal TLS off), so a process adds it without a branch.
func (c *Config) ServerOptions() []grpc.ServerOption {
	if c == nil {
		return nil
	}
	return []grpc.ServerOption{c.ServerOption()}
}

// DialOption makes a gRPC client present its certificate and verify the server's, whose
// name (or IP address) must match the address dialled.
func (c *Config) DialOption() grpc.DialOption {
	return grpc.WithTransportCredentials(credentials.NewTLS(&tls.Config{
		Certificates: []tls.Certificate{c.cert},
		RootCAs:      c.pool,
		MinVersion:   tls.VersionTLS12,
	}))
}
