package jwks

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"math/big"
	"strings"
	"testing"

	"github.com/oasisprotocol/curve25519-voi/curve"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// smallOrderEd25519 are the canonical encodings of the eight points of
// small order of edwards25519 (the torsion subgroup), as listed in "Taming
// the many EdDSAs" and in libsodium's blocklist.
var smallOrderEd25519 = []string{
	"0100000000000000000000000000000000000000000000000000000000000000", // identity
	"ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f", // order 2
	"0000000000000000000000000000000000000000000000000000000000000000", // order 4
	"0000000000000000000000000000000000000000000000000000000000000080", // order 4
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05", // order 8
	"26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a", // order 8
	"c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa", // order 8
}

// fieldElement encodes p+offset, with p = 2^255-19, little-endian in 32
// bytes: for offset < 19 the non-canonical spelling of y = offset.
func fieldElement(offset int64) []byte {
	p := new(big.Int).Sub(new(big.Int).Lsh(big.NewInt(1), 255), big.NewInt(19))
	be := p.Add(p, big.NewInt(offset)).FillBytes(make([]byte, 32))
	le := make([]byte, 32)
	for i, b := range be {
		le[31-i] = b
	}
	return le
}

func littleEndianY(y byte) []byte {
	b := make([]byte, 32)
	b[0] = y
	return b
}

// oddNumber returns a random odd number of exactly bits bits: an RSA
// modulus as far as a JWK reader can tell.
func oddNumber(bits int) *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), uint(bits-1)))
	if err != nil {
		panic(err) // test setup only
	}
	n.SetBit(n, bits-1, 1)
	return n.SetBit(n, 0, 1)
}

func b64int(x *big.Int) string { return base64.RawURLEncoding.EncodeToString(x.Bytes()) }

func rsaJWK(kid string, n, e *big.Int) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "n": b64int(n), "e": b64int(e)}
}

func okpJWK(kid string, x []byte) map[string]any {
	return map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": kid, "x": base64.RawURLEncoding.EncodeToString(x)}
}

// offCurve returns the JWK of a P-256 point whose y was moved off the curve.
func offCurve(t testing.TB, kid string) map[string]any {
	m := ecJWK(t, "off-curve", kid)
	y, _ := base64.RawURLEncoding.DecodeString(m["y"].(string))
	y[len(y)-1] ^= 1
	m["y"] = base64.RawURLEncoding.EncodeToString(y)
	return m
}

// unsafeKey is a JWK that must be skipped, and why.
type unsafeKey struct {
	jwk    map[string]any
	reason string
}

// unsafeKeys are keys every reader of a JWKS must skip, by kid.
func unsafeKeys(t testing.TB) map[string]unsafeKey {
	t.Helper()
	e := big.NewInt(65537)
	n := testRSAKey().N
	pow2 := func(k uint) *big.Int { return new(big.Int).Lsh(big.NewInt(1), k) }
	add := func(a *big.Int, b int64) *big.Int { return new(big.Int).Add(a, big.NewInt(b)) }
	keys := map[string]unsafeKey{
		"rsa-1024":            {rsaJWK("rsa-1024", testSmallRSA().N, e), SkipRSAModulus},
		"rsa-16384":           {rsaJWK("rsa-16384", oddNumber(16384), e), SkipRSAModulus},
		"rsa-8193":            {rsaJWK("rsa-8193", oddNumber(8193), e), SkipRSAModulus},
		"rsa-even-modulus":    {rsaJWK("rsa-even-modulus", new(big.Int).SetBit(n, 0, 0), e), SkipRSAModulus},
		"rsa-e-1":             {rsaJWK("rsa-e-1", n, big.NewInt(1)), SkipRSAExponent},
		"rsa-e-even":          {rsaJWK("rsa-e-even", n, big.NewInt(65536)), SkipRSAExponent},
		"rsa-e-2^32+1":        {rsaJWK("rsa-e-2^32+1", n, add(pow2(32), 1)), SkipRSAExponent},
		"rsa-e-2^64+3":        {rsaJWK("rsa-e-2^64+3", n, add(pow2(64), 3)), SkipRSAExponent},
		"rsa-e-2^80":          {rsaJWK("rsa-e-2^80", n, pow2(80)), SkipRSAExponent},
		"ec-off-curve":        {offCurve(t, "ec-off-curve"), SkipECPoint},
		"ec-infinity":         {map[string]any{"kty": "EC", "crv": "P-256", "kid": "ec-infinity", "x": b64int(new(big.Int)), "y": b64int(new(big.Int))}, SkipECPoint},
		"ed-not-on-curve":     {okpJWK("ed-not-on-curve", littleEndianY(2)), SkipEd25519Encoding},
		"ed-non-canonical-y":  {okpJWK("ed-non-canonical-y", fieldElement(3)), SkipEd25519Encoding},
		"ed-non-canonical-id": {okpJWK("ed-non-canonical-id", fieldElement(1)), SkipEd25519Encoding},
	}
	for i, h := range smallOrderEd25519 {
		b, _ := hex.DecodeString(h)
		kid := "ed-small-order-" + string(rune('0'+i))
		keys[kid] = unsafeKey{okpJWK(kid, b), SkipEd25519SmallOrder}
	}
	return keys
}

