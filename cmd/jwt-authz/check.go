package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"
)

// cmdCheck sends one ext_authz Check and prints the verdict; exit 0 when
// allowed, 1 when denied, 2 on a usage or transport error.
func cmdCheck(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	addr := fs.String("addr", "127.0.0.1:9001", "ext_authz gRPC address")
	tok := fs.String("token", "", "the bearer token (empty sends no Authorization header)")
	path := fs.String("path", "/", "request path")
	method := fs.String("method", "GET", "request method")
	host := fs.String("host", "localhost", "request host")
	timeout := fs.Duration("timeout", 5*time.Second, "call timeout")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	conn, err := grpc.NewClient(*addr, grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return 2
	}
	defer conn.Close()
	headers := map[string]string{":authority": *host}
	if *tok != "" {
		headers["authorization"] = "Bearer " + *tok
	}
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: *method, Path: *path, Host: *host, Headers: headers, Protocol: "HTTP/1.1", Scheme: "http"},
	}}}
	cctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	resp, err := authv3.NewAuthorizationClient(conn).Check(cctx, req)
	if err != nil {
		fmt.Fprintf(stderr, "check: %v\n", err)
		return 2
	}
	printVerdict(stdout, resp)
	if resp.GetStatus().GetCode() == int32(code.Code_OK) {
		return 0
	}
	return 1
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
