package issuer

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/lestrrat-go/jwx/v2/jwk"
)

// writePEM writes blocks to a file in dir and returns its path.
func writePEM(t *testing.T, dir, name string, blocks ...*pem.Block) string {
	t.Helper()
	var out []byte
	for _, b := range blocks {
		out = append(out, pem.EncodeToMemory(b)...)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func pkcs8(t *testing.T, k crypto.Signer) *pem.Block {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return &pem.Block{Type: "PRIVATE KEY", Bytes: der}
}

// thumbprint computes the RFC 7638 kid independently of Keys.
func thumbprint(t *testing.T, pub crypto.PublicKey) string {
	t.Helper()
	k, err := jwk.FromRaw(pub)
	if err != nil {
		t.Fatal(err)
	}
	tp, err := k.Thumbprint(crypto.SHA256)
	if err != nil {
		t.Fatal(err)
	}
	return base64.RawURLEncoding.EncodeToString(tp)
}

func TestLoadKeysGeneratesOnce(t *testing.T) {
	for _, alg := range []string{AlgEdDSA, AlgES256, AlgRS256} {
		t.Run(alg, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data", "keys")
			path := filepath.Join(dir, "signing-key.pem")
			k1, err := LoadKeys(path, nil, alg)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Fatalf("key file mode %v, want 0600", fi.Mode().Perm())
			}
			di, err := os.Stat(dir)
			if err != nil {
				t.Fatal(err)
			}
			if di.Mode().Perm() != 0o700 {
				t.Fatalf("key dir mode %v, want 0700", di.Mode().Perm())
			}
			if leftovers, _ := filepath.Glob(filepath.Join(dir, ".*tmp*")); len(leftovers) != 0 {
				t.Fatalf("temporary files left: %v", leftovers)
			}
			k2, err := LoadKeys(path, nil, alg)
			if err != nil {
				t.Fatal(err)
			}
			if k1.SigningKeyID() != k2.SigningKeyID() {
				t.Fatalf("restart generated a new key: %s then %s", k1.SigningKeyID(), k2.SigningKeyID())
			}
			pub := k1.PublicKeys()
			if len(pub) != 1 || pub[0].Algorithm != alg || k1.Algorithm() != alg {
				t.Fatalf("public keys %+v", pub)
			}
			if want := thumbprint(t, pub[0].Key); pub[0].KID != want {
				t.Fatalf("kid %s, want RFC 7638 thumbprint %s", pub[0].KID, want)
			}
		})
	}
}

// TestLoadKeysConcurrentGeneration checks that processes starting together
// on an empty data dir all end up with one key.
func TestLoadKeysConcurrentGeneration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "signing-key.pem")
	const n = 8
	kids := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			k, err := LoadKeys(path, nil, AlgEdDSA)
			if err == nil {
				kids[i] = k.SigningKeyID()
			}
			errs[i] = err
		}()
	}
	wg.Wait()
	final, err := LoadKeys(path, nil, AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("loader %d: %v", i, errs[i])
		}
		if kids[i] != final.SigningKeyID() {
			t.Fatalf("loader %d uses %s, the file holds %s", i, kids[i], final.SigningKeyID())
		}
	}
}

func TestLoadKeysPEMFormats(t *testing.T) {
	dir := t.TempDir()
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	sec1, err := x509.MarshalECPrivateKey(ec)
	if err != nil {
		t.Fatal(err)
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		alg    string
		blocks []*pem.Block
		pub    crypto.PublicKey
	}{
		"PKCS#8 Ed25519": {AlgEdDSA, []*pem.Block{pkcs8(t, ed)}, ed.Public()},
		"PKCS#8 P-256":   {AlgES256, []*pem.Block{pkcs8(t, ec)}, ec.Public()},
		"PKCS#8 RSA":     {AlgRS256, []*pem.Block{pkcs8(t, rsaKey)}, rsaKey.Public()},
		"SEC 1 with EC PARAMETERS first": {AlgES256, []*pem.Block{
			{Type: "EC PARAMETERS", Bytes: []byte{0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07}},
			{Type: "EC PRIVATE KEY", Bytes: sec1},
		}, ec.Public()},
		"PKCS#1 RSA": {AlgRS256, []*pem.Block{{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(rsaKey)}}, rsaKey.Public()},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := writePEM(t, dir, strings.ReplaceAll(name, " ", "_")+".pem", tc.blocks...)
			k, err := LoadKeys(path, nil, tc.alg)
			if err != nil {
				t.Fatal(err)
			}
			if k.SigningKeyID() != thumbprint(t, tc.pub) {
				t.Fatalf("loaded a different key")
			}
		})
	}
}

