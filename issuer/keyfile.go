package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
)

// Algorithms the issuer signs with.
const (
	AlgEdDSA = "EdDSA"
	AlgES256 = "ES256"
	AlgRS256 = "RS256"
)

// minRSABits is the smallest RSA modulus accepted for signing or publishing.
const minRSABits = 2048

// maxKeyFileBytes bounds a PEM key file read into memory.
const maxKeyFileBytes = 64 << 10

// readOrGenerateKey returns the private key in path. When the file does not
// exist it generates a key for alg and writes it atomically first; when two
// processes race to do so, both end up with the one key that won.
func readOrGenerateKey(path, alg string) (crypto.Signer, error) {
	key, err := readKeyFile(path)
	if err == nil || !errors.Is(err, fs.ErrNotExist) {
		return key, err
	}
	generated, err := generateKey(alg)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(generated)
	if err != nil {
		return nil, fmt.Errorf("encode generated key: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	created, err := writeNewFile(path, pemBytes)
	if err != nil {
		return nil, fmt.Errorf("write signing key %s: %w", path, err)
	}
	if !created {
		// Another process wrote the file first: use its key.
		return readKeyFile(path)
	}
	return generated, nil
}

// readKeyFile reads and parses one PEM private key file.
func readKeyFile(path string) (crypto.Signer, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxKeyFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read key %s: %w", path, err)
	}
	if len(data) > maxKeyFileBytes {
		return nil, fmt.Errorf("read key %s: larger than %d bytes", path, maxKeyFileBytes)
	}
	key, err := parsePrivateKeyPEM(data)
	if err != nil {
		return nil, fmt.Errorf("parse key %s: %w", path, err)
	}
	return key, nil
}

// parsePrivateKeyPEM returns the first private key in data: PKCS#8
// ("PRIVATE KEY"), SEC 1 ("EC PRIVATE KEY") or PKCS#1 ("RSA PRIVATE KEY").
// Other blocks (EC PARAMETERS, certificates) are skipped; encrypted keys are
// refused.
func parsePrivateKeyPEM(data []byte) (crypto.Signer, error) {
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			return nil, errors.New("no PEM private key found")
		}
		if _, encrypted := block.Headers["Proc-Type"]; encrypted || block.Type == "ENCRYPTED PRIVATE KEY" {
			return nil, errors.New("encrypted private keys are not supported")
		}
		var (
			key any
			err error
		)
		switch block.Type {
		case "PRIVATE KEY":
			key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
		case "EC PRIVATE KEY":
			key, err = x509.ParseECPrivateKey(block.Bytes)
		case "RSA PRIVATE KEY":
			key, err = x509.ParsePKCS1PrivateKey(block.Bytes)
		default:
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", block.Type, err)
		}
		signer, ok := key.(crypto.Signer)
		if !ok {
			return nil, fmt.Errorf("unsupported private key type %T", key)
		}
		return signer, nil
	}
}

// generateKey makes a fresh key for alg.
func generateKey(alg string) (crypto.Signer, error) {
	switch alg {
	case AlgEdDSA:
		_, k, err := ed25519.GenerateKey(rand.Reader)
		return k, err
	case AlgES256:
		return ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	case AlgRS256:
		return rsa.GenerateKey(rand.Reader, minRSABits)
	default:
		return nil, fmt.Errorf("unsupported algorithm %q (want %s, %s or %s)", alg, AlgEdDSA, AlgES256, AlgRS256)
	}
}

// algorithmOf returns the signing algorithm a key is used with, or an error
// for a key the issuer does not support.
func algorithmOf(key crypto.Signer) (string, error) {
	switch k := key.(type) {
	case ed25519.PrivateKey:
		return AlgEdDSA, nil
	case *ecdsa.PrivateKey:
		if k.Curve != elliptic.P256() {
			return "", fmt.Errorf("unsupported ECDSA curve %s (want P-256)", k.Curve.Params().Name)
		}
		return AlgES256, nil
	case *rsa.PrivateKey:
		if k.N.BitLen() < minRSABits {
			return "", fmt.Errorf("RSA key of %d bits is too small (want at least %d)", k.N.BitLen(), minRSABits)
		}
		if err := k.Validate(); err != nil {
			return "", fmt.Errorf("invalid RSA key: %w", err)
		}
		return AlgRS256, nil
	default:
		return "", fmt.Errorf("unsupported private key type %T", key)
	}
}

// writeNewFile writes data to path with mode 0600 unless path exists,
// creating its directory with mode 0700. The content appears atomically: it
// is written to a temporary file in the same directory, synced, and linked
// into place, which fails rather than overwriting a file another process
// created meanwhile. created is false when path already existed.
func writeNewFile(path string, data []byte) (created bool, err error) {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return false, err
	}
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return false, err
	}
	tmpName := tmp.Name()
	defer os.Remove(tmpName)
	if err := tmp.Chmod(0o600); err != nil {
		tmp.Close()
		return false, err
	}
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return false, err
	}
	if err := tmp.Close(); err != nil {
		return false, err
	}
	if err := os.Link(tmpName, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return false, nil
		}
		// Some filesystems have no hard links: fall back to a rename, which
		// is atomic but may replace a file created in the same instant.
		if _, statErr := os.Lstat(path); statErr == nil {
			return false, nil
		}
		if err := os.Rename(tmpName, path); err != nil {
			return false, err
		}
	}
	syncDir(dir)
	return true, nil
}

// syncDir makes the new directory entry durable; failures are ignored
// because not every platform supports syncing a directory.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	_ = d.Sync()
	_ = d.Close()
}
