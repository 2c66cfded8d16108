// Package access decides who a DOIP client is and what it may do. A client is anonymous, or
// authenticated by a bearer token, by a username and password (as doipy and Cordra send
// them), or by an OIDC access token: a JWT signed by a key of the issuer's JWKS, with the
// configured issuer and audience, not expired. Each identity has permissions: read, invoke,
// write and admin.
//
// Secrets are never kept in the clear: tokens as SHA-256 digests, passwords as bcrypt hashes
// (made with `doipctl hash-password` or any bcrypt tool). Nothing here logs.
package access

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/crypto/bcrypt"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// Permission is a set of rights.
type Permission uint8

// The rights.
const (
	Read   Permission = 1 << iota // retrieve, list operations, history
	Invoke                        // run workflows
	Write                         // create, update, delete
	Admin                         // purge cached records
	All    = Read | Invoke | Write | Admin
)

var permNames = []struct {
	p    Permission
	name string
}{{Read, "read"}, {Invoke, "invoke"}, {Write, "write"}, {Admin, "admin"}}

// String lists the rights joined by "+" ("read+write"), or "none".
func (p Permission) String() string {
	var parts []string
	for _, n := range permNames {
		if p&n.p != 0 {
			parts = append(parts, n.name)
		}
	}
	if len(parts) == 0 {
		return "none"
	}
	return strings.Join(parts, "+")
}

// ParsePermissions reads "read+write" (also with "," or "|"), "all" or "none".
func ParsePermissions(s string) (Permission, error) {
	var p Permission
	for part := range strings.FieldsFuncSeq(strings.ToLower(s), func(r rune) bool { return r == '+' || r == ',' || r == '|' || r == ' ' }) {
		switch part {
		case "all":
			p |= All
			continue
		case "none":
			continue
		}
		found := false
		for _, n := range permNames {
			if n.name == part {
				p, found = p|n.p, true
			}
		}
		if !found {
			return 0, fmt.Errorf("unknown permission %q: want read, invoke, write, admin, all or none", part)
		}
	}
	return p, nil
}

// Needed returns the permission an operation needs.
func Needed(op doip.Op) Permission {
	switch op {
	case doip.OpCreate, doip.OpUpdate, doip.OpDelete:
		return Write
	case doip.OpInvoke:
		return Invoke
	case doip.OpPurge:
		return Admin
	}
	return Read
}

// Identity is who a client is.
type Identity struct {
	// Name is recorded as the author of what the client writes: "anonymous", the user's
	// name, "token:" and a digest prefix, or the JWT's subject ("oidc:" + sub).
	Name        string
	Permissions Permission
}

// Anonymous reports whether the identity is no one in particular.
func (id Identity) Anonymous() bool { return id.Name == "anonymous" }

// Policy holds the configured identities. Its fields are set before use.
type Policy struct {
	// Anonymous is what a client without credentials may do.
	Anonymous Permission
	tokens    []tokenEntry
	users     map[string]userEntry
	// OIDC, if set, accepts JWT access tokens.
	OIDC *OIDC
}

type tokenEntry struct {
	digest [sha256.Size]byte
	name   string
	perms  Permission
}

type userEntry struct {
	hash  []byte
	perms Permission
}

// AddToken accepts a bearer token with the given permissions, under a name (empty: "token:"
// and the first 8 bytes of the token's SHA-256 in hex, never the token).
func (p *Policy) AddToken(token, name string, perms Permission) {
	if token == "" {
		return
	}
	sum := sha256.Sum256([]byte(token))
	if name == "" {
		name = "token:" + hex.EncodeToString(sum[:8])
	}
	p.tokens = append(p.tokens, tokenEntry{digest: sum, name: name, perms: perms})
}

// AddUser accepts a user whose password matches the bcrypt hash.
func (p *Policy) AddUser(name, bcryptHash string, perms Permission) error {
	if name == "" || strings.ContainsAny(name, ":,") {
		return fmt.Errorf("user name %q: want a non-empty name without ':' or ','", name)
	}
	if _, err := bcrypt.Cost([]byte(bcryptHash)); err != nil {
		return fmt.Errorf("user %s: the password must be given as a bcrypt hash ($2a$…, $2b$…): %v", name, err)
	}
	if p.users == nil {
		p.users = map[string]userEntry{}
	}
	p.users[name] = userEntry{hash: []byte(bcryptHash), perms: perms}
	return nil
}

// ParseUser reads a user entry "name:bcrypt-hash:permissions" and adds it.
func (p *Policy) ParseUser(entry string) error {
	name, rest, ok := strings.Cut(entry, ":")
	i := strings.LastIndexByte(rest, ':')
	if !ok || i < 0 {
		return errors.New("want name:bcrypt-hash:permissions")
	}
	perms, err := ParsePermissions(rest[i+1:])
	if err != nil {
		return err
	}
	return p.AddUser(name, rest[:i], perms)
}

// ParseToken reads a token entry "name:token:permissions" and adds it.
func (p *Policy) ParseToken(entry string) error {
	name, rest, ok := strings.Cut(entry, ":")
	i := strings.LastIndexByte(rest, ':')
	if !ok || i <= 0 || name == "" {
		return errors.New("want name:token:permissions")
	}
	perms, err := ParsePermissions(rest[i+1:])
	if err != nil {
		return err
	}
	p.AddToken(rest[:i], name, perms)
	return nil
}

