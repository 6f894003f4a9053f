package main

import (
	"context"
	"crypto"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jws"
	"github.com/lestrrat-go/jwx/v2/jwt"
	"golang.org/x/sync/errgroup"
)

// Claims every generated token carries; config.yaml trusts exactly these.
const (
	benchIssuer   = "https://bench.example/"
	benchAudience = "bench"
	benchScope    = "orders:read orders:write"
	benchProvider = "bench"
)

// tokenSpec describes one token to mint.
type tokenSpec struct {
	Alg      jwa.SignatureAlgorithm
	Key      crypto.Signer
	KID      string
	JTI      string
	Subject  string
	IssuedAt time.Time
	Expiry   time.Time
}

// mintToken signs spec as a compact JWS with iss, aud, sub, exp, iat, jti
// and scope, and "kid" and "typ: JWT" in the protected header.
func mintToken(spec tokenSpec) (string, error) {
	tok, err := jwt.NewBuilder().
		Issuer(benchIssuer).
		Audience([]string{benchAudience}).
		Subject(spec.Subject).
		IssuedAt(spec.IssuedAt).
		Expiration(spec.Expiry).
		JwtID(spec.JTI).
		Claim("scope", benchScope).
		Build()
	if err != nil {
		return "", fmt.Errorf("build claims of %s: %w", spec.JTI, err)
	}
	hdr := jws.NewHeaders()
	if err := hdr.Set(jws.KeyIDKey, spec.KID); err != nil {
		return "", fmt.Errorf("set kid of %s: %w", spec.JTI, err)
	}
	if err := hdr.Set(jws.TypeKey, "JWT"); err != nil {
		return "", fmt.Errorf("set typ of %s: %w", spec.JTI, err)
	}
	signed, err := jwt.Sign(tok, jwt.WithKey(spec.Alg, spec.Key, jws.WithProtectedHeaders(hdr)))
	if err != nil {
		return "", fmt.Errorf("sign %s: %w", spec.JTI, err)
	}
	return string(signed), nil
}

// mintMany builds n tokens, spec(i) describing the i-th, on every core:
// RSA-2048 signing costs milliseconds a token.
func mintMany(ctx context.Context, n int, spec func(i int) tokenSpec) ([]string, error) {
	out := make([]string, n)
	g, ctx := errgroup.WithContext(ctx)
	workers := runtime.GOMAXPROCS(0)
	for w := range workers {
		g.Go(func() error {
			for i := w; i < n; i += workers {
				if err := ctx.Err(); err != nil {
					return err
				}
				tok, err := mintToken(spec(i))
				if err != nil {
					return err
				}
				out[i] = tok
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// garbageKinds is the number of different shapes garbageToken produces.
const garbageKinds = 7

// garbageToken returns the i-th line of a garbage flood: printable ASCII (a
// header value must be), distinct from every other line (a random 128-bit
// part), cycling through shapes that stop a validator at different steps,
// from cheap (not a JWT at all) to costly (well-formed header naming a real
// key, so a verifier that checks the signature before the claims pays for
// it).
func garbageToken(rng *rand.Rand, i int) string {
	b64 := base64.RawURLEncoding.EncodeToString
	noise := func(n int) string {
		b := make([]byte, n)
		for j := range b {
			b[j] = byte(rng.Uint32())
		}
		return b64(b)
	}
	unique := noise(16)
	switch i % garbageKinds {
	case 0: // three segments of random bytes: the header is not JSON
		return noise(24) + "." + unique + "." + noise(32)
	case 1: // a real kid and alg, a payload that is not JSON, a random signature
		return b64([]byte(`{"alg":"RS256","kid":"bench-rs256","typ":"JWT"}`)) + "." + unique + "." + noise(256)
	case 2: // a signature segment missing
		return b64([]byte(`{"alg":"ES256","kid":"bench-es256"}`)) + "." + unique
	case 3: // no dots at all
		return "not-a-jwt-" + unique + strings.Repeat("x", rng.IntN(180))
	case 4: // alg none with plausible claims
		return b64([]byte(`{"alg":"none","typ":"JWT"}`)) + "." +
			b64(fmt.Appendf(nil, `{"iss":%q,"aud":%q,"sub":"mallory","exp":4102444800,"jti":%q}`, benchIssuer, benchAudience, unique)) + "."
	case 5: // HMAC, which is never accepted from a JWKS
		return b64([]byte(`{"alg":"HS256","kid":"bench-rs256","typ":"JWT"}`)) + "." +
			b64(fmt.Appendf(nil, `{"iss":%q,"aud":%q,"sub":"mallory","exp":4102444800,"jti":%q}`, benchIssuer, benchAudience, unique)) + "." + noise(32)
	default: // larger than the default 8 KiB limit
		return b64([]byte(`{"alg":"RS256","kid":"bench-rs256"}`)) + "." + unique + noise(6300) + "." + noise(256)
	}
}
