package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sync/errgroup"
	"gopkg.in/yaml.v3"
)

// Case groups, in the order the suite runs them.
var allGroups = []string{"cached", "new", "open", "flood", "memory", "revoked"}

// Fixed parts of the matrix.
const (
	serverName        = "jwt-authz" // in the tables
	openAlg           = "RS256"     // of the open loop's token and the revoked case's valid token
	openMaxInFlight   = 512
	revokeConcurrency = 32
	requestTimeout    = 5 * time.Second
	settle            = 2 * time.Second // rest before a memory reading
	configPlaceholder = "{config}"
)

// suiteOptions are the parameters of suite.
type suiteOptions struct {
	Dir, ServerCmd, Config, Out string
	Runs                        int
	Duration, Warmup            time.Duration
	Concurrency                 []int
	Algs, Cases                 []string
	OpenFractions               []float64
	FloodConcurrency            int
	RevokedEntries              int // revocations loaded in the revoked group
}

func runSuiteCmd(ctx context.Context, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("suite", stderr)
	var o suiteOptions
	fs.StringVar(&o.Dir, "dir", "bench", "directory written by gen")
	fs.StringVar(&o.ServerCmd, "server-cmd", "./jwt-authz serve --config "+configPlaceholder,
		"server command line, split on spaces (no shell); "+configPlaceholder+" is replaced by a fresh copy of --config for every start")
	fs.StringVar(&o.Config, "config", "", "server config (default DIR/config.yaml); its grpc_addr and admin_addr are used")
	fs.StringVar(&o.Out, "out", "results.json", "JSON results file")
	fs.IntVar(&o.Runs, "runs", 3, "repetitions of every case (medians need at least 3)")
	fs.DurationVar(&o.Duration, "duration", 3*time.Second, "measured duration of every run")
	fs.DurationVar(&o.Warmup, "warmup", 500*time.Millisecond, "unmeasured warm-up before every run")
	listFlag(fs, &o.Concurrency, "concurrency", "1,16,64", "closed-loop concurrencies", strconv.Atoi, func(c int) bool { return c >= 1 && c <= 100_000 })
	listFlag(fs, &o.Algs, "algs", "RS256,ES256,EdDSA", "algorithms", asIs, func(a string) bool { return slices.Contains([]string{"RS256", "ES256", "EdDSA"}, a) })
	listFlag(fs, &o.Cases, "cases", strings.Join(allGroups, ","), "case groups to run", asIs, func(g string) bool { return slices.Contains(allGroups, g) })
	listFlag(fs, &o.OpenFractions, "open-fractions", "0.5,0.8", "open-loop rates as fractions of the floor's highest closed-loop rate",
		func(f string) (float64, error) { return strconv.ParseFloat(f, 64) }, func(f float64) bool { return f > 0 && f <= 2 })
	fs.IntVar(&o.FloodConcurrency, "flood-concurrency", 16, "concurrency of the floods and the revoked case")
	fs.IntVar(&o.RevokedEntries, "revoked-entries", 1_000_000, "revocations loaded for the revoked case")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if o.Runs < 1 || o.Runs > 100 || o.Duration <= 0 || o.Warmup < 0 || o.FloodConcurrency < 1 || o.RevokedEntries < 0 || strings.TrimSpace(o.ServerCmd) == "" {
		return usagef("--runs must be between 1 and 100, --duration and --flood-concurrency positive, --warmup and --revoked-entries not negative, --server-cmd given")
	}
	if o.Config == "" {
		o.Config = filepath.Join(o.Dir, configFile)
	}
	res, runErr := runSuite(ctx, log, o)
	if res == nil {
		return runErr
	}
	fmt.Fprint(stdout, res.Markdown)
	b, _ := json.MarshalIndent(res, "", "  ")
	if err := os.WriteFile(o.Out, append(b, '\n'), 0o644); err != nil || runErr != nil {
		return errors.Join(runErr, err)
	}
	if len(res.Problems) > 0 {
		return fmt.Errorf("%d cases could not be measured fully; see the end of the tables and %s", len(res.Problems), o.Out)
	}
	return nil
}

