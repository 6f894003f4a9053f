package testkit

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"hash"
	"testing"
	"time"
)

var b64 = base64.RawURLEncoding

// Claims builds a typical claim set for issuer iss, valid for an hour.
func Claims(iss, sub string, aud ...string) map[string]any {
	now := time.Now().Unix()
	c := map[string]any{"iss": iss, "sub": sub, "iat": now, "exp": now + 3600, "jti": RandomID()}
	switch len(aud) {
	case 0:
	case 1:
		c["aud"] = aud[0]
	default:
		c["aud"] = aud
	}
	return c
}

// RandomID returns a random 128-bit base64url id.
func RandomID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return b64.EncodeToString(b[:])
}

// Sign returns a compact JWS of claims signed by k, with header fields
// alg and kid from k plus extra (which may override them).
func Sign(t testing.TB, k *Key, claims map[string]any, extra map[string]any) string {
	t.Helper()
	hdr := map[string]any{"alg": k.Alg, "typ": "JWT"}
	if k.KID != "" {
		hdr["kid"] = k.KID
	}
	for n, v := range extra {
		if v == nil {
			delete(hdr, n)
			continue
		}
		hdr[n] = v
	}
	input := encodeJSON(t, hdr) + "." + encodeJSON(t, claims)
	alg, _ := hdr["alg"].(string)
	return input + "." + b64.EncodeToString(signWith(t, k.Private, alg, []byte(input)))
}

// Unsigned returns a token with alg "none" and an empty signature part,
// plus a variant with a junk signature.
func Unsigned(t testing.TB, claims map[string]any) []string {
	t.Helper()
	input := encodeJSON(t, map[string]any{"alg": "none", "typ": "JWT"}) + "." + encodeJSON(t, claims)
	return []string{input + ".", input + ".AAAA"}
}

// HMACWithPublicKey signs claims with HS256 using the DER of pub as the
// secret: the classic key-confusion attack.
func HMACWithPublicKey(t testing.TB, pub crypto.PublicKey, kid string, claims map[string]any) string {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	input := encodeJSON(t, map[string]any{"alg": "HS256", "kid": kid}) + "." + encodeJSON(t, claims)
	m := hmac.New(sha256.New, der)
	m.Write([]byte(input))
	return input + "." + b64.EncodeToString(m.Sum(nil))
}

// ZeroECDSA returns an ES256 token whose signature is r = s = 0.
func ZeroECDSA(t testing.TB, kid string, claims map[string]any) string {
	t.Helper()
	input := encodeJSON(t, map[string]any{"alg": "ES256", "kid": kid}) + "." + encodeJSON(t, claims)
	return input + "." + b64.EncodeToString(make([]byte, 64))
}

func encodeJSON(t testing.TB, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b64.EncodeToString(b)
}

func signWith(t testing.TB, priv crypto.Signer, alg string, input []byte) []byte {
	t.Helper()
	var h crypto.Hash
	var hf func() hash.Hash
	switch alg {
	case "RS256", "PS256", "ES256":
		h, hf = crypto.SHA256, sha256.New
	case "RS384", "PS384", "ES384":
		h, hf = crypto.SHA384, sha512.New384
	case "RS512", "PS512", "ES512":
		h, hf = crypto.SHA512, sha512.New
	case "EdDSA":
		return ed25519.Sign(priv.(ed25519.PrivateKey), input)
	default:
		// Any other alg (for attack tests) gets a signature of the key's own kind.
		h, hf = crypto.SHA256, sha256.New
	}
	d := hf()
	d.Write(input)
	digest := d.Sum(nil)
	switch k := priv.(type) {
	case *rsa.PrivateKey:
		if alg[0] == 'P' {
			sig, err := rsa.SignPSS(rand.Reader, k, h, digest, &rsa.PSSOptions{SaltLength: rsa.PSSSaltLengthEqualsHash})
			if err != nil {
				t.Fatal(err)
			}
			return sig
		}
		sig, err := rsa.SignPKCS1v15(rand.Reader, k, h, digest)
		if err != nil {
			t.Fatal(err)
		}
		return sig
	case *ecdsa.PrivateKey:
		r, s, err := ecdsa.Sign(rand.Reader, k, digest)
		if err != nil {
			t.Fatal(err)
		}
		size := (k.Curve.Params().BitSize + 7) / 8
		out := make([]byte, 2*size)
		r.FillBytes(out[:size])
		s.FillBytes(out[size:])
		return out
	case ed25519.PrivateKey:
		return ed25519.Sign(k, input)
	}
	t.Fatalf("testkit: cannot sign with %T", priv)
	return nil
}
