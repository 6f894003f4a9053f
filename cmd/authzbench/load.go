package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev3 "github.com/envoyproxy/go-control-plane/envoy/config/core/v3"
	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	rpcstatus "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/mem"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"
)

// Load modes.
const (
	modeClosed = "closed" // a fixed number of requests in flight
	modeOpen   = "open"   // a fixed request rate, whatever the server does
)

// loadSpec describes one measured run against one server.
type loadSpec struct {
	Target      string        `json:"target"`
	Mode        string        `json:"mode"`
	Concurrency int           `json:"concurrency"`    // closed: requests in flight; open: the most in flight
	Rate        float64       `json:"rate,omitempty"` // open: requests per second
	Duration    time.Duration `json:"duration_ns"`
	Warmup      time.Duration `json:"warmup_ns"` // unmeasured, on the same connection
	Timeout     time.Duration `json:"-"`         // per request
	Expect      string        `json:"expect"`    // allow or deny
	PID         int           `json:"-"`         // the server process to read from /proc; 0 for none
	Tokens      []string      `json:"-"`
	Each        bool          `json:"new_token_per_request"` // else Tokens[0] for every request
}

func (s *loadSpec) validate() error {
	for _, c := range []struct {
		bad bool
		msg string
	}{
		{s.Mode != modeClosed && s.Mode != modeOpen, "--mode must be closed or open"},
		{s.Concurrency < 1 || s.Concurrency > 100_000, "--concurrency must be between 1 and 100000"},
		{s.Mode == modeOpen && (s.Rate <= 0 || s.Rate > 10_000_000), "--mode open needs a --rate up to 10000000"},
		{s.Duration <= 0 || s.Warmup < 0 || s.Timeout <= 0, "--duration and --timeout must be positive, --warmup not negative"},
		{s.Expect != "allow" && s.Expect != "deny", "--expect must be allow or deny"},
		{len(s.Tokens) == 0, "no tokens"},
	} {
		if c.bad {
			return errors.New(c.msg)
		}
	}
	return checkLoopback(s.Target)
}

func runLoadCmd(ctx context.Context, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("load", stderr)
	spec := loadSpec{}
	var tokensPath, tokenMode string
	fs.StringVar(&spec.Target, "target", "", "ext_authz gRPC address (loopback only)")
	fs.StringVar(&tokensPath, "tokens", "", "token file, one token a line")
	fs.StringVar(&tokenMode, "token-mode", "same", "same: the first token for every request (cache hits); each: a new token per request (misses), stopping when the file is used up")
	fs.StringVar(&spec.Mode, "mode", modeClosed, "closed: fixed concurrency; open: fixed rate, latency from the scheduled send time")
	fs.IntVar(&spec.Concurrency, "concurrency", 0, "closed: requests in flight (default 16); open: the most in flight (default 512)")
	fs.Float64Var(&spec.Rate, "rate", 0, "open: requests per second")
	fs.DurationVar(&spec.Duration, "duration", 5*time.Second, "measured duration")
	fs.DurationVar(&spec.Warmup, "warmup", time.Second, "unmeasured warm-up before the measured run")
	fs.StringVar(&spec.Expect, "expect", "allow", "the decision every request should get: allow or deny")
	fs.IntVar(&spec.PID, "pid", 0, "server process whose CPU time and memory to read from /proc")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if spec.Target == "" || tokensPath == "" {
		return usagef("--target and --tokens are required")
	}
	if err := checkLoopback(spec.Target); err != nil { // before reading anything
		return usageError{err}
	}
	if tokenMode != "same" && tokenMode != "each" {
		return usagef("--token-mode must be same or each")
	}
	spec.Each, spec.Timeout = tokenMode == "each", requestTimeout
	if spec.Concurrency == 0 {
		spec.Concurrency = map[string]int{modeClosed: 16, modeOpen: 512}[spec.Mode]
	}
	toks, err := readTokens(tokensPath)
	if err != nil {
		return err
	}
	spec.Tokens = toks
	if err := spec.validate(); err != nil {
		return usageError{err}
	}
	res, err := runLoad(ctx, spec)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(res)
}

// readTokens returns the tokens of a file, one a line.
func readTokens(path string) ([]string, error) {
	b, err := os.ReadFile(path)
	toks := strings.Fields(string(b))
	if err == nil && len(toks) == 0 {
		err = errors.New("no tokens")
	}
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	return toks, nil
}

