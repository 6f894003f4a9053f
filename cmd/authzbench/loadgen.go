package main

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/status"
)

// expectation is the decision every request of a run should get.
type expectation string

const (
	expectAllow expectation = "allow"
	expectDeny  expectation = "deny"
)

// Load modes.
const (
	modeClosed = "closed" // a fixed number of requests in flight
	modeOpen   = "open"   // a fixed request rate, whatever the server does
)

// loadSpec describes one measured run against one server.
type loadSpec struct {
	Label       string
	Target      string
	Mode        string
	Concurrency int     // closed: requests in flight; open: the most in flight
	Rate        float64 // open: requests per second
	Duration    time.Duration
	Warmup      time.Duration // unmeasured traffic first, on the same connections
	Conns       int
	DecodeFull  bool          // decode whole responses, not just the status code
	Timeout     time.Duration // per request
	Expect      expectation
	PID         int // server process to sample; 0 = none
	Tokens      []string
	Each        bool // a new token per request (cache misses); else Tokens[0] always
	Wrap        bool // Each: start over at the end of Tokens instead of stopping
}

func (s *loadSpec) validate() error {
	switch {
	case s.Mode != modeClosed && s.Mode != modeOpen:
		return fmt.Errorf("mode %q: want %s or %s", s.Mode, modeClosed, modeOpen)
	case s.Concurrency < 1 || s.Concurrency > 100_000:
		return fmt.Errorf("concurrency %d: want 1..100000", s.Concurrency)
	case s.Mode == modeOpen && (s.Rate <= 0 || s.Rate > 10_000_000):
		return fmt.Errorf("rate %v: want a positive rate up to 10000000 in open mode", s.Rate)
	case s.Duration <= 0:
		return errors.New("duration must be positive")
	case s.Warmup < 0:
		return errors.New("warmup must not be negative")
	case s.Conns < 1 || s.Conns > 1024:
		return fmt.Errorf("conns %d: want 1..1024", s.Conns)
	case s.Timeout <= 0:
		return errors.New("timeout must be positive")
	case s.Expect != expectAllow && s.Expect != expectDeny:
		return fmt.Errorf("expect %q: want allow or deny", s.Expect)
	case len(s.Tokens) == 0:
		return errors.New("no tokens")
	}
	return checkLoopback(s.Target)
}

// loadResult is what one run measured. Latencies count every completed
// request, errors included, so that failures cannot make a server look fast.
type loadResult struct {
	Label            string           `json:"label,omitempty"`
	Target           string           `json:"target"`
	Mode             string           `json:"mode"`
	Concurrency      int              `json:"concurrency"`
	Rate             float64          `json:"rate,omitempty"`
	Conns            int              `json:"conns"`
	TokenMode        string           `json:"token_mode"` // same | each
	Expect           expectation      `json:"expect"`
	DurationSeconds  float64          `json:"duration_seconds"` // first send to last completion
	Requests         int64            `json:"requests"`         // completed, errors included
	ReqPerSec        float64          `json:"req_per_sec"`
	Allowed          int64            `json:"allowed"`
	Denied           int64            `json:"denied"`
	Errors           int64            `json:"errors"`
	ErrorCodes       map[string]int64 `json:"error_codes,omitempty"`
	FirstError       string           `json:"first_error,omitempty"`
	WrongDecisions   int64            `json:"wrong_decisions"`
	StatusCodes      map[string]int64 `json:"status_codes"` // CheckResponse.status codes
	TokensUsed       int64            `json:"tokens_used"`
	TokensReused     int64            `json:"tokens_reused,omitempty"`
	TokensExhausted  bool             `json:"tokens_exhausted,omitempty"`
	Latency          latencySummary   `json:"latency"`
	SendLag          *latencySummary  `json:"send_lag,omitempty"` // open: actual send minus scheduled send
	Server           *serverUsage     `json:"server,omitempty"`
	ClientCPUSeconds float64          `json:"client_cpu_seconds"`
}

// tally is one worker's share of a run; workers never share one, so the hot
// path takes no lock.
type tally struct {
	lat, lag                       []time.Duration
	allowed, denied, errors, wrong int64
	statusCodes                    map[int32]int64
	errCodes                       map[codes.Code]int64
	firstErr                       error
	first, last                    time.Time
}

