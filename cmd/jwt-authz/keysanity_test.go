package main

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"net/http"
	"strings"
	"testing"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// A JWKS of unsafe keys leaves its provider not ready; unsafe keys beside
// a good one are listed in /admin/providers with their reasons, counted in
// the metrics, and tokens made for them are denied while the good key's
// are allowed.
func TestEndToEndUnsafeJWKSKeysAreSkipped(t *testing.T) {
	weak, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	b64 := base64.RawURLEncoding.EncodeToString
	identity := make([]byte, 32)
	identity[0] = 1 // the Ed25519 identity point, of order 1
	unsafe := []map[string]any{
		{"kty": "RSA", "kid": "weak", "n": b64(weak.N.Bytes()), "e": b64(big.NewInt(65537).Bytes())},
		{"kty": "OKP", "crv": "Ed25519", "kid": "identity", "x": b64(identity)},
	}
	good := testkit.NewKey(t, "ES256", "good")
	body := func(keys ...map[string]any) []byte {
		b, err := json.Marshal(map[string]any{"keys": keys})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	js := newJWKSServer(t)
	js.mu.Lock()
	js.body = body(unsafe...)
	js.mu.Unlock()
	in := start(t, corpConfig(js.URL, ""), "")

	type status struct {
		Ready       bool   `json:"ready"`
		LastError   string `json:"last_error"`
		KeyIDs      []string
		SkippedKeys []struct {
			KID    string `json:"kid"`
			Reason string `json:"reason"`
			Detail string `json:"detail"`
		} `json:"skipped_keys"`
	}
	providers := func() status {
		var out struct {
			Providers []status `json:"providers"`
		}
		in.adminJSON("GET", "/admin/providers", nil, &out)
		if len(out.Providers) != 1 {
			t.Fatalf("providers: %+v", out)
		}
		return out.Providers[0]
	}
	eventually(t, "the unsafe set is fetched", func() bool { return providers().LastError != "" })
	st := providers()
	if st.Ready || !strings.Contains(st.LastError, "no usable keys") || len(st.SkippedKeys) != 2 {
		t.Fatalf("provider with unsafe keys only: %+v", st)
	}
	if code, b := do(t, "GET", "http://"+in.httpAddr+"/readyz", "", nil, nil); code != http.StatusServiceUnavailable || !strings.Contains(string(b), "no usable keys") {
		t.Fatalf("readyz with unsafe keys only: %d %s", code, b)
	}

	js.mu.Lock()
	js.body = body(append(unsafe, good.JWK(t))...)
	js.mu.Unlock()
	if code := in.adminJSON("POST", "/admin/jwks/refresh", nil, nil); code != http.StatusOK {
		t.Fatalf("refresh: %d", code)
	}
	eventually(t, "ready", in.grpcServing)
	st = providers()
	reasons := map[string]string{}
	for _, k := range st.SkippedKeys {
		reasons[k.KID] = k.Reason
		if k.Detail == "" {
			t.Errorf("kid %s skipped without detail", k.KID)
		}
	}
	if !st.Ready || reasons["weak"] != "rsa_modulus" || reasons["identity"] != "ed25519_small_order" {
		t.Fatalf("provider: %+v", st)
	}

	claims := testkit.Claims(corpIss, "mallory", "orders-api")
	weakKey := &testkit.Key{Alg: "RS256", KID: "weak", Private: weak}
	forgedInput := b64(mustJSON(t, map[string]any{"alg": "EdDSA", "kid": "identity"})) + "." + b64(mustJSON(t, claims))
	forgedSig := make([]byte, 64)
	forgedSig[0] = 1 // R = identity, S = 0
	for name, tok := range map[string]string{
		"signed with the 1024-bit key":         testkit.Sign(t, weakKey, claims, nil),
		"small-order forgery for the identity": forgedInput + "." + b64(forgedSig),
	} {
		if r := reasonOf(in.check(tok, "/")); r != "unknown_kid" {
			t.Errorf("%s: %s", name, r)
		}
	}
	if r := reasonOf(in.check(corpToken(t, good), "/")); r != "ok" {
		t.Fatalf("good key: %s", r)
	}

	_, metrics := do(t, "GET", "http://"+in.adminAddr+"/metrics", "", nil, nil)
	for _, line := range []string{
		`jwt_authz_jwks_keys_skipped_total{provider="corp",reason="rsa_modulus"} 2`,
		`jwt_authz_jwks_keys_skipped_total{provider="corp",reason="ed25519_small_order"} 2`,
		`jwt_authz_jwks_keys_skipped_total{provider="corp",reason="ec_point"} 0`,
		`jwt_authz_jwks_keys{provider="corp"} 1`,
	} {
		if !strings.Contains(string(metrics), line) {
			t.Errorf("metrics lack %s", line)
		}
	}
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
