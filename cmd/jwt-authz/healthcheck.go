package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/jwt-authz/jwt-authz/config"
)

const healthcheckLong = `Ask the running server's /readyz on its HTTP listener (http_addr of the
config, or --http-addr) and exit 0 when it answers 200 (ready), 1 otherwise:
not ready (keys or revocation store unusable), not running, or no answer
within --timeout. A wildcard listen host (0.0.0.0, ::) is reached on
127.0.0.1.

It needs no shell or curl, so a distroless image can use it as its
HEALTHCHECK.`

const healthcheckExample = `  jwt-authz healthcheck --config /etc/jwt-authz/config.yaml
  jwt-authz healthcheck --http-addr 127.0.0.1:8080`

// newHealthcheckCmd is "jwt-authz healthcheck": exit 0 when /readyz of the
// configured HTTP listener says ready.
func newHealthcheckCmd(g *globalFlags) *cobra.Command {
	var timeout time.Duration
	cmd := &cobra.Command{
		Use:     "healthcheck",
		Short:   "Exit 0 when the running server's /readyz says ready",
		Long:    healthcheckLong,
		Example: healthcheckExample,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if timeout <= 0 {
				return usageErrorf("--timeout must be positive, got %s", timeout)
			}
			url, err := readyzURL(g.config(), lookupFor(cmd))
			if err != nil {
				return err
			}
			return healthcheck(cmd.Context(), url, timeout, cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	envFlag(cmd.Flags(), "http-addr", "http_addr", "HTTP address of the running server")
	cmd.Flags().DurationVar(&timeout, "timeout", 3*time.Second, "how long to wait for the answer")
	return cmd
}

// readyzURL finds the server's HTTP listener: --http-addr (or
// $JWT_AUTHZ_HTTP_ADDR), else the config's http_addr.
func readyzURL(cfgPath string, lookup func(string) (string, bool)) (string, error) {
	addrKey := config.EnvVar("http_addr")
	addr, _ := lookup(addrKey)
	if addr == "" {
		cfg, err := loadConfig(cfgPath, lookup)
		if err != nil {
			return "", fmt.Errorf("read config: %w", err)
		}
		addr = cfg.HTTPAddr
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", usageErrorf("http address %q: %v", addr, err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/readyz", nil
}

// healthcheck asks url once; nil only for a 200.
func healthcheck(ctx context.Context, url string, timeout time.Duration, stdout, stderr io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := (&http.Client{}).Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "jwt-authz: not ready: %s answered %d: %s\n", url, resp.StatusCode, oneLine(strings.TrimSpace(string(body))))
		return exitStatus(1)
	}
	fmt.Fprintln(stdout, "ready")
	return nil
}
