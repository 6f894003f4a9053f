package extauthz

import (
	"runtime"
	"sync"
	"weak"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/encoding"
	protoenc "google.golang.org/grpc/encoding/proto"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

// wireForms maps a prebuilt CheckResponse to its marshalled bytes. Keys are
// weak, and each entry is deleted when its response is collected, so cache
// evictions and policy reloads free the bytes too.
var wireForms sync.Map // weak.Pointer[authv3.CheckResponse] -> []byte

// rememberWire marshals a response that will never change again and keeps
// its bytes for the Codec. A response that fails to marshal is simply
// marshalled per request by the fallback codec.
func rememberWire(resp *authv3.CheckResponse) {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(resp)
	if err != nil {
		return
	}
	wp := weak.Make(resp)
	wireForms.Store(wp, b)
	runtime.AddCleanup(resp, func(wp weak.Pointer[authv3.CheckResponse]) { wireForms.Delete(wp) }, wp)
}

func wireOf(resp *authv3.CheckResponse) ([]byte, bool) {
	b, ok := wireForms.Load(weak.Make(resp))
	if !ok {
		return nil, false
	}
	return b.([]byte), true
}

// Codec is the gRPC codec of the Check server: the same protobuf wire
// format as gRPC's own, but a response built ahead of time (a cached
// token's allow, a denial) is sent as the bytes marshalled when it was
// built instead of being marshalled again for every request. Install it
// with grpc.ForceServerCodecV2.
type Codec struct{ fallback encoding.CodecV2 }

// NewCodec returns the Check server's codec.
func NewCodec() *Codec { return &Codec{fallback: encoding.GetCodecV2(protoenc.Name)} }

// Name is "proto": the content type on the wire does not change.
func (c *Codec) Name() string { return protoenc.Name }

// Marshal sends the remembered bytes of a prebuilt response, else
// marshals as gRPC's proto codec does.
func (c *Codec) Marshal(v any) (mem.BufferSlice, error) {
	if resp, ok := v.(*authv3.CheckResponse); ok {
		if b, ok := wireOf(resp); ok {
			// The bytes are shared by every send and never modified;
			// SliceBuffer's Free does nothing.
			return mem.BufferSlice{mem.SliceBuffer(b)}, nil
		}
	}
	return c.fallback.Marshal(v)
}

// Unmarshal decodes as gRPC's proto codec does.
func (c *Codec) Unmarshal(data mem.BufferSlice, v any) error { return c.fallback.Unmarshal(data, v) }
