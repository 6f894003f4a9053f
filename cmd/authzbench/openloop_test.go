package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
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
func serveCheck(t *testing.T, f checkFunc, opts ...grpc.ServerOption) string {
	t.Helper()
	s := grpc.NewServer(opts...)
	authv3.RegisterAuthorizationServer(s, funcServer{f: f})
	return serveOnLoopback(t, s)
}

func allowResponse() *authv3.CheckResponse {
	return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.OK)}}
}

// openSpec is a short open-loop run: 100 requests at 500/s.
func openSpec(target string) loadSpec {
	return loadSpec{
		Target: target, Mode: modeOpen, Rate: 500, Duration: 200 * time.Millisecond,
		Concurrency: 32, Conns: 1, Timeout: time.Minute, Expect: expectAllow, Tokens: tokens(1),
	}
}

// runOpenSpec runs spec's open loop directly, returning the merged result
// and the tallies.
func runOpenSpec(t *testing.T, spec loadSpec) (loadResult, []tally) {
	t.Helper()
	r, tallies, err := openRunOnce(t.Context(), spec)
	if err != nil {
		t.Fatal(err)
	}
	if err := checkSamples(tallies); err != nil {
		t.Fatal(err)
	}
	return r, tallies
}

// openRunOnce is runOpenSpec without the test.
func openRunOnce(ctx context.Context, spec loadSpec) (loadResult, []tally, error) {
	conns, err := dialClients(&spec)
	if err != nil {
		return loadResult{}, nil, err
	}
	defer closeClients(conns)
	src, _ := prepareRequests(&spec)
	msgs, err := marshalRequests(src)
	if err != nil {
		return loadResult{}, nil, err
	}
	tallies := runOpen(ctx, conns, src, msgs, spec.Concurrency, spec.Rate, spec.Duration, spec.Timeout, spec.Expect)
	return mergeTallies(spec, tallies), tallies, nil
}

// checkSamples checks that every outcome has a send lag, that no lag is
// negative and that no latency is shorter than its lag.
func checkSamples(tallies []tally) error {
	for _, tl := range tallies {
		if len(tl.lat) != len(tl.lag) {
			return fmt.Errorf("%d latencies, %d lags", len(tl.lat), len(tl.lag))
		}
		for i := range tl.lat {
			if tl.lag[i] < 0 || tl.lat[i] < tl.lag[i] {
				return fmt.Errorf("latency %v, lag %v", tl.lat[i], tl.lag[i])
			}
		}
	}
	return nil
}

func TestOpenLoopAgainstFloor(t *testing.T) {
	var served atomic.Int64
	var badReq atomic.Value
	target := serveCheck(t, func(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		served.Add(1)
		h := req.GetAttributes().GetRequest().GetHttp()
		if h.GetPath() != benchPath || !strings.HasPrefix(h.GetHeaders()["authorization"], "Bearer header.payload-") {
			badReq.Store(h.String())
		}
		return allowResponse(), nil
	})
	for _, conns := range []int{1, 3} {
		served.Store(0)
		spec := openSpec(target)
		spec.Conns, spec.Warmup, spec.PID = conns, 50*time.Millisecond, os.Getpid()
		r, err := runLoad(t.Context(), spec)
		if err != nil {
			t.Fatal(err)
		}
		if r.Requests != 100 || r.Allowed != 100 || r.WrongDecisions != 0 || r.Errors != 0 || r.StatusCodes["OK"] != 100 {
			t.Fatalf("conns %d: requests %d allowed %d wrong %d errors %d (%s) codes %v", conns, r.Requests, r.Allowed, r.WrongDecisions, r.Errors, r.FirstError, r.StatusCodes)
		}
		if r.SendLag == nil || r.SendLag.Count != 100 || r.Latency.Count != 100 || r.Latency.MaxMS < r.SendLag.MaxMS {
			t.Fatalf("conns %d: latency %+v, send lag %+v", conns, r.Latency, r.SendLag)
		}
		// 100 scheduled over 200ms: the last is due at 198ms.
		if r.DurationSeconds < 0.198 || r.ReqPerSec <= 0 || r.Server == nil || r.ClientCPUSeconds <= 0 {
			t.Fatalf("conns %d: duration %v rate %v server %+v cpu %v", conns, r.DurationSeconds, r.ReqPerSec, r.Server, r.ClientCPUSeconds)
		}
		// The warm-up's requests reached the server too.
		if n := served.Load(); n < 100+20 {
			t.Fatalf("conns %d: the server served %d requests, want the warm-up's and 100", conns, n)
		}
	}
	if v := badReq.Load(); v != nil {
		t.Fatalf("the server got a request that is not the prepared one: %v", v)
	}
	// Directly: every sample's lag and latency are sane.
	r, _ := runOpenSpec(t, openSpec(target))
	if r.Requests != 100 || r.Allowed != 100 {
		t.Fatalf("requests %d allowed %d", r.Requests, r.Allowed)
	}
}

