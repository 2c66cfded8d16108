package e2e_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doiptext"
)

// TestWritesOIDC: the gateway accepts OIDC access tokens verified against the issuer's JWKS
// (served here on loopback, as a research AAI serves it): a valid token writes, with its
// subject as the author; an expired one, one signed by another key, or one of another
// issuer is refused.
func TestWritesOIDC(t *testing.T) {
	skipShort(t)
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	jwks, _ := json.Marshal(map[string]any{"keys": []map[string]string{{"kty": "RSA", "kid": "k1", "alg": "RS256", "use": "sig",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes())}}})
	aai := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write(jwks) }))
	defer aai.Close()
	const issuer = "https://aai.example.org/oidc"

	dir := filepath.Join(t.TempDir(), "data")
	s := &system{dataDir: dir}
	s.retrieve = start(t, "retrieve-svc", 1, []string{"--listen", "127.0.0.1:0", "--data-dir", dir})
	s.gateway = start(t, "doip-gateway", 2, []string{"--host", "127.0.0.1", "--port", "0", "--retrieve-addr", s.retrieve.addr("grpc"),
		"--invoke-addr", "", "--tls-cert", filepath.Join(t.TempDir(), "none.crt"), "--tls-key", filepath.Join(t.TempDir(), "none.key")},
		"OIDC_ISSUER="+issuer, "OIDC_JWKS_URL="+aai.URL, "OIDC_AUDIENCE=doip")

	sign := func(k *rsa.PrivateKey, iss string, exp time.Duration) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{Issuer: iss, Subject: "researcher-42",
			Audience: jwt.ClaimStrings{"doip"}, ExpiresAt: jwt.NewNumericDate(time.Now().Add(exp))})
		tok.Header["kid"] = "k1"
		sig, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	}
	create := func(token string) map[string]json.RawMessage {
		first, _ := replay(t, s, []byte(`{"targetId":"svc","operationId":"0.DOIP/Op.Create","authentication":{"token":"`+token+`"}}`+
			"\n#\n{\"attributes\":{\"content\":{\"name\":\"by oidc\"}}}\n#\n#\n"))
		return first
	}
	first := create(sign(key, issuer, time.Hour))
	wantStatus(t, first, doiptext.StatusSuccess, "create with a valid access token")
	obj := outputDO(t, first).ID
	for name, tok := range map[string]string{
		"expired":        sign(key, issuer, -time.Hour),
		"wrongly signed": sign(other, issuer, time.Hour),
		"other issuer":   sign(key, "https://evil.example.org", time.Hour),
	} {
		wantStatus(t, create(tok), doiptext.StatusUnauthenticated, name+" access token")
	}
	env := s.dial(t)
	h, err := env.Do(t.Context(), historyRequest(obj), nil)
	if err != nil || !jsonHas(h.Metadata, `"author":"oidc:researcher-42"`) {
		t.Errorf("history = %v, %v", h, err)
	}
}
