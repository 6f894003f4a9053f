package token_test

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/jwks"
	"github.com/jwt-authz/jwt-authz/token"
)

// forgery is a JWK a hostile or careless identity provider might publish,
// and a token made for it: signed with the weak key when that is possible,
// the classic small-order forgery for Ed25519, garbage otherwise.
type forgery struct {
	jwk map[string]any
	alg string
	sig func(input []byte) []byte
}

func b64big(x *big.Int) string { return base64.RawURLEncoding.EncodeToString(x.Bytes()) }

func randomBytes(n int) func([]byte) []byte {
	return func([]byte) []byte {
		b := make([]byte, n)
		_, _ = rand.Read(b)
		return b
	}
}

func forgeries(t *testing.T) map[string]forgery {
	t.Helper()
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	strong := testkit.NewKey(t, "RS256", "strong").Public().(*rsa.PublicKey)
	huge, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 16383))
	if err != nil {
		t.Fatal(err)
	}
	huge.SetBit(huge, 16383, 1).SetBit(huge, 0, 1)
	rsaJWK := func(kid string, n, e *big.Int) map[string]any {
		return map[string]any{"kty": "RSA", "kid": kid, "n": b64big(n), "e": b64big(e)}
	}
	e := big.NewInt(65537)
	out := map[string]forgery{
		"rsa-1024": {rsaJWK("rsa-1024", weak.N, e), "RS256", func(in []byte) []byte {
			sum := sha256.Sum256(in)
			sig, err := rsa.SignPKCS1v15(nil, weak, crypto.SHA256, sum[:])
			if err != nil {
				t.Fatal(err)
			}
			return sig
		}},
		"rsa-16384":    {rsaJWK("rsa-16384", huge, e), "RS256", randomBytes(2048)},
		"rsa-e-1":      {rsaJWK("rsa-e-1", strong.N, big.NewInt(1)), "RS256", randomBytes(256)},
		"rsa-e-even":   {rsaJWK("rsa-e-even", strong.N, big.NewInt(65536)), "RS256", randomBytes(256)},
		"rsa-e-2^64+3": {rsaJWK("rsa-e-2^64+3", strong.N, new(big.Int).Add(new(big.Int).Lsh(big.NewInt(1), 64), big.NewInt(3))), "RS256", randomBytes(256)},
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	y := new(big.Int).Add(ec.Y, big.NewInt(1))
	out["ec-off-curve"] = forgery{map[string]any{"kty": "EC", "crv": "P-256", "kid": "ec-off-curve",
		"x": base64.RawURLEncoding.EncodeToString(ec.X.FillBytes(make([]byte, 32))),
		"y": base64.RawURLEncoding.EncodeToString(y.FillBytes(make([]byte, 32)))}, "ES256", randomBytes(64)}

	// R = the identity, S = 0: valid for every message under a key whose
	// [k]A is the identity, which the identity key always gives.
	smallOrderSig := func([]byte) []byte {
		sig := make([]byte, 64)
		sig[0] = 1
		return sig
	}
	for i, h := range []string{
		"0100000000000000000000000000000000000000000000000000000000000000",
		"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"0000000000000000000000000000000000000000000000000000000000000000",
		"0000000000000000000000000000000000000000000000000000000000000080",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
		"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
		"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa",
		// p+1 and p+3: non-canonical spellings of y = 1 and y = 3.
		"eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
		"f0ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
	} {
		x, _ := hex.DecodeString(h)
		kid := "ed25519-" + string(rune('a'+i))
		out[kid] = forgery{map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": kid,
			"x": base64.RawURLEncoding.EncodeToString(x)}, "EdDSA", smallOrderSig}
	}
	return out
}

// A token for a key the JWKS sanity checks skip is never allowed, whatever
// its signature: the key is unknown to the verifier. The set's good key
// keeps verifying.
func TestVerifyNeverUsesUnsafeJWKSKeys(t *testing.T) {
	good := testkit.NewKey(t, "ES256", "good")
	fs := forgeries(t)
	keys := []any{good.JWK(t)}
	for _, f := range fs {
		keys = append(keys, f.jwk)
	}
	doc, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write(doc)
	}))
	t.Cleanup(srv.Close)
	src, err := jwks.New(jwks.Options{Provider: "corp", JWKSURI: srv.URL})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Stop)
	if err := src.Refresh(t.Context()); err != nil {
		t.Fatal(err)
	}
	if st := src.Status(); len(st.KeyIDs) != 1 || len(st.SkippedKeys) != len(fs) {
		t.Fatalf("keys %v, %d skipped, want 1 and %d", st.KeyIDs, len(st.SkippedKeys), len(fs))
	}
	v, err := token.NewVerifier([]*token.Provider{{Name: "corp", Issuer: iss, Audiences: []string{"orders-api"}, RequireExp: true, Keys: src}}, token.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(t.Context(), testkit.Sign(t, good, testkit.Claims(iss, "alice", "orders-api"), nil)); err != nil {
		t.Fatalf("good key: %v", err)
	}
	enc := func(v any) string {
		b, _ := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b)
	}
	for kid, f := range fs {
		input := enc(map[string]any{"alg": f.alg, "kid": kid, "typ": "JWT"}) + "." + enc(testkit.Claims(iss, "mallory", "orders-api"))
		sig := f.sig([]byte(input))
		if kid == "ed25519-a" {
			// The forgery is real: the identity key would accept it.
			x, _ := base64.RawURLEncoding.DecodeString(f.jwk["x"].(string))
			if !ed25519.Verify(ed25519.PublicKey(x), []byte(input), sig) {
				t.Fatal("the small-order forgery does not verify under the identity key")
			}
		}
		raw := input + "." + base64.RawURLEncoding.EncodeToString(sig)
		if _, err := v.Verify(t.Context(), raw); !errors.Is(err, token.ErrUnknownKey) {
			t.Errorf("%s: err = %v, want unknown key", kid, err)
		}
	}
}
