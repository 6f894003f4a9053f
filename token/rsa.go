package token

import (
	"bytes"
	"crypto"

	"filippo.io/bigmod"
)

// DigestInfo prefixes of EMSA-PKCS1-v1_5 (RFC 8017 §9.2, note 1).
var pkcs1Prefixes = map[crypto.Hash][]byte{
	crypto.SHA256: {0x30, 0x31, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01, 0x05, 0x00, 0x04, 0x20},
	crypto.SHA384: {0x30, 0x41, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02, 0x05, 0x00, 0x04, 0x30},
	crypto.SHA512: {0x30, 0x51, 0x30, 0x0d, 0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03, 0x05, 0x00, 0x04, 0x40},
}

// verifyPKCS1v15 is RSASSA-PKCS1-v1_5 verification (RFC 8017 §8.2.2) with
// a modulus prepared once per key (jwks.Key.RSAModulus): the same steps
// as crypto/rsa, with the same modular arithmetic (crypto/rsa's own,
// published as filippo.io/bigmod), minus re-preparing the modulus on
// every call. TestRSAVerifyMatchesStdlib and FuzzRSAVerify hold it to
// crypto/rsa's answers. Verification handles only public values, so
// nothing here needs to run in constant time.
func verifyPKCS1v15(n *bigmod.Modulus, e int, h crypto.Hash, digest, sig []byte) bool {
	prefix, ok := pkcs1Prefixes[h]
	if !ok || len(digest) != h.Size() {
		return false
	}
	// Step 1: the signature is exactly as long as the modulus.
	k := n.Size()
	if len(sig) != k {
		return false
	}
	tLen := len(prefix) + len(digest)
	if k < tLen+11 {
		return false
	}
	// Step 2: s < n, m = s^e mod n, EM = m as k octets.
	s, err := bigmod.NewNat().SetBytes(sig, n)
	if err != nil {
		return false
	}
	em := bigmod.NewNat().ExpShortVarTime(s, uint(e), n).Bytes(n)
	// Steps 3–4: EM = 0x00 || 0x01 || PS (0xff…, at least 8) || 0x00 || T,
	// T = DigestInfo prefix || digest.
	if em[0] != 0 || em[1] != 1 || em[k-tLen-1] != 0 {
		return false
	}
	for _, b := range em[2 : k-tLen-1] {
		if b != 0xff {
			return false
		}
	}
	return bytes.Equal(em[k-tLen:k-len(digest)], prefix) && bytes.Equal(em[k-len(digest):], digest)
}
