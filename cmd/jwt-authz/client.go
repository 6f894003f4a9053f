package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"
)

// adminClient calls the admin API of a running server, found from the
// config (admin_addr, admin_token_file), as the serve command would read it.
type adminClient struct {
	base  string
	token string
	http  *http.Client
}

func addAdminFlags(fs *flag.FlagSet) (cfgPath, addr *string) {
	cfgPath = fs.String("config", os.Getenv("JWT_AUTHZ_CONFIG"), "config file of the running server (to find its admin listener and token)")
	addr = fs.String("admin-addr", "", "admin address of the running server (overrides the config)")
	return cfgPath, addr
}

func newAdminClient(cfgPath, addr string) (*adminClient, error) {
	cfg, err := loadConfig(cfgPath, os.LookupEnv)
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
	if cfg.AdminTokenFile != "" {
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
		return 0, nil, fmt.Errorf("call %s (is the server running?): %w", c.base+path, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	return resp.StatusCode, out, err
}

func cmdTokenIssue(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("token issue", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath, addr := addAdminFlags(fs)
	sub := fs.String("sub", "", "subject of the new session (required)")
	scope := fs.String("scope", "", `space-separated scopes, e.g. "read write"`)
	claims := fs.String("claims", "", `extra access-token claims as a JSON object, e.g. '{"tenant":"acme"}'`)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *sub == "" {
		fmt.Fprintln(stderr, "token issue: --sub is required")
		return 2
	}
	body := mintRequest{Sub: *sub, Scope: *scope}
	if *claims != "" {
		if err := json.Unmarshal([]byte(*claims), &body.Claims); err != nil {
			fmt.Fprintf(stderr, "token issue: --claims: %v\n", err)
			return 2
		}
	}
	c, err := newAdminClient(*cfgPath, *addr)
	if err != nil {
		fmt.Fprintf(stderr, "token issue: %v\n", err)
		return 2
	}
	return printResponse(c.post(ctx, "/admin/tokens", body))(stdout, stderr, http.StatusOK)
}

func cmdRevoke(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("revoke", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath, addr := addAdminFlags(fs)
	jti := fs.String("jti", "", "revoke one token by its jti (with --exp)")
	exp := fs.Int64("exp", 0, "the token's exp (unix seconds), for --jti")
	sid := fs.String("sid", "", "revoke a whole session")
	sub := fs.String("sub", "", "revoke every token of a subject issued before --before")
	before := fs.Int64("before", 0, "cut-off for --sub (unix seconds; default now)")
	tok := fs.String("token", "", "revoke the token itself (its jti)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	var body map[string]any
	n := 0
	if *jti != "" {
		n++
		if *exp == 0 {
			fmt.Fprintln(stderr, "revoke: --jti needs --exp")
			return 2
		}
		body = map[string]any{"jti": *jti, "exp": *exp}
	}
	if *sid != "" {
		n++
		body = map[string]any{"sid": *sid}
	}
	if *sub != "" {
		n++
		b := *before
		if b == 0 {
			b = time.Now().Unix()
		}
		body = map[string]any{"sub": *sub, "before": b}
	}
	if *tok != "" {
		n++
		body = map[string]any{"token": *tok}
	}
	if n != 1 {
		fmt.Fprintln(stderr, "revoke: give exactly one of --jti, --sid, --sub or --token")
		return 2
	}
	c, err := newAdminClient(*cfgPath, *addr)
	if err != nil {
		fmt.Fprintf(stderr, "revoke: %v\n", err)
		return 2
	}
	return printResponse(c.post(ctx, "/admin/revocations", body))(stdout, stderr, http.StatusCreated)
}

// printResponse prints the server's answer and maps it to an exit code.
func printResponse(status int, body []byte, err error) func(stdout, stderr io.Writer, want int) int {
	return func(stdout, stderr io.Writer, want int) int {
		if err != nil {
			fmt.Fprintln(stderr, err)
			return 2
		}
		if status != want {
			fmt.Fprintf(stderr, "server answered %d: %s\n", status, bytes.TrimSpace(body))
			return 1
		}
		var pretty bytes.Buffer
		if json.Indent(&pretty, body, "", "  ") == nil {
			body = pretty.Bytes()
		}
		fmt.Fprintln(stdout, string(bytes.TrimSpace(body)))
		return 0
	}
}
