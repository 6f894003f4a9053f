package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// usageError marks a mistake on the command line (exit status 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

const usage = `authzbench measures ext_authz servers on loopback.

Usage:
  authzbench gen --out DIR [--tokens N]           keys, jwks.json, config.yaml and token files
  authzbench floor [--addr 127.0.0.1:0]           the allow-all floor server; prints its address
  authzbench load --target ADDR --tokens FILE     drive a server (closed or open loop)
  authzbench revoke-load --admin ADDR --count N   load revocations through the admin API
  authzbench suite [--dir DIR] [--server-cmd CMD] the whole A/B matrix against the floor
  authzbench scale --redis ADDR [--replicas N]    replicas following one Redis: propagation and cost

Run "authzbench COMMAND -h" for a command's flags.
`

// run executes one command and returns the process exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	logger := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return 2
	}
	var err error
	switch cmd, rest := args[0], args[1:]; cmd {
	case "gen":
		err = runGen(ctx, logger, rest, stdout, stderr)
	case "floor":
		err = runFloor(ctx, logger, rest, stdout, stderr)
	case "load":
		err = runLoadCmd(ctx, logger, rest, stdout, stderr)
	case "revoke-load":
		err = runRevokeLoadCmd(ctx, logger, rest, stdout, stderr)
	case "suite":
		err = runSuiteCmd(ctx, logger, rest, stdout, stderr)
	case "scale":
		err = runScaleCmd(ctx, logger, rest, stdout, stderr)
	case "help", "-h", "-help", "--help":
		fmt.Fprint(stdout, usage)
		return 0
	default:
		fmt.Fprintf(stderr, "authzbench: unknown command %q\n\n%s", cmd, usage)
		return 2
	}
	var ue usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintln(stderr, "authzbench:", err)
		return 2
	default:
		logger.Error("authzbench failed", "cmd", args[0], "err", err)
		return 1
	}
}
