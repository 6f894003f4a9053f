package token_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/token"
)

const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"

// unusedBits is how many low bits of a segment's last character carry no
// data: 4 for a length ≡ 2 (mod 4), 2 for ≡ 3, none otherwise.
func unusedBits(seg string) int {
	switch len(seg) % 4 {
	case 2:
		return 4
	case 3:
		return 2
	}
	return 0
}

// respellings are the other spellings of seg that lax decoders read as the
// same bytes: the last character with its unused bits set.
func respellings(seg string) []string {
	u := unusedBits(seg)
	last := strings.IndexByte(alphabet, seg[len(seg)-1])
	var out []string
	for x := 1; x < 1<<u; x++ {
		out = append(out, seg[:len(seg)-1]+string(alphabet[last^x]))
	}
	return out
}

// lengthPaddedToken signs a token whose header and payload segments have
// unused bits, so that each of its three segments has respellings.
func lengthPaddedToken(t *testing.T, k *testkit.Key) string {
	t.Helper()
	for i := range 12 {
		c := testkit.Claims(iss, "alice", "orders-api")
		c["pad"] = strings.Repeat("p", i%4)
		raw := testkit.Sign(t, k, c, map[string]any{"x": strings.Repeat("h", i/4)})
		parts := strings.Split(raw, ".")
		if unusedBits(parts[0]) > 0 && unusedBits(parts[1]) > 0 {
			return raw
		}
	}
	t.Fatal("no length gives every segment unused bits")
	return ""
}

// Every segment must be canonical base64url: each other spelling of a
// valid token's header, payload or signature is malformed, never
// bad_signature and never allowed.
func TestVerifyRejectsNonCanonicalSegments(t *testing.T) {
	f := newFixture(t, func(p *token.Provider) { p.Typ = "" })
	for _, alg := range algs {
		t.Run(alg, func(t *testing.T) {
			raw := lengthPaddedToken(t, f.keys[alg])
			if _, err := f.v.Verify(t.Context(), raw); err != nil {
				t.Fatalf("valid token: %v", err)
			}
			parts := strings.Split(raw, ".")
			var variants []string
			for i, seg := range parts {
				with := func(s string) string {
					p := append([]string(nil), parts...)
					p[i] = s
					return strings.Join(p, ".")
				}
				for _, s := range respellings(seg) {
					variants = append(variants, with(s))
				}
				variants = append(variants,
					with(seg+"="), with(seg+"=="), with(seg+"==="),
					with(seg[:1]+"\n"+seg[1:]), with(seg[:2]+"\r\n"+seg[2:]), with(seg+"\n"),
					with(seg[:len(seg)-1]+"+"), with(seg[:len(seg)-1]+"/"), with(seg[:3]+" "+seg[3:]),
				)
				// A length of 1 (mod 4) encodes no whole byte.
				for n := len(seg) - 3; n < len(seg); n++ {
					if n%4 == 1 {
						variants = append(variants, with(seg[:n]))
					}
				}
			}
			if alg == "RS256" || alg == "ES256" || alg == "EdDSA" {
				// 256- and 64-byte signatures leave 4 unused bits: 15 respellings.
				if n := len(respellings(parts[2])); n != 15 {
					t.Fatalf("%d respellings of the signature, want 15", n)
				}
			}
			for _, v := range variants {
				res, err := f.v.Verify(t.Context(), v)
				if !errors.Is(err, token.ErrMalformed) {
					t.Errorf("%s: err = %v, want malformed (key %v)", describe(raw, v), err, res.Key != nil)
				}
			}
		})
	}
}

// describe names where variant differs from raw without printing either.
func describe(raw, variant string) string {
	i := 0
	for i < len(raw) && i < len(variant) && raw[i] == variant[i] {
		i++
	}
	return fmt.Sprintf("variant differing at byte %d (segment %d, %q)", i, strings.Count(raw[:i], "."), variant[i:min(i+3, len(variant))])
}
