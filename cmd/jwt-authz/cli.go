package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jwt-authz/jwt-authz/config"
)

// globalFlags are the flags every command accepts.
type globalFlags struct {
	configPath string
}

func (g *globalFlags) register(root *cobra.Command) {
	fs := root.PersistentFlags()
	fs.StringVar(&g.configPath, "config", "", "config file, YAML (env JWT_AUTHZ_CONFIG); none: the embedded default")
	envFlag(fs, "admin-token-file", "admin_token_file", "file holding the admin API bearer token, required by serve, sent by clients")
	envFlag(fs, "log-level", "log_level", "log level: debug, info, warn or error")
	envFlag(fs, "log-format", "log_format", "log format: json or text")
}

// config returns the config file named by --config or JWT_AUTHZ_CONFIG.
func (g *globalFlags) config() string {
	if g.configPath != "" {
		return g.configPath
	}
	return os.Getenv("JWT_AUTHZ_CONFIG")
}

// envAnnotation marks a flag that overrides a config key; its value is the
// key's environment variable, through which the flag is applied.
const envAnnotation = "jwt-authz/env"

// envFlag defines a string flag that overrides the top-level config key.
func envFlag(fs *pflag.FlagSet, name, key, usage string) {
	fs.String(name, "", usage+" (config "+key+", env "+config.EnvVar(key)+")")
	_ = fs.SetAnnotation(name, envAnnotation, []string{config.EnvVar(key)})
}

// lookupFor layers the flags given to cmd over the environment, for
// config.ApplyEnv: a flag beats its JWT_AUTHZ_* variable.
func lookupFor(cmd *cobra.Command) func(string) (string, bool) {
	set := map[string]string{}
	cmd.Flags().Visit(func(f *pflag.Flag) {
		if env := f.Annotations[envAnnotation]; len(env) == 1 {
			set[env[0]] = f.Value.String()
		}
	})
	return func(name string) (string, bool) {
		if v, ok := set[name]; ok {
			return v, true
		}
		return os.LookupEnv(name)
	}
}

// usageError is a wrong command line: exit status 2.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usageErrorf(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitStatus ends a command that has already printed its outcome (a denied
// check, a config's problems) with that status.
type exitStatus int

func (e exitStatus) Error() string { return fmt.Sprintf("exit status %d", int(e)) }

// exitCode prints err as one line on stderr and maps it to the exit code.
func exitCode(stderr io.Writer, cmd *cobra.Command, err error) int {
	if err == nil {
		return 0
	}
	var st exitStatus
	if errors.As(err, &st) {
		return int(st)
	}
	msg := oneLine(err.Error())
	var ue *usageError
	// cobra's own argument checks (of the completion commands) are usage
	// errors too.
	if errors.As(err, &ue) || strings.HasPrefix(msg, "unknown command") || strings.HasPrefix(msg, "accepts ") {
		path := "jwt-authz"
		if cmd != nil {
			path = cmd.CommandPath()
		}
		fmt.Fprintf(stderr, "jwt-authz: %s; see '%s --help'\n", msg, path)
		return 2
	}
	fmt.Fprintf(stderr, "jwt-authz: %s\n", msg)
	return 1
}

// oneLine joins a message's lines, so every error is one line.
func oneLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	kept := lines[:0]
	for _, l := range lines {
		if l = strings.TrimSpace(l); l != "" {
			kept = append(kept, l)
		}
	}
	return strings.Join(kept, " ")
}

// flagError turns a flag parsing error into a usage error that names the
// nearest flag.
func flagError(cmd *cobra.Command, err error) error {
	msg := err.Error()
	var name string
	switch {
	case strings.HasPrefix(msg, "unknown flag: --"):
		name = strings.TrimPrefix(msg, "unknown flag: --")
	case strings.HasPrefix(msg, "unknown shorthand flag: "):
		// "-addr" in the style of Go's flag package.
		if i := strings.LastIndex(msg, " in -"); i >= 0 {
			name = msg[i+len(" in -"):]
		}
	}
	if name != "" {
		name, _, _ = strings.Cut(name, "=")
		if s := nearestFlag(cmd, name); s != "" {
			msg += fmt.Sprintf(" (did you mean --%s?)", s)
		}
	}
	return &usageError{msg: msg}
}

// nearestFlag returns the flag of cmd closest to name, or "".
func nearestFlag(cmd *cobra.Command, name string) string {
	var names []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	})
	return config.Suggest(name, names)
}

// subcommandArgs rejects an unknown subcommand of a command group, naming
// the nearest one.
func subcommandArgs(cmd *cobra.Command, args []string) error {
	if len(args) == 0 {
		return nil
	}
	msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
	if cmd.SuggestionsMinimumDistance <= 0 {
		cmd.SuggestionsMinimumDistance = 2
	}
	if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
		msg += fmt.Sprintf(" (did you mean %q?)", s[0])
	}
	return &usageError{msg: msg}
}

// needSubcommand runs a command group given no subcommand.
func needSubcommand(cmd *cobra.Command, _ []string) error {
	var names []string
	for _, c := range cmd.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	return usageErrorf("missing command, one of: %s", strings.Join(names, ", "))
}

// noArgs rejects positional arguments.
func noArgs(cmd *cobra.Command, args []string) error {
	if len(args) > 0 {
		return usageErrorf("%s takes no arguments, got %q", cmd.CommandPath(), args[0])
	}
	return nil
}
