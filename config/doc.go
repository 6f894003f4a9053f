// Package config owns the jwt-authz configuration: the Config types that
// mirror the YAML file, the named defaults, strict loading from a file or
// bytes with JWT_AUTHZ_* environment overrides, and validation that reports
// every problem with its key path (for example
// "providers[1].jwks_uri: must be an absolute https URL").
//
// Decoding is strict: an unknown key, a value of the wrong type or a bad
// duration is an error, never silently ignored, so a typo cannot weaken
// authorization. A key that is absent takes its default; a key that is present
// is taken as written, except that an empty string or a zero number means
// "the default" for keys where empty or zero would not be a usable setting.
//
// The package knows nothing about how the values are used: it imports only
// the standard library and gopkg.in/yaml.v3, and only cmd/jwt-authz imports it.
// Other packages receive their own Options structs filled from a Config.
//
// A Config is a plain value. Loading and validation functions are safe for
// concurrent use; a *Config must not be mutated while other goroutines read
// it. A reload builds a new Config rather than changing the running one.
package config
