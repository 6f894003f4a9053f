package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"
)

// maxTokenLine bounds one line of a token file; garbage lines are ~8.5 KiB.
const maxTokenLine = 1 << 20

// readTokens returns the non-empty lines of a token file.
func readTokens(path string) ([]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("read tokens: %w", err)
	}
	defer f.Close()
	var toks []string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), maxTokenLine)
	for sc.Scan() {
		if line := strings.TrimSpace(sc.Text()); line != "" {
			toks = append(toks, line)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read tokens %s: %w", path, err)
	}
	if len(toks) == 0 {
		return nil, fmt.Errorf("read tokens %s: no tokens", path)
	}
	return toks, nil
}

func runLoadCmd(ctx context.Context, logger *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	spec := loadSpec{}
	var tokensPath, tokenMode, expect string
	fs.StringVar(&spec.Target, "target", "", "ext_authz gRPC address (loopback only)")
	fs.StringVar(&tokensPath, "tokens", "", "token file, one token a line")
	fs.StringVar(&tokenMode, "token-mode", "same", "same: the first token for every request (cache hits); each: a new token per request (misses), stopping when the file is used up")
	fs.BoolVar(&spec.Wrap, "wrap", false, "with --token-mode each: start the file over instead of stopping (reused tokens are counted)")
	fs.StringVar(&spec.Mode, "mode", modeClosed, "closed: fixed concurrency; open: fixed rate, latency from the scheduled send time")
	fs.IntVar(&spec.Concurrency, "concurrency", 0, "closed: requests in flight (default 16); open: the most in flight (default 512)")
	fs.Float64Var(&spec.Rate, "rate", 0, "open: requests per second")
	fs.DurationVar(&spec.Duration, "duration", 5*time.Second, "measured duration")
	fs.DurationVar(&spec.Warmup, "warmup", time.Second, "unmeasured warm-up before the measured run")
	fs.IntVar(&spec.Conns, "conns", 1, "gRPC connections (one Envoy worker uses one)")
	fs.BoolVar(&spec.DecodeFull, "decode-full", false, "decode whole responses instead of only their status code")
	fs.DurationVar(&spec.Timeout, "timeout", 5*time.Second, "per-request deadline")
	fs.StringVar(&expect, "expect", string(expectAllow), "the decision every request should get: allow or deny")
	fs.IntVar(&spec.PID, "pid", 0, "server process whose CPU time and memory to read from /proc")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("load: unexpected argument %q", fs.Arg(0))}
	}
	if spec.Target == "" || tokensPath == "" {
		return usageError{errors.New("load: --target and --tokens are required")}
	}
	// Refuse a remote target before touching anything else.
	if err := checkLoopback(spec.Target); err != nil {
		return usageError{fmt.Errorf("load: %w", err)}
	}
	switch tokenMode {
	case "same":
	case "each":
		spec.Each = true
	default:
		return usageError{fmt.Errorf("load: --token-mode %q: want same or each", tokenMode)}
	}
	if spec.Concurrency == 0 {
		spec.Concurrency = 16
		if spec.Mode == modeOpen {
			spec.Concurrency = 512
		}
	}
	spec.Expect = expectation(expect)
	spec.Label = tokensPath
	toks, err := readTokens(tokensPath)
	if err != nil {
		return err
	}
	spec.Tokens = toks
	if err := spec.validate(); err != nil {
		return usageError{fmt.Errorf("load: %w", err)}
	}
	res, err := runLoad(ctx, spec)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(res); err != nil {
		return fmt.Errorf("load: %w", err)
	}
	fmt.Fprintln(stderr, humanLine(res))
	if res.Errors > 0 || res.WrongDecisions > 0 {
		logger.Warn("run had errors or wrong decisions", "errors", res.Errors, "wrong_decisions", res.WrongDecisions, "first_error", res.FirstError)
	}
	return nil
}

// humanLine is a one-line summary of a run.
func humanLine(r loadResult) string {
	var b strings.Builder
	if r.Mode == modeOpen {
		fmt.Fprintf(&b, "open %.0f/s max-in-flight=%d", r.Rate, r.Concurrency)
	} else {
		fmt.Fprintf(&b, "closed c=%d", r.Concurrency)
	}
	fmt.Fprintf(&b, " conns=%d tokens=%s: %d requests in %.2fs = %.0f req/s; latency p50 %.3fms p90 %.3fms p99 %.3fms p99.9 %.3fms max %.3fms",
		r.Conns, r.TokenMode, r.Requests, r.DurationSeconds, r.ReqPerSec,
		r.Latency.P50MS, r.Latency.P90MS, r.Latency.P99MS, r.Latency.P999MS, r.Latency.MaxMS)
	if r.SendLag != nil {
		fmt.Fprintf(&b, " (send lag p99 %.3fms)", r.SendLag.P99MS)
	}
	fmt.Fprintf(&b, "; allowed %d denied %d errors %d wrong decisions %d", r.Allowed, r.Denied, r.Errors, r.WrongDecisions)
	if r.TokensExhausted {
		b.WriteString("; token file used up")
	}
	if r.TokensReused > 0 {
		fmt.Fprintf(&b, "; %d tokens reused", r.TokensReused)
	}
	if s := r.Server; s != nil {
		fmt.Fprintf(&b, "; server %.2f CPU-s = %.0f checks/CPU-s, RSS %.1f MiB (peak %.1f MiB)",
			s.CPUSeconds, s.ChecksPerCPUSecond, mib(s.RSSBytes), mib(s.HWMBytes))
	}
	fmt.Fprintf(&b, "; client %.2f CPU-s", r.ClientCPUSeconds)
	return b.String()
}

func mib(b uint64) float64 { return float64(b) / (1 << 20) }
