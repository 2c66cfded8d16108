package tlsconf

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSetupModes(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	missingCert, missingKey := filepath.Join(dir, "none.crt"), filepath.Join(dir, "none.key")

	cfg, mode, self, err := Setup("auto", missingCert, missingKey, "svc/test")
	if err != nil || mode != Optional || !self || cfg.MinVersion != tls.VersionTLS12 {
		t.Fatalf("auto without files = %v %v %v", mode, self, err)
	}
	if cn := cfg.Certificates[0].Leaf.Subject.CommonName; cn != "svc/test" {
		t.Errorf("self-signed CN = %q, want the service id", cn)
	}
	if _, _, _, err := Setup("required", missingCert, missingKey, "x"); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("required without files: err = %v", err)
	}
	if cfg, mode, _, err := Setup("off", missingCert, missingKey, "x"); err != nil || mode != Off || cfg != nil {
		t.Errorf("off = %v %v %v", cfg, mode, err)
	}

	// Write a real pair and see auto turn into required.
	cert, err := SelfSigned("svc/files")
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile := filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	writePEM(t, certFile, "CERTIFICATE", cert.Certificate[0])
	keyDER := mustMarshalKey(t, cert)
	writePEM(t, keyFile, "PRIVATE KEY", keyDER)
	if _, mode, self, err := Setup("auto", certFile, keyFile, "x"); err != nil || mode != Required || self {
		t.Errorf("auto with files = %v %v %v", mode, self, err)
	}
	if _, _, _, err := Setup("auto", certFile, missingKey, "x"); err == nil || !strings.Contains(err.Error(), "only one") {
		t.Errorf("auto with one file: err = %v", err)
	}
}

func TestPublicJWK(t *testing.T) {
	t.Parallel()
	cert, err := SelfSigned("x")
	if err != nil {
		t.Fatal(err)
	}
	jwk := PublicJWK(cert)
	if jwk["kty"] != "RSA" || jwk["e"] != "AQAB" || len(jwk["n"]) < 300 {
		t.Errorf("jwk = %v", jwk)
	}
}

func writePEM(t *testing.T, name, typ string, der []byte) {
	t.Helper()
	if err := os.WriteFile(name, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
}

func mustMarshalKey(t *testing.T, cert tls.Certificate) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(cert.PrivateKey)
	if err != nil {
		t.Fatal(err)
	}
	return der
}
