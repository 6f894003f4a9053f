package main

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/lestrrat-go/jwx/v2/jwa"
	"github.com/lestrrat-go/jwx/v2/jwk"
)

// benchAlg is one signature algorithm the benchmark covers.
type benchAlg struct {
	Name string                 // as in file names and the JWS "alg": RS256, ES256, EdDSA
	Alg  jwa.SignatureAlgorithm // for jwx
	KID  string                 // key id published in the JWKS
}

// benchAlgs are the algorithms of the benchmark, in table order.
var benchAlgs = []benchAlg{
	{Name: "RS256", Alg: jwa.RS256, KID: "bench-rs256"},
	{Name: "ES256", Alg: jwa.ES256, KID: "bench-es256"},
	{Name: "EdDSA", Alg: jwa.EdDSA, KID: "bench-eddsa"},
}

// algByName returns the benchAlg called name.
func algByName(name string) (benchAlg, error) {
	for _, a := range benchAlgs {
		if a.Name == name {
			return a, nil
		}
	}
	return benchAlg{}, fmt.Errorf("unknown algorithm %q (want RS256, ES256 or EdDSA)", name)
}

// unknownKeyFile holds the key that signs unknown-kid tokens; it is never
// published in the JWKS.
const unknownKeyFile = "key-unknown-EdDSA.pem"

func keyFile(a benchAlg) string { return "key-" + a.Name + ".pem" }

// newPrivateKey generates a key for alg: RSA 2048, P-256 or Ed25519.
func newPrivateKey(alg jwa.SignatureAlgorithm) (crypto.Signer, error) {
	switch alg {
	case jwa.RS256:
		return rsa.GenerateKey(rand.Reader, 2048)
	case jwa.ES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case jwa.EdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	default:
		return nil, fmt.Errorf("generate key: unsupported algorithm %s", alg)
	}
}

// keyMatches reports whether k is the kind of key alg signs with.
func keyMatches(k crypto.Signer, alg jwa.SignatureAlgorithm) bool {
	switch k := k.(type) {
	case *rsa.PrivateKey:
		return alg == jwa.RS256 && k.N.BitLen() >= 2048
	case *ecdsa.PrivateKey:
		return alg == jwa.ES256 && k.Curve == elliptic.P256()
	case ed25519.PrivateKey:
		return alg == jwa.EdDSA
	default:
		return false
	}
}

// loadOrCreateKey reads the PKCS#8 PEM private key at path, or generates one
// and writes it there (mode 0600). Reusing keys lets fresh tokens be
// generated without changing a JWKS that a running server has loaded.
func loadOrCreateKey(path string, alg jwa.SignatureAlgorithm) (crypto.Signer, error) {
	b, err := os.ReadFile(path)
	switch {
	case err == nil:
		block, _ := pem.Decode(b)
		if block == nil || block.Type != "PRIVATE KEY" {
			return nil, fmt.Errorf("read key %s: not a PKCS#8 PEM private key", path)
		}
		parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("read key %s: %w", path, err)
		}
		k, ok := parsed.(crypto.Signer)
		if !ok || !keyMatches(k, alg) {
			return nil, fmt.Errorf("read key %s: not a %s key; remove it to generate a new one", path, alg)
		}
		return k, nil
	case errors.Is(err, fs.ErrNotExist):
		k, err := newPrivateKey(alg)
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKCS8PrivateKey(k)
		if err != nil {
			return nil, fmt.Errorf("encode key %s: %w", path, err)
		}
		if err := writeFileAtomic(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
			return nil, err
		}
		return k, nil
	default:
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
}

// publicJWKS returns the JSON JWKS publishing the public halves of keys
// (index-aligned with benchAlgs), each with kid, alg and use=sig.
func publicJWKS(keys []crypto.Signer) ([]byte, error) {
	set := jwk.NewSet()
	for i, a := range benchAlgs {
		pub, err := jwk.FromRaw(keys[i].Public())
		if err != nil {
			return nil, fmt.Errorf("build jwk %s: %w", a.KID, err)
		}
		for name, v := range map[string]any{jwk.KeyIDKey: a.KID, jwk.AlgorithmKey: a.Alg, jwk.KeyUsageKey: jwk.ForSignature} {
			if err := pub.Set(name, v); err != nil {
				return nil, fmt.Errorf("build jwk %s: set %s: %w", a.KID, name, err)
			}
		}
		if err := set.AddKey(pub); err != nil {
			return nil, fmt.Errorf("build jwks: %w", err)
		}
	}
	return json.MarshalIndent(set, "", "  ")
}

// writeFileAtomic writes data to a temporary file next to path and renames
// it into place, so that a server watching path (jwks_file) never reads a
// half-written file.
func writeFileAtomic(path string, data []byte, perm fs.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer os.Remove(tmp) // no-op once renamed
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Chmod(perm); err != nil {
		f.Close()
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}
