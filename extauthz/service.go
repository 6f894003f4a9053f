package extauthz

import (
	"context"
	"sync"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
)

// checkFullMethod is the gRPC method Envoy calls.
const checkFullMethod = "/envoy.service.auth.v3.Authorization/Check"

// serviceDesc is envoy.service.auth.v3.Authorization as this server
// registers it: the same service and method on the wire, but its Check
// handler reads the request's bytes in place (decodeCheck) instead of
// building a CheckRequest message, and answers with bytes. It needs the
// Codec; see Register.
var serviceDesc = grpc.ServiceDesc{
	ServiceName: "envoy.service.auth.v3.Authorization",
	HandlerType: (*authv3.AuthorizationServer)(nil),
	Methods:     []grpc.MethodDesc{{MethodName: "Check", Handler: checkHandler}},
	Streams:     []grpc.StreamDesc{},
	Metadata:    "envoy/service/auth/v3/external_auth.proto",
}

// checkCall is one Check as the handler sees it: the request's bytes,
// decoded into a request view by the Codec.
type checkCall struct {
	data []byte // the request's bytes; r's strings point into them
	r    request
}

var callPool = sync.Pool{New: func() any { return new(checkCall) }}

func getCall() *checkCall { return callPool.Get().(*checkCall) }

// putCall recycles c, its request bytes included. Nothing read from a
// request may therefore be kept past its call: the strings of the request
// view point into those bytes. What outlives a call is copied where it is
// kept (the header cache copies a header segment, claims are cloned by
// the verifier, log records are written before the call ends).
func putCall(c *checkCall) {
	data, h, hm := c.data[:0], c.r.headers[:0], c.r.headerMap[:0]
	if cap(data) > maxPooledRequest {
		data = nil
	}
	clear(c.r.headers[:cap(c.r.headers)])
	clear(c.r.headerMap[:cap(c.r.headerMap)])
	*c = checkCall{data: data, r: request{headers: h, headerMap: hm}}
	callPool.Put(c)
}

// maxPooledRequest bounds the request buffer a pooled call keeps.
const maxPooledRequest = 16 << 10

func checkHandler(srv any, ctx context.Context, dec func(any) error, interceptor grpc.UnaryServerInterceptor) (any, error) {
	s := srv.(*Server)
	c := getCall()
	defer putCall(c)
	if err := dec(c); err != nil {
		return nil, err
	}
	if interceptor == nil {
		return s.serve(ctx, &c.r), nil
	}
	return interceptor(ctx, c, &s.checkInfo, s.checkWireFn)
}

// checkWire is the handler an interceptor wraps.
func (s *Server) checkWire(ctx context.Context, req any) (any, error) {
	return s.serve(ctx, &req.(*checkCall).r), nil
}
