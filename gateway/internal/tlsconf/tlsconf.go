// Package tlsconf sets up TLS for the DOIP listeners: a configured
// certificate and key make TLS required; without them the ports accept plaintext and also
// TLS with a self-signed certificate made at start-up for the service id, because every
// standard DOIP client speaks TLS only. It never falls back to plaintext because configured
// files are missing: that stops start-up.
package tlsconf

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"time"
)

// Mode says whether a listener speaks TLS.
type Mode string

// The TLS modes.
const (
	// Off: plaintext only.
	Off Mode = "off"
	// Optional: the first byte decides; 0x16 (a TLS ClientHello) starts a handshake,
	// anything else is served as plaintext.
	Optional Mode = "optional"
	// Required: TLS only; a plaintext client is logged and disconnected.
	Required Mode = "required"
)

// Setup returns the TLS configuration and the mode for the DOIP listeners.
//
//   - "auto": required with the files when both exist; optional with a self-signed
//     certificate when neither does; an error when only one does.
//   - "required": the files must exist.
//   - "optional": the files when they exist, else a self-signed certificate.
//   - "off": plaintext only; cfg is nil.
func Setup(mode, certFile, keyFile, serviceID string) (cfg *tls.Config, m Mode, selfSigned bool, err error) {
	if mode == "off" {
		return nil, Off, false, nil
	}
	certOK, keyOK := exists(certFile), exists(keyFile)
	switch {
	case mode == "auto" && certOK != keyOK:
		return nil, "", false, fmt.Errorf("tls: found only one of certificate %q (%v) and key %q (%v): give both or neither", certFile, certOK, keyFile, keyOK)
	case mode == "auto" && certOK:
		mode = "required"
	case mode == "auto":
		mode = "optional"
	}
	var cert tls.Certificate
	switch {
	case certOK && keyOK:
		cert, err = tls.LoadX509KeyPair(certFile, keyFile)
		if err != nil {
			return nil, "", false, fmt.Errorf("tls: loading %q and %q: %w", certFile, keyFile, err)
		}
	case mode == "required":
		return nil, "", false, fmt.Errorf("tls: mode required needs certificate %q and key %q, and they are missing", certFile, keyFile)
	default:
		cert, err = SelfSigned(serviceID)
		if err != nil {
			return nil, "", false, err
		}
		selfSigned = true
	}
	return Config(cert), Mode(mode), selfSigned, nil
}

func exists(name string) bool {
	_, err := os.Stat(name)
	return err == nil || !errors.Is(err, fs.ErrNotExist)
}

// Config returns the server TLS configuration for cert: TLS 1.2 and 1.3, and a client
// certificate requested but not required (DOIP clients send none by default).
func Config(cert tls.Certificate) *tls.Config {
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		ClientAuth:   tls.RequestClientCert,
	}
}

// SelfSigned makes an RSA 2048 certificate whose subject CN is the service id, valid for
// ten years, as Cordra and doip_sdk make one when none is configured.
func SelfSigned(serviceID string) (tls.Certificate, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: serviceID},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(10, 0, 0),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("tls: self-signing: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// PublicJWK returns the certificate's public key as a JSON Web Key object (RFC 7517), as
// DOIP's hello announces it in publicKey; nil for key types it does not describe.
func PublicJWK(cert tls.Certificate) map[string]string {
	leaf := cert.Leaf
	if leaf == nil && len(cert.Certificate) > 0 {
		leaf, _ = x509.ParseCertificate(cert.Certificate[0])
	}
	if leaf == nil {
		return nil
	}
	b64 := base64.RawURLEncoding.EncodeToString
	switch k := leaf.PublicKey.(type) {
	case *rsa.PublicKey:
		return map[string]string{"kty": "RSA", "n": b64(k.N.Bytes()), "e": b64(big.NewInt(int64(k.E)).Bytes())}
	default:
		return nil
	}
}