// listFlag defines a flag of comma-separated values, each parsed by parse
// and checked by ok.
func listFlag[T any](fs *flag.FlagSet, dst *[]T, name, def, usage string, parse func(string) (T, error), ok func(T) bool) {
	fs.Func(name, usage+" (default "+def+")", func(s string) error {
		*dst = nil
		for _, f := range strings.Split(s, ",") {
			v, err := parse(f)
			if err != nil || !ok(v) {
				return fmt.Errorf("bad value %q", f)
			}
			*dst = append(*dst, v)
		}
		return nil
	})
	_ = fs.Set(name, def)
}

func asIs(s string) (string, error) { return s, nil }

// suiteResults is everything a suite measured; it is written as JSON.
type suiteResults struct {
	StartedAt  time.Time
	CPUs       int
	GoVersion  string // of authzbench and the floor
	Options    suiteOptions
	Cases      []caseResult
	FloorIdle  procSample
	Memory     *memoryResult // the cache, filled with distinct tokens
	Revocation *memoryResult // the revocations, loaded through the admin API
	Problems   []string      // what could not be measured, and why
	Markdown   string
}

// caseResult is one row of a table: its repetitions.
type caseResult struct {
	Group, Name, Alg string
	Concurrency      int
	Runs             []pairRun
}

// pairRun is one repetition of a case: the floor (A), then the server (B).
type pairRun struct{ Floor, Server loadResult }

// memoryResult is a fresh server's memory idle and after it stored Entries
// entries (cached tokens or revocations) in LoadSeconds.
type memoryResult struct {
	Idle, Filled  procSample
	Entries       int64
	LoadSeconds   float64
	BytesPerEntry float64
}

// suite is one run of the matrix.
type suite struct {
	o        suiteOptions
	log      *slog.Logger
	work     string // the servers' configs, data and logs
	floor    *serverProc
	res      *suiteResults
	launches int
}

// runSuite starts the floor and runs every selected case group against the
// floor and the server in turn. It returns the results gathered so far
// even when it fails part way.
func runSuite(ctx context.Context, log *slog.Logger, o suiteOptions) (*suiteResults, error) {
	if _, err := readServerAddrs(o.Config); err != nil {
		return nil, fmt.Errorf("%w (run authzbench gen --out %s first?)", err, o.Dir)
	}
	if o.Runs < 3 {
		log.Warn("fewer than 3 runs per case: medians are not robust", "runs", o.Runs)
	}
	work, err := os.MkdirTemp(o.Dir, "suite-")
	if err != nil {
		return nil, err
	}
	s := &suite{o: o, log: log, work: work}
	s.res = &suiteResults{StartedAt: time.Now().UTC(), CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), Options: o}
	defer func() { s.res.Markdown = renderMarkdown(s.res) }()
	log.Info("suite starting", "work_dir", work, "cases", o.Cases)
	exe, err := os.Executable()
	addr, err2 := freeLoopbackAddrs(1)
	if err = errors.Join(err, err2); err != nil {
		return s.res, err
	}
	if s.floor, err = startProc([]string{exe, "floor", "--addr", addr[0]}, filepath.Join(work, "floor.log")); err != nil {
		return s.res, err
	}
	defer s.floor.stop()
	s.floor.GRPCAddr = addr[0]
	if err := s.floor.waitReady(ctx); err != nil {
		return s.res, fmt.Errorf("floor: %w", err)
	}
	// Every group runs on a server started for it; the new group starts
	// one for every run instead.
	groups := map[string]func(context.Context, *serverProc) error{
		"cached": s.runValid, "new": s.runValid, "open": s.runOpen, "flood": s.runFlood, "memory": s.runMemory, "revoked": s.runRevoked,
	}
	for _, g := range allGroups {
		if !slices.Contains(o.Cases, g) {
			continue
		}
		log.Info("case group", "group", g)
		run := func(srv *serverProc) error { return groups[g](ctx, srv) }
		if g == "new" {
			err = run(nil)
		} else {
			err = s.withServer(ctx, g, run)
		}
		if err != nil {
			if ctx.Err() != nil {
				return s.res, ctx.Err()
			}
			s.problem("%s: %v", g, err)
		}
		if !s.floor.alive() {
			return s.res, fmt.Errorf("the floor exited; see %s", s.floor.LogPath)
		}
	}
	return s.res, nil
}