func (t *tally) observe(expect expectation, lat time.Duration, resp *authv3.CheckResponse, err error) {
	t.lat = append(t.lat, lat)
	if err != nil {
		t.errors++
		if t.errCodes == nil {
			t.errCodes = map[codes.Code]int64{}
		}
		t.errCodes[status.Code(err)]++
		if t.firstErr == nil {
			t.firstErr = err
		}
		return
	}
	// Envoy allows exactly when the status code is OK (an absent status
	// reads as OK, as it does in Envoy).
	code := resp.GetStatus().GetCode()
	if t.statusCodes == nil {
		t.statusCodes = map[int32]int64{}
	}
	t.statusCodes[code]++
	allowed := code == int32(codes.OK)
	if allowed {
		t.allowed++
	} else {
		t.denied++
	}
	if allowed != (expect == expectAllow) {
		t.wrong++
	}
}

// requestSource hands out the prepared requests of a run.
type requestSource struct {
	reqs []*authv3.CheckRequest
	each bool
	wrap bool
	next atomic.Int64
}

// pick returns the request to send next, or false when Each without Wrap
// has used every token.
func (s *requestSource) pick() (*authv3.CheckRequest, bool) {
	i, ok := s.pickIndex()
	if !ok {
		return nil, false
	}
	return s.reqs[i], true
}

// pickIndex is pick, returning the request's index in reqs.
func (s *requestSource) pickIndex() (int, bool) {
	if !s.each {
		return 0, true
	}
	i := s.next.Add(1) - 1
	if i < int64(len(s.reqs)) {
		return int(i), true
	}
	if !s.wrap {
		return 0, false
	}
	return int(i % int64(len(s.reqs))), true
}

// issued returns how many requests pick handed out.
func (s *requestSource) issued() int64 {
	if !s.each {
		return 0
	}
	return s.next.Load()
}

// prepareRequests builds the run's requests once, before any is timed. In
// Each mode the last token is kept aside for the warm-up, so that the
// measured requests all carry tokens the server has not seen.
func prepareRequests(spec *loadSpec) (measured *requestSource, warm *authv3.CheckRequest) {
	now := time.Now()
	toks := spec.Tokens
	if !spec.Each {
		r := newCheckRequest(toks[0], 0, now)
		return &requestSource{reqs: []*authv3.CheckRequest{r}}, r
	}
	if len(toks) > 1 {
		warm = newCheckRequest(toks[len(toks)-1], len(toks)-1, now)
		toks = toks[:len(toks)-1]
	}
	reqs := make([]*authv3.CheckRequest, len(toks))
	for i, tok := range toks {
		reqs[i] = newCheckRequest(tok, i, now)
	}
	if warm == nil {
		warm = reqs[0]
	}
	return &requestSource{reqs: reqs, each: true, wrap: spec.Wrap}, warm
}

// runLoad performs spec: connects, warms up, samples the server, runs the
// measured window and samples it again.
func runLoad(ctx context.Context, spec loadSpec) (loadResult, error) {
	if err := spec.validate(); err != nil {
		return loadResult{}, fmt.Errorf("load: %w", err)
	}
	src, warm := prepareRequests(&spec)
	prepare := prepareClosed
	if spec.Mode == modeOpen {
		prepare = prepareOpen
	}
	measure, cleanup, err := prepare(ctx, &spec, src, warm)
	if err != nil {
		return loadResult{}, err
	}
	defer cleanup()
	if err := ctx.Err(); err != nil {
		return loadResult{}, err
	}

	var before procSample
	if spec.PID > 0 {
		var err error
		if before, err = readProc(spec.PID); err != nil {
			return loadResult{}, fmt.Errorf("load: %w", err)
		}
	}
	cpu0 := selfCPU()
	tallies := measure()
	clientCPU := selfCPU() - cpu0
	var after procSample
	if spec.PID > 0 {
		var err error
		if after, err = readProc(spec.PID); err != nil {
			return loadResult{}, fmt.Errorf("load: %w", err)
		}
	}
	res := mergeTallies(spec, tallies)
	res.ClientCPUSeconds = clientCPU.Seconds()
	if spec.Each {
		issued := src.issued()
		res.TokensUsed = min(issued, int64(len(src.reqs)))
		if spec.Wrap && issued > int64(len(src.reqs)) {
			res.TokensReused = issued - int64(len(src.reqs))
		}
		res.TokensExhausted = !spec.Wrap && issued > int64(len(src.reqs))
	} else {
		res.TokensUsed = 1
	}
	if spec.PID > 0 {
		u := usageBetween(spec.PID, before, after, res.Requests)
		res.Server = &u
	}
	return res, ctx.Err()
}

