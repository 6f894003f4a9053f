package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"sort"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"github.com/spf13/cobra"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/jwt-authz/jwt-authz/config"
)

const checkLong = `Sends one ext_authz Check to a running server, as Envoy would for an HTTP
request with the given path, method and host, and prints the verdict, the
HTTP status and the headers of the answer (never the token).

Exit status: 0 allowed, 1 denied or the call failed, 2 for a wrong command line.`

const checkExample = `  jwt-authz check --token "$ACCESS" --path /orders
  jwt-authz check --addr authz.example:9001 --token "$ACCESS" --method POST --host api.example.com`

// newCheckCmd sends one ext_authz Check and prints the verdict.
func newCheckCmd() *cobra.Command {
	var (
		addr, tok, path, method, host string
		timeout                       time.Duration
	)
	cmd := &cobra.Command{
		Use:     "check [--addr HOST:PORT] [--token T] [--path P] [--method M] [--host H]",
		Short:   "Send one ext_authz Check and print the verdict",
		Long:    checkLong,
		Example: checkExample,
		Args:    noArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if v := os.Getenv(config.EnvVar("grpc_addr")); v != "" && !cmd.Flags().Changed("addr") {
				addr = v
			}
			conn, err := grpc.NewClient(addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
			if err != nil {
				return usageErrorf("--addr %q: %v", addr, err)
			}
			defer conn.Close()
			headers := map[string]string{":authority": host}
			if tok != "" {
				headers["authorization"] = "Bearer " + tok
			}
			req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
				Http: &authv3.AttributeContext_HttpRequest{Method: method, Path: path, Host: host, Headers: headers, Protocol: "HTTP/1.1", Scheme: "http"},
			}}}
			ctx, cancel := context.WithTimeout(cmd.Context(), timeout)
			defer cancel()
			resp, err := authv3.NewAuthorizationClient(conn).Check(ctx, req)
			if err != nil {
				return fmt.Errorf("check %s: %w", addr, err)
			}
			printVerdict(cmd.OutOrStdout(), resp)
			if resp.GetStatus().GetCode() != int32(code.Code_OK) {
				return exitStatus(1)
			}
			return nil
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&addr, "addr", "127.0.0.1:9001", "ext_authz gRPC address of the server (env JWT_AUTHZ_GRPC_ADDR)")
	fs.StringVar(&tok, "token", "", "the bearer token (empty sends no Authorization header)")
	fs.StringVar(&path, "path", "/", "request path")
	fs.StringVar(&method, "method", "GET", "request method")
	fs.StringVar(&host, "host", "localhost", "request host (:authority)")
	fs.DurationVar(&timeout, "timeout", 5*time.Second, "call timeout")
	return cmd
}

func printVerdict(w io.Writer, resp *authv3.CheckResponse) {
	st := code.Code(resp.GetStatus().GetCode())
	if st == code.Code_OK {
		fmt.Fprintf(w, "allowed (%s)\n", st)
		ok := resp.GetOkResponse()
		for _, h := range ok.GetHeaders() {
			fmt.Fprintf(w, "  upstream header %s: %s\n", h.GetHeader().GetKey(), h.GetHeader().GetValue())
		}
		for _, h := range ok.GetHeadersToRemove() {
			fmt.Fprintf(w, "  upstream header removed: %s\n", h)
		}
	} else {
		d := resp.GetDeniedResponse()
		fmt.Fprintf(w, "denied (%s) http %d\n", st, d.GetStatus().GetCode())
		for _, h := range d.GetHeaders() {
			fmt.Fprintf(w, "  %s: %s\n", h.GetHeader().GetKey(), h.GetHeader().GetValue())
		}
		if d.GetBody() != "" {
			fmt.Fprintf(w, "  body: %s\n", d.GetBody())
		}
	}
	if md := resp.GetDynamicMetadata().GetFields()["jwt_authz"].GetStructValue().GetFields(); len(md) > 0 {
		keys := make([]string, 0, len(md))
		for k := range md {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			if k == "payload" {
				continue
			}
			fmt.Fprintf(w, "  metadata %s: %s\n", k, md[k].GetStringValue())
		}
	}
}
