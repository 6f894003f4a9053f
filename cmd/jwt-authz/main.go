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
)

// Set at build time with -ldflags "-X main.version=... -X main.commit=...".
var (
	version = "dev"
	commit  = "unknown"
)

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

const usage = `jwt-authz: JWT authorization for Envoy ext_authz

Usage:
  jwt-authz serve [--config FILE] [--data-dir DIR] [--grpc-addr A] [--http-addr A] [--admin-addr A]
  jwt-authz check --addr HOST:PORT --token T [--path P] [--method M] [--host H]
  jwt-authz token issue --sub S [--scope "a b"] [--config FILE]
  jwt-authz revoke (--jti J --exp UNIX | --sid S | --sub S [--before UNIX] | --token T) [--config FILE]
  jwt-authz config validate --config FILE
  jwt-authz version
`

// run executes one subcommand and returns the process exit code.
func run(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	switch args[0] {
	case "serve":
		return cmdServe(ctx, args[1:], stdout, stderr)
	case "check":
		return cmdCheck(ctx, args[1:], stdout, stderr)
	case "token":
		if len(args) > 1 && args[1] == "issue" {
			return cmdTokenIssue(ctx, args[2:], stdout, stderr)
		}
	case "revoke":
		return cmdRevoke(ctx, args[1:], stdout, stderr)
	case "config":
		if len(args) > 1 && args[1] == "validate" {
			return cmdConfigValidate(args[2:], stdout, stderr)
		}
	case "version", "--version":
		fmt.Fprintf(stdout, "jwt-authz %s (commit %s, %s)\n", version, commit, goVersion())
		return 0
	case "help", "-h", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	}
	fmt.Fprintf(stderr, "jwt-authz: unknown command %q\n\n%s", args[0], usage)
	return 2
}
