package jwks_test

import (
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/jwt-authz/jwt-authz/jwks"
)

// A Source fetches a provider's JWKS and serves its keys by kid.
func ExampleSource() {
	// An identity provider publishing one Ed25519 key.
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public().(ed25519.PublicKey)
	doc := `{"keys":[{"kty":"OKP","crv":"Ed25519","use":"sig","alg":"EdDSA","kid":"2030-01",` +
		`"x":"` + base64.RawURLEncoding.EncodeToString(pub) + `"}]}`
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		_, _ = w.Write([]byte(doc))
	}))
	defer idp.Close()

	src, err := jwks.New(jwks.Options{Provider: "corp", JWKSURI: idp.URL + "/jwks.json"})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer src.Stop()
	ctx := context.Background()
	if err := src.Refresh(ctx); err != nil { // Start(ctx) would also keep it fresh
		fmt.Println(err)
		return
	}

	key, err := src.Key(ctx, "2030-01")
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("kid=%s alg=%s type=%T\n", key.ID, key.Algorithm, key.Public)

	_, err = src.Key(ctx, "2029-12")
	fmt.Println("unknown kid:", errors.Is(err, jwks.ErrUnknownKey))
	fmt.Println("status:", strings.Join(src.Status().KeyIDs, ","), src.Ready())
	// Output:
	// kid=2030-01 alg=EdDSA type=ed25519.PublicKey
	// unknown kid: true
	// status: 2030-01 true
}

// A Static serves keys held in memory, such as a built-in issuer's.
// FromPublicKey computes each key's RFC 7638 SHA-256 thumbprint.
func ExampleStatic() {
	pub := ed25519.NewKeyFromSeed(make([]byte, ed25519.SeedSize)).Public()
	key, err := jwks.FromPublicKey("self-1", "EdDSA", pub)
	if err != nil {
		fmt.Println(err)
		return
	}
	keys := jwks.NewStatic("self", []*jwks.Key{key})
	got, err := keys.Key(context.Background(), "self-1")
	fmt.Println(got == key, err, key.Thumbprint)
	// Output:
	// true <nil> 9ZP03Nu8GrXPAUkbKNxHOKBzxPX83SShgFkRNK-f2lw
}
