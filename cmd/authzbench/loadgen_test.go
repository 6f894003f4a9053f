package main

import (
	"context"
	"errors"
	"net"
	"os"
	"testing"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
)

// denyAll answers every Check with UNAUTHENTICATED, as a validating server
// does for a bad token.
type denyAll struct {
	authv3.UnimplementedAuthorizationServer
}

func (denyAll) Check(context.Context, *authv3.CheckRequest) (*authv3.CheckResponse, error) {
	return &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.Unauthenticated)}}, nil
}

// serveOnLoopback serves s on 127.0.0.1:0 for the rest of the test.
func serveOnLoopback(t *testing.T, s *grpc.Server) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serveGRPC(ctx, s, ln) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return ln.Addr().String()
}

func tokens(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "header.payload-" + string(rune('a'+i%26)) + ".sig"
	}
	return out
}

func TestRunLoadAgainstFloor(t *testing.T) {
	floor := serveOnLoopback(t, newFloorServer())
	s := grpc.NewServer()
	authv3.RegisterAuthorizationServer(s, denyAll{})
	deny := serveOnLoopback(t, s)

	base := loadSpec{
		Mode: modeClosed, Concurrency: 4, Duration: 200 * time.Millisecond, Warmup: 50 * time.Millisecond,
		Conns: 1, Timeout: time.Minute, Expect: expectAllow, PID: os.Getpid(), Tokens: tokens(1),
	}
	tests := []struct {
		name   string
		mutate func(s *loadSpec)
		check  func(t *testing.T, r loadResult)
	}{
		{
			name:   "closed loop, allow expected from the floor",
			mutate: func(s *loadSpec) { s.Target = floor },
			check: func(t *testing.T, r loadResult) {
				if r.Requests == 0 || r.Allowed != r.Requests || r.WrongDecisions != 0 || r.Errors != 0 {
					t.Fatalf("requests %d allowed %d wrong %d errors %d", r.Requests, r.Allowed, r.WrongDecisions, r.Errors)
				}
				if r.Server == nil || r.Server.RSSBytes == 0 || r.Server.PID != os.Getpid() {
					t.Fatalf("server usage = %+v, want this process's", r.Server)
				}
				if r.Latency.Count != int(r.Requests) || r.Latency.P50MS <= 0 || r.Latency.MaxMS < r.Latency.P999MS {
					t.Fatalf("latency = %+v", r.Latency)
				}
				if r.StatusCodes["OK"] != r.Requests {
					t.Fatalf("status codes = %v", r.StatusCodes)
				}
			},
		},
		{
			name:   "deny expected from the floor: every request is a wrong decision",
			mutate: func(s *loadSpec) { s.Target, s.Expect = floor, expectDeny },
			check: func(t *testing.T, r loadResult) {
				if r.Requests == 0 || r.WrongDecisions != r.Requests {
					t.Fatalf("requests %d wrong %d, want all wrong", r.Requests, r.WrongDecisions)
				}
			},
		},
		{
			name:   "allow expected from a denying server: every request is a wrong decision",
			mutate: func(s *loadSpec) { s.Target = deny },
			check: func(t *testing.T, r loadResult) {
				if r.Requests == 0 || r.WrongDecisions != r.Requests || r.Denied != r.Requests || r.StatusCodes["Unauthenticated"] != r.Requests {
					t.Fatalf("requests %d wrong %d denied %d codes %v", r.Requests, r.WrongDecisions, r.Denied, r.StatusCodes)
				}
			},
		},
		{
			name:   "deny expected from a denying server",
			mutate: func(s *loadSpec) { s.Target, s.Expect, s.Conns = deny, expectDeny, 2 },
			check: func(t *testing.T, r loadResult) {
				if r.Requests == 0 || r.WrongDecisions != 0 || r.Conns != 2 {
					t.Fatalf("requests %d wrong %d conns %d", r.Requests, r.WrongDecisions, r.Conns)
				}
			},
		},
		{
			name: "open loop sends exactly what it scheduled",
			mutate: func(s *loadSpec) {
				s.Target, s.Mode, s.Rate, s.Concurrency = floor, modeOpen, 500, 32
			},
			check: func(t *testing.T, r loadResult) {
				if r.Requests != 100 || r.Allowed != 100 || r.Rate != 500 {
					t.Fatalf("requests %d allowed %d rate %v, want 100 at 500/s for 200ms", r.Requests, r.Allowed, r.Rate)
				}
				if r.SendLag == nil || r.SendLag.Count != 100 {
					t.Fatalf("send lag = %+v, want 100 samples", r.SendLag)
				}
				// Latency counts from the scheduled time, so it includes the lag.
				if r.Latency.MaxMS < r.SendLag.MaxMS {
					t.Fatalf("latency max %v < send lag max %v", r.Latency.MaxMS, r.SendLag.MaxMS)
				}
			},
		},
		{
			name: "each mode stops when the tokens are used up",
			mutate: func(s *loadSpec) {
				s.Target, s.Each, s.Tokens, s.Duration = floor, true, tokens(11), time.Minute
			},
			check: func(t *testing.T, r loadResult) {
				// The last token is kept for the warm-up.
				if r.Requests != 10 || r.TokensUsed != 10 || !r.TokensExhausted || r.TokensReused != 0 {
					t.Fatalf("requests %d used %d exhausted %v reused %d, want 10 10 true 0", r.Requests, r.TokensUsed, r.TokensExhausted, r.TokensReused)
				}
			},
		},
		{
			name: "each mode with wrap counts reused tokens",
			mutate: func(s *loadSpec) {
				s.Target, s.Each, s.Wrap, s.Tokens = floor, true, true, tokens(3)
			},
			check: func(t *testing.T, r loadResult) {
				if r.Requests <= 2 || r.TokensUsed != 2 || r.TokensExhausted || r.TokensReused != r.Requests-2 {
					t.Fatalf("requests %d used %d exhausted %v reused %d", r.Requests, r.TokensUsed, r.TokensExhausted, r.TokensReused)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := base
			tt.mutate(&spec)
			r, err := runLoad(t.Context(), spec)
			if err != nil {
				t.Fatalf("runLoad: %v", err)
			}
			tt.check(t, r)
			if line := humanLine(r); line == "" {
				t.Fatal("empty human line")
			}
		})
	}
}

func TestRunLoadRefuses(t *testing.T) {
	ok := loadSpec{
		Target: "127.0.0.1:1", Mode: modeClosed, Concurrency: 1, Duration: time.Second, Conns: 1,
		Timeout: time.Second, Expect: expectAllow, Tokens: tokens(1),
	}
	tests := map[string]func(s *loadSpec){
		"non-loopback target": func(s *loadSpec) { s.Target = "192.0.2.10:9001" },
		"unknown mode":        func(s *loadSpec) { s.Mode = "burst" },
		"open without rate":   func(s *loadSpec) { s.Mode = modeOpen },
		"zero concurrency":    func(s *loadSpec) { s.Concurrency = 0 },
		"no tokens":           func(s *loadSpec) { s.Tokens = nil },
		"unknown expectation": func(s *loadSpec) { s.Expect = "maybe" },
		"zero duration":       func(s *loadSpec) { s.Duration = 0 },
		"zero conns":          func(s *loadSpec) { s.Conns = 0 },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			spec := ok
			mutate(&spec)
			if _, err := runLoad(t.Context(), spec); err == nil {
				t.Fatal("runLoad accepted the spec")
			}
		})
	}
	t.Run("nothing listening", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close()
		spec := ok
		spec.Target, spec.Warmup, spec.Timeout = addr, 100*time.Millisecond, 200*time.Millisecond
		if _, err := runLoad(t.Context(), spec); err == nil {
			t.Fatal("runLoad against a closed port succeeded")
		}
	})
}