// Keys at the edges of the bounds are kept.
func TestParseSetKeepsKeysWithinBounds(t *testing.T) {
	n := testRSAKey().N
	doc := setJSON(t,
		rsaJWK("rsa-8192", oddNumber(8192), big.NewInt(65537)),
		rsaJWK("rsa-2048-e-3", n, big.NewInt(3)),
		rsaJWK("rsa-e-2^32-1", testRSAKey2().N, big.NewInt(1<<32-1)),
		okpJWK("ed", edKey().Public().(ed25519.PublicKey)),
		ecJWK(t, "bounds", "ec"),
	)
	ps, err := parseSet(doc)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps.keys) != 5 || len(skippedKeys(ps.notes)) != 0 {
		t.Fatalf("kept %d keys, skipped %+v", len(ps.keys), skippedKeys(ps.notes))
	}
}

// Each unsafe key is skipped with its reason, and never costs a good key
// of the same document its place.
func TestParseSetSkipsUnsafeKeys(t *testing.T) {
	for kid, u := range unsafeKeys(t) {
		t.Run(kid, func(t *testing.T) {
			ps, err := parseSet(setJSON(t, u.jwk, ecJWK(t, "good", "good")))
			if err != nil {
				t.Fatal(err)
			}
			if len(ps.keys) != 1 || ps.keys[0].ID != "good" {
				t.Fatalf("keys = %v, want only the good one", kids(ps.keys))
			}
			sk := skippedKeys(ps.notes)
			if len(sk) != 1 || sk[0].KID != kid || sk[0].Reason != u.reason || sk[0].Index != 0 || sk[0].Detail == "" {
				t.Fatalf("skipped = %+v, want %s for %s", sk, u.reason, kid)
			}
			// Alone, it leaves no usable key.
			if _, err := parseSet(setJSON(t, u.jwk)); !errors.Is(err, ErrNoUsableKeys) {
				t.Fatalf("alone: err = %v", err)
			}
		})
	}
}

// An exponent wider than a machine integer is judged whole, not as the
// decoder would truncate it.
func TestParseSetHugeExponentIsNotTruncated(t *testing.T) {
	// 2^64+3 read as a machine integer would be 3, a valid exponent.
	_, err := FromPublicKey("k", "", &rsa.PublicKey{N: testRSAKey().N, E: 1 << 33})
	if reasonOf(err) != SkipRSAExponent {
		t.Fatalf("FromPublicKey with e = 2^33: %v", err)
	}
	u := unsafeKeys(t)["rsa-e-2^64+3"]
	if _, _, err := parseKey(mustJSON(t, u.jwk)); reasonOf(err) != SkipRSAExponent {
		t.Fatalf("parseKey: %v", err)
	}
}

