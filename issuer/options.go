package issuer

import (
	"github.com/jwt-authz/jwt-authz/dpop"

	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strings"
	"time"
)

// Defaults applied by New to zero Options fields; they match CONFIGURATION.md.
const (
	DefaultAccessTokenTTL     = 5 * time.Minute
	DefaultRefreshTokenTTL    = 336 * time.Hour
	DefaultSessionMaxLifetime = 720 * time.Hour
	// DefaultClientID is the RFC 9068 "client_id" claim of minted access
	// tokens. The token endpoint has no client registration (clients are
	// public, token_endpoint_auth_method "none"), so every token names the
	// issuer itself as the client.
	DefaultClientID = "jwt-authz"
)

// DefaultExchangeClaims are carried over from an exchanged token when
// Options.ExchangeClaims is empty.
var DefaultExchangeClaims = []string{"sub", "scope", "email"}

// Options configures an Issuer. Zero durations take the defaults above.
type Options struct {
	// Issuer is the "iss" of every minted token and the base URL of the
	// discovery document (https://host[/path], no query or fragment).
	Issuer string
	// Audiences is the "aud" of access tokens; at least one.
	Audiences []string
	// Algorithm, when set, must be the algorithm of the signing key.
	Algorithm string
	// SigningKeyFile and PreviousKeyFiles are informational here (LoadKeys
	// reads them); they are logged at start.
	SigningKeyFile   string
	PreviousKeyFiles []string
	// AccessTokenTTL is the lifetime of access tokens.
	AccessTokenTTL time.Duration
	// RefreshTokenTTL is the lifetime of each refresh token.
	RefreshTokenTTL time.Duration
	// RefreshReuseGrace is how long a just-rotated refresh token presented
	// again receives the same new pair instead of revoking its session.
	// Zero disables the window.
	RefreshReuseGrace time.Duration
	// SessionMaxLifetime caps the age of a session: no token of it outlives
	// CreatedAt + SessionMaxLifetime and it cannot be refreshed past it.
	SessionMaxLifetime time.Duration
	// ExchangeProviders names the providers whose tokens may be exchanged
	// for a session (RFC 8693). Empty disables token exchange.
	ExchangeProviders []string
	// ExchangeClaims are the claims carried over from an exchanged token
	// (default DefaultExchangeClaims). "sub" always becomes the session's
	// subject and "scope" (or "scp") its scope; registered claims (iss, aud,
	// exp, jti, sid, ...) are never copied.
	ExchangeClaims []string
	// ClientID is the "client_id" claim of access tokens (default
	// DefaultClientID).
	ClientID string
	// Revocations, when set, refuses refresh tokens that a revocation
	// covers (by jti, sid or subject cut-off), before the session store is
	// read; nil leaves that to the session store alone.
	Revocations RevocationChecker
	// Metrics receives the token endpoint metrics; nil keeps them
	// unregistered.
	Metrics *Metrics
	// Logger receives audit lines and errors; nil discards them.
	Logger *slog.Logger
	// Clock returns the current time; nil means time.Now.
	Clock func() time.Time
	// DPoP checks the DPoP proofs the token endpoint receives (RFC 9449
	// §5); with one, access tokens are bound to the proof's key and a new
	// session's refresh token too. nil ignores DPoP headers.
	DPoP *dpop.Checker
}

// withDefaults fills zero fields and checks the result.
func (o Options) withDefaults() (Options, error) {
	if o.AccessTokenTTL == 0 {
		o.AccessTokenTTL = DefaultAccessTokenTTL
	}
	if o.RefreshTokenTTL == 0 {
		o.RefreshTokenTTL = DefaultRefreshTokenTTL
	}
	if o.SessionMaxLifetime == 0 {
		o.SessionMaxLifetime = DefaultSessionMaxLifetime
	}
	if len(o.ExchangeClaims) == 0 {
		o.ExchangeClaims = DefaultExchangeClaims
	}
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Clock == nil {
		o.Clock = time.Now
	}
	if o.Metrics == nil {
		m, err := NewMetrics(nil)
		if err != nil {
			return o, err
		}
		o.Metrics = m
	}
	var errs []error
	if err := checkIssuerURL(o.Issuer); err != nil {
		errs = append(errs, err)
	}
	if len(o.Audiences) == 0 {
		errs = append(errs, errors.New("issuer: at least one audience is required"))
	}
	for _, a := range o.Audiences {
		if a == "" {
			errs = append(errs, errors.New("issuer: empty audience"))
		}
	}
	for name, d := range map[string]time.Duration{
		"access_token_ttl":     o.AccessTokenTTL,
		"refresh_token_ttl":    o.RefreshTokenTTL,
		"session_max_lifetime": o.SessionMaxLifetime,
	} {
		if d < time.Second {
			errs = append(errs, fmt.Errorf("issuer: %s must be at least 1s, got %s", name, d))
		}
	}
	if o.RefreshReuseGrace < 0 {
		errs = append(errs, fmt.Errorf("issuer: refresh_reuse_grace must not be negative, got %s", o.RefreshReuseGrace))
	}
	if o.RefreshReuseGrace >= o.RefreshTokenTTL {
		errs = append(errs, fmt.Errorf("issuer: refresh_reuse_grace %s must be shorter than refresh_token_ttl %s", o.RefreshReuseGrace, o.RefreshTokenTTL))
	}
	return o, errors.Join(errs...)
}

// checkIssuerURL accepts an absolute http(s) URL without query, fragment or
// user info, as OpenID Connect Discovery requires of an issuer identifier.
func checkIssuerURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("issuer: issuer URL: %w", err)
	}
	switch {
	case u.Scheme != "https" && u.Scheme != "http":
		return fmt.Errorf("issuer: issuer URL %q must use https or http", s)
	case u.Host == "":
		return fmt.Errorf("issuer: issuer URL %q has no host", s)
	case u.RawQuery != "" || u.Fragment != "" || u.User != nil || strings.Contains(s, "#"):
		return fmt.Errorf("issuer: issuer URL %q must not have a query, fragment or user info", s)
	}
	return nil
}
