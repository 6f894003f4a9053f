package issuer

import (
	"os"
	"path/filepath"
	"testing"
)

func TestGenerateKeyPEMLoads(t *testing.T) {
	for _, alg := range []string{AlgEdDSA, AlgES256, AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			pemBytes, err := GenerateKeyPEM(alg)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(t.TempDir(), "key.pem")
			if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
				t.Fatal(err)
			}
			keys, err := LoadKeys(path, nil, alg)
			if err != nil {
				t.Fatal(err)
			}
			if keys.Algorithm() != alg {
				t.Fatalf("algorithm %s, want %s", keys.Algorithm(), alg)
			}
		})
	}
	if _, err := GenerateKeyPEM("HS256"); err == nil {
		t.Fatal("HS256 accepted")
	}
}
