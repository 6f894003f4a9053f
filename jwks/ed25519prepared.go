package jwks

import (
	"crypto/ed25519"
	"crypto/fips140"
	"sync"

	voied25519 "github.com/oasisprotocol/curve25519-voi/primitives/ed25519"
)

// ed25519Prepared is an Ed25519 public key made ready for verification once.
type ed25519Prepared struct {
	once sync.Once
	pub  *voied25519.ExpandedPublicKey // nil: verify through crypto/ed25519
}

// Ed25519Expanded returns the key's Ed25519 point decompressed and expanded
// into the precomputed table that variable-base multiplication needs,
// computed on first use and kept with the key (about 1.5 KiB). With it a
// verify costs about half of what crypto/ed25519 spends, which decompresses
// the point and builds that table again on every call.
//
// It is nil for keys that are not Ed25519, in FIPS 140 mode (where the
// module's own code must verify), and for encodings that are not a point on
// the curve: crypto/ed25519 rejects every signature under those, as it
// always has.
func (k *Key) Ed25519Expanded() *voied25519.ExpandedPublicKey {
	k.ed25519.once.Do(func() {
		pub, ok := k.Public.(ed25519.PublicKey)
		if !ok || len(pub) != ed25519.PublicKeySize || fips140.Enabled() {
			return
		}
		if ek, err := voied25519.NewExpandedPublicKey(voied25519.PublicKey(pub)); err == nil {
			k.ed25519.pub = ek
		}
	})
	return k.ed25519.pub
}
