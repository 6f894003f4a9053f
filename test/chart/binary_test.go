package chart

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// binDir holds the jwt-authz binary built for this test run; TestMain
// removes it.
var binDir string

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

var (
	buildOnce sync.Once
	binPath   string
	buildErr  error
	buildOut  []byte
)

// jwtAuthz builds ./cmd/jwt-authz once per test run and returns its path.
// The test is skipped while the command has no sources, and with -short.
func jwtAuthz(t *testing.T) string {
	t.Helper()
	root := repoRoot(t)
	files, _ := filepath.Glob(filepath.Join(root, "cmd", "jwt-authz", "*.go"))
	hasSource := false
	for _, f := range files {
		hasSource = hasSource || !strings.HasSuffix(f, "_test.go")
	}
	if !hasSource {
		t.Skip("./cmd/jwt-authz has no Go sources yet")
	}
	if testing.Short() {
		t.Skip("builds jwt-authz; skipped with -short")
	}
	buildOnce.Do(func() {
		binDir, buildErr = os.MkdirTemp("", "jwt-authz-chart-test-")
		if buildErr != nil {
			return
		}
		binPath = filepath.Join(binDir, "jwt-authz")
		// -trimpath as in the Dockerfile, so the two test modules share
		// the build cache.
		cmd := exec.Command("go", "build", "-trimpath", "-o", binPath, "./cmd/jwt-authz")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		buildOut, buildErr = cmd.CombinedOutput()
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/jwt-authz: %v\n%s", buildErr, buildOut)
	}
	return binPath
}

// validateConfig runs `jwt-authz config validate` on a config file body.
func validateConfig(t *testing.T, body string) {
	t.Helper()
	bin := jwtAuthz(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), bin, "config", "validate", "--config-only", "--config", path).CombinedOutput()
	if err != nil {
		t.Errorf("jwt-authz config validate: %v\n%s\nconfig:\n%s", err, out, body)
	}
}

// TestConfigValidates runs the product's own validation on the config file
// of every rendered scenario: what the chart ships must start.
func TestConfigValidates(t *testing.T) {
	scenarios := map[string]map[string]any{
		"defaults": nil,
		// Without the token the admin listener must stay on loopback, or
		// jwt-authz refuses the config.
		"admin token off": valuesYAML(t, "adminToken: {enabled: false}"),
		"issuer off, one provider": valuesYAML(t, `
config:
  issuer: {enabled: false}
  providers:
    - name: corp
      issuer: https://idp.example.com/
      audiences: [orders-api]
      jwks_uri: https://idp.example.com/.well-known/jwks.json
      algorithms: [RS256, ES256]
      forward_claims: {sub: x-jwt-sub}
  rules:
    - match: {path_prefix: /admin, methods: [POST]}
      providers: [corp]
      require_scopes: [admin]
`),
		"certificate-bound tokens, decision log and tracing": valuesYAML(t, `
config:
  issuer: {enabled: false}
  providers:
    - name: corp
      issuer: https://idp.example.com/
      jwks_uri: https://idp.example.com/.well-known/jwks.json
      mtls_bound: required
  forward_auth_client_cert_header: x-forwarded-client-cert
  decision_log: {enabled: true, path: "", sample_allow: 0.05, sample_deny: 1}
  tracing: {enabled: true, endpoint: "otel-collector.observability:4317", protocol: grpc, sample_ratio: 0.05}
`),
		"back-channel logout": valuesYAML(t, `
config:
  issuer: {enabled: false}
  providers:
    - name: corp
      issuer: https://idp.example.com/
      jwks_uri: https://idp.example.com/.well-known/jwks.json
      backchannel_logout: {enabled: true, audience: orders-gateway}
`),
	}
	files, _ := filepath.Glob(filepath.Join(chartDir(t), "ci", "*-values.yaml"))
	for _, f := range files {
		scenarios[filepath.Base(f)] = valuesFile(t, f)
	}
	for name, values := range scenarios {
		t.Run(name, func(t *testing.T) {
			m := parseRendered(t, mustRender(t, values))
			validateConfig(t, str(dig(m.get(t, "ConfigMap"), "data", "config.yaml")))
		})
	}
}

// TestConfigValidateRejects makes sure the validation above can fail: a
// config with a misspelt key is refused.
func TestConfigValidateRejects(t *testing.T) {
	bin := jwtAuthz(t)
	path := filepath.Join(t.TempDir(), "config.yaml")
	if err := os.WriteFile(path, []byte("grpc_address: 0.0.0.0:9001\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.CommandContext(t.Context(), bin, "config", "validate", "--config-only", "--config", path).CombinedOutput()
	if err == nil {
		t.Fatalf("config validate accepted an unknown key:\n%s", out)
	}
	if !strings.Contains(string(out), "grpc_address") {
		t.Errorf("config validate output does not name the key:\n%s", out)
	}
}