func TestOpenLoopDecisions(t *testing.T) {
	floor := serveOnLoopback(t, newFloorServer())
	s := grpc.NewServer()
	authv3.RegisterAuthorizationServer(s, denyAll{})
	deny := serveOnLoopback(t, s)
	tests := []struct {
		name          string
		target        string
		expect        expectation
		denied, wrong int64
	}{
		{"deny expected from a denying server", deny, expectDeny, 100, 0},
		{"allow expected from a denying server", deny, expectAllow, 100, 100},
		{"deny expected from the floor", floor, expectDeny, 0, 100},
	}
	for _, tt := range tests {
		for _, full := range []bool{false, true} {
			spec := openSpec(tt.target)
			spec.Expect, spec.DecodeFull, spec.Warmup = tt.expect, full, 20*time.Millisecond
			r, err := runLoad(t.Context(), spec)
			if err != nil {
				t.Fatal(err)
			}
			if r.Requests != 100 || r.Denied != tt.denied || r.WrongDecisions != tt.wrong || r.Errors != 0 {
				t.Fatalf("%s (decode full %v): requests %d denied %d wrong %d errors %d", tt.name, full, r.Requests, r.Denied, r.WrongDecisions, r.Errors)
			}
			if tt.denied > 0 && r.StatusCodes["Unauthenticated"] != 100 {
				t.Fatalf("%s (decode full %v): status codes %v", tt.name, full, r.StatusCodes)
			}
		}
	}
}

func TestOpenLoopGRPCErrors(t *testing.T) {
	target := serveCheck(t, func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		return nil, status.Error(codes.PermissionDenied, "no way: 100% denied")
	})
	r, _ := runOpenSpec(t, openSpec(target))
	if r.Requests != 100 || r.Errors != 100 || r.ErrorCodes["PermissionDenied"] != 100 || r.Allowed+r.Denied != 0 {
		t.Fatalf("requests %d errors %d codes %v", r.Requests, r.Errors, r.ErrorCodes)
	}
	if !strings.Contains(r.FirstError, "no way: 100% denied") {
		t.Fatalf("first error %q", r.FirstError)
	}
	// A warm-up that only gets errors means the server does not answer.
	spec := openSpec(target)
	spec.Warmup = 20 * time.Millisecond
	if _, err := runLoad(t.Context(), spec); err == nil || !strings.Contains(err.Error(), "does not answer") {
		t.Fatalf("runLoad = %v, want a warm-up failure", err)
	}
}

// concurrencyProbe is a slow handler that records the most calls it had at
// once.
type concurrencyProbe struct {
	now, max atomic.Int64
	delay    time.Duration
}

func (p *concurrencyProbe) check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	n := p.now.Add(1)
	defer p.now.Add(-1)
	for m := p.max.Load(); n > m && !p.max.CompareAndSwap(m, n); m = p.max.Load() {
	}
	time.Sleep(p.delay)
	return allowResponse(), nil
}

