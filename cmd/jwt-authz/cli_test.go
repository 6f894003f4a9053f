package main

import (
	"io"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// commandPaths returns the arguments naming every command of the tree.
func commandPaths(c *cobra.Command, prefix []string) [][]string {
	paths := [][]string{prefix}
	for _, sub := range c.Commands() {
		if sub.Hidden {
			continue
		}
		paths = append(paths, commandPaths(sub, append(append([]string(nil), prefix...), sub.Name()))...)
	}
	return paths
}

func TestCLIHelpEveryCommand(t *testing.T) {
	root := newRootCmd(io.Discard, io.Discard)
	// Added when a command line runs.
	root.InitDefaultHelpCmd()
	root.InitDefaultCompletionCmd()
	paths := commandPaths(root, nil)
	if len(paths) < 15 {
		t.Fatalf("only %d commands found", len(paths))
	}
	for _, path := range paths {
		name := strings.Join(append([]string{"jwt-authz"}, path...), " ")
		forms := map[string][]string{
			"-h":     append(append([]string(nil), path...), "-h"),
			"--help": append(append([]string(nil), path...), "--help"),
			"help":   append([]string{"help"}, path...),
		}
		for form, args := range forms {
			t.Run(name+" "+form, func(t *testing.T) {
				var stdout, stderr strings.Builder
				if code := run(args, &stdout, &stderr); code != 0 {
					t.Fatalf("exit %d\n%s", code, stderr.String())
				}
				if stderr.Len() != 0 {
					t.Errorf("stderr: %s", stderr.String())
				}
				out := stdout.String()
				if !strings.Contains(out, "Usage:\n  "+name) {
					t.Errorf("no usage of %q:\n%s", name, out)
				}
			})
		}
	}
}

func TestCLITopLevelUsageListsEverything(t *testing.T) {
	var stdout strings.Builder
	if code := run([]string{"--help"}, &stdout, io.Discard); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"serve", "check", "token", "revoke", "config", "version", "help",
		"--config", "--log-level", "--log-format", "--admin-token-file"} {
		if !strings.Contains(stdout.String(), want) {
			t.Errorf("top-level usage lacks %q", want)
		}
	}
}

