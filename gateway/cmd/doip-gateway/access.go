package main

import (
	"context"
	"fmt"
	"time"

	"github.com/MicahParks/keyfunc/v3"

	"github.com/fdo-doip/doip-gateway/gateway/internal/access"
	"github.com/fdo-doip/doip-gateway/gateway/internal/config"
)

// newAccessPolicy builds who may do what from the configuration: anonymous clients get
// cfg.Anonymous (and, while no AUTH_TOKENS are set, invoke and purge as before); AUTH_TOKENS
// may do everything; USERS and ACCESS_TOKENS what their entries say; OIDC access tokens of
// the configured issuer what OIDC_PERMISSIONS says, their keys fetched from the JWKS URL
// (and refreshed) for as long as ctx lasts.
func newAccessPolicy(ctx context.Context, cfg config.Config) (*access.Policy, error) {
	anon, err := access.ParsePermissions(cfg.Anonymous)
	if err != nil {
		return nil, fmt.Errorf("ANONYMOUS: %w", err)
	}
	if len(cfg.AuthTokens) == 0 {
		anon |= access.Invoke | access.Admin
	}
	p := &access.Policy{Anonymous: anon}
	for _, t := range cfg.AuthTokens {
		p.AddToken(t, "", access.All)
	}
	for i, u := range cfg.Users {
		if err := p.ParseUser(u); err != nil {
			return nil, fmt.Errorf("USERS entry %d: %w", i+1, err)
		}
	}
	for i, t := range cfg.AccessTokens {
		if err := p.ParseToken(t); err != nil {
			return nil, fmt.Errorf("ACCESS_TOKENS entry %d: %w", i+1, err)
		}
	}
	if cfg.OIDCIssuer != "" {
		perms, err := access.ParsePermissions(cfg.OIDCPermissions)
		if err != nil {
			return nil, fmt.Errorf("OIDC_PERMISSIONS: %w", err)
		}
		kf, err := keyfunc.NewDefaultCtx(ctx, []string{cfg.OIDCJWKSURL})
		if err != nil {
			return nil, fmt.Errorf("OIDC_JWKS_URL: %w", err)
		}
		p.OIDC = &access.OIDC{Issuer: cfg.OIDCIssuer, Audience: cfg.OIDCAudience, Permissions: perms, Keys: kf.Keyfunc, Leeway: 30 * time.Second}
	}
	return p, nil
}
