package config

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestApplyEnv(t *testing.T) {
	tests := map[string]struct {
		env     map[string]string
		check   func(t *testing.T, c *Config)
		wantErr string
	}{
		"every variable": {
			env: map[string]string{
				"JWT_AUTHZ_GRPC_ADDR":                       "127.0.0.1:1",
				"JWT_AUTHZ_HTTP_ADDR":                       "127.0.0.1:2",
				"JWT_AUTHZ_ADMIN_ADDR":                      "127.0.0.1:3",
				"JWT_AUTHZ_ADMIN_TOKEN_FILE":                "/run/secrets/admin",
				"JWT_AUTHZ_DATA_DIR":                        "/data",
				"JWT_AUTHZ_LOG_LEVEL":                       "debug",
				"JWT_AUTHZ_LOG_FORMAT":                      "text",
				"JWT_AUTHZ_DRY_RUN":                         "true",
				"JWT_AUTHZ_BYPASS_CORS_PREFLIGHT":           "1",
				"JWT_AUTHZ_SHUTDOWN_DELAY":                  "5s",
				"JWT_AUTHZ_MAX_TOKEN_BYTES":                 " 4096 ",
				"JWT_AUTHZ_DPOP_NONCE_KEY_FILE":             "/run/secrets/dpop-nonce-key",
				"JWT_AUTHZ_FORWARD_AUTH_CLIENT_CERT_HEADER": "x-forwarded-client-cert",
			},
			check: func(t *testing.T, c *Config) {
				want := Config{
					GRPCAddr: "127.0.0.1:1", HTTPAddr: "127.0.0.1:2", AdminAddr: "127.0.0.1:3",
					AdminTokenFile: "/run/secrets/admin", DataDir: "/data", LogLevel: "debug", LogFormat: "text",
					DryRun: true, BypassCORSPreflight: true, ShutdownDelay: 5 * time.Second, MaxTokenBytes: 4096,
					DPoPNonceKeyFile: "/run/secrets/dpop-nonce-key", ForwardAuthClientCertHeader: "x-forwarded-client-cert",
				}
				got := Config{
					GRPCAddr: c.GRPCAddr, HTTPAddr: c.HTTPAddr, AdminAddr: c.AdminAddr,
					AdminTokenFile: c.AdminTokenFile, DataDir: c.DataDir, LogLevel: c.LogLevel, LogFormat: c.LogFormat,
					DryRun: c.DryRun, BypassCORSPreflight: c.BypassCORSPreflight, ShutdownDelay: c.ShutdownDelay, MaxTokenBytes: c.MaxTokenBytes,
					DPoPNonceKeyFile: c.DPoPNonceKeyFile, ForwardAuthClientCertHeader: c.ForwardAuthClientCertHeader,
				}
				if got.GRPCAddr != want.GRPCAddr || got.HTTPAddr != want.HTTPAddr || got.AdminAddr != want.AdminAddr ||
					got.AdminTokenFile != want.AdminTokenFile || got.DataDir != want.DataDir || got.LogLevel != want.LogLevel ||
					got.LogFormat != want.LogFormat || got.DryRun != want.DryRun || got.BypassCORSPreflight != want.BypassCORSPreflight ||
					got.ShutdownDelay != want.ShutdownDelay || got.MaxTokenBytes != want.MaxTokenBytes ||
					got.DPoPNonceKeyFile != want.DPoPNonceKeyFile || got.ForwardAuthClientCertHeader != want.ForwardAuthClientCertHeader {
					t.Errorf("after ApplyEnv:\n%+v\nwant\n%+v", got, want)
				}
			},
		},
		"empty values change nothing": {
			env: map[string]string{"JWT_AUTHZ_GRPC_ADDR": "", "JWT_AUTHZ_DRY_RUN": ""},
			check: func(t *testing.T, c *Config) {
				if c.GRPCAddr != "127.0.0.1:9999" || !c.DryRun {
					t.Errorf("grpc_addr = %q, dry_run = %v, want the file values", c.GRPCAddr, c.DryRun)
				}
			},
		},
		"false overrides true": {
			env: map[string]string{"JWT_AUTHZ_DRY_RUN": "false"},
			check: func(t *testing.T, c *Config) {
				if c.DryRun {
					t.Error("dry_run still true")
				}
			},
		},
		"bad boolean": {
			env:     map[string]string{"JWT_AUTHZ_BYPASS_CORS_PREFLIGHT": "sure"},
			wantErr: `JWT_AUTHZ_BYPASS_CORS_PREFLIGHT: must be true or false, not "sure"`,
		},
		"bad duration": {
			env:     map[string]string{"JWT_AUTHZ_SHUTDOWN_DELAY": "5"},
			wantErr: `JWT_AUTHZ_SHUTDOWN_DELAY: invalid duration "5": missing unit (for example 30s, 5m or 24h)`,
		},
		"bad integer, other variables still applied": {
			env:     map[string]string{"JWT_AUTHZ_MAX_TOKEN_BYTES": "8KiB", "JWT_AUTHZ_LOG_LEVEL": "warn"},
			wantErr: `JWT_AUTHZ_MAX_TOKEN_BYTES: must be an integer, not "8KiB"`,
			check: func(t *testing.T, c *Config) {
				if c.LogLevel != "warn" {
					t.Errorf("log_level = %q, want warn", c.LogLevel)
				}
				if c.MaxTokenBytes != 100 {
					t.Errorf("max_token_bytes = %d, want it unchanged", c.MaxTokenBytes)
				}
			},
		},
		"several bad values": {
			env:     map[string]string{"JWT_AUTHZ_DRY_RUN": "x", "JWT_AUTHZ_MAX_TOKEN_BYTES": "y"},
			wantErr: "JWT_AUTHZ_DRY_RUN: must be true or false, not \"x\"\nJWT_AUTHZ_MAX_TOKEN_BYTES: must be an integer, not \"y\"",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			c := &Config{GRPCAddr: "127.0.0.1:9999", DryRun: true, MaxTokenBytes: 100}
			err := c.ApplyEnv(func(k string) (string, bool) {
				v, ok := tt.env[k]
				return v, ok
			})
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("ApplyEnv: %v", err)
			case tt.wantErr != "" && (err == nil || err.Error() != tt.wantErr):
				t.Fatalf("ApplyEnv error = %v, want %q", err, tt.wantErr)
			}
			if err != nil {
				var fe *FieldError
				if !errors.As(err, &fe) {
					t.Errorf("error %v is not a *FieldError", err)
				}
			}
			if tt.check != nil {
				tt.check(t, c)
			}
		})
	}
}

