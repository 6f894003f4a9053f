package extauthz

import (
	"runtime"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc/mem"
	"google.golang.org/protobuf/proto"
)

func TestCodecSendsRememberedBytes(t *testing.T) {
	c := NewCodec()
	prebuilt := denyResponse(ReasonExpired, "corp", nil)
	fresh := &authv3.CheckResponse{DynamicMetadata: metadata(map[string]string{"reason": "x"})}
	for name, resp := range map[string]*authv3.CheckResponse{"prebuilt": prebuilt, "built per request": fresh} {
		t.Run(name, func(t *testing.T) {
			data, err := c.Marshal(resp)
			if err != nil {
				t.Fatal(err)
			}
			got := &authv3.CheckResponse{}
			if err := c.Unmarshal(mem.BufferSlice{mem.SliceBuffer(data.Materialize())}, got); err != nil {
				t.Fatal(err)
			}
			if !proto.Equal(got, resp) {
				t.Fatalf("round trip differs:\n%v\n%v", got, resp)
			}
		})
	}
	if _, ok := wireOf(prebuilt); !ok {
		t.Fatal("prebuilt response not remembered")
	}
	if _, ok := wireOf(fresh); ok {
		t.Fatal("a response built per request was remembered")
	}
	if c.Name() != "proto" {
		t.Fatal(c.Name())
	}
}

// Remembered bytes go away with their response, so evicted cache entries
// and old policies do not leak.
func TestCodecForgetsCollectedResponses(t *testing.T) {
	count := func() int {
		n := 0
		wireForms.Range(func(any, any) bool { n++; return true })
		return n
	}
	held := make([]*authv3.CheckResponse, 0, 100)
	for range 100 {
		held = append(held, denyResponse(ReasonMalformed, "gone", nil))
	}
	for _, r := range held {
		if _, ok := wireOf(r); !ok {
			t.Fatal("response not remembered")
		}
	}
	before := count() - len(held)
	runtime.KeepAlive(held)
	held = nil
	deadline := time.Now().Add(10 * time.Second)
	for count() > before+10 {
		if time.Now().After(deadline) {
			t.Fatalf("%d remembered forms left after GC", count()-before)
		}
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
}