// problem records something that could not be measured.
func (s *suite) problem(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	s.log.Warn("problem", "what", msg)
	s.res.Problems = append(s.res.Problems, msg)
}

// launchServer starts the server under test and waits until it is ready.
// With {config} in the command, it gets a copy of the config with fresh
// loopback ports and an empty data_dir of its own.
func (s *suite) launchServer(ctx context.Context, label string) (*serverProc, func(), error) {
	s.launches++
	name := fmt.Sprintf("%02d-%s", s.launches, label)
	argv, cfgPath, dataDir := strings.Fields(s.o.ServerCmd), s.o.Config, ""
	if strings.Contains(s.o.ServerCmd, configPlaceholder) {
		dataDir, cfgPath = filepath.Join(s.work, name, "data"), filepath.Join(s.work, name, configFile)
		addrs, err := freeLoopbackAddrs(3)
		if err == nil {
			err = writeConfigCopy(s.o.Config, cfgPath, map[string]any{"grpc_addr": addrs[0], "http_addr": addrs[1], "admin_addr": addrs[2], "data_dir": dataDir})
		}
		if err != nil {
			return nil, nil, err
		}
		for i := range argv {
			argv[i] = strings.ReplaceAll(argv[i], configPlaceholder, cfgPath)
		}
	}
	addrs, err := readServerAddrs(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	p, err := startProc(argv, filepath.Join(s.work, name+".log"))
	if err != nil {
		return nil, nil, err
	}
	p.GRPCAddr, p.AdminAddr, p.AdminToken = addrs.GRPCAddr, addrs.AdminAddr, addrs.AdminToken
	stop := func() {
		p.stop()
		_ = os.RemoveAll(dataDir) // the logs and configs stay

	}
	if err := p.waitReady(ctx); err != nil {
		stop()
		return nil, nil, fmt.Errorf("%s: %w", name, err)
	}
	s.log.Info("server ready", "name", name, "pid", p.PID, "grpc_addr", p.GRPCAddr)
	return p, stop, nil
}

// writeConfigCopy writes the YAML config src to dst with the top-level keys
// of set replaced or added.
func writeConfigCopy(src, dst string, set map[string]any) error {
	var cfg map[string]any
	b, err := os.ReadFile(src)
	if err == nil {
		err = yaml.Unmarshal(b, &cfg)
	}
	if err != nil {
		return fmt.Errorf("config %s: %w", src, err)
	}
	for k, v := range set {
		cfg[k] = v
	}
	if b, err = yaml.Marshal(cfg); err == nil {
		err = os.MkdirAll(filepath.Dir(dst), 0o700)
	}
	if err == nil {
		err = os.WriteFile(dst, b, 0o600)
	}
	return err
}

// row is a case to run: its result so far and its spec for a repetition.
type row struct {
	caseResult
	spec func(rep int) loadSpec
}

// spec returns a closed-loop run of the suite's settings.
func (s *suite) spec(concurrency int, tokens []string) loadSpec {
	return loadSpec{Mode: modeClosed, Concurrency: concurrency, Tokens: tokens, Duration: s.o.Duration, Warmup: s.o.Warmup,
		Timeout: requestTimeout, Expect: "allow"}
}

// runRows runs every row o.Runs times, the floor (A) then the server (B)
// each time, on srv, or on a server started for each run when srv is nil,
// and adds them to the results.
func (s *suite) runRows(ctx context.Context, srv *serverProc, rows ...row) {
	for _, r := range rows {
		cr := r.caseResult
		for rep := range s.o.Runs {
			b, stop := srv, func() {}
			if srv == nil {
				var err error
				if b, stop, err = s.launchServer(ctx, fmt.Sprintf("%s-%s-c%d-r%d", cr.Group, cr.Alg, cr.Concurrency, rep+1)); err != nil {
					s.problem("%s: %v", cr.Name, err)
					break
				}
			}
			fs, bs := r.spec(rep), r.spec(rep)
			fs.Target, fs.PID, fs.Expect = s.floor.GRPCAddr, s.floor.PID, "allow" // the floor allows everything
			bs.Target, bs.PID = b.GRPCAddr, b.PID
			var pr pairRun
			var err error
			if pr.Floor, err = runLoad(ctx, fs); err == nil {
				pr.Server, err = runLoad(ctx, bs)
			}
			stop()
			if err != nil {
				s.problem("%s: run %d: %v (the server's log: %s)", cr.Name, rep+1, err, b.LogPath)
				continue
			}
			cr.Runs = append(cr.Runs, pr)
			s.log.Info("run", "case", cr.Name, "rep", rep+1, "requests", pr.Server.Requests, "errors", pr.Server.Errors, "wrong", pr.Server.WrongDecisions,
				"checks_per_cpu_s_ratio", checksPerCPU(pr.Server)/checksPerCPU(pr.Floor), "p99_ratio", p99(pr.Server)/p99(pr.Floor))
		}
		s.res.Cases = append(s.res.Cases, cr)
	}
}

// withServer runs f with a server started for it.
func (s *suite) withServer(ctx context.Context, label string, f func(srv *serverProc) error) error {
	srv, stop, err := s.launchServer(ctx, label)
	if err != nil {
		return err
	}
	defer stop()
	return f(srv)
}

// runValid runs the cached group (one token for every request, so that
// every Check after the first is answered from the cache) or the new
// group (a new token for every request, and a fresh server for every run
// so that none is cached; a run ends when its duration passes or the
// token file is used up), per algorithm and concurrency.
func (s *suite) runValid(ctx context.Context, srv *serverProc) error {
	group := "cached"
	if srv == nil {
		group = "new"
	}
	var rows []row
	for _, alg := range s.o.Algs {
		toks, err := readTokens(filepath.Join(s.o.Dir, validFile(alg)))
		if err != nil {
			return err
		}
		for _, c := range s.o.Concurrency {
			rows = append(rows, row{caseResult{Group: group, Name: fmt.Sprintf("%s %s c=%d", group, alg, c), Alg: alg, Concurrency: c},
				func(int) loadSpec {
					spec := s.spec(c, toks)
					spec.Each = group == "new"
					return spec
				}})
		}
	}
	s.runRows(ctx, srv, rows...)
	return nil
}

// runOpen: fixed rates at fractions of the floor's highest closed-loop
// rate with a cached token, latency measured from each request's
// scheduled time.
func (s *suite) runOpen(ctx context.Context, srv *serverProc) error {
	toks, err := readTokens(filepath.Join(s.o.Dir, validFile(openAlg)))
	if err != nil {
		return err
	}
	// The floor's highest rate: its median in a closed loop at the highest
	// concurrency.
	spec := s.spec(slices.Max(s.o.Concurrency), toks[:1])
	spec.Target = s.floor.GRPCAddr
	var rates []float64
	for range s.o.Runs {
		r, err := runLoad(ctx, spec)
		if err != nil {
			return fmt.Errorf("measure the floor's highest rate: %w", err)
		}
		rates = append(rates, r.ReqPerSec)
	}
	maxRate := median(rates)
	var rows []row
	for _, f := range s.o.OpenFractions {
		rate := math.Round(f * maxRate)
		rows = append(rows, row{caseResult{Group: "open", Name: fmt.Sprintf("open %.0f%% (%.0f/s) %s", f*100, rate, openAlg),
			Alg: openAlg, Concurrency: openMaxInFlight}, func(int) loadSpec {
			spec := s.spec(openMaxInFlight, toks[:1])
			spec.Mode, spec.Rate = modeOpen, rate
			return spec
		}})
	}
	s.runRows(ctx, srv, rows...)
	return nil
}

// runFlood: garbage and unknown-kid tokens, a different one per request
// and per repetition (the file is split between them), all to be denied.
func (s *suite) runFlood(ctx context.Context, srv *serverProc) error {
	var rows []row
	for _, file := range []string{garbageFile, unknownKIDFile} {
		toks, err := readTokens(filepath.Join(s.o.Dir, file))
		if err != nil {
			return err
		}
		per, c := len(toks)/s.o.Runs, s.o.FloodConcurrency
		if per < 2 {
			return fmt.Errorf("%s: %d lines are too few for %d runs", file, len(toks), s.o.Runs)
		}
		rows = append(rows, row{caseResult{Group: "flood", Name: fmt.Sprintf("flood %s c=%d", file, c), Concurrency: c}, func(rep int) loadSpec {
			spec := s.spec(c, toks[rep*per:(rep+1)*per])
			spec.Each, spec.Expect = true, "deny"
			return spec
		}})
	}
	s.runRows(ctx, srv, rows...)
	return nil
}

// measureMemory reads a fresh server's memory idle and after fill stored
// its entries, each after the server has rested.
func (s *suite) measureMemory(ctx context.Context, srv *serverProc, fill func() (int64, error)) (*memoryResult, error) {
	m := &memoryResult{}
	rest := func() (procSample, error) {
		select {
		case <-time.After(settle):
			return readProc(srv.PID)
		case <-ctx.Done():
			return procSample{}, ctx.Err()
		}
	}
	var err error
	if m.Idle, err = rest(); err != nil {
		return m, err
	}
	start := time.Now()
	if m.Entries, err = fill(); err != nil {
		return m, err
	}
	m.LoadSeconds = time.Since(start).Seconds()
	if m.Filled, err = rest(); err == nil && m.Filled.RSSBytes > m.Idle.RSSBytes && m.Entries > 0 {
		m.BytesPerEntry = float64(m.Filled.RSSBytes-m.Idle.RSSBytes) / float64(m.Entries)
	}
	return m, err
}

// runMemory: the RSS of a fresh server idle, then after it has verified
// (and cached) every token of fill-EdDSA.txt once.
func (s *suite) runMemory(ctx context.Context, srv *serverProc) error {
	toks, err := readTokens(filepath.Join(s.o.Dir, fillFile))
	if err == nil {
		s.res.FloorIdle, err = readProc(s.floor.PID)
	}
	if err != nil {
		return err
	}
	s.res.Memory, err = s.measureMemory(ctx, srv, func() (int64, error) {
		// No warm-up, which would cache a token more; the run ends when the
		// file is used up.
		spec := s.spec(16, toks)
		spec.Target, spec.Each, spec.Warmup, spec.Duration = srv.GRPCAddr, true, 0, time.Hour
		fill, err := runLoad(ctx, spec)
		if fill.Allowed < int64(len(toks)-1) || fill.Errors > 0 {
			s.problem("memory: %d of %d fill tokens allowed, %d errors", fill.Allowed, len(toks)-1, fill.Errors)
		}
		return fill.Allowed, err
	})
	return err
}

// runRevoked: a fresh server's memory idle and loaded with
// o.RevokedEntries revocations through the admin API. (How fast Check is
// with them loaded is BenchmarkCheckCachedRevocation's.)
func (s *suite) runRevoked(ctx context.Context, srv *serverProc) error {
	jtis, err := readTokens(filepath.Join(s.o.Dir, revokedJTIsFile))
	if err != nil {
		return err
	}
	s.res.Revocation, err = s.measureMemory(ctx, srv, func() (int64, error) {
		s.log.Info("loading revocations", "entries", max(s.o.RevokedEntries, len(jtis)))
		load, err := revokeLoad(ctx, s.log, revokeSpec{Admin: srv.AdminAddr, AdminToken: srv.AdminToken, JTIs: jtis,
			Count: s.o.RevokedEntries, Concurrency: revokeConcurrency, Exp: time.Now().Add(2 * tokenLifetime)})
		if load.Errors > 0 {
			s.problem("revoked: %d of %d revocations failed (first: %s)", load.Errors, load.Requested, load.FirstError)
		}
		return load.Created, err
	})
	return err
}

// Which figure of a repetition stat takes: the floor's, the server's, or
// the server's ÷ the floor's, taken between two runs made back to back so
// that slow drift of the machine cancels.
const floorSide, serverSide, ratioSide = 0, 1, 2

// stat is the median over a case's repetitions of the figure f on side,
// leaving out what was not measured (0, or a ratio to 0); 0 when nothing
// was.
func stat(cr caseResult, f func(loadResult) float64, side int) float64 {
	var xs []float64
	for _, r := range cr.Runs {
		if x := [...]float64{f(r.Floor), f(r.Server), f(r.Server) / f(r.Floor)}[side]; x > 0 && !math.IsInf(x, 0) {
			xs = append(xs, x)
		}
	}
	return median(xs)
}

// median returns the median of xs (the mean of the two middle values for
// an even count) without changing xs, or 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	return (s[(len(s)-1)/2] + s[len(s)/2]) / 2
}

