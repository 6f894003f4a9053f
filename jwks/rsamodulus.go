package jwks

import (
	"crypto/fips140"
	"crypto/rsa"
	"sync"

	"filippo.io/bigmod"
)

// rsaPrepared is an RSA public key made ready for verification once.
type rsaPrepared struct {
	once sync.Once
	n    *bigmod.Modulus // nil: verify through crypto/rsa
}

// RSAModulus returns the key's RSA modulus prepared for modular
// arithmetic, computed on first use and kept with the key. crypto/rsa
// prepares it again on every verification, which is about 40 % of an
// RS256 verify.
//
// It is nil for keys that are not RSA, in FIPS 140 mode (where the
// module's own code must verify), and for keys outside what every
// verifier accepts without question (a modulus that is even or shorter
// than 2048 bits, an exponent that is even, below 3 or above 2³¹−1):
// those are left to crypto/rsa, which rejects or accepts them as it
// always has.
func (k *Key) RSAModulus() *bigmod.Modulus {
	k.rsa.once.Do(func() {
		pub, ok := k.Public.(*rsa.PublicKey)
		if !ok || fips140.Enabled() || pub.N == nil || pub.N.Bit(0) == 0 || pub.N.BitLen() < 2048 ||
			pub.E < 3 || pub.E&1 == 0 || pub.E > 1<<31-1 {
			return
		}
		if n, err := bigmod.NewModulus(pub.N.Bytes()); err == nil {
			k.rsa.n = n
		}
	})
	return k.rsa.n
}