// dialClients connects spec.Conns grpc-go clients to spec.Target. The open
// loop's connections get fixed receive windows and send requests
// marshalled before the run.
func dialClients(spec *loadSpec) ([]*grpc.ClientConn, error) {
	opts := []grpc.DialOption{grpcInsecure()}
	if spec.Mode == modeOpen {
		opts = append(opts, grpc.WithInitialWindowSize(openStreamWindow), grpc.WithInitialConnWindowSize(openConnWindow),
			grpc.WithDefaultCallOptions(grpc.ForceCodecV2(newStatusCodec(spec.DecodeFull))))
	} else if !spec.DecodeFull {
		opts = append(opts, grpc.WithDefaultCallOptions(grpc.ForceCodecV2(newStatusCodec(false))))
	}
	ccs := make([]*grpc.ClientConn, 0, spec.Conns)
	for range spec.Conns {
		cc, err := grpc.NewClient(spec.Target, opts...)
		if err != nil {
			closeClients(ccs)
			return nil, fmt.Errorf("load: connect %s: %w", spec.Target, err)
		}
		ccs = append(ccs, cc)
	}
	return ccs, nil
}

func closeClients(ccs []*grpc.ClientConn) {
	for _, cc := range ccs {
		cc.Close()
	}
}

// prepareClosed connects grpc-go clients for a closed-loop run and warms
// them up; measure runs the measured window on the same connections.
func prepareClosed(ctx context.Context, spec *loadSpec, src *requestSource, warm *authv3.CheckRequest) (measure func() []tally, cleanup func(), err error) {
	ccs, err := dialClients(spec)
	if err != nil {
		return nil, nil, err
	}
	cleanup = func() { closeClients(ccs) }
	clients := make([]authv3.AuthorizationClient, len(ccs))
	for i, cc := range ccs {
		clients[i] = authv3.NewAuthorizationClient(cc)
	}
	if spec.Warmup > 0 {
		w := runClosed(ctx, clients, &requestSource{reqs: []*authv3.CheckRequest{warm}}, spec.Concurrency, spec.Warmup, spec.Timeout, spec.Expect)
		if err := warmupError(spec.Target, w); err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	measure = func() []tally {
		return runClosed(ctx, clients, src, spec.Concurrency, spec.Duration, spec.Timeout, spec.Expect)
	}
	return measure, cleanup, nil
}

// prepareOpen connects grpc-go clients for an open-loop run, marshals the
// requests and warms the connections up: an unmeasured open-loop run at the
// measured rate for spec.Warmup, with the warm-up request. measure runs the
// measured window on the same connections.
func prepareOpen(ctx context.Context, spec *loadSpec, src *requestSource, warm *authv3.CheckRequest) (measure func() []tally, cleanup func(), err error) {
	warmSrc := &requestSource{reqs: []*authv3.CheckRequest{warm}}
	msgs, err := marshalRequests(src)
	if err != nil {
		return nil, nil, fmt.Errorf("load: %w", err)
	}
	warmMsgs, err := marshalRequests(warmSrc)
	if err != nil {
		return nil, nil, fmt.Errorf("load: %w", err)
	}
	ccs, err := dialClients(spec)
	if err != nil {
		return nil, nil, err
	}
	cleanup = func() { closeClients(ccs) }
	if spec.Warmup > 0 {
		w := runOpen(ctx, ccs, warmSrc, warmMsgs, spec.Concurrency, spec.Rate, spec.Warmup, spec.Timeout, spec.Expect)
		if err := warmupError(spec.Target, w); err != nil {
			cleanup()
			return nil, nil, err
		}
	}
	measure = func() []tally {
		return runOpen(ctx, ccs, src, msgs, spec.Concurrency, spec.Rate, spec.Duration, spec.Timeout, spec.Expect)
	}
	return measure, cleanup, nil
}

// warmupError fails a run whose warm-up got no answer at all.
func warmupError(target string, w []tally) error {
	var ok, failed int64
	var firstErr error
	for i := range w {
		ok += w[i].allowed + w[i].denied
		failed += w[i].errors
		if firstErr == nil {
			firstErr = w[i].firstErr
		}
	}
	if ok == 0 && failed > 0 {
		return fmt.Errorf("load: %s does not answer: %w", target, firstErr)
	}
	return nil
}

// grpcInsecure is the transport for loopback: plaintext, as between Envoy
// and an ext_authz sidecar in the same pod.
func grpcInsecure() grpc.DialOption {
	return grpc.WithTransportCredentials(insecure.NewCredentials())
}

// call sends one Check with its own deadline.
func call(ctx context.Context, cl authv3.AuthorizationClient, req *authv3.CheckRequest, timeout time.Duration) (*authv3.CheckResponse, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	return cl.Check(ctx, req)
}

// runClosed keeps concurrency requests in flight for d: each worker sends
// its next request as soon as the previous one completes. Requests in
// flight at the end of d complete and count.
func runClosed(ctx context.Context, clients []authv3.AuthorizationClient, src *requestSource, concurrency int, d, timeout time.Duration, expect expectation) []tally {
	tallies := make([]tally, concurrency)
	start := time.Now()
	deadline := start.Add(d)
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Go(func() {
			t := &tallies[w]
			cl := clients[w%len(clients)]
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(deadline) {
					return
				}
				req, ok := src.pick()
				if !ok {
					return
				}
				resp, err := call(ctx, cl, req, timeout)
				t1 := time.Now()
				if t.first.IsZero() {
					t.first = t0
				}
				t.last = t1
				t.observe(expect, t1.Sub(t0), resp, err)
			}
		})
	}
	wg.Wait()
	for i := range tallies {
		if !tallies[i].first.IsZero() {
			tallies[i].first = start // the window starts when the run does
		}
	}
	return tallies
}