func TestLoadKeysErrors(t *testing.T) {
	dir := t.TempDir()
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	small, _ := rsa.GenerateKey(rand.Reader, 1024)
	edPath := writePEM(t, dir, "ed.pem", pkcs8(t, ed))
	tests := map[string]struct {
		signing  string
		previous []string
		alg      string
		want     string
	}{
		"no path":            {"", nil, AlgEdDSA, "no signing key file"},
		"unsupported alg":    {filepath.Join(dir, "new-hs.pem"), nil, "HS256", "unsupported algorithm"},
		"none alg":           {filepath.Join(dir, "new-none.pem"), nil, "none", "unsupported algorithm"},
		"key does not fit":   {edPath, nil, AlgES256, "is a EdDSA key"},
		"P-384":              {writePEM(t, dir, "p384.pem", pkcs8(t, p384)), nil, AlgES256, "P-384"},
		"RSA 1024":           {writePEM(t, dir, "rsa1024.pem", &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(small)}), nil, AlgRS256, "too small"},
		"not PEM":            {writePEM(t, dir, "junk.pem"), nil, AlgEdDSA, "no PEM private key"},
		"only a certificate": {writePEM(t, dir, "cert.pem", &pem.Block{Type: "CERTIFICATE", Bytes: []byte{1}}), nil, AlgEdDSA, "no PEM private key"},
		"garbled DER":        {writePEM(t, dir, "garbled.pem", &pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1, 2, 3}}), nil, AlgEdDSA, "decode PRIVATE KEY"},
		"encrypted": {writePEM(t, dir, "enc.pem", &pem.Block{Type: "RSA PRIVATE KEY",
			Headers: map[string]string{"Proc-Type": "4,ENCRYPTED", "DEK-Info": "AES-128-CBC,00"}, Bytes: []byte{1}}), nil, AlgRS256, "encrypted"},
		"missing previous":  {edPath, []string{filepath.Join(dir, "absent.pem")}, AlgEdDSA, "previous key"},
		"bad previous":      {edPath, []string{filepath.Join(dir, "p384.pem")}, AlgEdDSA, "P-384"},
		"signing is a file": {filepath.Join(edPath, "sub", "key.pem"), nil, AlgEdDSA, "not a directory"},
		"huge file":         {writePEM(t, dir, "huge.pem", &pem.Block{Type: "COMMENT", Bytes: make([]byte, maxKeyFileBytes)}), nil, AlgEdDSA, "larger than"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := LoadKeys(tc.signing, tc.previous, tc.alg)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("LoadKeys: %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestKeysPreviousAndJWKS(t *testing.T) {
	dir := t.TempDir()
	current := filepath.Join(dir, "current.pem")
	old := filepath.Join(dir, "old.pem")
	oldKeys, err := LoadKeys(old, nil, AlgRS256) // generated: an algorithm change by rotation
	if err != nil {
		t.Fatal(err)
	}
	k, err := LoadKeys(current, []string{old, current, old}, AlgEdDSA)
	if err != nil {
		t.Fatal(err)
	}
	pub := k.PublicKeys()
	if len(pub) != 2 || pub[0].KID != k.SigningKeyID() || pub[1].KID != oldKeys.SigningKeyID() {
		t.Fatalf("public keys %+v: want current then previous, each once", pub)
	}
	if pub[1].Algorithm != AlgRS256 {
		t.Fatalf("previous key algorithm %s", pub[1].Algorithm)
	}
	if got := k.algorithms(); strings.Join(got, ",") != "EdDSA,RS256" {
		t.Fatalf("algorithms %v", got)
	}

	set, err := jwk.Parse(k.JWKS())
	if err != nil {
		t.Fatalf("JWKS does not parse: %v", err)
	}
	if set.Len() != 2 {
		t.Fatalf("JWKS has %d keys", set.Len())
	}
	for n := range set.Len() {
		key, _ := set.Key(n)
		if key.KeyID() != pub[n].KID || key.Algorithm().String() != pub[n].Algorithm || key.KeyUsage() != "sig" {
			t.Fatalf("JWK %d: kid %s alg %s use %s", n, key.KeyID(), key.Algorithm(), key.KeyUsage())
		}
	}
	var raw struct {
		Keys []map[string]any `json:"keys"`
	}
	if err := json.Unmarshal(k.JWKS(), &raw); err != nil {
		t.Fatal(err)
	}
	for _, m := range raw.Keys {
		for _, private := range []string{"d", "p", "q", "dp", "dq", "qi"} {
			if _, ok := m[private]; ok {
				t.Fatalf("JWKS publishes private member %q", private)
			}
		}
	}
}
