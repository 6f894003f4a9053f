// Command jwt-authz is the ext_authz JWT sidecar: it serves Envoy's
// Authorization/Check, the token endpoint and the admin API, and has client
// subcommands for checking tokens, minting and revoking them.
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

// run executes one command line and returns the process exit code: 0 on
// success, 1 when the command failed, 2 when the command line is wrong.
// Errors are printed to stderr as one line, "jwt-authz: <message>".
func run(args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	root := newRootCmd(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	return exitCode(stderr, cmd, err)
}

const rootLong = `jwt-authz validates bearer JWTs for Envoy's ext_authz v3 gRPC API: it
verifies tokens against the JWKS of the issuers it trusts, rejects revoked
ones, forwards claims upstream, and runs an OAuth 2.0 token endpoint with
rotating refresh tokens.

With no config file, "jwt-authz serve" starts on the embedded default: its
own token issuer (signing key generated under --data-dir), a bbolt store in
the data directory, and every listener on 127.0.0.1 (gRPC :9001, HTTP :8080,
admin :9090).

Exit status: 0 on success, 1 when the command failed (or "check" was
denied), 2 when the command line is wrong.`

const rootExample = `  # run on the embedded default
  jwt-authz serve

  # mint a token pair from the running server, then check the access token
  jwt-authz token issue --sub alice --scope "read write"
  jwt-authz check --token eyJ... --path /orders

  # validate a config file before rolling it out
  jwt-authz config validate --config /etc/jwt-authz/config.yaml`

// newRootCmd builds the command tree. Help goes to stdout; errors are
// printed by run.
func newRootCmd(stdout, stderr io.Writer) *cobra.Command {
	g := &globalFlags{}
	root := &cobra.Command{
		Use:     "jwt-authz",
		Short:   "JWT authorization for Envoy ext_authz",
		Long:    rootLong,
		Example: rootExample,
		Args:    subcommandArgs,
		RunE:    runRoot,
		// run prints errors in one shape; a wrong command line names the
		// help to read instead of printing the whole usage.
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(flagError)
	root.SetUsageFunc(usage)
	root.Flags().BoolP("version", "v", false, "version for jwt-authz")
	root.SetHelpCommand(newHelpCmd())
	g.register(root)
	root.AddCommand(
		newServeCmd(g),
		newCheckCmd(),
		newTokenCmd(g),
		newRevokeCmd(g),
		newConfigCmd(g),
		newKeygenCmd(g),
		newHealthcheckCmd(g),
		newVersionCmd(),
	)
	return root
}

// newHelpCmd is cobra's help command, except that an unknown topic is a
// usage error naming the nearest command.
func newHelpCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "help [command]",
		Short: "Help about any command",
		Long:  "Help prints the usage of any command: jwt-authz help token issue.",
		RunE: func(c *cobra.Command, args []string) error {
			cmd, rest, err := c.Root().Find(args)
			if err != nil {
				return &usageError{msg: err.Error()}
			}
			if len(rest) > 0 {
				return subcommandArgs(cmd, rest)
			}
			cmd.InitDefaultHelpFlag()
			cmd.InitDefaultVersionFlag()
			return cmd.Help()
		},
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, commit and Go version",
		Args:  noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(cmd.OutOrStdout(), versionLine())
			return nil
		},
	}
}

func versionLine() string {
	return fmt.Sprintf("jwt-authz %s (commit %s, %s)", version, commit, goVersion())
}