// The figures of a run that the tables show.
func checksPerCPU(r loadResult) float64 {
	if r.Server == nil {
		return 0
	}
	return r.Server.ChecksPerCPUSecond
}
func reqPerSec(r loadResult) float64 { return r.ReqPerSec }
func p50(r loadResult) float64       { return r.Latency.P50MS }
func p99(r loadResult) float64       { return r.Latency.P99MS }
func p999(r loadResult) float64      { return r.Latency.P999MS }
func lagP99(r loadResult) float64    { return r.SendLag.P99MS }

// renderMarkdown renders the tables of BENCHMARKS.md.
func renderMarkdown(res *suiteResults) string {
	var b strings.Builder
	o := res.Options
	fmt.Fprintf(&b, "Measured %s on %d CPUs, client %s. Every case: %d runs of %s (after %s of warm-up) against the floor (A) and %s (B), "+
		"interleaved A B A B; medians; a ratio is the median of the per-run ratios %s ÷ floor. One gRPC connection; the client reads only "+
		"each response's status.\n\n", res.StartedAt.Format("2006-01-02 15:04 UTC"), res.CPUs, res.GoVersion, o.Runs, o.Duration, o.Warmup, serverName, serverName)
	table := func(group, title, head string, row func(cr caseResult) []any) {
		var rows strings.Builder
		for _, cr := range res.Cases {
			if cr.Group == group {
				cells := append(append([]any{cr.Name}, row(cr)...), errCell(cr))
				fmt.Fprintf(&rows, strings.Repeat("| %s ", len(cells))+"|\n", cells...)
			}
		}
		if rows.Len() > 0 {
			fmt.Fprintf(&b, "#### %s\n\n| case | %s | errors / wrong |\n| --- |%s ---: |\n%s\n", title, head, strings.Repeat(" ---: |", 7), rows.String())
		}
	}
	closedHead := fmt.Sprintf("floor Checks/CPU-s | %[1]s Checks/CPU-s | ratio | floor p99 | %[1]s p99 | p99 ratio | %[1]s req/s", serverName)
	closed := func(cr caseResult) []any {
		return []any{num(stat(cr, checksPerCPU, floorSide), 0), num(stat(cr, checksPerCPU, serverSide), 0), num(stat(cr, checksPerCPU, ratioSide), 2),
			msCell(stat(cr, p99, floorSide)), msCell(stat(cr, p99, serverSide)), num(stat(cr, p99, ratioSide), 2), num(stat(cr, reqPerSec, serverSide), 0)}
	}
	table("cached", "Cached token (one token for every request)", closedHead, closed)
	table("new", "New token per request (cache misses; a fresh server per run)", closedHead, closed)
	table("open", "Open loop (fixed rate, latency from the scheduled send time, cached token)",
		fmt.Sprintf("floor p50 | floor p99 | floor p99.9 | %[1]s p50 | %[1]s p99 | %[1]s p99.9 | send lag p99", serverName),
		func(cr caseResult) []any {
			return []any{msCell(stat(cr, p50, floorSide)), msCell(stat(cr, p99, floorSide)), msCell(stat(cr, p999, floorSide)),
				msCell(stat(cr, p50, serverSide)), msCell(stat(cr, p99, serverSide)), msCell(stat(cr, p999, serverSide)), msCell(stat(cr, lagP99, serverSide))}
		})
	table("flood", "Floods (a different bad token per request, all to be denied)", closedHead, closed)
	if res.Memory != nil || res.Revocation != nil {
		fmt.Fprintf(&b, "#### Memory (RSS: anonymous + file)\n\n| state | floor | %s |\n| --- | ---: | ---: |\n", serverName)
		for i, m := range []*memoryResult{res.Memory, res.Revocation} {
			if what := [...]string{"distinct tokens cached", "revocations loaded"}[i]; m != nil {
				fmt.Fprintf(&b, "| idle | %s | %s |\n| %d %s in %.0f s | | %s |\n| per entry | | %.0f B |\n",
					rssCell(res.FloorIdle), rssCell(m.Idle), m.Entries, what, m.LoadSeconds, rssCell(m.Filled), m.BytesPerEntry)
			}
		}
		b.WriteString("\n")
	}
	if len(res.Problems) > 0 {
		b.WriteString("Not measured or incomplete:\n\n- " + strings.Join(res.Problems, "\n- ") + "\n\n")
	}
	return b.String()
}

