package issuer

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jwt-authz/jwt-authz/jwks"
	"github.com/jwt-authz/jwt-authz/token"
)

// maxTokenBytes bounds a token this issuer verifies; its own tokens are far
// smaller.
const maxTokenBytes = 8 << 10

// ClockSkew is the skew allowed on the times of the issuer's own tokens
// ("exp", "nbf", "iat"), for replicas whose clocks differ slightly. The
// authorization check holds access tokens to the same.
const ClockSkew = 30 * time.Second

// Verification failures of the issuer's own tokens. The token endpoint
// answers all of them with invalid_grant.
var (
	errTokenInvalid = errors.New("token is invalid")
	errTokenExpired = errors.New("token has expired")
)

// ownToken is a token of this issuer whose signature and claims were
// verified and validated.
type ownToken struct {
	Type      string
	Subject   string
	SessionID string
	ID        string
	Expiry    time.Time
	IssuedAt  int64 // unix seconds
}

// ownVerifier verifies the issuer's tokens with the token package's
// verifier, the one the authorization check uses, so that the two cannot
// disagree about a token: same parsing, same keys, same rules.
type ownVerifier struct {
	keys    *jwks.Static
	v       *token.Verifier
	access  *token.Provider // the rules of access tokens
	refresh *token.Provider // the rules of refresh tokens (not registered in v)
}

// newOwnVerifier builds the verifier of the tokens signed by keys.
func newOwnVerifier(keys *Keys, opts Options) (*ownVerifier, error) {
	var pub []*jwks.Key
	var algs []string
	seen := map[string]bool{}
	for _, pk := range keys.public {
		k, err := jwks.FromPublicKey(pk.KID, pk.Algorithm, pk.Key)
		if err != nil {
			return nil, fmt.Errorf("issuer: public key %s: %w", pk.KID, err)
		}
		pub = append(pub, k)
		if !seen[pk.Algorithm] {
			seen[pk.Algorithm] = true
			algs = append(algs, pk.Algorithm)
		}
	}
	ov := &ownVerifier{keys: jwks.NewStatic(selfName, pub)}
	ov.access = ov.rules(selfName, opts, algs)
	ov.refresh = ov.rules(selfName, opts, algs)
	ov.refresh.Audiences = []string{opts.Issuer}
	ov.refresh.Typ = typRefresh
	v, err := token.NewVerifier([]*token.Provider{ov.access}, token.Options{MaxTokenBytes: maxTokenBytes, Clock: opts.Clock})
	if err != nil {
		return nil, fmt.Errorf("issuer: %w", err)
	}
	ov.v = v
	return ov, nil
}

// selfName names the issuer's provider in its own verifier.
const selfName = "self"

// rules returns the provider of the issuer's access tokens.
func (ov *ownVerifier) rules(name string, opts Options, algs []string) *token.Provider {
	return &token.Provider{
		Name:       name,
		Issuer:     opts.Issuer,
		Audiences:  append([]string(nil), opts.Audiences...),
		Algorithms: append([]string(nil), algs...),
		RequireExp: true,
		ClockSkew:  ClockSkew,
		Typ:        typAccess,
		Keys:       ov.keys,
	}
}

// AccessTokenProvider returns, under the given name, the provider the
// authorization check needs for this issuer's access tokens: its issuer,
// audiences, published keys and algorithms, and the rules (exp required,
// typ at+jwt, ClockSkew) the issuer applies to them itself. Each call
// returns a new Provider, for one token.Verifier.
func (i *Issuer) AccessTokenProvider(name string) *token.Provider {
	return i.own.rules(name, i.opts, i.own.access.Algorithms)
}

// KeySource returns the issuer's published keys as a key source, shared by
// every verifier of its tokens: a cached token stays tied to the key that
// verified it.
func (i *Issuer) KeySource() *jwks.Static { return i.own.keys }

// verifyOwn verifies raw as a token signed by one of the issuer's published
// keys and validates its claims, through the same verifier and rules as the
// authorization check. wantTyp is typAccess, typRefresh, or "" for either.
// Tokens must also carry sub, jti, sid, exp and iat. Unless allowExpired,
// an expired token gives errTokenExpired. Every other failure is
// errTokenInvalid.
func (i *Issuer) verifyOwn(ctx context.Context, raw, wantTyp string, allowExpired bool) (ownToken, error) {
	res, err := i.own.v.VerifySignature(ctx, raw)
	if err != nil {
		return ownToken{}, errTokenInvalid
	}
	c := res.Claims
	if c.Subject == "" || c.ID == "" || c.SessionID == "" || c.Expiry == 0 || c.IssuedAt == 0 {
		return ownToken{}, errTokenInvalid
	}
	var rules []*token.Provider
	switch wantTyp {
	case typAccess:
		rules = []*token.Provider{i.own.access}
	case typRefresh:
		rules = []*token.Provider{i.own.refresh}
	default:
		rules = []*token.Provider{i.own.access, i.own.refresh}
	}
	expired := false
	for _, p := range rules {
		err := i.own.validate(c, p, allowExpired)
		if err == nil {
			return ownToken{Type: p.Typ, Subject: c.Subject, SessionID: c.SessionID, ID: c.ID, Expiry: time.Unix(c.Expiry, 0), IssuedAt: c.IssuedAt}, nil
		}
		expired = expired || errors.Is(err, token.ErrExpired)
	}
	if expired {
		return ownToken{}, errTokenExpired
	}
	return ownToken{}, errTokenInvalid
}

// validate validates c against p; with allowExpired, an expired token is
// held to every other rule.
func (ov *ownVerifier) validate(c *token.Claims, p *token.Provider, allowExpired bool) error {
	err := ov.v.Validate(c, p)
	if !allowExpired || !errors.Is(err, token.ErrExpired) {
		return err
	}
	unexpired := *c
	unexpired.Expiry = 0
	lenient := *p
	lenient.RequireExp = false
	return ov.v.Validate(&unexpired, &lenient)
}