// preciseSleep sleeps for d in the kernel, on the calling thread.
func preciseSleep(d time.Duration) {
	ts := syscall.NsecToTimespec(int64(d))
	for {
		var rem syscall.Timespec
		err := syscall.Nanosleep(&ts, &rem)
		if err != syscall.EINTR {
			return
		}
		ts = rem
	}
}

// mergeTallies adds the workers' tallies into one result.
func mergeTallies(spec loadSpec, tallies []tally) loadResult {
	res := loadResult{
		Label: spec.Label, Target: spec.Target, Mode: spec.Mode, Concurrency: spec.Concurrency,
		Conns: spec.Conns, TokenMode: "same", Expect: spec.Expect,
		StatusCodes: map[string]int64{},
	}
	if spec.Mode == modeOpen {
		res.Rate = spec.Rate
	}
	if spec.Each {
		res.TokenMode = "each"
	}
	var n, nlag int
	for i := range tallies {
		n += len(tallies[i].lat)
		nlag += len(tallies[i].lag)
	}
	lat := make([]time.Duration, 0, n)
	lag := make([]time.Duration, 0, nlag)
	var first, last time.Time
	for i := range tallies {
		t := &tallies[i]
		lat = append(lat, t.lat...)
		lag = append(lag, t.lag...)
		res.Allowed += t.allowed
		res.Denied += t.denied
		res.Errors += t.errors
		res.WrongDecisions += t.wrong
		for c, k := range t.statusCodes {
			res.StatusCodes[codes.Code(c).String()] += k
		}
		for c, k := range t.errCodes {
			if res.ErrorCodes == nil {
				res.ErrorCodes = map[string]int64{}
			}
			res.ErrorCodes[c.String()] += k
		}
		if t.firstErr != nil && res.FirstError == "" {
			res.FirstError = t.firstErr.Error()
		}
		if !t.first.IsZero() && (first.IsZero() || t.first.Before(first)) {
			first = t.first
		}
		if t.last.After(last) {
			last = t.last
		}
	}
	res.Requests = int64(len(lat))
	if !first.IsZero() && last.After(first) {
		res.DurationSeconds = last.Sub(first).Seconds()
		res.ReqPerSec = float64(res.Requests) / res.DurationSeconds
	}
	res.Latency = summarize(lat)
	if spec.Mode == modeOpen {
		l := summarize(lag)
		res.SendLag = &l
	}
	return res
}

// selfCPU returns the user+system CPU time this process has used.
func selfCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
