package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/jwt-authz/jwt-authz/config"
)

// adminTokenEnv holds the admin bearer token itself, for clients that have
// no file to read it from.
const adminTokenEnv = "JWT_AUTHZ_ADMIN_TOKEN"

// adminClient calls the admin API of a running server, found from the
// config (admin_addr, admin_token_file), as the serve command would read it.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

// addAdminFlags defines the flags that find the running server's admin
// listener (the global --config and --admin-token-file do the rest).
func addAdminFlags(fs *pflag.FlagSet) {
	envFlag(fs, "admin-addr", "admin_addr", "admin address of the running server")
}

// newAdminClient finds the server's admin listener (--admin-addr, else the
// config's admin_addr) and its token: --admin-token-file (or
// $JWT_AUTHZ_ADMIN_TOKEN_FILE), else $JWT_AUTHZ_ADMIN_TOKEN, else the config
// file's admin_token_file. No config file is needed for a server elsewhere.
func newAdminClient(cfgPath string, lookup func(string) (string, bool)) (*adminClient, error) {
	addrKey, fileKey := config.EnvVar("admin_addr"), config.EnvVar("admin_token_file")
	// The address to dial is not this process's listener: it is kept out
	// of the config, whose rules for admin_addr are the server's.
	addr, _ := lookup(addrKey)
	tokenFile, _ := lookup(fileKey)
	cfg, err := loadConfig(cfgPath, func(name string) (string, bool) {
		if name == addrKey || name == fileKey {
			return "", false
		}
		return lookup(name)
	})
	if err != nil {
		return nil, fmt.Errorf("read config: %w", err)
	}
	if addr == "" {
		addr = cfg.AdminAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("admin address %q: %w", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	c := &adminClient{base: "http://" + net.JoinHostPort(host, port), http: &http.Client{Timeout: 10 * time.Second}}
	env, _ := os.LookupEnv(adminTokenEnv)
	switch {
	case tokenFile != "":
		b, err := os.ReadFile(tokenFile)
		if err != nil {
			return nil, fmt.Errorf("--admin-token-file: %w", err)
		}
		c.token = strings.TrimSpace(string(b))
	case strings.TrimSpace(env) != "":
		c.token = strings.TrimSpace(env)
	case cfg.AdminTokenFile != "":
		b, err := os.ReadFile(cfg.AdminTokenFile)
		if err != nil {
			return nil, fmt.Errorf("admin_token_file: %w", err)
		}
		c.token = strings.TrimSpace(string(b))
	}
	return c, nil
}

// post sends a JSON body and returns the status and the response body.
func (c *adminClient) post(ctx context.Context, path string, body any) (int, []byte, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("%w (is the server running?)", err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, out, err
}

const tokenIssueLong = `Asks the running server, through its admin API, to mint an access and
refresh token pair in a new session, and prints it as JSON, as the token
endpoint would. The server is found from the config: admin_addr and
admin_token_file, or --admin-addr and --admin-token-file (or the token
itself in $JWT_AUTHZ_ADMIN_TOKEN), so no config file is needed.

--output env prints the pair as shell assignments (ACCESS_TOKEN,
REFRESH_TOKEN, SCOPE, EXPIRES_IN) for eval.`

const tokenIssueExample = `  jwt-authz token issue --sub alice --scope "read write"
  eval "$(jwt-authz token issue --sub alice --output env)"; echo "$ACCESS_TOKEN"
  jwt-authz token issue --sub svc-orders --claims '{"tenant":"acme"}' --config /etc/jwt-authz/config.yaml`

func newTokenCmd(g *globalFlags) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Mint tokens from the running server",
		Args:  subcommandArgs,
		RunE:  needSubcommand,
	}
	var sub, scope, claims, output string
	issue := &cobra.Command{
		Use:     "issue --sub S [--scope \"a b\"] [--claims JSON]",
		Short:   "Mint an access and refresh token pair in a new session",
		Long:    tokenIssueLong,
		Example: tokenIssueExample,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if sub == "" {
				return usageErrorf("--sub is required")
			}
			if output != "json" && output != "env" {
				return usageErrorf("--output must be json or env, not %q", output)
			}
			body := mintRequest{Sub: sub, Scope: scope}
			if claims != "" {
				if err := json.Unmarshal([]byte(claims), &body.Claims); err != nil {
					return usageErrorf("--claims: %v", err)
				}
			}
			c, err := newAdminClient(g.config(), lookupFor(cmd))
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if output == "env" {
				out = &envWriter{w: out}
			}
			return printResponse(out, http.StatusOK)(c.post(cmd.Context(), "/admin/tokens", body))
		},
	}
	fs := issue.Flags()
	fs.StringVarP(&output, "output", "o", "json", "json, or env: shell assignments for eval")
	fs.StringVar(&sub, "sub", "", "subject of the new session (required)")
	fs.StringVar(&scope, "scope", "", `space-separated scopes, e.g. "read write"`)
	fs.StringVar(&claims, "claims", "", `extra access-token claims as a JSON object, e.g. '{"tenant":"acme"}'`)
	addAdminFlags(fs)
	cmd.AddCommand(issue)
	return cmd
}

