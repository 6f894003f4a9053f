package config

import (
	"strconv"
	"strings"
	"time"
)

// EnvPrefix starts the name of every environment variable that overrides a
// top-level key: JWT_AUTHZ_ followed by the key in upper case.
const EnvPrefix = "JWT_AUTHZ_"

// envKeys are the top-level scalar keys that an environment variable can
// override, in the order they are applied.
var envKeys = [...]string{
	"grpc_addr",
	"http_addr",
	"admin_addr",
	"metrics_addr",
	"admin_token_file",
	"data_dir",
	"log_level",
	"log_format",
	"dry_run",
	"bypass_cors_preflight",
	"path_normalization",
	"shutdown_delay",
	"max_token_bytes",
	"proc_tuning",
	"dpop_nonce_key_file",
	"forward_auth_client_cert_header",
	// Not a top-level scalar, but a URL that may carry a password belongs
	// in a Secret, not in the ConfigMap holding the file.
	"revocation_redis_url",
}

// EnvVar returns the name of the environment variable that overrides the
// top-level key, for example "JWT_AUTHZ_GRPC_ADDR" for "grpc_addr".
func EnvVar(key string) string {
	return EnvPrefix + strings.ToUpper(key)
}

// EnvVars returns the names of every environment variable ApplyEnv reads.
func EnvVars() []string {
	names := make([]string, len(envKeys))
	for i, key := range envKeys {
		names[i] = EnvVar(key)
	}
	return names
}

// ApplyEnv overrides top-level keys from environment variables, looked up
// with lookup (os.LookupEnv in production; nil means no overrides):
// JWT_AUTHZ_GRPC_ADDR, JWT_AUTHZ_HTTP_ADDR, JWT_AUTHZ_ADMIN_ADDR,
// JWT_AUTHZ_ADMIN_TOKEN_FILE, JWT_AUTHZ_DATA_DIR, JWT_AUTHZ_LOG_LEVEL,
// JWT_AUTHZ_LOG_FORMAT, JWT_AUTHZ_DRY_RUN, JWT_AUTHZ_BYPASS_CORS_PREFLIGHT,
// JWT_AUTHZ_PATH_NORMALIZATION, JWT_AUTHZ_SHUTDOWN_DELAY, JWT_AUTHZ_MAX_TOKEN_BYTES,
// JWT_AUTHZ_PROC_TUNING, JWT_AUTHZ_DPOP_NONCE_KEY_FILE,
// JWT_AUTHZ_FORWARD_AUTH_CLIENT_CERT_HEADER and
// JWT_AUTHZ_REVOCATION_REDIS_URL (revocation.redis_url, so the URL and its
// password can come from a Secret).
//
// A variable that is unset or empty changes nothing. A value that does not
// parse leaves its key unchanged and is reported as a *FieldError whose Path
// is the variable name; the other variables are still applied. Call it before
// ApplyDefaults, which derives issuer.issuer from http_addr.
func (c *Config) ApplyEnv(lookup func(string) (string, bool)) error {
	_, p := c.applyEnv(lookup)
	return p.err()
}

// applyEnv is ApplyEnv that also returns, for each key it changed, the name
// of the variable that changed it.
func (c *Config) applyEnv(lookup func(string) (string, bool)) (map[string]string, problems) {
	if lookup == nil {
		return nil, nil
	}
	var p problems
	set := make(map[string]string)
	for _, key := range envKeys {
		name := EnvVar(key)
		val, ok := lookup(name)
		if !ok || val == "" {
			continue
		}
		if msg := c.setFromEnv(key, val); msg != "" {
			p.add(name, "%s", msg)
			continue
		}
		set[key] = name
	}
	return set, p
}

// setFromEnv sets key from an environment value, or says why it cannot.
func (c *Config) setFromEnv(key, val string) string {
	switch key {
	case "grpc_addr":
		c.GRPCAddr = val
	case "http_addr":
		c.HTTPAddr = val
	case "admin_addr":
		c.AdminAddr = val
	case "metrics_addr":
		c.MetricsAddr = val
	case "admin_token_file":
		c.AdminTokenFile = val
	case "dpop_nonce_key_file":
		c.DPoPNonceKeyFile = val
	case "forward_auth_client_cert_header":
		c.ForwardAuthClientCertHeader = val
	case "data_dir":
		c.DataDir = val
	case "revocation_redis_url":
		c.Revocation.RedisURL = val
	case "log_level":
		c.LogLevel = val
	case "log_format":
		c.LogFormat = val
	case "path_normalization":
		c.PathNormalization = val
	case "proc_tuning":
		c.ProcTuning = val
	case "dry_run", "bypass_cors_preflight":
		b, err := strconv.ParseBool(strings.TrimSpace(val))
		if err != nil {
			return "must be true or false, not " + quote(val)
		}
		if key == "dry_run" {
			c.DryRun = b
		} else {
			c.BypassCORSPreflight = b
		}
	case "shutdown_delay":
		d, err := time.ParseDuration(strings.TrimSpace(val))
		if err != nil {
			return durationProblem(val, err)
		}
		c.ShutdownDelay = d
	case "max_token_bytes":
		n, err := strconv.Atoi(strings.TrimSpace(val))
		if err != nil {
			return "must be an integer, not " + quote(val)
		}
		c.MaxTokenBytes = n
	}
	return ""
}
