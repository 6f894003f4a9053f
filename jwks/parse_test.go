package jwks

import (
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"math/big"
	"strings"
	"testing"
)

func TestParseSet(t *testing.T) {
	rsaPub := &testRSAKey().PublicKey
	ec := ecKey(t, "parse")
	ed := edKey().Public().(ed25519.PublicKey)

	offCurve := jwkMap(t, &ec.PublicKey, "off", "ES256", nil)
	offCurve["y"] = offCurve["x"] // almost surely not on the curve

	xKey, err := ecdh.X25519().GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	x25519 := map[string]any{"kty": "OKP", "crv": "X25519", "kid": "x", "x": base64.RawURLEncoding.EncodeToString(xKey.PublicKey().Bytes())}

	tests := []struct {
		name     string
		doc      []byte
		wantKIDs []string // nil with wantErr
		wantErr  error    // matched with errors.Is; errAny for any error
	}{
		{
			name:     "rsa ec and ed25519 kept in order",
			doc:      setJSON(t, jwkMap(t, rsaPub, "r", "RS256", nil), ecJWK(t, "parse", "e"), jwkMap(t, ed, "d", "EdDSA", nil)),
			wantKIDs: []string{"r", "e", "d"},
		},
		{
			name:     "use enc skipped",
			doc:      setJSON(t, jwkMap(t, rsaPub, "enc", "", map[string]any{"use": "enc"}), ecJWK(t, "parse", "e")),
			wantKIDs: []string{"e"},
		},
		{
			name:     "use sig kept",
			doc:      setJSON(t, jwkMap(t, rsaPub, "sig", "", map[string]any{"use": "sig"})),
			wantKIDs: []string{"sig"},
		},
		{
			name:     "symmetric oct skipped",
			doc:      setJSON(t, map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0c2VjcmV0c2VjcmV0"}, ecJWK(t, "parse", "e")),
			wantKIDs: []string{"e"},
		},
		{
			name:     "rsa under 2048 bits skipped",
			doc:      setJSON(t, jwkMap(t, &testSmallRSA().PublicKey, "small", "RS256", nil), ecJWK(t, "parse", "e")),
			wantKIDs: []string{"e"},
		},
		{
			name:     "key_ops without verify skipped",
			doc:      setJSON(t, jwkMap(t, rsaPub, "ops", "", map[string]any{"key_ops": []string{"encrypt"}}), ecJWK(t, "parse", "e")),
			wantKIDs: []string{"e"},
		},
		{
			name:     "key_ops with verify kept",
			doc:      setJSON(t, jwkMap(t, rsaPub, "ops", "", map[string]any{"key_ops": []string{"verify"}})),
			wantKIDs: []string{"ops"},
		},
		{
			name:     "X25519 skipped",
			doc:      setJSON(t, x25519, ecJWK(t, "parse", "e")),
			wantKIDs: []string{"e"},
		},
		{
			name:     "unsupported kty skipped",
			doc:      setJSON(t, map[string]any{"kty": "XYZ", "kid": "u"}, ecJWK(t, "parse", "e")),
			wantKIDs: []string{"e"},
		},
		{
			name:     "EC point off the curve skipped",
			doc:      setJSON(t, offCurve, ecJWK(t, "parse", "e")),
			wantKIDs: []string{"e"},
		},
		{
			name:     "alg of another key type skipped",
			doc:      setJSON(t, jwkMap(t, rsaPub, "mismatch", "ES256", nil), ecJWK(t, "parse", "e")),
			wantKIDs: []string{"e"},
		},
		{
			name:     "encryption alg skipped",
			doc:      setJSON(t, jwkMap(t, rsaPub, "oaep", "RSA-OAEP", nil), ecJWK(t, "parse", "e")),
			wantKIDs: []string{"e"},
		},
		{
			name:     "HS256 alg on an RSA key skipped",
			doc:      setJSON(t, jwkMap(t, rsaPub, "hs", "HS256", nil), ecJWK(t, "parse", "e")),
			wantKIDs: []string{"e"},
		},
		{
			name:     "malformed member skipped",
			doc:      setJSON(t, map[string]any{"kty": "RSA", "kid": "bad", "n": 42}, ecJWK(t, "parse", "e")),
			wantKIDs: []string{"e"},
		},
		{
			name:     "duplicate kid keeps the first",
			doc:      setJSON(t, ecJWK(t, "parse", "same"), jwkMap(t, rsaPub, "same", "RS256", nil)),
			wantKIDs: []string{"same"},
		},
		{
			name:     "keys without kid kept",
			doc:      setJSON(t, ecJWK(t, "parse", ""), jwkMap(t, ed, "", "", nil)),
			wantKIDs: []string{"", ""},
		},
		{
			name:     "identical keys without kid kept once",
			doc:      setJSON(t, ecJWK(t, "parse", ""), ecJWK(t, "parse", "")),
			wantKIDs: []string{""},
		},
		{
			name: "x5u and a broken x5c are ignored",
			doc: setJSON(t, jwkMap(t, rsaPub, "x", "RS256", map[string]any{
				"x5u": "https://attacker.example/cert.pem", "x5c": []string{"not a certificate"}, "x5t": "zz",
			})),
			wantKIDs: []string{"x"},
		},
		{
			name:     "private JWK reduced to its public part",
			doc:      setJSON(t, jwkMap(t, ec, "priv", "ES256", nil)),
			wantKIDs: []string{"priv"},
		},
		{name: "not JSON", doc: []byte("<html>"), wantErr: errAny},
		{name: "no keys member", doc: []byte(`{"kty":"EC"}`), wantErr: errAny},
		{name: "keys is null", doc: []byte(`{"keys":null}`), wantErr: errAny},
		{name: "keys is not an array", doc: []byte(`{"keys":{}}`), wantErr: errAny},
		{name: "empty set", doc: setJSON(t), wantErr: ErrNoUsableKeys},
		{name: "only skipped keys", doc: setJSON(t, jwkMap(t, rsaPub, "enc", "", map[string]any{"use": "enc"})), wantErr: ErrNoUsableKeys},
		{name: "array of garbage", doc: []byte(`{"keys":[1,"two",null,{}]}`), wantErr: ErrNoUsableKeys},
		{name: "over 1 MiB", doc: append(setJSON(t, ecJWK(t, "parse", "e")), make([]byte, maxDocumentBytes)...), wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			keys, err := ParseSet(tt.doc)
			if tt.wantErr != nil {
				if err == nil || (tt.wantErr != errAny && !errors.Is(err, tt.wantErr)) {
					t.Fatalf("err = %v, want %v", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseSet: %v", err)
			}
			var got []string
			for _, k := range keys {
				got = append(got, k.ID)
				checkUsable(t, k)
			}
			if strings.Join(got, ",") != strings.Join(tt.wantKIDs, ",") || len(got) != len(tt.wantKIDs) {
				t.Fatalf("kids = %q, want %q", got, tt.wantKIDs)
			}
		})
	}
}

// errAny stands for "some error" in tables.
var errAny = errors.New("any error")

// checkUsable asserts that k holds a public key of a supported kind and a
// thumbprint.
func checkUsable(t *testing.T, k *Key) {
	t.Helper()
	switch p := k.Public.(type) {
	case *rsa.PublicKey:
		if p.N.BitLen() < 2048 {
			t.Errorf("kid %q: %d-bit RSA key kept", k.ID, p.N.BitLen())
		}
	case *ecdsa.PublicKey, ed25519.PublicKey:
	default:
		t.Errorf("kid %q: public key of type %T", k.ID, k.Public)
	}
	if len(k.Thumbprint) != 43 {
		t.Errorf("kid %q: thumbprint %q is not a base64url SHA-256", k.ID, k.Thumbprint)
	}
	if k.Removed() {
		t.Errorf("kid %q: new key is marked removed", k.ID)
	}
}

// The RSA example key of RFC 7638, section 3.1, and its published
// thumbprint.
const (
	rfc7638N          = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
	rfc7638Thumbprint = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
)

func TestParseSetThumbprint(t *testing.T) {
	n, err := base64.RawURLEncoding.DecodeString(rfc7638N)
	if err != nil {
		t.Fatal(err)
	}
	// A leading zero byte does not change the key, so it must not change
	// the thumbprint either.
	padded := base64.RawURLEncoding.EncodeToString(append([]byte{0}, n...))

	tests := map[string]string{"canonical n": rfc7638N, "n with a leading zero": padded}
	for name, encodedN := range tests {
		t.Run(name, func(t *testing.T) {
			doc := setJSON(t, map[string]any{"kty": "RSA", "n": encodedN, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"})
			keys, err := ParseSet(doc)
			if err != nil {
				t.Fatal(err)
			}
			if got := keys[0].Thumbprint; got != rfc7638Thumbprint {
				t.Fatalf("thumbprint = %s, want %s", got, rfc7638Thumbprint)
			}
			if keys[0].Algorithm != "RS256" {
				t.Fatalf("alg = %q", keys[0].Algorithm)
			}
		})
	}
}

func TestParseSetPrivateKeyIsNotKept(t *testing.T) {
	ec := ecKey(t, "private")
	keys, err := ParseSet(setJSON(t, jwkMap(t, ec, "p", "", nil)))
	if err != nil {
		t.Fatal(err)
	}
	pub, ok := keys[0].Public.(*ecdsa.PublicKey)
	if !ok || !pub.Equal(&ec.PublicKey) {
		t.Fatalf("Public = %#v, want the public half", keys[0].Public)
	}
}

func TestParseSetRSAExponent(t *testing.T) {
	n := testRSAKey().N
	tests := map[string]struct {
		e    *big.Int
		keep bool
	}{
		"65537":          {big.NewInt(65537), true},
		"3":              {big.NewInt(3), true},
		"1":              {big.NewInt(1), false},
		"even":           {big.NewInt(65536), false},
		"wider than int": {new(big.Int).Lsh(big.NewInt(1), 80), false},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			doc := setJSON(t, map[string]any{
				"kty": "RSA", "kid": "k",
				"n": base64.RawURLEncoding.EncodeToString(n.Bytes()),
				"e": base64.RawURLEncoding.EncodeToString(tt.e.Bytes()),
			})
			_, err := ParseSet(doc)
			if tt.keep != (err == nil) {
				t.Fatalf("ParseSet err = %v, want kept=%v", err, tt.keep)
			}
		})
	}
}

func TestParseSetNotes(t *testing.T) {
	doc := setJSON(t,
		jwkMap(t, &testRSAKey().PublicKey, "enc", "", map[string]any{"use": "enc"}),
		jwkMap(t, ecKey(t, "notes"), "priv", "", nil),
		ecJWK(t, "notes", "priv"),
	)
	ps, err := parseSet(doc)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, n := range ps.notes {
		got = append(got, n.kid+":"+map[bool]string{true: "skipped", false: "warning"}[n.skipped])
	}
	want := []string{"enc:skipped", "priv:warning", "priv:skipped"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("notes = %v, want %v", got, want)
	}
}

// FuzzParseSet: ParseSet never panics, returns keys only without an
// error, and never returns a key outside the sanity bounds (RSA moduli of
// 2048 to 8192 bits and odd, exponents odd in 3..2^32, EC points on their
// curve, Ed25519 points canonical and not of small order).
func FuzzParseSet(f *testing.F) {
	f.Add(setJSON(f, ecJWK(f, "fuzz", "a"), jwkMap(f, edKey().Public(), "b", "EdDSA", nil)))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"oct","k":"AA"}],"x":1}`))
	// Keys just outside the bounds, each beside a good one (testdata/fuzz
	// holds more).
	for _, u := range unsafeKeys(f) {
		f.Add(setJSON(f, u.jwk, ecJWK(f, "fuzz", "good")))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		keys, err := ParseSet(doc)
		if err != nil {
			if keys != nil {
				t.Fatal("keys returned with an error")
			}
			return
		}
		if len(keys) == 0 {
			t.Fatal("no keys and no error")
		}
		for _, k := range keys {
			checkUsable(t, k)
			if !keyWithinBounds(k) {
				t.Fatalf("kid %q outside the sanity bounds is usable", k.ID)
			}
		}
	})
}

func TestNotesAreClipped(t *testing.T) {
	long := strings.Repeat("k", 10*maxShown)
	ps, err := parseSet(setJSON(t, map[string]any{"kty": long, "kid": long}, ecJWK(t, "clip", "ok")))
	if err != nil {
		t.Fatal(err)
	}
	n := ps.notes[0]
	if len(n.kid) > maxShown+3 || len(n.message) > maxShown+3 {
		t.Fatalf("note of %d and %d bytes", len(n.kid), len(n.message))
	}
}