// CanWrite reports whether any identity may write, for the message that tells how to
// configure one.
func (p *Policy) CanWrite() bool {
	if p.Anonymous&Write != 0 || (p.OIDC != nil && p.OIDC.Permissions&Write != 0) {
		return true
	}
	for _, t := range p.tokens {
		if t.perms&Write != 0 {
			return true
		}
	}
	for _, u := range p.users {
		if u.perms&Write != 0 {
			return true
		}
	}
	return false
}

// HasCredentials reports whether any token or user is configured.
func (p *Policy) HasCredentials() bool { return len(p.tokens) > 0 || len(p.users) > 0 || p.OIDC != nil }

// Authenticate returns the identity of a client that sent username and token (a password
// when username is set; else a bearer token or a JWT). No credentials give the anonymous
// identity; wrong ones an Unauthenticated error that names no secret.
func (p *Policy) Authenticate(ctx context.Context, username, token string) (Identity, error) {
	if username != "" {
		u, ok := p.users[username]
		if ok {
			if bcrypt.CompareHashAndPassword(u.hash, []byte(token)) != nil {
				return Identity{}, doip.Errorf(doip.KindUnauthenticated, "wrong username or password")
			}
			return Identity{Name: username, Permissions: u.perms}, nil
		}
		// Not a user: clients that know only username and password (doipy) send a token as
		// the password. Spend the time a password check would take, so that timing does not
		// tell which names exist.
		_ = bcrypt.CompareHashAndPassword(dummyHash, []byte(token))
		if id, err := p.Authenticate(ctx, "", token); err == nil && token != "" {
			return id, nil
		}
		return Identity{}, doip.Errorf(doip.KindUnauthenticated, "wrong username or password")
	}
	switch {
	case token == "":
		return Identity{Name: "anonymous", Permissions: p.Anonymous}, nil
	}
	got := sha256.Sum256([]byte(token))
	match := -1
	for i := range p.tokens {
		if subtle.ConstantTimeCompare(got[:], p.tokens[i].digest[:]) == 1 {
			match = i
		}
	}
	if match >= 0 {
		return Identity{Name: p.tokens[match].name, Permissions: p.tokens[match].perms}, nil
	}
	if p.OIDC != nil && strings.Count(token, ".") == 2 {
		return p.OIDC.Verify(ctx, token)
	}
	return Identity{}, doip.Errorf(doip.KindUnauthenticated, "the token is not valid")
}

// dummyHash is a bcrypt hash of nothing anyone sends.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("no such user"), bcrypt.MinCost)

// Allow checks that id may do op, with an error that says what is missing and, for an
// anonymous client, how to authenticate.
func (p *Policy) Allow(id Identity, op doip.Op) error {
	need := Needed(op)
	if id.Permissions&need == need {
		return nil
	}
	if need == Write && !p.CanWrite() {
		return doip.Errorf(doip.KindForbidden, "%s needs the write permission, and no identity has it: configure a user (USERS, name:bcrypt-hash:read+write), a token (ACCESS_TOKENS, name:token:read+write, or AUTH_TOKENS) or an OIDC issuer", op)
	}
	if id.Anonymous() {
		return doip.Errorf(doip.KindUnauthenticated, "%s needs the %s permission: authenticate with a username and password, a token or an OIDC access token", op, need)
	}
	return doip.Errorf(doip.KindForbidden, "%s may not %s: it lacks the %s permission", id.Name, op, need)
}

// OIDC verifies JWT access tokens against an issuer's keys.
type OIDC struct {
	// Issuer is the "iss" every token must carry.
	Issuer string
	// Audience, if set, must be among the token's "aud".
	Audience string
	// Permissions are what a valid token may do.
	Permissions Permission
	// Keys finds the key of a token (keyfunc over the issuer's JWKS URL).
	Keys jwt.Keyfunc
	// Leeway tolerates clock skew in exp, nbf and iat.
	Leeway time.Duration
}

// Verify checks a JWT: signature by a key of the JWKS (RSA, ECDSA or EdDSA; never "none" or
// HMAC), issuer, audience, expiry. The identity is "oidc:" and the subject.
func (o *OIDC) Verify(_ context.Context, token string) (Identity, error) {
	opts := []jwt.ParserOption{
		jwt.WithIssuer(o.Issuer), jwt.WithExpirationRequired(), jwt.WithLeeway(o.Leeway),
		jwt.WithValidMethods([]string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}),
	}
	if o.Audience != "" {
		opts = append(opts, jwt.WithAudience(o.Audience))
	}
	var claims jwt.RegisteredClaims
	if _, err := jwt.ParseWithClaims(token, &claims, o.Keys, opts...); err != nil {
		switch {
		case errors.Is(err, jwt.ErrTokenExpired):
			return Identity{}, doip.Errorf(doip.KindUnauthenticated, "the access token has expired")
		case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
			return Identity{}, doip.Errorf(doip.KindUnauthenticated, "the access token's signature does not verify with the issuer's keys")
		case errors.Is(err, jwt.ErrTokenInvalidIssuer), errors.Is(err, jwt.ErrTokenInvalidAudience):
			return Identity{}, doip.Errorf(doip.KindUnauthenticated, "the access token was issued by another issuer or for another audience")
		}
		return Identity{}, doip.Errorf(doip.KindUnauthenticated, "the access token is not valid")
	}
	if claims.Subject == "" {
		return Identity{}, doip.Errorf(doip.KindUnauthenticated, "the access token names no subject")
	}
	return Identity{Name: "oidc:" + claims.Subject, Permissions: o.Permissions}, nil
}
