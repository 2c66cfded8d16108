package access

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/MicahParks/keyfunc/v3"
	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

func TestParsePermissions(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]Permission{"read": Read, "read+write": Read | Write, "all": All, "none": 0, "Invoke, admin": Invoke | Admin} {
		if got, err := ParsePermissions(in); err != nil || got != want {
			t.Errorf("ParsePermissions(%q) = %v, %v; want %v", in, got, err, want)
		}
	}
	if _, err := ParsePermissions("read+fly"); err == nil || !strings.Contains(err.Error(), `"fly"`) {
		t.Errorf("unknown permission: %v", err)
	}
}

func TestTokensAndUsers(t *testing.T) {
	t.Parallel()
	hash, err := bcrypt.GenerateFromPassword([]byte("secret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	p := &Policy{Anonymous: Read}
	p.AddToken("all-powerful", "", All)
	if err := p.ParseToken("reader:ro-token:read"); err != nil {
		t.Fatal(err)
	}
	if err := p.ParseUser("admin:" + string(hash) + ":read+write"); err != nil {
		t.Fatal(err)
	}
	if err := p.ParseUser("bob:secret:read"); err == nil || !strings.Contains(err.Error(), "bcrypt") {
		t.Errorf("clear-text password accepted: %v", err)
	}
	ctx := t.Context()
	anon, _ := p.Authenticate(ctx, "", "")
	if !anon.Anonymous() || p.Allow(anon, doip.OpRetrieve) != nil || doip.AsError(p.Allow(anon, doip.OpCreate)).Kind != doip.KindUnauthenticated {
		t.Errorf("anonymous = %+v", anon)
	}
	admin, err := p.Authenticate(ctx, "admin", "secret")
	if err != nil || admin.Name != "admin" || p.Allow(admin, doip.OpUpdate) != nil || doip.AsError(p.Allow(admin, doip.OpPurge)).Kind != doip.KindForbidden {
		t.Errorf("admin = %+v, %v", admin, err)
	}
	if _, err := p.Authenticate(ctx, "admin", "wrong"); doip.AsError(err).Kind != doip.KindUnauthenticated || strings.Contains(err.Error(), "wrong\"") {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := p.Authenticate(ctx, "nobody", "secret"); doip.AsError(err).Kind != doip.KindUnauthenticated {
		t.Errorf("unknown user: %v", err)
	}
	ro, err := p.Authenticate(ctx, "", "ro-token")
	if err != nil || ro.Name != "reader" || doip.AsError(p.Allow(ro, doip.OpDelete)).Kind != doip.KindForbidden {
		t.Errorf("read-only token = %+v, %v", ro, err)
	}
	all, err := p.Authenticate(ctx, "", "all-powerful")
	if err != nil || !strings.HasPrefix(all.Name, "token:") || strings.Contains(all.Name, "all-powerful") || p.Allow(all, doip.OpPurge) != nil {
		t.Errorf("AUTH_TOKENS token = %+v, %v", all, err)
	}
	// No identity may write: the refusal says how to configure one.
	none := &Policy{Anonymous: Read}
	if err := none.Allow(anon, doip.OpCreate); !strings.Contains(err.Error(), "USERS") {
		t.Errorf("no writer configured: %v", err)
	}
}

// jwksServer serves the public half of key as a JWKS, as an issuer does.
func jwksServer(t *testing.T, key *rsa.PrivateKey, kid string) string {
	t.Helper()
	b64 := base64.RawURLEncoding.EncodeToString
	body, _ := json.Marshal(map[string]any{"keys": []map[string]string{{
		"kty": "RSA", "kid": kid, "alg": "RS256", "use": "sig",
		"n": b64(key.N.Bytes()), "e": b64(big.NewInt(int64(key.E)).Bytes()),
	}}})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func TestOIDC(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	kf, err := keyfunc.NewDefaultCtx(t.Context(), []string{jwksServer(t, key, "k1")})
	if err != nil {
		t.Fatal(err)
	}
	p := &Policy{Anonymous: Read, OIDC: &OIDC{Issuer: "https://aai.example", Audience: "doip", Permissions: Read | Write, Keys: kf.Keyfunc}}
	sign := func(k *rsa.PrivateKey, claims jwt.RegisteredClaims) string {
		tok := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
		tok.Header["kid"] = "k1"
		s, err := tok.SignedString(k)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := jwt.RegisteredClaims{Issuer: "https://aai.example", Subject: "alice", Audience: jwt.ClaimStrings{"doip"},
		ExpiresAt: jwt.NewNumericDate(time.Now().Add(time.Hour))}
	id, err := p.Authenticate(t.Context(), "", sign(key, good))
	if err != nil || id.Name != "oidc:alice" || p.Allow(id, doip.OpCreate) != nil {
		t.Fatalf("valid JWT = %+v, %v", id, err)
	}
	expired := good
	expired.ExpiresAt = jwt.NewNumericDate(time.Now().Add(-time.Hour))
	wrongIss := good
	wrongIss.Issuer = "https://evil.example"
	for name, tok := range map[string]string{
		"expired":        sign(key, expired),
		"wrongly signed": sign(other, good),
		"other issuer":   sign(key, wrongIss),
		"not a JWT":      "a.b.c",
		"alg none":       jwt.NewWithClaims(jwt.SigningMethodNone, good).Raw + "eyJhbGciOiJub25lIn0.e30.",
	} {
		if _, err := p.Authenticate(t.Context(), "", tok); doip.AsError(err).Kind != doip.KindUnauthenticated {
			t.Errorf("%s: err = %v, want Unauthenticated", name, err)
		}
	}
}