// num, msCell and mibCell format a rate or ratio, a latency and a size; 0
// is "not measured".
func num(x float64, prec int) string {
	if x == 0 {
		return "n/a"
	}
	return fmt.Sprintf("%.*f", prec, x)
}

func msCell(x float64) string { return strings.Replace(num(x, 3)+" ms", "n/a ms", "n/a", 1) }
func mibCell(b uint64) string { return strings.Replace(num(mib(b), 1)+" MiB", "n/a MiB", "n/a", 1) }

// rssCell shows an RSS and its anonymous and file-backed parts.
func rssCell(p procSample) string {
	return fmt.Sprintf("%s (%s + %s)", mibCell(p.RSSBytes), mibCell(p.AnonBytes), mibCell(p.FileBytes))
}

// errCell shows the server's errors and wrong decisions over every run,
// and the floor's when it had any.
func errCell(cr caseResult) string {
	var n [4]int64
	for _, r := range cr.Runs {
		n[0], n[1], n[2], n[3] = n[0]+r.Server.Errors, n[1]+r.Server.WrongDecisions, n[2]+r.Floor.Errors, n[3]+r.Floor.WrongDecisions
	}
	cell := fmt.Sprintf("%d / %d", n[0], n[1])
	if n[2]+n[3] > 0 {
		cell += fmt.Sprintf(" (floor %d / %d)", n[2], n[3])
	}
	return cell
}

