package chaos

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
)

// jwksMode is how the JWKS server answers.
type jwksMode string

const (
	jwksOK      jwksMode = "ok"
	jwks500     jwksMode = "500"
	jwksHang    jwksMode = "hang"    // holds every request until the mode changes
	jwksGarbage jwksMode = "garbage" // 200 with a body that is not a JWKS
)

// jwksServer is the external provider's JWKS endpoint, a real HTTP server
// whose keys and failure mode the test changes while it runs.
type jwksServer struct {
	*httptest.Server
	mu      sync.Mutex
	mode    jwksMode
	keys    []*ecKey
	release chan struct{} // closed when a hang ends
	failed  atomic.Int64  // requests answered with an error or garbage
	hanging atomic.Int64  // requests held right now
}

func newJWKSServer(keys ...*ecKey) *jwksServer {
	js := &jwksServer{mode: jwksOK, keys: keys, release: make(chan struct{})}
	js.Server = httptest.NewServer(http.HandlerFunc(js.serve))
	return js
}

func (js *jwksServer) serve(w http.ResponseWriter, r *http.Request) {
	js.mu.Lock()
	mode, release := js.mode, js.release
	js.mu.Unlock()
	switch mode {
	case jwks500:
		js.failed.Add(1)
		http.Error(w, "identity provider down", http.StatusInternalServerError)
		return
	case jwksGarbage:
		js.failed.Add(1)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":tru`))
		return
	case jwksHang:
		js.hanging.Add(1)
		select {
		case <-release:
		case <-r.Context().Done():
		}
		js.hanging.Add(-1)
		if r.Context().Err() != nil {
			return
		}
	}
	js.mu.Lock()
	body := jwksDocument(js.keys)
	js.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(body)
}

// setMode changes how requests are answered; leaving jwksHang releases
// every held request.
func (js *jwksServer) setMode(m jwksMode) {
	js.mu.Lock()
	defer js.mu.Unlock()
	if js.mode == jwksHang && m != jwksHang {
		close(js.release)
		js.release = make(chan struct{})
	}
	js.mode = m
}

func (js *jwksServer) setKeys(keys ...*ecKey) {
	js.mu.Lock()
	defer js.mu.Unlock()
	js.keys = keys
}

// ecKey is an ES256 signing key with its key id. Tokens are signed here
// rather than with testkit, whose helpers need a *testing.T and so the
// test's own goroutine.
type ecKey struct {
	kid  string
	priv *ecdsa.PrivateKey
}

func newECKey(kid string) *ecKey {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return &ecKey{kid: kid, priv: priv}
}

var b64 = base64.RawURLEncoding

func jwksDocument(keys []*ecKey) []byte {
	var out struct {
		Keys []map[string]string `json:"keys"`
	}
	out.Keys = []map[string]string{}
	for _, k := range keys {
		x, y := make([]byte, 32), make([]byte, 32)
		k.priv.X.FillBytes(x)
		k.priv.Y.FillBytes(y)
		out.Keys = append(out.Keys, map[string]string{
			"kty": "EC", "crv": "P-256", "alg": "ES256", "use": "sig", "kid": k.kid,
			"x": b64.EncodeToString(x), "y": b64.EncodeToString(y),
		})
	}
	b, _ := json.Marshal(out)
	return b
}

// sign returns a compact ES256 JWS of claims with header kid.
func (k *ecKey) sign(kid string, claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "ES256", "typ": "JWT", "kid": kid})
	p, _ := json.Marshal(claims)
	input := b64.EncodeToString(h) + "." + b64.EncodeToString(p)
	d := sha256.Sum256([]byte(input))
	r, s, err := ecdsa.Sign(rand.Reader, k.priv, d[:])
	if err != nil {
		panic(fmt.Sprintf("sign: %v", err))
	}
	sig := make([]byte, 64)
	r.FillBytes(sig[:32])
	s.FillBytes(sig[32:])
	return input + "." + b64.EncodeToString(sig)
}
