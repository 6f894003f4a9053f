package main

import (
	"context"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

// checkFunc serves Check with a function.
type checkFunc func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error)
type funcServer struct {
	authv3.UnimplementedAuthorizationServer
	f checkFunc
}

func (s funcServer) Check(ctx context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return s.f(ctx, req)
}

// serveCheck serves f on loopback for the rest of the test.
func serveCheck(t *testing.T, f checkFunc) string {
	s := grpc.NewServer()
	authv3.RegisterAuthorizationServer(s, funcServer{f: f})
	return serveOn(t, s)
}

func serveOn(t *testing.T, s *grpc.Server) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveGRPC(ctx, s, ln) }()
	t.Cleanup(func() { cancel(); <-done })
	return ln.Addr().String()
}

func answer(code codes.Code) checkFunc {
	return func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(code)}}, nil
	}
}

// openSpec is a short open-loop run: 100 requests at 500/s. Answered
// requests get a minute, so that a loaded machine cannot time them out.
func openSpec(target string) loadSpec {
	return loadSpec{Target: target, Mode: modeOpen, Rate: 500, Duration: 200 * time.Millisecond,
		Concurrency: 32, Timeout: time.Minute, Expect: "allow", Tokens: []string{"a.b.c"}}
}

func mustRun(t *testing.T, spec loadSpec) loadResult {
	t.Helper()
	r, err := runLoad(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func TestOpenLoopTimeouts(t *testing.T) {
	stop := make(chan struct{})
	ignoring := serveCheck(t, func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		<-stop // ignores its deadline: only the client's timeout ends the call
		return answer(codes.OK)(nil, nil)
	})
	t.Cleanup(func() { close(stop) }) // before the server stops
	honouring := serveCheck(t, func(ctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		<-ctx.Done() // the deadline sent in grpc-timeout
		return nil, status.FromContextError(ctx.Err()).Err()
	})
	for _, target := range []string{ignoring, honouring} {
		spec := openSpec(target)
		spec.Rate, spec.Timeout = 200, 100*time.Millisecond // 40 requests
		r := mustRun(t, spec)
		// A request times out no sooner than 100 ms after it was sent.
		if r.Requests != 40 || r.ErrorCodes["DeadlineExceeded"] != 40 || r.Latency.P50MS < 90 {
			t.Fatalf("%+v", r)
		}
	}
}

// TestOpenLoopCancel cancels a run of 5,000 requests when the server gets
// its first Check: the schedule stops there, and the calls in flight end
// as Canceled.
func TestOpenLoopCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	target := serveCheck(t, func(sctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		cancel()
		<-sctx.Done()
		return nil, sctx.Err()
	})
	spec := openSpec(target)
	spec.Duration = 10 * time.Second // 5,000 requests
	r, err := runLoad(ctx, spec)
	if err == nil || r.Requests == 0 || r.Requests >= 5000 || r.ErrorCodes["Canceled"] != r.Requests {
		t.Fatalf("runLoad: %v; %+v; want fewer than 5000 requests, all canceled", err, r)
	}
}

// TestOpenLoopServerGoesAway stops the server at its 50th Check: every
// request scheduled still gets an outcome, and those the server does not
// answer fail as Unavailable. Stopped at once, the server holds the 50th
// Check and every later one until the stop cancels them, so it answers at
// most 49. Stopped gracefully, it answers at least the 50 it has begun.
func TestOpenLoopServerGoesAway(t *testing.T) {
	for _, graceful := range []bool{false, true} {
		s := grpc.NewServer()
		var served atomic.Int64
		authv3.RegisterAuthorizationServer(s, funcServer{f: func(ctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
			switch n := served.Add(1); {
			case graceful && n == 50:
				go s.GracefulStop()
			case !graceful && n >= 50:
				if n == 50 {
					go s.Stop()
				}
				<-ctx.Done() // closing the connection cancels it
				return nil, ctx.Err()
			}
			return answer(codes.OK)(nil, nil)
		}})
		spec := openSpec(serveOn(t, s))
		spec.Duration = 600 * time.Millisecond // 300 requests
		r := mustRun(t, spec)
		answered := r.Allowed <= 49
		if graceful {
			answered = r.Allowed >= 50
		}
		if !answered || r.Requests != 300 || r.Allowed+r.Errors != 300 || r.ErrorCodes["Unavailable"] != r.Errors {
			t.Fatalf("graceful %v: %+v", graceful, r)
		}
	}
}

func TestCodecReadsTheStatus(t *testing.T) {
	meta, _ := structpb.NewStruct(map[string]any{"claims": strings.Repeat("x", 40<<10)})
	for _, resp := range []*authv3.CheckResponse{
		{},
		{Status: &rpcstatus.Status{Code: 16, Message: "expired"}, DynamicMetadata: meta},
		{Status: &rpcstatus.Status{}, DynamicMetadata: meta, HttpResponse: &authv3.CheckResponse_OkResponse{OkResponse: &authv3.OkHttpResponse{}}},
	} {
		b, _ := proto.Marshal(resp)
		got := &authv3.CheckResponse{}
		if err := (codec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer(b)}, got); err != nil || got.GetStatus().GetCode() != resp.GetStatus().GetCode() {
			t.Fatalf("code %d, %v; want %d", got.GetStatus().GetCode(), err, resp.GetStatus().GetCode())
		}
	}
	if err := (codec{}).Unmarshal(mem.BufferSlice{mem.SliceBuffer([]byte{0x0a, 0x09})}, &authv3.CheckResponse{}); err == nil {
		t.Fatal("a truncated response was accepted")
	}
	var tl tally // a denial, expected
	if tl.observe("deny", 0, &authv3.CheckResponse{Status: &rpcstatus.Status{Code: 16}}, nil); tl.Denied != 1 || tl.WrongDecisions != 0 {
		t.Fatalf("%+v", tl.counts)
	}
}

// The client's own cost per request: recording an outcome, and choosing
// the next request.

func BenchmarkTallyObserve(b *testing.B) {
	b.ReportAllocs()
	resp := &authv3.CheckResponse{Status: &rpcstatus.Status{}}
	t := tally{lat: make([]time.Duration, 0, 1<<16)}
	for b.Loop() {
		if len(t.lat) == cap(t.lat) {
			t.lat = t.lat[:0] // observe, not the growth of the samples
		}
		t.observe("allow", time.Millisecond, resp, nil)
	}
}

func BenchmarkPick(b *testing.B) {
	b.ReportAllocs()
	p := &picker{msgs: make([][]byte, 1024), each: true}
	for b.Loop() {
		if _, ok := p.pick(); !ok {
			p.next.Store(0)
		}
	}
}