// revokeSpec describes a revocation load.
type revokeSpec struct {
	Admin, AdminToken  string   // the admin listener (loopback only) and its bearer token, if any
	JTIs               []string // revoked first; synthetic jtis make up the rest of Count
	Count, Concurrency int
	Exp                time.Time // of every entry
}

// revokeResult is what a revocation load did.
type revokeResult struct {
	Requested                  int
	Created, Errors            int64
	FirstError                 string
	DurationSeconds, PerSecond float64
}

// errRevocationsRefused stops a load whose first 100 requests all failed:
// a missing endpoint or a wrong admin token would otherwise be asked a
// million times.
var errRevocationsRefused = errors.New("the admin API refuses revocations")

// revokeLoad POSTs spec.Count revocations ({"jti":..,"exp":..}) to
// /admin/revocations, spec.Concurrency at a time, and counts those the
// server accepted (a 2xx: it answers 201 once the entry is durable).
func revokeLoad(ctx context.Context, log *slog.Logger, spec revokeSpec) (revokeResult, error) {
	if err := checkLoopback(spec.Admin); err != nil {
		return revokeResult{}, err
	}
	res := revokeResult{Requested: max(spec.Count, len(spec.JTIs))}
	filler := fmt.Sprintf("bench-filler-%08x-", rand.Uint32())
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: spec.Concurrency}}
	defer client.CloseIdleConnections()
	var created, failed atomic.Int64
	var once sync.Once
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(spec.Concurrency, 1))
	start := time.Now()
	for i := 0; i < res.Requested && gctx.Err() == nil; i++ {
		jti := fmt.Sprint(filler, i)
		if i < len(spec.JTIs) {
			jti = spec.JTIs[i]
		}
		g.Go(func() error {
			if err := postRevocation(gctx, client, spec, jti); err != nil {
				once.Do(func() { res.FirstError = err.Error() })
				if failed.Add(1) >= 100 && created.Load() == 0 {
					return fmt.Errorf("%w: %w", errRevocationsRefused, err)
				}
			} else if n := created.Add(1); n%100_000 == 0 {
				log.Info("revocations loaded", "created", n, "of", res.Requested, "per_second", int(float64(n)/time.Since(start).Seconds()))
			}
			return nil
		})
	}
	err := g.Wait()
	res.Created, res.Errors, res.DurationSeconds = created.Load(), failed.Load(), time.Since(start).Seconds()
	res.PerSecond = float64(res.Created) / res.DurationSeconds
	return res, errors.Join(err, ctx.Err())
}