func TestApplyEnvNilLookup(t *testing.T) {
	c := &Config{GRPCAddr: "x"}
	if err := c.ApplyEnv(nil); err != nil || c.GRPCAddr != "x" {
		t.Errorf("ApplyEnv(nil) = %v, grpc_addr %q", err, c.GRPCAddr)
	}
}

func TestEnvVars(t *testing.T) {
	vars := EnvVars()
	if len(vars) != len(envKeys) {
		t.Errorf("EnvVars() has %d names, want %d: %v", len(vars), len(envKeys), vars)
	}
	// Every top-level scalar key has its variable.
	has := map[string]bool{}
	for _, key := range envKeys {
		has[key] = true
	}
	cfg := typeOfConfig()
	for i := range cfg.NumField() {
		f := cfg.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		switch f.Type.Kind() {
		case reflect.String, reflect.Bool, reflect.Int, reflect.Int64:
			if key != "" && key != "-" && !has[key] {
				t.Errorf("top-level scalar %q has no %s variable", key, EnvVar(key))
			}
		}
	}
	if got := EnvVar("grpc_addr"); got != "JWT_AUTHZ_GRPC_ADDR" {
		t.Errorf("EnvVar(grpc_addr) = %q", got)
	}
	// Every variable must map to a top-level key that exists.
	_, index := yamlFields(typeOfConfig())
	for _, key := range envKeys {
		if key == "revocation_redis_url" {
			continue // the one nested key, revocation.redis_url
		}
		if _, ok := index[key]; !ok {
			t.Errorf("env key %q is not a top-level config key", key)
		}
	}
}

func TestApplyEnvRedisURL(t *testing.T) {
	c := &Config{Revocation: Revocation{Store: StoreRedis}}
	env := map[string]string{"JWT_AUTHZ_REVOCATION_REDIS_URL": "redis://:secret@redis:6379/1"}
	if err := c.ApplyEnv(func(k string) (string, bool) { v, ok := env[k]; return v, ok }); err != nil {
		t.Fatal(err)
	}
	c.ApplyDefaults()
	if c.Revocation.RedisURL != env["JWT_AUTHZ_REVOCATION_REDIS_URL"] {
		t.Fatalf("redis_url = %q", c.Revocation.RedisURL)
	}
	if err := c.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
}

// The nonce key of several replicas can come from a mounted Secret named
// in the environment, as admin_token_file can: the file needs no key.
func TestLoadEnvDPoPNonceKeyFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "config.yaml")
	yaml := `revocation:
  store: redis
  redis_url: redis://127.0.0.1:6379/0
issuer:
  dpop_nonce: true
`
	if err := os.WriteFile(file, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := LoadEnv(file, func(string) (string, bool) { return "", false })
	if err == nil || !strings.Contains(err.Error(), "dpop_nonce_key_file: must be set") {
		t.Fatalf("LoadEnv without the variable: %v, want the dpop_nonce_key_file problem", err)
	}
	env := map[string]string{"JWT_AUTHZ_DPOP_NONCE_KEY_FILE": "/run/secrets/dpop-nonce-key"}
	c, err := LoadEnv(file, func(k string) (string, bool) { v, ok := env[k]; return v, ok })
	if err != nil {
		t.Fatalf("LoadEnv with JWT_AUTHZ_DPOP_NONCE_KEY_FILE: %v", err)
	}
	if c.DPoPNonceKeyFile != "/run/secrets/dpop-nonce-key" {
		t.Errorf("dpop_nonce_key_file = %q", c.DPoPNonceKeyFile)
	}
}
