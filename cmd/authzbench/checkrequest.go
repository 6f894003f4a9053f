package main

import (
	"fmt"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// What the generated requests ask for; config rules in benchmarks match
// /api/orders.
const (
	benchMethod = "GET"
	benchPath   = "/api/orders"
	benchHost   = "orders.bench.example"
)

// newCheckRequest returns the CheckRequest Envoy's ext_authz filter sends
// for "GET /api/orders" carrying token as a bearer token: peer addresses,
// the HTTP attributes and the header map with pseudo-headers, as Envoy
// fills them. id makes x-request-id distinct per request built.
func newCheckRequest(token string, id int, at time.Time) *authv3.CheckRequest {
	reqID := fmt.Sprintf("00000000-0000-4000-8000-%012x", id)
	return &authv3.CheckRequest{
		Attributes: &authv3.AttributeContext{
			Source:      peer("10.0.0.12", 52340),
			Destination: peer("10.0.0.20", 8080),
			Request: &authv3.AttributeContext_Request{
				Time: timestamppb.New(at),
				Http: &authv3.AttributeContext_HttpRequest{
					Id:       fmt.Sprint(id),
					Method:   benchMethod,
					Path:     benchPath,
					Host:     benchHost,
					Scheme:   "https",
					Protocol: "HTTP/1.1",
					Headers: map[string]string{
						":authority":        benchHost,
						":method":           benchMethod,
						":path":             benchPath,
						":scheme":           "https",
						"accept":            "application/json",
						"user-agent":        "authzbench",
						"authorization":     "Bearer " + token,
						"x-forwarded-proto": "https",
						"x-request-id":      reqID,
					},
				},
			},
		},
	}
}

func peer(ip string, port uint32) *authv3.AttributeContext_Peer {
	return &authv3.AttributeContext_Peer{
		Address: &corev3.Address{Address: &corev3.Address_SocketAddress{SocketAddress: &corev3.SocketAddress{
			Address:       ip,
			PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port},
		}}},
	}
}
