package testkit

import (
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// PublicJWK returns the public JWK of k with only its key members, as a
// DPoP proof's header carries it.
func (k *Key) PublicJWK(t testing.TB) map[string]any {
	t.Helper()
	m := k.JWK(t)
	delete(m, "kid")
	delete(m, "alg")
	delete(m, "use")
	return m
}

// JKT returns the RFC 7638 SHA-256 thumbprint of k's public key,
// base64url: the cnf.jkt of a token bound to k.
func (k *Key) JKT(t testing.TB) string {
	t.Helper()
	jk, err := jwk.FromRaw(k.Public())
	if err != nil {
		t.Fatalf("testkit: jwk: %v", err)
	}
	sum, err := jk.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatalf("testkit: thumbprint: %v", err)
	}
	return b64.EncodeToString(sum)
}

// DPoPClaims are the claims of a fresh DPoP proof for a request with
// method and uri, presenting token ("" for none: no ath).
func DPoPClaims(method, uri, token string, now time.Time) map[string]any {
	c := map[string]any{"jti": RandomID(), "htm": method, "htu": uri, "iat": now.Unix()}
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		c["ath"] = b64.EncodeToString(sum[:])
	}
	return c
}

// DPoPProof signs a DPoP proof of claims with k: typ dpop+jwt, k's
// algorithm and its public JWK in the header. hdr changes header members
// (a nil value removes one).
func DPoPProof(t testing.TB, k *Key, claims map[string]any, hdr map[string]any) string {
	t.Helper()
	extra := map[string]any{"typ": "dpop+jwt", "jwk": k.PublicJWK(t), "kid": nil}
	for n, v := range hdr {
		extra[n] = v
	}
	return Sign(t, k, claims, extra)
}

// RawJWS joins hdr, claims and sig into a compact JWS as they are, without
// signing anything: for proofs and tokens a signer would refuse to make.
func RawJWS(t testing.TB, hdr, claims map[string]any, sig []byte) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("testkit: raw JWS: %v", err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	return enc(hdr) + "." + enc(claims) + "." + base64.RawURLEncoding.EncodeToString(sig)
}
