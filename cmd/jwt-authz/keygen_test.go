package main

import (
	"bytes"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/jwt-authz/jwt-authz/issuer"
)

// keygenSecret is the part of the printed manifest the tests read.
type keygenSecret struct {
	APIVersion string `yaml:"apiVersion"`
	Kind       string `yaml:"kind"`
	Metadata   struct {
		Name      string `yaml:"name"`
		Namespace string `yaml:"namespace"`
	} `yaml:"metadata"`
	Type string            `yaml:"type"`
	Data map[string]string `yaml:"data"`
}

func runKeygen(t *testing.T, args ...string) keygenSecret {
	t.Helper()
	var stdout, stderr bytes.Buffer
	if code := run(append([]string{"keygen"}, args...), &stdout, &stderr); code != 0 {
		t.Fatalf("keygen %v: exit %d: %s", args, code, stderr.String())
	}
	var s keygenSecret
	if err := yaml.Unmarshal(stdout.Bytes(), &s); err != nil {
		t.Fatalf("manifest is not YAML: %v\n%s", err, stdout.String())
	}
	if s.APIVersion != "v1" || s.Kind != "Secret" || s.Type != "Opaque" {
		t.Fatalf("not an Opaque v1 Secret:\n%s", stdout.String())
	}
	return s
}

func decodeData(t *testing.T, s keygenSecret, key string) []byte {
	t.Helper()
	v, ok := s.Data[key]
	if !ok {
		t.Fatalf("Secret has no key %q: %v", key, s.Data)
	}
	b, err := base64.StdEncoding.DecodeString(v)
	if err != nil {
		t.Fatalf("%s: %v", key, err)
	}
	return b
}

// requireSigningKey writes the key where the issuer would read it and loads
// it for alg.
func requireSigningKey(t *testing.T, pemBytes []byte, alg string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "signing-key.pem")
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := issuer.LoadKeys(path, nil, alg); err != nil {
		t.Fatalf("generated key does not load as %s: %v", alg, err)
	}
}

func TestKeygenDefaults(t *testing.T) {
	s := runKeygen(t)
	if s.Metadata.Name != "jwt-authz-keys" || s.Metadata.Namespace != "" {
		t.Errorf("metadata = %+v", s.Metadata)
	}
	requireSigningKey(t, decodeData(t, s, "signing-key.pem"), issuer.AlgEdDSA)
	token := decodeData(t, s, "token")
	if len(token) < 32 || bytes.ContainsAny(token, " \n\t") {
		t.Errorf("admin token %d bytes, want at least 32 without whitespace", len(token))
	}
	again := runKeygen(t)
	if again.Data["token"] == s.Data["token"] || again.Data["signing-key.pem"] == s.Data["signing-key.pem"] {
		t.Error("two runs printed the same secret")
	}
}

func TestKeygenOptions(t *testing.T) {
	s := runKeygen(t, "--algorithm", "ES256", "--name", "authz", "--namespace", "auth",
		"--signing-key-key", "key.pem", "--admin-token-key", "admin")
	if s.Metadata.Name != "authz" || s.Metadata.Namespace != "auth" {
		t.Errorf("metadata = %+v", s.Metadata)
	}
	requireSigningKey(t, decodeData(t, s, "key.pem"), issuer.AlgES256)
	decodeData(t, s, "admin")
}

func TestKeygenAlgorithmFromConfig(t *testing.T) {
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("issuer:\n  algorithm: RS256\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := runKeygen(t, "--config", path)
	requireSigningKey(t, decodeData(t, s, "signing-key.pem"), issuer.AlgRS256)
}

func TestKeygenRefuses(t *testing.T) {
	for _, args := range [][]string{
		{"--algorithm", "HS256"},
		{"--name", "Not_A_Name"},
		{"--namespace", "a.b"},
		{"--signing-key-key", "a/b"},
		{"--signing-key-key", "x", "--admin-token-key", "x"},
		{"--config", filepath.Join(t.TempDir(), "missing.yaml")},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(append([]string{"keygen"}, args...), &stdout, &stderr); code == 0 {
			t.Errorf("keygen %v succeeded", args)
		}
		if stdout.Len() != 0 {
			t.Errorf("keygen %v printed a manifest: %s", args, stdout.String())
		}
		if !strings.HasPrefix(stderr.String(), "jwt-authz: ") {
			t.Errorf("keygen %v: stderr %q", args, stderr.String())
		}
	}
}