// A source serving a set with unsafe keys among good ones serves the good
// ones, reports each skipped key in Status with its reason, logs each once
// per document and counts it by reason; a document of unsafe keys only
// leaves the provider not ready, or, after good keys, keeps those.
func TestSourceSkipsUnsafeKeys(t *testing.T) {
	var bad []map[string]any
	want := map[string]string{}
	for kid, u := range unsafeKeys(t) {
		bad = append(bad, u.jwk)
		want[kid] = u.reason
	}
	srv := newJWKSServer(t, setJSON(t, bad...))
	env := newTestSource(t, Options{Provider: "idp", JWKSURI: srv.URL})
	src := env.src
	ctx := context.Background()

	err := src.Refresh(ctx)
	if !errors.Is(err, ErrNoUsableKeys) {
		t.Fatalf("refresh of a set of unsafe keys: %v", err)
	}
	st := src.Status()
	if st.Ready || src.Ready() || !strings.Contains(st.LastError, "no usable keys") || len(st.SkippedKeys) != len(want) {
		t.Fatalf("status after unsafe keys only: ready %v, error %q, %d skipped", st.Ready, st.LastError, len(st.SkippedKeys))
	}
	for _, sk := range st.SkippedKeys {
		if want[sk.KID] != sk.Reason {
			t.Errorf("kid %s skipped for %s, want %s", sk.KID, sk.Reason, want[sk.KID])
		}
	}
	if _, err := src.Key(ctx, "rsa-1024"); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("Key of a provider without usable keys: %v", err)
	}

	// A good key joins: it serves, the unsafe ones stay out.
	srv.set(setJSON(t, append(bad, ecJWK(t, "good", "good"))...))
	env.clock.Advance(DefaultMinRefreshInterval)
	if err := src.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	mustKey(t, src, "good")
	for kid := range want {
		if k, err := src.Key(ctx, kid); !errors.Is(err, ErrUnknownKey) {
			t.Fatalf("Key(%s) = %v, %v", kid, k, err)
		}
	}
	if st := src.Status(); !st.Ready || len(st.SkippedKeys) != len(want) || len(st.KeyIDs) != 1 {
		t.Fatalf("status with one good key: %+v", st)
	}

	// Unsafe keys only again: the good key keeps serving.
	srv.set(setJSON(t, bad...))
	env.clock.Advance(DefaultMinRefreshInterval)
	if err := src.Refresh(ctx); !errors.Is(err, ErrNoUsableKeys) {
		t.Fatalf("refresh: %v", err)
	}
	mustKey(t, src, "good")

	// Two documents of unsafe keys and the mixed one: three times each.
	for kid, reason := range want {
		if n := env.logs.Count(`kid=` + kid + ` `); n != 3 {
			t.Errorf("kid %s logged %d times, want 3", kid, n)
		}
		if got := testutil.ToFloat64(env.metrics.skipped.WithLabelValues("idp", reason)); got < 3 {
			t.Errorf("reason %s counted %v times", reason, got)
		}
	}
	// The same document again is neither logged nor counted again.
	before := testutil.ToFloat64(env.metrics.skipped.WithLabelValues("idp", SkipRSAModulus))
	env.clock.Advance(DefaultMinRefreshInterval)
	_ = src.Refresh(ctx)
	if after := testutil.ToFloat64(env.metrics.skipped.WithLabelValues("idp", SkipRSAModulus)); after != before {
		t.Fatalf("same document counted again: %v -> %v", before, after)
	}
	if n := env.logs.Count(`kid=rsa-1024 `); n != 3 {
		t.Fatalf("same document logged again: %d", n)
	}
}

// Every series of a provider exists at 0 from the moment its source is
// created, and Forget removes every one.
func TestMetricsExistFromStart(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := NewMetrics(reg)
	src, err := New(Options{Provider: "corp", JWKSURI: "https://idp.example/jwks", Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(src.Stop)
	for _, r := range []string{resultSuccess, resultError, resultNotModified} {
		if n := testutil.CollectAndCount(m.fetches); n != 3 {
			t.Fatalf("%d fetch series, want 3", n)
		}
		if v := testutil.ToFloat64(m.fetches.WithLabelValues("corp", r)); v != 0 {
			t.Fatalf("fetch %s = %v", r, v)
		}
	}
	if n := testutil.CollectAndCount(m.skipped); n != len(SkipReasons) {
		t.Fatalf("%d skipped series, want %d", n, len(SkipReasons))
	}
	m.Forget("corp")
	if n := testutil.CollectAndCount(m.fetches) + testutil.CollectAndCount(m.skipped); n != 0 {
		t.Fatalf("%d series after Forget", n)
	}
}

// keyWithinBounds reports whether a key the parser returned is within the
// sanity bounds, each checked here independently of the parser's code.
func keyWithinBounds(k *Key) bool {
	switch p := k.Public.(type) {
	case *rsa.PublicKey:
		bits := p.N.BitLen()
		return bits >= 2048 && bits <= 8192 && p.N.Bit(0) == 1 && p.E >= 3 && p.E%2 == 1 && p.E <= 1<<32
	case *ecdsa.PublicKey:
		_, err := p.ECDH() // fails for points off the curve and infinity
		return err == nil
	case ed25519.PublicKey:
		var c curve.CompressedEdwardsY
		if _, err := c.SetBytes(p); err != nil {
			return false
		}
		var pt curve.EdwardsPoint
		if _, err := pt.SetCompressedY(&c); err != nil {
			return false
		}
		var again curve.CompressedEdwardsY
		again.SetEdwardsPoint(&pt)
		var eight curve.EdwardsPoint
		eight.MulByCofactor(&pt)
		return again == c && !eight.IsIdentity()
	}
	return false
}

func mustJSON(t testing.TB, v any) json.RawMessage {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