const revokeLong = `Revokes through the running server's admin API, in one of six forms:

  --jti J --exp UNIX   one token, by its jti; --exp is its expiry (unix
                       seconds), how long the entry must be kept
  --sid S              every token of a session (refresh tokens included)
  --sub S [--before T] every token of a subject with iat <= T (inclusive;
                       default: the second the server gets the request, so
                       a token minted in that second is revoked too)
  --token T            one token, given whole; the server verifies its
                       signature and reads its jti and exp
  --provider P [--before T]
                       every token of provider P (its configured name;
                       "self" for the built-in issuer) with iat <= T: a
                       mass logout in one entry
  --sids-file FILE [--exp UNIX]
                       every session listed in FILE, one sid a line
                       (blank lines ignored; - reads standard input), as
                       one session set: a mass logout of up to ten
                       million sessions in one entry; --exp is when it
                       may be forgotten (default: the refresh token
                       lifetime from now)

--provider P with --sid, --sub or --sids-file limits that revocation to the tokens of
provider P; without it, the session or subject is revoked for every
provider. The server is found as for "token issue".`

const revokeExample = `  jwt-authz revoke --sub alice
  jwt-authz revoke --sid 0f8c2e
  jwt-authz revoke --sid 0f8c2e --provider corp
  jwt-authz revoke --jti 7d1b4a --exp 1767225600
  jwt-authz revoke --token "$ACCESS"
  jwt-authz revoke --provider corp --before 1767225600
  jwt-authz revoke --sids-file compromised-sessions.txt --provider corp`

func newRevokeCmd(g *globalFlags) *cobra.Command {
	var (
		jti, sid, sub, tok, provider, sidsFile string
		exp, before                            int64
	)
	cmd := &cobra.Command{
		Use:     "revoke (--jti J --exp UNIX | --sid S | --sub S [--before UNIX] | --token T | --provider P [--before UNIX] | --sids-file FILE [--exp UNIX]) [--provider P]",
		Short:   "Revoke a token, a session, a set of sessions, a subject's or a provider's tokens",
		Long:    revokeLong,
		Example: revokeExample,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("sids-file") {
				if err := checkSIDsFileFlags(cmd.Flags(), sidsFile, exp, time.Now()); err != nil {
					return err
				}
				c, err := newAdminClient(g.config(), lookupFor(cmd))
				if err != nil {
					return err
				}
				return printResponse(cmd.OutOrStdout(), http.StatusCreated)(c.revokeSessions(cmd.Context(), sidsFile, provider, exp, cmd.InOrStdin()))
			}
			body, err := revokeBody(cmd.Flags(), revokeFlags{jti, exp, sid, sub, before, tok, provider}, time.Now())
			if err != nil {
				return err
			}
			c, err := newAdminClient(g.config(), lookupFor(cmd))
			if err != nil {
				return err
			}
			return printResponse(cmd.OutOrStdout(), http.StatusCreated)(c.post(cmd.Context(), "/admin/revocations", body))
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&jti, "jti", "", "revoke one token by its jti (with --exp)")
	fs.Int64Var(&exp, "exp", 0, "the token's exp (unix seconds, in the future), with --jti; with --sids-file, when the set may be forgotten")
	fs.StringVar(&sid, "sid", "", "revoke every token of a session")
	fs.StringVar(&sub, "sub", "", "revoke every token of a subject issued at or before --before")
	fs.Int64Var(&before, "before", 0, "cut-off for --sub or --provider alone, inclusive (unix seconds; default: the second the server gets the request)")
	fs.StringVar(&tok, "token", "", "revoke the token itself (its jti, until its exp)")
	fs.StringVar(&provider, "provider", "", "alone: revoke every token of this provider issued at or before --before; with --sid, --sub or --sids-file: only that provider's tokens")
	fs.StringVar(&sidsFile, "sids-file", "", "revoke every session listed in this file, one sid a line (- for standard input), as one set")
	addAdminFlags(fs)
	return cmd
}

// revokeFlags are the values of the revoke flags.
type revokeFlags struct {
	jti      string
	exp      int64
	sid, sub string
	before   int64
	tok      string
	provider string
}

