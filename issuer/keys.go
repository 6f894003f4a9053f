package issuer

import (
	"crypto"
	"crypto/cipher"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jws"
)

// PublicKey is one public key of the issuer, as published in its JWKS.
type PublicKey struct {
	// KID is the RFC 7638 SHA-256 thumbprint of the key, base64url.
	KID string
	// Algorithm is the JOSE algorithm the key signs with: EdDSA, ES256 or
	// RS256.
	Algorithm string
	// Key is ed25519.PublicKey, *ecdsa.PublicKey or *rsa.PublicKey.
	Key crypto.PublicKey
}

// Keys is the issuer's key material: the current signing key and the
// previous keys, which are published and still verify but never sign. A
// Keys is immutable and safe for concurrent use.
type Keys struct {
	signer    crypto.Signer
	signAlg   jwa.SignatureAlgorithm
	jwsSigner jws.Signer // signs with signAlg
	signKID   string
	public    []PublicKey          // current first
	byKID     map[string]PublicKey // every published key
	jwks      []byte
	jwksETag  string
	replayKey []cipher.AEAD // current first; see replay.go
}

// LoadKeys reads the signing key from signingKeyFile and the previous keys
// from previous. The files hold one PEM private key each (PKCS#8 "PRIVATE
// KEY", "EC PRIVATE KEY" or "RSA PRIVATE KEY"). When signingKeyFile does not
// exist, a key for alg (Ed25519, P-256 or RSA-2048) is generated and written
// to it with mode 0600, and reused from then on. The signing key must fit
// alg; a previous key may use any supported algorithm (so that an algorithm
// can be changed by rotation). A previous key equal to the signing key, or
// listed twice, is published once.
func LoadKeys(signingKeyFile string, previous []string, alg string) (*Keys, error) {
	if signingKeyFile == "" {
		return nil, errors.New("load keys: no signing key file")
	}
	if _, err := checkAlgorithm(alg); err != nil {
		return nil, fmt.Errorf("load keys: %w", err)
	}
	signer, err := readOrGenerateKey(signingKeyFile, alg)
	if err != nil {
		return nil, fmt.Errorf("load keys: %w", err)
	}
	keyAlg, err := algorithmOf(signer)
	if err != nil {
		return nil, fmt.Errorf("load keys: signing key %s: %w", signingKeyFile, err)
	}
	if keyAlg != alg {
		return nil, fmt.Errorf("load keys: signing key %s is a %s key, algorithm is %s", signingKeyFile, keyAlg, alg)
	}
	signers := []crypto.Signer{signer}
	for _, path := range previous {
		k, err := readKeyFile(path)
		if err != nil {
			return nil, fmt.Errorf("load keys: previous key: %w", err)
		}
		if _, err := algorithmOf(k); err != nil {
			return nil, fmt.Errorf("load keys: previous key %s: %w", path, err)
		}
		signers = append(signers, k)
	}
	return newKeys(signers)
}

// checkAlgorithm checks that alg is one the issuer signs with.
func checkAlgorithm(alg string) (jwa.SignatureAlgorithm, error) {
	switch alg {
	case AlgEdDSA, AlgES256, AlgRS256:
		return jwa.SignatureAlgorithm(alg), nil
	default:
		return "", fmt.Errorf("unsupported algorithm %q (want %s, %s or %s)", alg, AlgEdDSA, AlgES256, AlgRS256)
	}
}

// newKeys builds Keys from the signing key followed by the previous keys.
func newKeys(signers []crypto.Signer) (*Keys, error) {
	k := &Keys{byKID: make(map[string]PublicKey, len(signers))}
	set := jwk.NewSet()
	for i, s := range signers {
		alg, err := algorithmOf(s)
		if err != nil {
			return nil, err
		}
		pub, err := jwk.FromRaw(s.Public())
		if err != nil {
			return nil, fmt.Errorf("encode public key: %w", err)
		}
		tp, err := pub.Thumbprint(crypto.SHA256)
		if err != nil {
			return nil, fmt.Errorf("thumbprint public key: %w", err)
		}
		kid := b64.EncodeToString(tp)
		if i == 0 {
			k.signer, k.signAlg, k.signKID = s, jwa.SignatureAlgorithm(alg), kid
			if k.jwsSigner, err = jws.NewSigner(k.signAlg); err != nil {
				return nil, fmt.Errorf("signer for %s: %w", alg, err)
			}
		}
		if _, dup := k.byKID[kid]; dup {
			continue
		}
		for _, kv := range [][2]any{{jwk.KeyIDKey, kid}, {jwk.AlgorithmKey, jwa.SignatureAlgorithm(alg)}, {jwk.KeyUsageKey, jwk.ForSignature}} {
			if err := pub.Set(kv[0].(string), kv[1]); err != nil {
				return nil, fmt.Errorf("set %s on public key: %w", kv[0], err)
			}
		}
		if err := set.AddKey(pub); err != nil {
			return nil, fmt.Errorf("add public key: %w", err)
		}
		pk := PublicKey{KID: kid, Algorithm: alg, Key: s.Public()}
		k.public = append(k.public, pk)
		k.byKID[kid] = pk
		aead, err := replayAEAD(s)
		if err != nil {
			return nil, err
		}
		k.replayKey = append(k.replayKey, aead)
	}
	doc, err := json.Marshal(set)
	if err != nil {
		return nil, fmt.Errorf("encode jwks: %w", err)
	}
	k.jwks = doc
	k.jwksETag = etagOf(doc)
	return k, nil
}

// PublicKeys returns the published keys, the current signing key first. The
// slice is a copy.
func (k *Keys) PublicKeys() []PublicKey {
	return append([]PublicKey(nil), k.public...)
}

// JWKS returns the JSON Web Key Set document served at
// /.well-known/jwks.json: every published key with "use":"sig", "alg" and
// "kid". The slice is shared; do not modify it.
func (k *Keys) JWKS() []byte { return k.jwks }

// SigningKeyID returns the kid of the current signing key.
func (k *Keys) SigningKeyID() string { return k.signKID }

// Algorithm returns the algorithm of the current signing key.
func (k *Keys) Algorithm() string { return string(k.signAlg) }

// lookup returns the published key with kid.
func (k *Keys) lookup(kid string) (PublicKey, bool) {
	pk, ok := k.byKID[kid]
	return pk, ok
}

// algorithms returns the distinct algorithms of the published keys, the
// signing algorithm first.
func (k *Keys) algorithms() []string {
	var out []string
	seen := map[string]bool{}
	for _, pk := range k.public {
		if !seen[pk.Algorithm] {
			seen[pk.Algorithm] = true
			out = append(out, pk.Algorithm)
		}
	}
	return out
}
