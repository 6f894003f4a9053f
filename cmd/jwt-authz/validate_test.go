package main

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// writeKeyPEM writes a PKCS#8 PEM file of key and returns its path.
func writeKeyPEM(t *testing.T, dir, name string, key any) string {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, name)
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func jwksJSON(t *testing.T, kids ...string) string {
	t.Helper()
	var keys []string
	for _, kid := range kids {
		pub, _, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, fmt.Sprintf(`{"kty":"OKP","crv":"Ed25519","use":"sig","alg":"EdDSA","kid":%q,"x":%q}`,
			kid, base64.RawURLEncoding.EncodeToString(pub)))
	}
	return `{"keys":[` + strings.Join(keys, ",") + `]}`
}

func TestConfigValidateChecks(t *testing.T) {
	dir := t.TempDir()
	_, edKey, _ := ed25519.GenerateKey(rand.Reader)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPath := writeKeyPEM(t, dir, "ed.pem", edKey)
	ecPath := writeKeyPEM(t, dir, "ec.pem", ecKey)
	notPEM := filepath.Join(dir, "not-a-key.pem")
	jwksPath := filepath.Join(dir, "keys.json")
	badJWKS := filepath.Join(dir, "bad-keys.json")
	for path, body := range map[string]string{notPEM: "hello\n", jwksPath: jwksJSON(t, "file-1", "file-2"), badJWKS: `{"keys":"no"}`} {
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	idp := httptest.NewServer(http.NewServeMux())
	mux := idp.Config.Handler.(*http.ServeMux)
	remote := jwksJSON(t, "remote-1")
	mux.HandleFunc("/jwks.json", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, remote) })
	mux.HandleFunc("/.well-known/openid-configuration", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, idp.URL, idp.URL+"/jwks.json")
	})
	t.Cleanup(idp.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()

	base := "grpc_addr: 127.0.0.1:0\nhttp_addr: 127.0.0.1:0\nadmin_addr: 127.0.0.1:0\ndata_dir: " + filepath.Join(dir, "data") + "\n"
	provider := func(name, source string) string {
		iss := idp.URL // discovery checks it; the others are made unique, one provider per issuer
		if !strings.HasPrefix(source, "discovery") {
			iss += "/" + name
		}
		return "  - name: " + name + "\n    issuer: " + iss + "\n    allow_http: true\n    " + source + "\n"
	}
	tests := map[string]struct {
		yaml   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		"keys parse and fit": {
			yaml: base + "issuer:\n  signing_key_file: " + edPath + "\n  previous_key_files: [" + ecPath + "]\nproviders:\n" +
				provider("file", "jwks_file: "+jwksPath) + provider("uri", "jwks_uri: "+idp.URL+"/jwks.json") + provider("disc", "discovery: true"),
			code: 0,
			stdout: []string{`providers[0].jwks_file (file): 2 keys from ` + jwksPath + `: "file-1", "file-2"`,
				`providers[1].jwks_uri (uri): 1 keys from ` + idp.URL + `/jwks.json: "remote-1"`,
				`providers[2].discovery (disc): 1 keys from ` + idp.URL + `/.well-known/openid-configuration`, "is valid"},
		},
		"offline skips the network": {
			yaml: base + "providers:\n" + provider("uri", "jwks_uri: "+down.URL+"/jwks.json"),
			args: []string{"--offline"},
			code: 0, stdout: []string{"providers[0].jwks_uri (uri): not fetched (--offline)", "is valid"},
		},
		"config-only skips files": {
			yaml: base + "admin_token_file: " + filepath.Join(dir, "absent") + "\n",
			args: []string{"--config-only"},
			code: 0, stdout: []string{"is valid"},
		},
		"signing key not PEM": {
			yaml: base + "issuer:\n  signing_key_file: " + notPEM + "\n",
			code: 1, stderr: []string{"issuer.signing_key_file: parse key " + notPEM + ": no PEM private key found"},
		},
		"signing key of another algorithm": {
			yaml: base + "issuer:\n  signing_key_file: " + ecPath + "\n",
			code: 1, stderr: []string{"issuer.signing_key_file: " + ecPath + " holds a ES256 key, but issuer.algorithm is EdDSA"},
		},
		"previous key not PEM": {
			yaml: base + "issuer:\n  previous_key_files: [" + edPath + ", " + notPEM + "]\n",
			code: 1, stderr: []string{"issuer.previous_key_files[1]: parse key " + notPEM + ": no PEM private key found"},
		},
		"missing admin token file": {
			yaml: base + "admin_token_file: " + filepath.Join(dir, "absent") + "\n",
			code: 1, stderr: []string{"admin_token_file: " + filepath.Join(dir, "absent") + " does not exist"},
		},
		"jwks file does not load": {
			yaml: base + "providers:\n" + provider("file", "jwks_file: "+badJWKS),
			code: 1, stderr: []string{"providers[0].jwks_file: ", "parse jwks"},
		},
		"jwks uri unreachable": {
			yaml: base + "providers:\n" + provider("uri", "jwks_uri: "+down.URL+"/jwks.json"),
			code: 1, stderr: []string{"providers[0].jwks_uri: ", down.URL + "/jwks.json", "connection refused"},
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.yaml")
			if err := os.WriteFile(path, []byte(tt.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr strings.Builder
			code := run(append([]string{"config", "validate", "--config", path}, tt.args...), &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, tt.code, stdout.String(), stderr.String())
			}
			for _, want := range tt.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			for _, want := range tt.stderr {
				if !strings.Contains(stderr.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, stderr.String())
				}
			}
			if tt.code != 0 && strings.Count(stderr.String(), "\n  ") != 1 {
				t.Errorf("want one problem:\n%s", stderr.String())
			}
		})
	}
}
