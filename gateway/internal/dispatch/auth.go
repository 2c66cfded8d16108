package dispatch

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"

	"github.com/fdo-doip/doip-gateway/gateway/internal/doip"
)

// Tokens holds the bearer tokens that may invoke workflows and purge records, as SHA-256
// digests. An empty Tokens means no authentication is required.
type Tokens [][sha256.Size]byte

// NewTokens hashes the configured tokens; empty strings are skipped.
func NewTokens(tokens ...string) Tokens {
	var t Tokens
	for _, tok := range tokens {
		if tok != "" {
			t = append(t, sha256.Sum256([]byte(tok)))
		}
	}
	return t
}

// allows reports whether token is one of t. It compares against every token in constant
// time (digests of equal length), so the time taken says nothing about how close a guess was.
func (t Tokens) allows(token string) bool {
	got := sha256.Sum256([]byte(token))
	ok := 0
	for i := range t {
		ok |= subtle.ConstantTimeCompare(got[:], t[i][:])
	}
	return ok == 1 && token != ""
}

// protected lists the operations that need a token when tokens are configured: those that
// run work or change state.
func protected(op doip.Op) bool { return op == doip.OpInvoke || op == doip.OpPurge }

// authenticate checks a request's token where the operation needs one.
func (d *Dispatcher) authenticate(req *doip.Request) error {
	if len(d.Tokens) == 0 || !protected(req.Op) || d.Tokens.allows(req.Token) {
		return nil
	}
	if req.Token == "" {
		return doip.Errorf(doip.KindUnauthenticated, "%s needs a token: send it as \"token\" (binary and length-prefixed forms) or in \"authentication\" (standard DOIP)", req.Op)
	}
	return doip.Errorf(doip.KindUnauthenticated, "the token given for %s is not valid", req.Op)
}

// clientIdentity names a client for the records of what it made (the metadata of commits):
// "token:" and the first 8 bytes of the SHA-256 of its token in hex, or "anonymous". The
// token itself never leaves the gateway.
func clientIdentity(token string) string {
	if token == "" {
		return "anonymous"
	}
	sum := sha256.Sum256([]byte(token))
	return "token:" + hex.EncodeToString(sum[:8])
}