func TestCLIErrors(t *testing.T) {
	tests := map[string]struct {
		args []string
		code int
		want string
	}{
		"no command":             {nil, 2, "missing command, one of: check,"},
		"unknown command":        {[]string{"serv"}, 2, `unknown command "serv" for "jwt-authz" (did you mean "serve"?)`},
		"unknown subcommand":     {[]string{"token", "isue"}, 2, `unknown command "isue" for "jwt-authz token" (did you mean "issue"?)`},
		"unknown help topic":     {[]string{"help", "tokn"}, 2, `unknown command "tokn" for "jwt-authz" (did you mean "token"?)`},
		"group alone":            {[]string{"config"}, 2, "missing command, one of: validate"},
		"unknown flag":           {[]string{"check", "--adr", "x"}, 2, "unknown flag: --adr (did you mean --addr?)"},
		"go-style flag":          {[]string{"check", "-addr", "x"}, 2, "(did you mean --addr?)"},
		"global flag typo":       {[]string{"serve", "--log-levl", "x"}, 2, "(did you mean --log-level?)"},
		"bad flag value":         {[]string{"revoke", "--jti", "j", "--exp", "soon"}, 2, `invalid argument "soon" for "--exp"`},
		"stray argument":         {[]string{"version", "now"}, 2, `jwt-authz version takes no arguments, got "now"`},
		"issue without sub":      {[]string{"token", "issue"}, 2, "--sub is required"},
		"issue bad output":       {[]string{"token", "issue", "--sub", "a", "-o", "yaml"}, 2, `--output must be json or env, not "yaml"`},
		"issue bad claims":       {[]string{"token", "issue", "--sub", "a", "--claims", "{"}, 2, "--claims:"},
		"revoke nothing":         {[]string{"revoke"}, 2, "give one of --jti, --sid, --sub, --token, --provider or --sids-file"},
		"revoke two forms":       {[]string{"revoke", "--sid", "s", "--token", "t"}, 2, "give only one of --jti, --sid, --sub or --token, not --sid and --token"},
		"revoke jti no exp":      {[]string{"revoke", "--jti", "j"}, 2, "--jti needs --exp"},
		"revoke past exp":        {[]string{"revoke", "--jti", "j", "--exp", "1767225600"}, 2, "--exp 1767225600 is in the past (2026-01-01T00:00:00Z)"},
		"revoke exp with sid":    {[]string{"revoke", "--sid", "s", "--exp", "99999999999"}, 2, "--exp goes with --jti only"},
		"revoke empty token":     {[]string{"revoke", "--token", ""}, 2, "--token must not be empty"},
		"revoke jti of provider": {[]string{"revoke", "--jti", "j", "--exp", "99999999999", "--provider", "corp"}, 2, "--provider goes with --sid or --sub, or alone"},
		"revoke before with sid": {[]string{"revoke", "--sid", "s", "--before", "5"}, 2, "--before goes with --sub or --provider alone only"},
		"revoke empty provider":  {[]string{"revoke", "--provider", ""}, 2, "--provider must not be empty"},
		"revoke zero before":     {[]string{"revoke", "--provider", "corp", "--before", "0"}, 2, "--before must be a unix time in seconds, not 0"},
		"validate no file":       {[]string{"config", "validate"}, 2, "name the file to validate"},
		"validate missing":       {[]string{"config", "validate", "--config", "/nonexistent/jwt-authz.yaml"}, 1, "read config: open /nonexistent/jwt-authz.yaml: no such file or directory"},
		"serve missing config":   {[]string{"serve", "--config", "/nonexistent/jwt-authz.yaml"}, 1, "jwt-authz: read config: open /nonexistent/jwt-authz.yaml: no such file or directory"},
		"server unreachable":     {[]string{"revoke", "--sid", "s", "--admin-addr", "127.0.0.1:0"}, 1, "(is the server running?)"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Setenv("JWT_AUTHZ_CONFIG", "")
			var stdout, stderr strings.Builder
			code := run(tt.args, &stdout, &stderr)
			if code != tt.code {
				t.Errorf("exit %d, want %d", code, tt.code)
			}
			msg := stderr.String()
			if !strings.HasPrefix(msg, "jwt-authz: ") || strings.Count(msg, "\n") != 1 {
				t.Errorf("not one line of the form \"jwt-authz: <message>\": %q", msg)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("stderr %q lacks %q", msg, tt.want)
			}
			if tt.code == 2 && !strings.Contains(msg, "--help'") {
				t.Errorf("usage error names no help: %q", msg)
			}
			if stdout.Len() != 0 {
				t.Errorf("stdout: %q", stdout.String())
			}
		})
	}
}

func TestCLIVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"--version"}} {
		var stdout strings.Builder
		if code := run(args, &stdout, io.Discard); code != 0 || !strings.HasPrefix(stdout.String(), "jwt-authz "+version+" (commit ") {
			t.Errorf("%v: exit %d, %q", args, code, stdout.String())
		}
	}
}

func TestCLIServerRefusalIsOneLine(t *testing.T) {
	in := start(t, "", "")
	eventually(t, "ready", in.grpcServing)
	for name, args := range map[string][]string{
		"revoke a token that does not verify": {"revoke", "--token", "garbage"},
		"revoke a subject that is too long":   {"revoke", "--sub", strings.Repeat("x", 10000)},
	} {
		t.Run(name, func(t *testing.T) {
			var stdout, stderr strings.Builder
			code := run(append(args, "--config", in.cfgPath, "--admin-addr", in.adminAddr), &stdout, &stderr)
			msg := stderr.String()
			if code != 1 || !strings.HasPrefix(msg, "jwt-authz: the server answered 400 Bad Request: invalid_request: ") || strings.Count(msg, "\n") != 1 {
				t.Fatalf("exit %d, stderr %q", code, msg)
			}
		})
	}
}