// newCheckRequest returns the CheckRequest Envoy's ext_authz filter sends
// for "GET /api/orders" with token as its bearer token: the peers, the HTTP
// attributes and the headers with pseudo-headers. id makes x-request-id
// distinct.
func newCheckRequest(token string, id int, at time.Time) *authv3.CheckRequest {
	peer := func(ip string, port uint32) *authv3.AttributeContext_Peer {
		return &authv3.AttributeContext_Peer{Address: &corev3.Address{Address: &corev3.Address_SocketAddress{
			SocketAddress: &corev3.SocketAddress{Address: ip, PortSpecifier: &corev3.SocketAddress_PortValue{PortValue: port}},
		}}}
	}
	const method, path, host = "GET", "/api/orders", "orders.bench.example"
	return &authv3.CheckRequest{Attributes: &authv3.AttributeContext{
		Source:      peer("10.0.0.12", 52340),
		Destination: peer("10.0.0.20", 8080),
		Request: &authv3.AttributeContext_Request{
			Time: timestamppb.New(at),
			Http: &authv3.AttributeContext_HttpRequest{
				Id: fmt.Sprint(id), Method: method, Path: path, Host: host, Scheme: "https", Protocol: "HTTP/1.1",
				Headers: map[string]string{
					":authority": host, ":method": method, ":path": path, ":scheme": "https",
					"accept": "application/json", "user-agent": "authzbench", "authorization": "Bearer " + token,
					"x-forwarded-proto": "https", "x-request-id": fmt.Sprintf("00000000-0000-4000-8000-%012x", id),
				},
			},
		},
	}}
}

// picker hands out a run's requests, marshalled before the run: the first
// one always, or with each the next one until every one was sent.
type picker struct {
	msgs [][]byte
	each bool
	next atomic.Int64
}

func (p *picker) pick() ([]byte, bool) {
	if !p.each {
		return p.msgs[0], true
	}
	if i := p.next.Add(1) - 1; i < int64(len(p.msgs)) {
		return p.msgs[i], true
	}
	return nil, false
}

// loadResult is what one run measured. Latencies count every completed
// request, errors included, so that failing cannot make a server look fast.
type loadResult struct {
	Spec            loadSpec `json:"spec"`
	DurationSeconds float64  `json:"duration_seconds"` // start to last completion
	Requests        int64    `json:"requests"`         // completed, errors included
	ReqPerSec       float64  `json:"req_per_sec"`
	counts
	Latency          latencySummary `json:"latency"`
	SendLag          latencySummary `json:"send_lag"` // open: actual minus scheduled send
	Server           *serverUsage   `json:"server,omitempty"`
	ClientCPUSeconds float64        `json:"client_cpu_seconds"`
}

// runLoad connects, warms up, then runs the measured window, reading the
// server's /proc just before and just after it.
func runLoad(ctx context.Context, spec loadSpec) (loadResult, error) {
	if err := spec.validate(); err != nil {
		return loadResult{}, err
	}
	// The requests are built and marshalled before anything is timed. With
	// each, the last token is kept for the warm-up, so that the measured
	// requests all carry tokens the server has not seen.
	toks, warmTok := spec.Tokens[:1], spec.Tokens[0]
	if n := len(spec.Tokens); spec.Each && n > 1 {
		toks, warmTok = spec.Tokens[:n-1], spec.Tokens[n-1]
	}
	msgs := make([][]byte, len(toks))
	now := time.Now()
	for i, tok := range toks {
		msgs[i], _ = proto.Marshal(newCheckRequest(tok, i, now))
	}
	warm, _ := proto.Marshal(newCheckRequest(warmTok, len(toks), now))
	opts := []grpc.DialOption{
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.ForceCodecV2(codec{})),
	}
	if spec.Mode == modeOpen {
		// Fixed receive windows, large enough that the server never waits
		// for them, turn off grpc-go's bandwidth estimation: a PING for
		// nearly every request when requests are spread out in time.
		opts = append(opts, grpc.WithInitialWindowSize(16<<20), grpc.WithInitialConnWindowSize(256<<20))
	}
	cc, err := grpc.NewClient(spec.Target, opts...)
	if err != nil {
		return loadResult{}, err
	}
	defer cc.Close()
	if spec.Warmup > 0 {
		w, _ := drive(ctx, &spec, cc, &picker{msgs: [][]byte{warm}}, spec.Warmup)
		if r := merge(&spec, time.Now(), w); r.Errors > 0 && r.Errors == r.Requests {
			return loadResult{}, fmt.Errorf("%s does not answer: %s", spec.Target, r.FirstError)
		}
	}
	sample := func() (procSample, error) {
		if spec.PID == 0 {
			return procSample{}, nil
		}
		return readProc(spec.PID)
	}
	p := &picker{msgs: msgs, each: spec.Each}
	client, _ := readProc(os.Getpid())
	before, err1 := sample()
	tallies, start := drive(ctx, &spec, cc, p, spec.Duration)
	after, err2 := sample()
	clientAfter, _ := readProc(os.Getpid())
	if err := errors.Join(err1, err2); err != nil {
		return loadResult{}, err
	}
	res := merge(&spec, start, tallies)
	res.ClientCPUSeconds = float64(clientAfter.CPUTicks-client.CPUTicks) / 100
	if cpu := float64(after.CPUTicks-before.CPUTicks) / 100; spec.PID > 0 {
		res.Server = &serverUsage{PID: spec.PID, CPUSeconds: cpu, procSample: after}
		if cpu > 0 {
			res.Server.ChecksPerCPUSecond = float64(res.Requests) / cpu
		}
	}
	return res, ctx.Err()
}

