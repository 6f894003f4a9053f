package issuer

import "fmt"

// KeyFileAlgorithm reads the PEM private key file at path as LoadKeys
// does, without generating anything, and returns the algorithm the key
// signs with (EdDSA, ES256 or RS256). The error names the path.
func KeyFileAlgorithm(path string) (string, error) {
	k, err := readKeyFile(path)
	if err != nil {
		return "", err
	}
	alg, err := algorithmOf(k)
	if err != nil {
		return "", fmt.Errorf("key %s: %w", path, err)
	}
	return alg, nil
}