// postRevocation sends one revocation; anything but a 2xx is an error.
func postRevocation(ctx context.Context, client *http.Client, spec revokeSpec, jti string) error {
	body, _ := json.Marshal(map[string]any{"jti": jti, "exp": spec.Exp.Unix()})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+spec.Admin+"/admin/revocations", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if spec.AdminToken != "" {
		req.Header.Set("Authorization", "Bearer "+spec.AdminToken)
	}
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so that the connection is reused
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("POST /admin/revocations: %s", resp.Status)
	}
	return nil
}

// readAdminToken returns the trimmed contents of an admin token file, or ""
// for no file.
func readAdminToken(path string) (string, error) {
	if path == "" {
		return "", nil
	}
	b, err := os.ReadFile(path)
	return strings.TrimSpace(string(b)), err
}

func runRevokeLoadCmd(ctx context.Context, log *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("revoke-load", stderr)
	var spec revokeSpec
	var jtisPath, tokenFile string
	fs.StringVar(&spec.Admin, "admin", "", "admin listener address of the server (loopback only)")
	fs.StringVar(&tokenFile, "admin-token-file", "", "file holding the admin bearer token, when the server requires one")
	fs.StringVar(&jtisPath, "jtis", "", "revoke these jtis first (one a line, e.g. revoked-jtis.txt)")
	fs.IntVar(&spec.Count, "count", 1_000_000, "entries to revoke; synthetic jtis make up what --jtis does not")
	fs.IntVar(&spec.Concurrency, "concurrency", 32, "requests in flight")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if spec.Admin == "" || spec.Count < 0 || spec.Concurrency < 1 {
		return usagef("--admin is required, --count must not be negative and --concurrency must be positive")
	}
	var err error
	if jtisPath != "" {
		if spec.JTIs, err = readTokens(jtisPath); err != nil {
			return err
		}
	}
	if spec.AdminToken, err = readAdminToken(tokenFile); err != nil {
		return err
	}
	spec.Exp = time.Now().Add(2 * tokenLifetime) // after every generated token has expired
	res, err := revokeLoad(ctx, log, spec)
	fmt.Fprintf(stdout, "revoked %d of %d in %.1fs (%.0f/s), %d errors\n", res.Created, res.Requested, res.DurationSeconds, res.PerSecond, res.Errors)
	return err
}
