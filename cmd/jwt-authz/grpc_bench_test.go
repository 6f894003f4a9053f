package main

import (
	"context"
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
)

// BenchmarkCheckGRPC is a cached Check through the whole server over a
// real loopback gRPC connection (client cost included), 16 in flight.
func BenchmarkCheckGRPC(b *testing.B) {
	in := start(b, "", "")
	eventually(b, "ready", in.grpcServing)
	access, _ := in.mint("alice", "read write")
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/api/orders", Host: "api.example.com",
			Headers: map[string]string{"authorization": "Bearer " + access, ":authority": "api.example.com", ":method": "GET", ":path": "/api/orders", "x-request-id": "r1"}},
	}}}
	client := authv3.NewAuthorizationClient(in.conn)
	b.ReportAllocs()
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Check(context.Background(), req)
			if err != nil || resp.GetStatus().GetCode() != 0 {
				b.Fatal(err, resp.GetStatus())
			}
		}
	})
}
