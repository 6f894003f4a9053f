package token

import (
	"context"
	"errors"
	"fmt"
	"time"
	"unsafe"

	"github.com/jwt-authz/jwt-authz/jwks"
)

// DefaultMaxTokenBytes is the size above which a token is rejected before
// any parsing (8 KiB).
const DefaultMaxTokenBytes = 8 << 10

// KeySource returns the verification key of one provider by key id.
//
// Key must return jwks.ErrUnknownKey when no usable key has the id and
// jwks.ErrUnavailable when the provider has no usable key set at all. It may
// block for a rate-limited refetch, bounded by ctx.
type KeySource interface {
	Key(ctx context.Context, kid string) (*jwks.Key, error)
}

// KeyPeeker is a KeySource that can tell, without blocking, fetching or
// allocating, whether Key could find kid now (or report the keys
// unavailable). jwks.Source and jwks.Static are KeyPeekers.
type KeyPeeker interface {
	MayHave(kid string) bool
}

// Provider is one trusted issuer and the rules its tokens are held to.
type Provider struct {
	Name        string
	Issuer      string
	Audiences   []string
	Algorithms  []string // allow-list; empty means DefaultAlgorithms
	ClockSkew   time.Duration
	RequireExp  bool
	MaxLifetime time.Duration // 0: not checked
	Typ         string        // required JOSE typ; "" = not checked
	Keys        KeySource

	algs AlgorithmSet
}

// Options tune a Verifier.
type Options struct {
	MaxTokenBytes int              // default DefaultMaxTokenBytes
	Clock         func() time.Time // default time.Now
}

// Verifier verifies and validates tokens of a fixed set of providers.
type Verifier struct {
	// peek holds every provider's key source when all of them can say,
	// without blocking, whether a kid could be found (see KeyPeeker).
	peek     []KeyPeeker
	byIssuer map[string]*Provider
	byName   map[string]*Provider
	headers  *headerCache
	maxBytes int
	now      func() time.Time
}

// Result is what a verified token yields.
type Result struct {
	Claims   *Claims
	Provider *Provider
	Key      *jwks.Key // the key that verified the signature
}

// NewVerifier builds a Verifier; issuers and names must be unique.
func NewVerifier(providers []*Provider, opts Options) (*Verifier, error) {
	v := &Verifier{
		byIssuer: make(map[string]*Provider, len(providers)),
		byName:   make(map[string]*Provider, len(providers)),
		maxBytes: opts.MaxTokenBytes,
		now:      opts.Clock,
		headers:  newHeaderCache(),
	}
	if v.maxBytes <= 0 {
		v.maxBytes = DefaultMaxTokenBytes
	}
	if v.now == nil {
		v.now = time.Now
	}
	for _, p := range providers {
		if p.Keys == nil {
			return nil, fmt.Errorf("provider %s: no key source", p.Name)
		}
		names := p.Algorithms
		if len(names) == 0 {
			names = DefaultAlgorithms
		}
		set, err := NewAlgorithmSet(names)
		if err != nil {
			return nil, fmt.Errorf("provider %s: %w", p.Name, err)
		}
		// A reload builds a new Verifier over the providers whose settings
		// did not change, while the old one still verifies with them:
		// writing the same set again would race with those reads.
		if p.algs != set {
			p.algs = set
		}
		if _, dup := v.byIssuer[p.Issuer]; dup {
			return nil, fmt.Errorf("provider %s: issuer %q is used by another provider", p.Name, p.Issuer)
		}
		if _, dup := v.byName[p.Name]; dup {
			return nil, fmt.Errorf("provider %s: name is used twice", p.Name)
		}
		v.byIssuer[p.Issuer] = p
		v.byName[p.Name] = p
		if kp, ok := p.Keys.(KeyPeeker); ok {
			v.peek = append(v.peek, kp)
		}
	}
	if len(v.peek) != len(providers) {
		v.peek = nil
	}
	return v, nil
}

// Provider returns the provider with the given name.
func (v *Verifier) Provider(name string) (*Provider, bool) {
	p, ok := v.byName[name]
	return p, ok
}

// MaxTokenBytes is the size limit applied before parsing.
func (v *Verifier) MaxTokenBytes() int { return v.maxBytes }

// Verify verifies the signature of raw and validates its claims. On error,
// the Result still names the provider when the issuer was known.
func (v *Verifier) Verify(ctx context.Context, raw string) (Result, error) {
	res, err := v.VerifySignature(ctx, raw)
	if err != nil {
		return res, err
	}
	return res, v.Validate(res.Claims, res.Provider)
}

// Precheck rejects, without allocating, what can be rejected from the size
// and the header alone: oversize, not a compact JWS, an algorithm that is
// never accepted, or a kid that no provider has and none would refetch now.
// nil means the token may be valid; Verify still decides. It is meant to
// run before a cache lookup, so that made-up tokens cost less than a hit.
func (v *Verifier) Precheck(raw string) error {
	if len(raw) > v.maxBytes {
		return ErrTooLarge
	}
	_, err := splitHeader(raw, v.headers, v.mayHave())
	return err
}