func TestTallyObserve(t *testing.T) {
	allowResp := &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.OK)}}
	denyResp := &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.PermissionDenied)}}
	tests := []struct {
		name                         string
		expect                       expectation
		resp                         *authv3.CheckResponse
		err                          error
		allowed, denied, errs, wrong int64
	}{
		{name: "allowed as expected", expect: expectAllow, resp: allowResp, allowed: 1},
		{name: "denied as expected", expect: expectDeny, resp: denyResp, denied: 1},
		{name: "allowed, deny expected", expect: expectDeny, resp: allowResp, allowed: 1, wrong: 1},
		{name: "denied, allow expected", expect: expectAllow, resp: denyResp, denied: 1, wrong: 1},
		{name: "no status reads as OK, as in Envoy", expect: expectDeny, resp: &authv3.CheckResponse{}, allowed: 1, wrong: 1},
		{name: "transport error is an error, not a decision", expect: expectAllow, err: errors.New("boom"), errs: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var tl tally
			tl.observe(tt.expect, time.Millisecond, tt.resp, tt.err)
			if tl.allowed != tt.allowed || tl.denied != tt.denied || tl.errors != tt.errs || tl.wrong != tt.wrong || len(tl.lat) != 1 {
				t.Fatalf("tally = allowed %d denied %d errors %d wrong %d samples %d", tl.allowed, tl.denied, tl.errors, tl.wrong, len(tl.lat))
			}
		})
	}
}

func BenchmarkTallyObserve(b *testing.B) {
	b.ReportAllocs()
	resp := &authv3.CheckResponse{Status: &rpcstatus.Status{Code: int32(codes.OK)}}
	var tl tally
	tl.lat = make([]time.Duration, 0, 1<<16)
	for b.Loop() {
		if len(tl.lat) == cap(tl.lat) {
			tl.lat = tl.lat[:0] // measure observe, not the growth of the sample slice
		}
		tl.observe(expectAllow, time.Millisecond, resp, nil)
	}
}

func BenchmarkRequestSourcePick(b *testing.B) {
	b.ReportAllocs()
	spec := loadSpec{Tokens: tokens(1024), Each: true, Wrap: true}
	src, _ := prepareRequests(&spec)
	for b.Loop() {
		src.pick()
	}
}

// BenchmarkFloorCheck measures a whole Check round trip against the
// in-process floor over loopback gRPC: the client's own cost per request.
func BenchmarkFloorCheck(b *testing.B) {
	b.ReportAllocs()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	s := newFloorServer()
	go func() { _ = s.Serve(ln) }()
	defer s.Stop()
	spec := loadSpec{Tokens: tokens(1)}
	src, _ := prepareRequests(&spec)
	cc, err := grpc.NewClient(ln.Addr().String(), grpcInsecure())
	if err != nil {
		b.Fatal(err)
	}
	defer cc.Close()
	cl := authv3.NewAuthorizationClient(cc)
	ctx := context.Background()
	for b.Loop() {
		req, _ := src.pick()
		if _, err := call(ctx, cl, req, 5*time.Second); err != nil {
			b.Fatal(err)
		}
	}
}
