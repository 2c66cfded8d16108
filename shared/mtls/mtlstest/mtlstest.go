// Package mtlstest writes throwaway CAs and certificates for tests of mutual TLS.
package mtlstest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/fdo-doip/doip-gateway/shared/mtls"
)

// caOnce makes one CA per folder.
var caOnce sync.Map // dir → *sync.Once

// WriteTestFiles writes a test CA (one per dir) and a certificate named name for 127.0.0.1,
// ::1 and localhost, usable as server and client, and returns their files. For tests only.
func WriteTestFiles(tb testing.TB, dir, name string) mtls.Files {
	tb.Helper()
	v, _ := caOnce.LoadOrStore(dir, &sync.Once{})
	once := v.(*sync.Once)
	caPath := filepath.Join(dir, "ca.pem")
	var err error
	once.Do(func() {
		var key *ecdsa.PrivateKey
		if key, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
			return
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
		var der []byte
		if der, err = x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key); err != nil {
			return
		}
		keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
		err = writePEM(caPath, "CERTIFICATE", der)
		if err == nil {
			err = writePEM(filepath.Join(dir, "ca.key"), "PRIVATE KEY", keyDER)
		}
	})
	if err != nil {
		tb.Fatal(err)
	}
	caCert, caKey := readCA(tb, dir)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	serial, _ := rand.Int(rand.Reader, big.NewInt(1<<62))
	tmpl := &x509.Certificate{SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage:    x509.KeyUsageDigitalSignature,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, DNSNames: []string{"localhost"}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, caCert, &key.PublicKey, caKey)
	if err != nil {
		tb.Fatal(err)
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(key)
	f := mtls.Files{Cert: filepath.Join(dir, name+".crt"), Key: filepath.Join(dir, name+".key"), CA: caPath}
	if err := writePEM(f.Cert, "CERTIFICATE", der); err != nil {
		tb.Fatal(err)
	}
	if err := writePEM(f.Key, "PRIVATE KEY", keyDER); err != nil {
		tb.Fatal(err)
	}
	return f
}

func readCA(tb testing.TB, dir string) (*x509.Certificate, any) {
	tb.Helper()
	certPEM, err := os.ReadFile(filepath.Join(dir, "ca.pem"))
	if err != nil {
		tb.Fatal(err)
	}
	keyPEM, err := os.ReadFile(filepath.Join(dir, "ca.key"))
	if err != nil {
		tb.Fatal(err)
	}
	cb, _ := pem.Decode(certPEM)
	kb, _ := pem.Decode(keyPEM)
	cert, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	key, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		tb.Fatal(err)
	}
	return cert, key
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
