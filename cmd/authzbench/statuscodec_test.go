package main

import (
	"testing"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

func TestStatusCodecReadsTheCode(t *testing.T) {
	meta, _ := structpb.NewStruct(map[string]any{"jwt_authz": map[string]any{"payload": map[string]any{"sub": "a", "n": 1.0}}})
	for _, resp := range []*authv3.CheckResponse{
		{},
		{Status: &rpcstatus.Status{}},
		{Status: &rpcstatus.Status{Code: 16, Message: "expired"}, DynamicMetadata: meta},
		{Status: &rpcstatus.Status{Code: 0}, DynamicMetadata: meta, HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{HeadersToRemove: []string{"x"}}}},
	} {
		b, err := proto.Marshal(resp)
		if err != nil {
			t.Fatal(err)
		}
		got := &authv3.CheckResponse{}
		if err := newStatusCodec(false).Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, got); err != nil {
			t.Fatal(err)
		}
		if got.GetStatus().GetCode() != resp.GetStatus().GetCode() {
			t.Fatalf("code %d, want %d", got.GetStatus().GetCode(), resp.GetStatus().GetCode())
		}
	}
	if err := newStatusCodec(false).Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0x0a, 0x09})}, &authv3.CheckResponse{}); err == nil {
		t.Fatal("truncated response accepted")
	}
}