// checkMethod is the gRPC method of ext_authz v3 Check.
const checkMethod = "/envoy.service.auth.v3.Authorization/Check"

// counts are the outcomes of a run's requests.
type counts struct {
	Allowed        int64            `json:"allowed"`
	Denied         int64            `json:"denied"`
	WrongDecisions int64            `json:"wrong_decisions"`
	Errors         int64            `json:"errors"`
	ErrorCodes     map[string]int64 `json:"error_codes,omitempty"`
	FirstError     string           `json:"first_error,omitempty"`
}

// tally is one caller's share of a run; callers never share one, so the
// hot path takes no lock.
type tally struct {
	counts
	lat, lag []time.Duration
	last     time.Time // the last completion
}

// call sends one Check and records its outcome, its latency counted from
// due.
func (t *tally) call(ctx context.Context, cc *grpc.ClientConn, spec *loadSpec, msg []byte, resp *authv3.CheckResponse, due time.Time) {
	ctx, cancel := context.WithTimeout(ctx, spec.Timeout)
	defer cancel()
	resp.Reset()
	err := cc.Invoke(ctx, checkMethod, msg, resp)
	t.last = time.Now()
	t.observe(spec.Expect, t.last.Sub(due), resp, err)
}

func (t *tally) observe(expect string, lat time.Duration, resp *authv3.CheckResponse, err error) {
	t.lat = append(t.lat, lat)
	// Envoy allows exactly when the status code is OK (an absent status
	// reads as OK, as it does in Envoy).
	allowed := resp.GetStatus().GetCode() == int32(codes.OK)
	switch {
	case err != nil:
		t.add(counts{Errors: 1, ErrorCodes: map[string]int64{status.Code(err).String(): 1}, FirstError: err.Error()})
		return
	case allowed:
		t.Allowed++
	default:
		t.Denied++
	}
	if allowed != (expect == "allow") {
		t.WrongDecisions++
	}
}

// add adds o to c.
func (c *counts) add(o counts) {
	c.Allowed, c.Denied, c.WrongDecisions, c.Errors = c.Allowed+o.Allowed, c.Denied+o.Denied, c.WrongDecisions+o.WrongDecisions, c.Errors+o.Errors
	for code, n := range o.ErrorCodes {
		if c.ErrorCodes == nil {
			c.ErrorCodes = map[string]int64{}
		}
		c.ErrorCodes[code] += n
	}
	if c.FirstError == "" {
		c.FirstError = o.FirstError
	}
}

// drive runs spec's loop over cc for d and returns the callers' tallies
// and the time it started.
func drive(ctx context.Context, spec *loadSpec, cc *grpc.ClientConn, p *picker, d time.Duration) ([]tally, time.Time) {
	tallies := make([]tally, spec.Concurrency)
	start := time.Now()
	if spec.Mode == modeOpen {
		runOpen(ctx, spec, cc, p, d, start, tallies)
		return tallies, start
	}
	// Closed loop: each caller sends its next request as soon as the last
	// one is answered; those in flight when d is over complete and count.
	var wg sync.WaitGroup
	for w := range tallies {
		wg.Go(func() {
			t := &tallies[w]
			var resp authv3.CheckResponse
			for ctx.Err() == nil && time.Since(start) < d {
				msg, ok := p.pick()
				if !ok {
					return
				}
				t.call(ctx, cc, spec, msg, &resp, time.Now())
			}
		})
	}
	wg.Wait()
	return tallies, start
}

