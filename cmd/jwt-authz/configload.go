package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/jwt-authz/jwt-authz/config"
)

// serveFlags are the flags of serve; each overrides its config key.
type serveFlags struct {
	configPath string
	overrides  map[string]*string // env variable name -> flag value
}

func newServeFlags(fs *flag.FlagSet) *serveFlags {
	sf := &serveFlags{overrides: map[string]*string{}}
	fs.StringVar(&sf.configPath, "config", os.Getenv("JWT_AUTHZ_CONFIG"), "config file (YAML); empty runs on the embedded default")
	for _, f := range []struct{ name, key, help string }{
		{"data-dir", "DATA_DIR", "data directory (signing key, bbolt store)"},
		{"grpc-addr", "GRPC_ADDR", "ext_authz gRPC listen address"},
		{"http-addr", "HTTP_ADDR", "token endpoint / forward-auth / health listen address"},
		{"admin-addr", "ADMIN_ADDR", "metrics and admin API listen address"},
		{"admin-token-file", "ADMIN_TOKEN_FILE", "file holding the admin bearer token"},
		{"log-level", "LOG_LEVEL", "debug, info, warn or error"},
		{"log-format", "LOG_FORMAT", "json or text"},
	} {
		sf.overrides[config.EnvVar(f.key)] = fs.String(f.name, "", f.help+" (overrides the config file)")
	}
	return sf
}

// lookup layers flags over the environment.
func (sf *serveFlags) lookup(name string) (string, bool) {
	if v, ok := sf.overrides[name]; ok && *v != "" {
		return *v, true
	}
	return os.LookupEnv(name)
}

// load reads the configuration: the file (or the embedded default), then
// environment variables, then flags.
func (sf *serveFlags) load() (*config.Config, error) {
	return loadConfig(sf.configPath, sf.lookup)
}

func loadConfig(path string, lookup func(string) (string, bool)) (*config.Config, error) {
	if path == "" {
		c := &config.Config{}
		if err := c.ApplyEnv(lookup); err != nil {
			return nil, err
		}
		c.ApplyDefaults()
		if err := c.Validate(); err != nil {
			return nil, err
		}
		return c, nil
	}
	// Flags are applied through the same mechanism as environment
	// variables, so a flag beats both.
	for name := range envFlagNames {
		if v, ok := lookup(name); ok {
			if cur, set := os.LookupEnv(name); !set || cur != v {
				_ = os.Setenv(name, v)
			}
		}
	}
	return config.Load(path)
}

// envFlagNames are the variables flags may set.
var envFlagNames = func() map[string]bool {
	m := map[string]bool{}
	for _, k := range []string{"DATA_DIR", "GRPC_ADDR", "HTTP_ADDR", "ADMIN_ADDR", "ADMIN_TOKEN_FILE", "LOG_LEVEL", "LOG_FORMAT"} {
		m[config.EnvVar(k)] = true
	}
	return m
}()

// printProblems writes every configuration problem on its own line.
func printProblems(w io.Writer, err error) {
	var joined interface{ Unwrap() []error }
	if errors.As(err, &joined) {
		for _, e := range joined.Unwrap() {
			fmt.Fprintf(w, "  %v\n", e)
		}
		return
	}
	fmt.Fprintf(w, "  %v\n", err)
}

func newLogger(w io.Writer, level, format string) *slog.Logger {
	var lv slog.Level
	switch strings.ToLower(level) {
	case "debug":
		lv = slog.LevelDebug
	case "warn":
		lv = slog.LevelWarn
	case "error":
		lv = slog.LevelError
	default:
		lv = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: lv}
	if strings.ToLower(format) == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

func cmdConfigValidate(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("config validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	path := fs.String("config", "", "config file to validate")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *path == "" {
		fmt.Fprintln(stderr, "config validate: --config is required")
		return 2
	}
	if _, err := config.Load(*path); err != nil {
		fmt.Fprintf(stderr, "%s is not valid:\n", *path)
		printProblems(stderr, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s is valid\n", *path)
	return 0
}
