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

// Codec is the gRPC codec of the Check server: the protobuf wire format
// of gRPC's own codec, with three shortcuts for the Check method. A Check
// request is read in place into a request view (decodeCheck) instead of
// being built as a message; an allowed token's response, built as bytes,
// is sent as they are; and a response built ahead of time (a denial, an
// anonymous allow) is sent as the bytes marshalled when it was built.
// Install it with grpc.ForceServerCodecV2; other messages go through
// gRPC's proto codec.
type Codec struct{ fallback encoding.CodecV2 }

// NewCodec returns the Check server's codec.
func NewCodec() *Codec { return &Codec{fallback: encoding.GetCodecV2(protoenc.Name)} }

// Name is "proto": the content type on the wire does not change.
func (c *Codec) Name() string { return protoenc.Name }

// Marshal sends built or remembered bytes as they are, else marshals as
// gRPC's proto codec does.
func (c *Codec) Marshal(v any) (mem.BufferSlice, error) {
	switch x := v.(type) {
	case *wireResponse:
		// The buffer goes back to its pool once gRPC has written it.
		return mem.BufferSlice{mem.NewBuffer((*[]byte)(x), responsePool)}, nil
	case *authv3.CheckResponse:
		if b, ok := wireOf(x); ok {
			// The bytes are shared by every send and never modified;
			// SliceBuffer's Free does nothing.
			return mem.BufferSlice{mem.SliceBuffer(b)}, nil
		}
	}
	return c.fallback.Marshal(v)
}

// Unmarshal reads a Check request into its call, and anything else as
// gRPC's proto codec does.
func (c *Codec) Unmarshal(data mem.BufferSlice, v any) error {
	call, ok := v.(*checkCall)
	if !ok {
		return c.fallback.Unmarshal(data, v)
	}
	call.data = call.data[:0]
	for _, b := range data {
		call.data = append(call.data, b.ReadOnlyData()...)
	}
	if err := decodeCheck(call.data, &call.r); err != nil {
		return err
	}
	call.r.finish()
	return nil
}

// wireResponse is a marshalled CheckResponse in a buffer of responsePool.
type wireResponse []byte

// responseBufferSize is the capacity of a pooled response buffer: above
// gRPC's pooling threshold, so that gRPC hands it back after writing, and
// enough for a token payload of a few kilobytes.
const responseBufferSize = 4 << 10

// responsePool recycles the buffers of built responses.
var responsePool = &bufferPool{}

// bufferPool is a mem.BufferPool of responseBufferSize buffers; larger
// ones are not kept.
type bufferPool struct{ p sync.Pool }

// Get returns a buffer of length n.
func (bp *bufferPool) Get(n int) *[]byte {
	if b, ok := bp.p.Get().(*[]byte); ok && cap(*b) >= n {
		*b = (*b)[:n]
		return b
	}
	b := make([]byte, n, max(n, responseBufferSize))
	return &b
}

// Put returns a buffer to the pool.
func (bp *bufferPool) Put(b *[]byte) {
	if cap(*b) == responseBufferSize {
		bp.p.Put(b)
	}
}