// runOpen schedules requests at spec.Rate for d and measures each latency
// from its scheduled time, not from when it was sent: when the server (or
// the client) falls behind, the wait is part of the latency, as it is for
// a user. spec.Concurrency callers send the requests; one due while all of
// them wait for answers waits for the first free one, on the clock. The
// run ends when every request scheduled has an outcome; a cancelled ctx
// stops the schedule and cancels the calls.
func runOpen(ctx context.Context, spec *loadSpec, cc *grpc.ClientConn, p *picker, d time.Duration, start time.Time, tallies []tally) {
	type job struct {
		due time.Time
		msg []byte
	}
	jobs := make(chan job) // unbuffered: a due request waits for a free caller
	var wg sync.WaitGroup
	for w := range tallies {
		wg.Go(func() {
			t := &tallies[w]
			var resp authv3.CheckResponse
			for j := range jobs {
				t.lag = append(t.lag, time.Since(j.due))
				t.call(ctx, cc, spec, j.msg, &resp, j.due)
			}
		})
	}
	defer wg.Wait()
	defer close(jobs)
	// The schedule sleeps in nanosleep, which wakes within the kernel's
	// timer slack (50 µs); a Go timer may wake a millisecond late on an
	// idle process, which would add up to a millisecond to every latency.
	interval := float64(time.Second) / spec.Rate
	for i := range int64(math.Round(d.Seconds() * spec.Rate)) {
		due := start.Add(time.Duration(float64(i) * interval))
		for wait := time.Until(due); wait > 0; wait = time.Until(due) {
			if ctx.Err() != nil {
				return
			}
			preciseSleep(min(wait, 50*time.Millisecond)) // notices a cancelled run soon
		}
		msg, ok := p.pick()
		if !ok {
			return
		}
		select {
		case jobs <- job{due, msg}:
		case <-ctx.Done():
			return
		}
	}
}

// merge adds the callers' tallies of a run that started at start into one
// result.
func merge(spec *loadSpec, start time.Time, tallies []tally) loadResult {
	res := loadResult{Spec: *spec}
	var lat, lag []time.Duration
	last := start
	for i := range tallies {
		t := &tallies[i]
		lat, lag = append(lat, t.lat...), append(lag, t.lag...)
		res.add(t.counts)
		if t.last.After(last) {
			last = t.last
		}
	}
	res.Requests = int64(len(lat))
	if res.DurationSeconds = last.Sub(start).Seconds(); res.DurationSeconds > 0 {
		res.ReqPerSec = float64(res.Requests) / res.DurationSeconds
	}
	res.Latency, res.SendLag = summarize(lat), summarize(lag)
	return res
}

// latencySummary is the distribution of a run's latencies in milliseconds.
type latencySummary struct {
	Count  int     `json:"count"`
	P50MS  float64 `json:"p50_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p99_9_ms"`
	MaxMS  float64 `json:"max_ms"`
}

// summarize sorts ds and returns its exact percentiles: every sample is
// kept (no buckets); a run of seconds holds a few hundred thousand.
func summarize(ds []time.Duration) latencySummary {
	if len(ds) == 0 {
		return latencySummary{}
	}
	slices.Sort(ds)
	ms := func(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
	// The nearest rank: the smallest sample that at least q of all samples
	// are less than or equal to. The epsilon keeps binary rounding
	// (0.99*100 = 99.00000000000001) from taking the next sample.
	rank := func(q float64) float64 { return ms(ds[max(int(math.Ceil(q*float64(len(ds))-1e-9)), 1)-1]) }
	return latencySummary{
		Count: len(ds), P50MS: rank(0.5), P99MS: rank(0.99), P999MS: rank(0.999), MaxMS: ms(ds[len(ds)-1]),
	}
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }

// codec is the load client's: requests go out as they were marshalled
// before the run, and of a CheckResponse only the status is decoded. The
// client shares the cores with the server under test; decoding the rest (a
// verified token's claims as dynamic_metadata, several hundred bytes of
// nested Structs) would take CPU from the server, the more so the more a
// server sends.
type codec struct{}

func (codec) Name() string { return "proto" }

func (codec) Marshal(v any) (mem.BufferSlice, error) {
	return mem.BufferSlice{mem.SliceBuffer(v.([]byte))}, nil
}

var errResponseWire = errors.New("malformed CheckResponse")

func (codec) Unmarshal(data mem.BufferSlice, v any) error {
	resp, b := v.(*authv3.CheckResponse), data.Materialize()
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return errResponseWire
		}
		m := protowire.ConsumeFieldValue(num, typ, b[n:])
		if m < 0 {
			return errResponseWire
		}
		if num == 1 && typ == protowire.BytesType { // the status; repeated, it merges
			st, _ := protowire.ConsumeBytes(b[n:])
			if resp.Status == nil {
				resp.Status = &rpcstatus.Status{}
			}
			if err := (proto.UnmarshalOptions{Merge: true}).Unmarshal(st, resp.Status); err != nil {
				return err
			}
		}
		b = b[n+m:]
	}
	return nil
}