func TestOpenLoopLimitsInFlight(t *testing.T) {
	t.Run("server MAX_CONCURRENT_STREAMS", func(t *testing.T) {
		p := &concurrencyProbe{delay: 10 * time.Millisecond}
		target := serveCheck(t, p.check, grpc.MaxConcurrentStreams(2))
		spec := openSpec(target)
		spec.Rate, spec.Duration = 300, 200*time.Millisecond // 60 requests, more than 2 streams serve at once
		r, _ := runOpenSpec(t, spec)
		if r.Requests != 60 || r.Allowed != 60 || r.Errors != 0 {
			t.Fatalf("requests %d allowed %d errors %d (%s)", r.Requests, r.Allowed, r.Errors, r.FirstError)
		}
		if m := p.max.Load(); m != 2 {
			t.Fatalf("the server had %d calls at once, want 2", m)
		}
	})
	t.Run("max in flight", func(t *testing.T) {
		p := &concurrencyProbe{delay: 8 * time.Millisecond}
		target := serveCheck(t, p.check)
		spec := openSpec(target)
		spec.Concurrency, spec.Conns = 3, 2 // 375/s at most, for 500/s
		r, _ := runOpenSpec(t, spec)
		if r.Requests != 100 || r.Allowed != 100 || r.Errors != 0 {
			t.Fatalf("requests %d allowed %d errors %d (%s)", r.Requests, r.Allowed, r.Errors, r.FirstError)
		}
		if m := p.max.Load(); m > 3 {
			t.Fatalf("the server had %d calls at once, want at most 3", m)
		}
		// Requests waited for room, on the clock.
		if r.SendLag.MaxMS < 4 {
			t.Fatalf("send lag %+v: nothing waited", r.SendLag)
		}
	})
}

func TestOpenLoopTimeouts(t *testing.T) {
	stop := make(chan struct{})
	ignoring := serveCheck(t, func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		<-stop // ignores its deadline: only the client's timeout ends the call
		return allowResponse(), nil
	})
	t.Cleanup(func() { close(stop) }) // runs before the server's graceful stop
	honouring := serveCheck(t, func(ctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		<-ctx.Done() // the grpc-timeout header sets this deadline
		return nil, status.FromContextError(ctx.Err()).Err()
	})
	for _, target := range []string{ignoring, honouring} {
		spec := openSpec(target)
		spec.Rate, spec.Timeout = 200, 100*time.Millisecond // 40 requests
		r, tallies := runOpenSpec(t, spec)
		if r.Requests != 40 || r.Errors != 40 || r.ErrorCodes["DeadlineExceeded"] != 40 {
			t.Fatalf("requests %d errors %d codes %v", r.Requests, r.Errors, r.ErrorCodes)
		}
		for _, tl := range tallies {
			for i := range tl.lat {
				if tl.lat[i]-tl.lag[i] < 90*time.Millisecond {
					t.Fatalf("a request timed out %v after it was sent", tl.lat[i]-tl.lag[i])
				}
			}
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
	if err == nil {
		t.Fatal("runLoad = nil, want the context's error")
	}
	if r.Requests == 0 || r.Requests >= 5000 || r.ErrorCodes["Canceled"] != r.Requests {
		t.Fatalf("requests %d codes %v, want fewer than 5000, all canceled", r.Requests, r.ErrorCodes)
	}
}

// TestOpenLoopServerGoesAway stops the server at its 50th Check: every
// request scheduled still gets an outcome, and those the server does not
// answer fail as Unavailable. Stopped at once, the server holds the 50th
// Check and every later one until the stop cancels them, so it answers at
// most 49. Stopped gracefully, it answers at least the 50 it has begun.
func TestOpenLoopServerGoesAway(t *testing.T) {
	for _, graceful := range []bool{false, true} {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s := grpc.NewServer()
		var served atomic.Int64
		authv3.RegisterAuthorizationServer(s, funcServer{f: func(ctx context.Context, _ *authv3.CheckRequest) (*authv3.CheckResponse, error) {
			n := served.Add(1)
			switch {
			case graceful && n == 50:
				go s.GracefulStop()
			case !graceful && n >= 50:
				if n == 50 {
					go s.Stop()
				}
				<-ctx.Done() // closing the connection cancels it
				return nil, ctx.Err()
			}
			return allowResponse(), nil
		}})
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			_ = s.Serve(ln)
		}()
		spec := openSpec(ln.Addr().String())
		spec.Duration = 600 * time.Millisecond // 300 requests
		r, _ := runOpenSpec(t, spec)
		<-stopped
		ok := r.Requests == 300 && r.Allowed+r.Errors == 300 && r.ErrorCodes["Unavailable"] == r.Errors
		if graceful {
			ok = ok && r.Allowed >= 50
		} else {
			ok = ok && r.Allowed <= 49
		}
		if !ok {
			t.Fatalf("graceful %v: requests %d allowed %d errors %d codes %v (%s)", graceful, r.Requests, r.Allowed, r.Errors, r.ErrorCodes, r.FirstError)
		}
	}
}

