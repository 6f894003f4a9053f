package issuer

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// GenerateKeyPEM makes a fresh signing key for alg (EdDSA, ES256 or RS256)
// and returns it as a PKCS#8 "PRIVATE KEY" PEM block: the same key and
// encoding the issuer writes when it generates its own key file.
func GenerateKeyPEM(alg string) ([]byte, error) {
	if _, err := checkAlgorithm(alg); err != nil {
		return nil, err
	}
	key, err := generateKey(alg)
	if err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode generated key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}
