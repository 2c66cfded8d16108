// Package tlstest makes throwaway TLS certificates for tests: an ECDSA P-256 certificate for
// 127.0.0.1, ::1 and localhost, made fresh in memory for each test binary.
package tlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"sync"
	"testing"
	"time"
)

var (
	once sync.Once
	cert tls.Certificate
	err  error
)

// Cert returns a self-signed loopback certificate, the same one for every caller.
func Cert(t testing.TB) tls.Certificate {
	t.Helper()
	once.Do(func() {
		var key *ecdsa.PrivateKey
		key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "test/service"},
			NotBefore:    time.Now().Add(-time.Hour),
			NotAfter:     time.Now().Add(24 * time.Hour),
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
			DNSNames:     []string{"localhost"},
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		}
		var der []byte
		der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			return
		}
		cert = tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
		cert.Leaf, err = x509.ParseCertificate(der)
	})
	if err != nil {
		t.Fatal(err)
	}
	return cert
}