// bigResponse returns a denying CheckResponse of about size bytes.
func bigResponse(size int) *authv3.CheckResponse {
	meta, err := structpb.NewStruct(map[string]any{"claims": strings.Repeat("x", size)})
	if err != nil {
		panic(err)
	}
	return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.PermissionDenied)}, DynamicMetadata: meta}
}

func TestOpenLoopLargeMessages(t *testing.T) {
	// 40 KiB responses: 1.6 MB in all.
	target := serveCheck(t, func(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		return bigResponse(40 << 10), nil
	})
	for _, full := range []bool{false, true} {
		spec := openSpec(target)
		spec.Rate, spec.Expect, spec.DecodeFull, spec.Timeout = 200, expectDeny, full, time.Minute
		r, _ := runOpenSpec(t, spec)
		if r.Requests != 40 || r.Denied != 40 || r.WrongDecisions != 0 || r.StatusCodes["PermissionDenied"] != 40 {
			t.Fatalf("decode full %v: requests %d denied %d wrong %d errors %d (%s)", full, r.Requests, r.Denied, r.WrongDecisions, r.Errors, r.FirstError)
		}
	}
	// 100 KiB requests: beyond the server's initial windows and frame size.
	var bad atomic.Int64
	echo := serveCheck(t, func(_ context.Context, req *authv3.CheckRequest) (*authv3.CheckResponse, error) {
		if len(req.GetAttributes().GetRequest().GetHttp().GetHeaders()["authorization"]) < 100<<10 {
			bad.Add(1)
		}
		return allowResponse(), nil
	})
	spec := openSpec(echo)
	spec.Rate, spec.Tokens = 100, []string{strings.Repeat("t", 100<<10)}
	r, _ := runOpenSpec(t, spec)
	if r.Requests != 20 || r.Allowed != 20 || bad.Load() != 0 {
		t.Fatalf("requests %d allowed %d errors %d (%s), %d truncated", r.Requests, r.Allowed, r.Errors, r.FirstError, bad.Load())
	}
}

// TestOpenLoopConcurrentRuns runs two drivers at once against one server,
// for the race detector.
func TestOpenLoopConcurrentRuns(t *testing.T) {
	floor := serveOnLoopback(t, newFloorServer())
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			spec := openSpec(floor)
			spec.Conns, spec.Rate = 2, 1000
			spec.Each, spec.Wrap, spec.Tokens = true, true, tokens(7)
			r, tallies, err := openRunOnce(t.Context(), spec)
			if err == nil {
				err = checkSamples(tallies)
			}
			if err != nil || r.Requests != 200 || r.Allowed != 200 {
				t.Errorf("requests %d allowed %d: %v", r.Requests, r.Allowed, err)
			}
		})
	}
	wg.Wait()
}