// revokeBody checks the revoke flags and returns the request body.
func revokeBody(fs *pflag.FlagSet, f revokeFlags, now time.Time) (map[string]any, error) {
	var forms []string
	for _, name := range []string{"jti", "sid", "sub", "token"} {
		if fs.Changed(name) {
			forms = append(forms, "--"+name)
		}
	}
	scoped := fs.Changed("provider")
	if len(forms) == 0 && scoped {
		forms = append(forms, "--provider")
		scoped = false
	}
	if len(forms) != 1 {
		if len(forms) == 0 {
			return nil, usageErrorf("give one of --jti, --sid, --sub, --token, --provider or --sids-file")
		}
		return nil, usageErrorf("give only one of --jti, --sid, --sub or --token, not %s", strings.Join(forms, " and "))
	}
	if fs.Changed("exp") && forms[0] != "--jti" {
		return nil, usageErrorf("--exp goes with --jti only")
	}
	if fs.Changed("before") && forms[0] != "--sub" && forms[0] != "--provider" {
		return nil, usageErrorf("--before goes with --sub or --provider alone only")
	}
	if scoped && forms[0] != "--sid" && forms[0] != "--sub" {
		return nil, usageErrorf("--provider goes with --sid or --sub, or alone; a %s revocation is never limited to one provider", forms[0])
	}
	for name, v := range map[string]string{"jti": f.jti, "sid": f.sid, "sub": f.sub, "token": f.tok, "provider": f.provider} {
		if fs.Changed(name) && v == "" {
			return nil, usageErrorf("--%s must not be empty", name)
		}
	}
	if fs.Changed("before") && f.before <= 0 {
		return nil, usageErrorf("--before must be a unix time in seconds, not %d", f.before)
	}
	body, err := revokeForm(fs, forms[0], f, now)
	if err != nil {
		return nil, err
	}
	if fs.Changed("provider") {
		body["provider"] = f.provider
	}
	if fs.Changed("before") {
		// Without it the server takes the second it receives the request.
		body["before"] = f.before
	}
	return body, nil
}

// revokeForm is the body of one form, without provider and before.
func revokeForm(fs *pflag.FlagSet, form string, f revokeFlags, now time.Time) (map[string]any, error) {
	jti, exp, sid, sub, tok := f.jti, f.exp, f.sid, f.sub, f.tok
	switch form {
	case "--jti":
		if !fs.Changed("exp") {
			return nil, usageErrorf("--jti needs --exp, the token's expiry in unix seconds")
		}
		if exp <= now.Unix() {
			return nil, usageErrorf("--exp %d is in the past (%s): the token has expired, there is nothing to revoke", exp, time.Unix(exp, 0).UTC().Format(time.RFC3339))
		}
		return map[string]any{"jti": jti, "exp": exp}, nil
	case "--sid":
		return map[string]any{"sid": sid}, nil
	case "--sub":
		return map[string]any{"sub": sub}, nil
	case "--provider":
		return map[string]any{}, nil
	default:
		return map[string]any{"token": tok}, nil
	}
}

// envWriter turns the token pair's JSON into shell assignments.
type envWriter struct{ w io.Writer }

func (e *envWriter) Write(p []byte) (int, error) {
	var pair struct {
		AccessToken  string `json:"access_token"`
		RefreshToken string `json:"refresh_token"`
		Scope        string `json:"scope"`
		ExpiresIn    int64  `json:"expires_in"`
	}
	if err := json.Unmarshal(p, &pair); err != nil {
		return 0, fmt.Errorf("the server's answer is not a token pair: %w", err)
	}
	_, err := fmt.Fprintf(e.w, "ACCESS_TOKEN=%s\nREFRESH_TOKEN=%s\nSCOPE=%s\nEXPIRES_IN=%d\n",
		shellQuote(pair.AccessToken), shellQuote(pair.RefreshToken), shellQuote(pair.Scope), pair.ExpiresIn)
	return len(p), err
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// printResponse returns a function that prints the server's answer, or
// the error when the server refused or could not be reached.
func printResponse(stdout io.Writer, want int) func(status int, body []byte, err error) error {
	return func(status int, body []byte, err error) error {
		if err != nil {
			return err
		}
		if status != want {
			return fmt.Errorf("the server answered %d %s: %s", status, http.StatusText(status), serverError(body))
		}
		var pretty bytes.Buffer
		if json.Indent(&pretty, body, "", "  ") == nil {
			body = pretty.Bytes()
		}
		if _, err := fmt.Fprintln(stdout, string(bytes.TrimSpace(body))); err != nil {
			return err
		}
		return nil
	}
}

// serverError renders an RFC 6749-style JSON error body, or the body as
// it is.
func serverError(body []byte) string {
	var e struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		if e.Description != "" {
			return e.Error + ": " + e.Description
		}
		return e.Error
	}
	return oneLine(string(body))
}