// VerifySignature verifies the signature of raw with the key of the
// provider named by its "iss", without validating time, audience or typ.
// It is meant for revoking leaked tokens and for internal use; Check uses
// Verify.
func (v *Verifier) VerifySignature(ctx context.Context, raw string) (Result, error) {
	if len(raw) > v.maxBytes {
		return Result{}, ErrTooLarge
	}
	// When no provider has the key and none would refetch now, the answer
	// is unknown_kid whatever the payload says, so it is not decoded. This
	// keeps a flood of made-up kids as cheap as a cache hit.
	p, err := parseHeader(raw, v.headers, v.mayHave())
	if err != nil {
		return Result{}, err
	}
	if err := p.decodePayload(); err != nil {
		return Result{}, err
	}
	var sigBuf [maxStackSignature]byte
	sig, err := decodeSignature(&sigBuf, p.signature)
	if err != nil {
		return Result{}, err
	}
	prov, ok := v.byIssuer[p.claims.Issuer]
	if !ok {
		return Result{}, ErrUnknownIssuer
	}
	res := Result{Claims: &p.claims, Provider: prov}
	if !prov.algs.Has(p.alg) {
		return res, &unsupportedAlgError{name: p.alg.String()}
	}
	key, err := prov.Keys.Key(ctx, p.header.Kid)
	switch {
	case errors.Is(err, jwks.ErrUnavailable):
		return res, ErrKeysUnavailable
	case errors.Is(err, jwks.ErrUnknownKey):
		return res, ErrUnknownKey
	case err != nil:
		return res, fmt.Errorf("%w: %w", ErrKeysUnavailable, err)
	}
	if (key.Algorithm != "" && key.Algorithm != p.header.Alg) || !p.alg.fits(key.Public) {
		return res, fmt.Errorf("%w: key %s does not fit %s", ErrSignature, key.ID, p.alg)
	}
	if !p.alg.verifyKey(key, []byte(p.signingInput), sig) {
		return res, ErrSignature
	}
	res.Key = key
	return res, nil
}

// mayHave is anyMayHave when some provider can answer it without
// blocking, and nil (no filter) otherwise.
func (v *Verifier) mayHave() func(kid string) bool {
	if v.peek == nil {
		return nil
	}
	return v.anyMayHave
}

func (v *Verifier) anyMayHave(kid string) bool {
	for _, kp := range v.peek {
		if kp.MayHave(kid) {
			return true
		}
	}
	return false
}

// maxStackSignature is the longest signature decoded without allocating:
// RSA-8192, the largest key a JWKS may hold, signs with 1024 bytes.
const maxStackSignature = 1024

// decodeSignature decodes the signature segment into buf when it fits. It
// accepts only canonical base64url: no padding, no line breaks, unused
// trailing bits zero, so one signature has one spelling.
func decodeSignature(buf *[maxStackSignature]byte, sig64 string) ([]byte, error) {
	if !noLineBreaks(sig64) {
		return nil, errSignatureB64
	}
	if n := b64.DecodedLen(len(sig64)); n <= len(buf) {
		m, err := b64.Decode(buf[:n], unsafe.Slice(unsafe.StringData(sig64), len(sig64)))
		if err != nil {
			return nil, errSignatureB64
		}
		return buf[:m], nil
	}
	sig, err := b64.DecodeString(sig64)
	if err != nil {
		return nil, errSignatureB64
	}
	return sig, nil
}

// Validate checks the claims of a token whose signature is verified against
// the rules of its provider: expiry, not-before, issued-at, lifetime,
// audience and typ, in that order.
func (v *Verifier) Validate(c *Claims, p *Provider) error {
	now := v.now().Unix()
	skew := int64(p.ClockSkew / time.Second)
	if c.Expiry == 0 {
		if p.RequireExp {
			return fmt.Errorf("%w: no exp claim", ErrExpired)
		}
	} else if now >= c.Expiry+skew {
		return ErrExpired
	}
	if c.NotBefore != 0 && c.NotBefore > now+skew {
		return ErrNotYetValid
	}
	if c.IssuedAt != 0 && c.IssuedAt > now+skew {
		return ErrNotYetValid
	}
	if p.MaxLifetime > 0 {
		if c.IssuedAt == 0 || c.Expiry == 0 || c.Expiry-c.IssuedAt > int64(p.MaxLifetime/time.Second) {
			return ErrLifetimeExceeded
		}
	}
	if len(p.Audiences) > 0 && !anyAudience(c.Audience, p.Audiences) {
		return ErrAudience
	}
	if p.Typ != "" && !typEqual(c.Type, p.Typ) {
		return ErrType
	}
	// A logout token (OpenID Connect Back-Channel Logout) is signed by the
	// same keys and names a subject, but it ends a session: it never grants
	// access, whatever typ the provider requires.
	if typEqual(c.Type, logoutTyp) {
		return fmt.Errorf("%w: a logout token is not an access token", ErrType)
	}
	return nil
}

const logoutTyp = "logout+jwt"

func anyAudience(have, want []string) bool {
	for _, h := range have {
		for _, w := range want {
			if h == w {
				return true
			}
		}
	}
	return false
}

// typEqual compares media types as RFC 7515 §4.1.9 asks: case-insensitive,
// with the "application/" prefix optional.
func typEqual(got, want string) bool {
	return equalFold(trimApplication(got), trimApplication(want))
}

func trimApplication(s string) string {
	const prefix = "application/"
	if len(s) > len(prefix) && equalFold(s[:len(prefix)], prefix) {
		return s[len(prefix):]
	}
	return s
}

func equalFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}
