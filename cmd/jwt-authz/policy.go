package main

import (
	"github.com/jwt-authz/jwt-authz/config"
	"github.com/jwt-authz/jwt-authz/extauthz"
	"github.com/jwt-authz/jwt-authz/issuer"
	"github.com/jwt-authz/jwt-authz/token"
)

// selfClockSkew is the skew allowed for the built-in issuer's tokens, for
// replicas whose clocks differ slightly; the issuer holds its own tokens to
// the same.
const selfClockSkew = issuer.ClockSkew

// buildPolicy compiles the verifier and the Check policy of cfg.
func buildPolicy(cfg *config.Config, entries []*providerEntry, m *extauthz.Metrics) (*extauthz.Policy, *token.Verifier, error) {
	tps := make([]*token.Provider, 0, len(entries))
	aps := make([]*extauthz.Provider, 0, len(entries))
	for _, e := range entries {
		tps = append(tps, e.authz.Token)
		aps = append(aps, e.authz)
	}
	v, err := token.NewVerifier(tps, token.Options{MaxTokenBytes: cfg.MaxTokenBytes})
	if err != nil {
		return nil, nil, err
	}
	opts := extauthz.PolicyOptions{
		Verifier:            v,
		Providers:           aps,
		DryRun:              cfg.DryRun,
		BypassCORSPreflight: cfg.BypassCORSPreflight,
		ClientCertHeader:    cfg.ForwardAuthClientCertHeader,
	}
	if cfg.PathNormalization == config.PathNormalizationEnvoy {
		opts.PathNormalization = extauthz.PathEnvoy
	}
	for _, s := range cfg.TokenSources {
		opts.Sources = append(opts.Sources, extauthz.Source{Header: s.Header, Cookie: s.Cookie, Query: s.Query})
	}
	for _, r := range cfg.Rules {
		opts.Rules = append(opts.Rules, extauthz.Rule{
			PathPrefix:     r.Match.PathPrefix,
			Path:           r.Match.Path,
			Methods:        r.Match.Methods,
			Host:           r.Match.Host,
			AllowAnonymous: r.AllowAnonymous,
			DryRun:         r.DryRun,
			Providers:      r.Providers,
			RequireScopes:  r.RequireScopes,
			RequireClaims:  r.RequireClaims,
		})
	}
	pol, err := extauthz.NewPolicy(opts, m)
	if err != nil {
		return nil, nil, err
	}
	return pol, v, nil
}
