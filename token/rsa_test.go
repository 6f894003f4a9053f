package token

import (
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"math/big"
	"sync"
	"testing"

	"github.com/jwt-authz/jwt-authz/jwks"
)

var (
	rsaKeysOnce sync.Once
	rsaKeys     []*rsa.PrivateKey
)

// testRSAKeys are keys of the sizes JWKS serve, one with e = 3.
func testRSAKeys(t testing.TB) []*rsa.PrivateKey {
	rsaKeysOnce.Do(func() {
		for _, bits := range []int{2048, 3072, 4096} {
			k, err := rsa.GenerateKey(rand.Reader, bits)
			if err != nil {
				t.Fatal(err)
			}
			rsaKeys = append(rsaKeys, k)
		}
		// A small public exponent: the fast path must agree there too.
		// It needs a modulus whose φ is coprime with 3.
		for range 64 {
			k, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				t.Fatal(err)
			}
			if new(big.Int).ModInverse(big.NewInt(3), phi(k)) != nil {
				e3 := *k
				e3.PublicKey = rsa.PublicKey{N: k.N, E: 3}
				rsaKeys = append(rsaKeys, &e3)
				break
			}
		}
	})
	if len(rsaKeys) != 4 {
		t.Fatal("no key for e = 3")
	}
	return rsaKeys
}

func stdlibVerify(pub *rsa.PublicKey, h crypto.Hash, digest, sig []byte) bool {
	return rsa.VerifyPKCS1v15(pub, h, digest, sig) == nil
}

func preparedVerify(t testing.TB, pub *rsa.PublicKey, h crypto.Hash, digest, sig []byte) bool {
	n := (&jwks.Key{Public: pub}).RSAModulus()
	if n == nil {
		t.Fatalf("%d-bit key with e=%d not prepared", pub.N.BitLen(), pub.E)
	}
	return verifyPKCS1v15(n, pub.E, h, digest, sig)
}

// The prepared verification gives crypto/rsa's answer for valid
// signatures and every way of breaking one.
func TestRSAVerifyMatchesStdlib(t *testing.T) {
	for _, k := range testRSAKeys(t) {
		pub := &k.PublicKey
		for _, h := range []crypto.Hash{crypto.SHA256, crypto.SHA384, crypto.SHA512} {
			d := h.New()
			d.Write([]byte("header.payload"))
			digest := d.Sum(nil)
			var sig []byte
			if pub.E == 65537 {
				var err error
				if sig, err = rsa.SignPKCS1v15(rand.Reader, k, h, digest); err != nil {
					t.Fatal(err)
				}
			} else {
				// e = 3: sign by hand, m^d mod n, with d for e = 3.
				sig = signRaw(t, k, h, digest)
			}
			n := new(big.Int).Set(pub.N)
			cases := map[string][]byte{
				"valid":         sig,
				"flipped bit":   flip(sig, len(sig)-1),
				"flipped first": flip(sig, 0),
				"short":         sig[1:],
				"long":          append([]byte{0}, sig...),
				"zero":          make([]byte, len(sig)),
				"one":           append(make([]byte, len(sig)-1), 1),
				"n":             n.FillBytes(make([]byte, len(sig))),
				"n minus one":   new(big.Int).Sub(n, big.NewInt(1)).FillBytes(make([]byte, len(sig))),
				"all ones":      ones(len(sig)),
			}
			for name, s := range cases {
				for _, dg := range [][]byte{digest, flip(digest, 3), digest[:len(digest)-1]} {
					want := stdlibVerify(pub, h, dg, s)
					if got := preparedVerify(t, pub, h, dg, s); got != want {
						t.Errorf("%d-bit e=%d %v %s (digest %d bytes): prepared %v, crypto/rsa %v", pub.N.BitLen(), pub.E, h, name, len(dg), got, want)
					}
				}
			}
			if !preparedVerify(t, pub, h, digest, sig) {
				t.Errorf("%d-bit e=%d %v: valid signature rejected", pub.N.BitLen(), pub.E, h)
			}
		}
	}
}

// Keys outside the fast path's bounds are left to crypto/rsa.
func TestRSAModulusOnlyForOrdinaryKeys(t *testing.T) {
	k := testRSAKeys(t)[0]
	for name, pub := range map[string]*rsa.PublicKey{
		"even exponent": {N: k.N, E: 65536},
		"exponent 1":    {N: k.N, E: 1},
		"huge exponent": {N: k.N, E: 1 << 31},
		"even modulus":  {N: new(big.Int).Add(k.N, big.NewInt(1)), E: 65537},
		"1024 bits":     {N: new(big.Int).Rsh(k.N, 1024), E: 65537},
	} {
		if (&jwks.Key{Public: pub}).RSAModulus() != nil {
			t.Errorf("%s: prepared", name)
		}
	}
}

// signRaw signs with e = 3's private exponent, which rsa.SignPKCS1v15 does
// not allow for a key whose precomputed values belong to e = 65537.
func signRaw(t testing.TB, k *rsa.PrivateKey, h crypto.Hash, digest []byte) []byte {
	d := new(big.Int).ModInverse(big.NewInt(3), phi(k))
	size := (k.N.BitLen() + 7) / 8
	prefix := pkcs1Prefixes[h]
	em := make([]byte, size)
	em[1] = 1
	for i := 2; i < size-len(prefix)-len(digest)-1; i++ {
		em[i] = 0xff
	}
	copy(em[size-len(prefix)-len(digest):], prefix)
	copy(em[size-len(digest):], digest)
	s := new(big.Int).Exp(new(big.Int).SetBytes(em), d, k.N)
	return s.FillBytes(make([]byte, size))
}

func phi(k *rsa.PrivateKey) *big.Int {
	one := big.NewInt(1)
	return new(big.Int).Mul(new(big.Int).Sub(k.Primes[0], one), new(big.Int).Sub(k.Primes[1], one))
}

func flip(b []byte, i int) []byte {
	c := append([]byte(nil), b...)
	c[i] ^= 0x01
	return c
}

func ones(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = 0xff
	}
	return b
}

// FuzzRSAVerify holds the prepared verification to crypto/rsa's answer
// for arbitrary signatures and digests.
func FuzzRSAVerify(f *testing.F) {
	k := testRSAKeys(f)[0]
	d := crypto.SHA256.New()
	d.Write([]byte("x"))
	digest := d.Sum(nil)
	sig, err := rsa.SignPKCS1v15(rand.Reader, k, crypto.SHA256, digest)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(sig, digest)
	f.Add(flip(sig, 7), digest)
	f.Add([]byte{1, 2, 3}, digest)
	f.Fuzz(func(t *testing.T, sig, digest []byte) {
		want := stdlibVerify(&k.PublicKey, crypto.SHA256, digest, sig)
		if got := preparedVerify(t, &k.PublicKey, crypto.SHA256, digest, sig); got != want {
			t.Fatalf("prepared %v, crypto/rsa %v", got, want)
		}
	})
}
