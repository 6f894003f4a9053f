package main

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/spf13/cobra"

	"github.com/jwt-authz/jwt-authz/config"
)

// serveFlags are what serve reads its configuration from.
type serveFlags struct {
	configPath string
	lookup     func(string) (string, bool) // flags over the environment
}

// load reads the configuration: the file (or the embedded default), then
// environment variables, then flags.
func (sf *serveFlags) load() (*config.Config, error) {
	return loadConfig(sf.configPath, sf.lookup)
}

const serveLong = `Runs the service: ext_authz gRPC (and gRPC health) on grpc_addr; the token
endpoint, the issuer's JWKS and discovery, HTTP forward-auth and /healthz,
/readyz on http_addr; /metrics and the admin API on admin_addr.

With no config file it starts on the embedded default: one provider, "self",
that is its own issuer (its signing key generated once under --data-dir),
a bbolt store in the data directory, all listeners on 127.0.0.1.

The config file is reloaded on SIGHUP and when it changes on disk; a config
that fails validation is refused and the running one kept. Flags override
the file, and so do the JWT_AUTHZ_<KEY> environment variables of the
top-level keys; a flag beats the environment.`

const serveExample = `  jwt-authz serve --log-format text
  jwt-authz serve --config /etc/jwt-authz/config.yaml
  JWT_AUTHZ_GRPC_ADDR=0.0.0.0:9001 jwt-authz serve --data-dir /var/lib/jwt-authz`

func newServeCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "serve [--config FILE] [--data-dir DIR] [--grpc-addr A] [--http-addr A] [--admin-addr A]",
		Short:   "Run the service",
		Long:    serveLong,
		Example: serveExample,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			sf := &serveFlags{configPath: g.config(), lookup: lookupFor(cmd)}
			if code := cmdServe(cmd.Context(), sf, cmd.ErrOrStderr()); code != 0 {
				return exitStatus(code)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	envFlag(fs, "data-dir", "data_dir", "data directory (signing key, bbolt store)")
	envFlag(fs, "grpc-addr", "grpc_addr", "ext_authz gRPC listen address")
	envFlag(fs, "http-addr", "http_addr", "token endpoint, forward-auth and health listen address")
	envFlag(fs, "admin-addr", "admin_addr", "metrics and admin API listen address")
	return cmd
}

func loadConfig(path string, lookup func(string) (string, bool)) (*config.Config, error) {
	if path == "" {
		c := config.Embedded()
		if err := c.ApplyEnv(lookup); err != nil {
			return nil, err
		}
		c.ApplyDefaults()
		if err := c.Validate(); err != nil {
			return nil, err
		}
		return c, nil
	}
	return config.LoadEnv(path, lookup)
}

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

const configValidateLong = `Loads a config file as serve would (the file, then the JWT_AUTHZ_*
environment variables) and checks what serve will need: every key and
value; the files it names exist and are readable (admin_token_file,
issuer.signing_key_file and previous_key_files, whose keys must parse,
providers[].jwks_file, whose keys must load); the data directory and the
bolt file can be written or created; the listen addresses parse and do not
collide. Unless --offline, it fetches each provider's discovery document
and JWKS once and prints the key ids found. --config-only checks the file
alone.

Every problem is printed with its key path, such as
"providers[1].jwks_uri: ...". Exit status 1 when the file is not valid.`

const configValidateExample = `  jwt-authz config validate --config /etc/jwt-authz/config.yaml
  jwt-authz config validate --offline config.yaml       # without the identity providers
  jwt-authz config validate --config-only config.yaml   # the file alone, as in CI`

func newConfigCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config",
		Short: "Work with config files",
		Args:  subcommandArgs,
		RunE:  needSubcommand,
	}
	var checks validateChecks
	validate := &cobra.Command{
		Use:     "validate [--offline | --config-only] (--config FILE | FILE)",
		Short:   "Validate a config file and print every problem with its key path",
		Long:    configValidateLong,
		Example: configValidateExample,
		Args: func(cmd *cobra.Command, args []string) error {
			if len(args) > 1 {
				return usageErrorf("validate one file at a time, got %d", len(args))
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, args []string) error {
			path := g.config()
			if len(args) == 1 {
				if cmd.Flags().Changed("config") && args[0] != path {
					return usageErrorf("give the file once: --config %s or %s", path, args[0])
				}
				path = args[0]
			}
			if path == "" {
				return usageErrorf("name the file to validate: --config FILE")
			}
			return validateConfig(cmd.Context(), path, lookupFor(cmd), checks, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	validate.Flags().BoolVar(&checks.offline, "offline", false, "do not fetch the providers' JWKS or discovery documents")
	validate.Flags().BoolVar(&checks.configOnly, "config-only", false, "check the file alone, not the files, directories and JWKS it names (a ConfigMap checked in CI, away from its Secrets)")
	cmd.AddCommand(validate)
	return cmd
}
