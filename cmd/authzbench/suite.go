package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
)

// configPlaceholder in --server-cmd is replaced by a per-launch copy of the
// config with fresh ports and data_dir.
const configPlaceholder = "{config}"

// suiteOptions are the parameters of suite.
type suiteOptions struct {
	Dir               string
	ServerCmd         string
	ServerName        string
	Config            string
	Out               string
	Runs              int
	Duration          time.Duration
	Warmup            time.Duration
	Concurrency       []int
	Algs              []string
	Groups            []string
	Conns             int
	DecodeFull        bool
	Timeout           time.Duration
	OpenAlg           string
	OpenFractions     []float64
	OpenMaxInFlight   int
	FloodConcurrency  int
	RevokedEntries    int
	RevokeConcurrency int
	ReadyTimeout      time.Duration
	Settle            time.Duration
	FillTimeout       time.Duration
	Keep              bool
}

func runSuiteCmd(ctx context.Context, logger *slog.Logger, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("suite", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := suiteOptions{}
	var conc, algs, groups, fractions string
	fs.StringVar(&o.Dir, "dir", "bench", "directory written by gen")
	fs.StringVar(&o.ServerCmd, "server-cmd", "./jwt-authz serve --config "+configPlaceholder,
		"server command line, split on spaces (no shell); "+configPlaceholder+" is replaced by a fresh copy of --config per launch")
	fs.StringVar(&o.ServerName, "server-name", "jwt-authz", "name of the server in tables")
	fs.StringVar(&o.Config, "config", "", "server config (default DIR/config.yaml); its grpc_addr and admin_addr are used")
	fs.StringVar(&o.Out, "out", "results.json", "JSON results file")
	fs.IntVar(&o.Runs, "runs", 3, "repetitions of every case (medians need at least 3)")
	fs.DurationVar(&o.Duration, "duration", 3*time.Second, "measured duration of every run")
	fs.DurationVar(&o.Warmup, "warmup", 500*time.Millisecond, "unmeasured warm-up before every run")
	fs.StringVar(&conc, "concurrency", "1,16,64", "closed-loop concurrencies")
	fs.StringVar(&algs, "algs", "RS256,ES256,EdDSA", "algorithms")
	fs.StringVar(&groups, "cases", strings.Join(allGroups, ","), "case groups to run")
	fs.IntVar(&o.Conns, "conns", 1, "gRPC connections per run")
	fs.BoolVar(&o.DecodeFull, "decode-full", false, "decode whole responses instead of only their status code")
	fs.DurationVar(&o.Timeout, "timeout", 5*time.Second, "per-request deadline")
	fs.StringVar(&o.OpenAlg, "open-alg", "RS256", "algorithm of the open-loop token")
	fs.StringVar(&fractions, "open-fractions", "0.5,0.8", "open-loop rates as fractions of the floor's highest closed-loop rate")
	fs.IntVar(&o.OpenMaxInFlight, "open-max-in-flight", 512, "open loop: the most requests in flight")
	fs.IntVar(&o.FloodConcurrency, "flood-concurrency", 16, "concurrency of the garbage and unknown-kid floods")
	fs.IntVar(&o.RevokedEntries, "revoked-entries", 1_000_000, "revocations loaded for the revoked case")
	fs.IntVar(&o.RevokeConcurrency, "revoke-concurrency", 32, "revocation requests in flight while loading")
	fs.DurationVar(&o.ReadyTimeout, "ready-timeout", time.Minute, "how long a server may take to become ready")
	fs.DurationVar(&o.Settle, "settle", 2*time.Second, "pause before a memory reading")
	fs.DurationVar(&o.FillTimeout, "fill-timeout", 5*time.Minute, "longest the cache fill of the memory case may run")
	fs.BoolVar(&o.Keep, "keep", false, "keep the per-launch data directories")
	if err := fs.Parse(args); err != nil {
		return usageError{err}
	}
	if fs.NArg() > 0 {
		return usageError{fmt.Errorf("suite: unexpected argument %q", fs.Arg(0))}
	}
	var err error
	if o.Concurrency, err = parseInts(conc); err != nil {
		return usageError{fmt.Errorf("suite: --concurrency: %w", err)}
	}
	if o.OpenFractions, err = parseFloats(fractions); err != nil {
		return usageError{fmt.Errorf("suite: --open-fractions: %w", err)}
	}
	o.Algs = splitList(algs)
	o.Groups = splitList(groups)
	if o.Config == "" {
		o.Config = filepath.Join(o.Dir, configFile)
	}
	if err := o.validate(); err != nil {
		return usageError{fmt.Errorf("suite: %w", err)}
	}
	res, err := runSuite(ctx, logger, o)
	if res != nil {
		fmt.Fprint(stdout, res.Markdown)
		b, jerr := json.MarshalIndent(res, "", "  ")
		if jerr == nil {
			jerr = os.WriteFile(o.Out, append(b, '\n'), 0o644)
		}
		if jerr != nil {
			return errors.Join(err, fmt.Errorf("suite: write results: %w", jerr))
		}
		logger.Info("results written", "file", o.Out, "problems", len(res.Problems))
		if err == nil && len(res.Problems) > 0 {
			err = fmt.Errorf("suite: %d cases could not be measured fully; see the list at the end of the tables and %s", len(res.Problems), o.Out)
		}
	}
	return err
}

func (o *suiteOptions) validate() error {
	switch {
	case o.Runs < 1 || o.Runs > 100:
		return fmt.Errorf("--runs %d: want 1..100", o.Runs)
	case o.Duration <= 0 || o.Warmup < 0 || o.Timeout <= 0:
		return errors.New("--duration and --timeout must be positive, --warmup not negative")
	case o.Conns < 1 || o.OpenMaxInFlight < 1 || o.FloodConcurrency < 1 || o.RevokeConcurrency < 1:
		return errors.New("--conns, --open-max-in-flight, --flood-concurrency and --revoke-concurrency must be positive")
	case o.RevokedEntries < 0:
		return errors.New("--revoked-entries must not be negative")
	case len(strings.Fields(o.ServerCmd)) == 0:
		return errors.New("--server-cmd is empty")
	case len(o.Concurrency) == 0 || len(o.Algs) == 0:
		return errors.New("--concurrency and --algs need at least one value")
	}
	for _, c := range o.Concurrency {
		if c < 1 || c > 100_000 {
			return fmt.Errorf("--concurrency %d: want 1..100000", c)
		}
	}
	for _, f := range o.OpenFractions {
		if f <= 0 || f > 2 {
			return fmt.Errorf("--open-fractions %v: want (0, 2]", f)
		}
	}
	for _, a := range append(slices.Clone(o.Algs), o.OpenAlg) {
		if _, err := algByName(a); err != nil {
			return err
		}
	}
	for _, g := range o.Groups {
		if !slices.Contains(allGroups, g) {
			return fmt.Errorf("--cases: unknown case group %q (want some of %s)", g, strings.Join(allGroups, ","))
		}
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, err
		}
		out = append(out, n)
	}
	return out, nil
}

func parseFloats(s string) ([]float64, error) {
	var out []float64
	for _, f := range splitList(s) {
		x, err := strconv.ParseFloat(f, 64)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, nil
}

// serverBinary returns the program of a "PROGRAM serve ..." command line,
// which answers "PROGRAM version" as jwt-authz does, or "" for any other
// shape of command (such as "go run").
func serverBinary(cmd string) string {
	f := strings.Fields(cmd)
	if len(f) >= 2 && f[1] == "serve" {
		return f[0]
	}
	return ""
}

// suite is one run of the whole matrix.
type suite struct {
	o       suiteOptions
	log     *slog.Logger
	work    string // per-launch configs, data and logs
	floor   *serverProc
	res     *suiteResults
	tokens  map[string][]string // token files by name, read once
	launchN int
}

// runSuite starts the floor, runs every selected case group against the
// floor and the server interleaved, and renders the tables. It returns the
// results gathered so far even when it fails part way.
func runSuite(ctx context.Context, logger *slog.Logger, o suiteOptions) (*suiteResults, error) {
	if _, err := readServerAddrs(o.Config); err != nil {
		return nil, fmt.Errorf("%w (run authzbench gen --out %s first?)", err, o.Dir)
	}
	if o.Runs < 3 {
		logger.Warn("fewer than 3 runs per case: medians are not robust", "runs", o.Runs)
	}
	work, err := os.MkdirTemp(o.Dir, "suite-")
	if err != nil {
		return nil, fmt.Errorf("suite: %w", err)
	}
	s := &suite{o: o, log: logger, work: work, tokens: map[string][]string{}}
	s.res = &suiteResults{
		StartedAt: time.Now().UTC(),
		Machine:   describeMachine(ctx, serverBinary(o.ServerCmd)),
		Settings: suiteSettings{
			ServerName: o.ServerName, ServerCmd: o.ServerCmd, Runs: o.Runs,
			Duration: o.Duration.String(), Warmup: o.Warmup.String(), Conns: o.Conns, DecodeFull: o.DecodeFull,
			Concurrency: o.Concurrency, Algs: o.Algs, Cases: o.Groups,
		},
	}
	logger.Info("suite starting", "work_dir", work, "cases", o.Groups)

	exe, err := os.Executable()
	if err != nil {
		return s.res, fmt.Errorf("suite: find own executable for the floor: %w", err)
	}
	floor, err := startProc("floor", []string{exe, "floor", "--addr", "127.0.0.1:0"}, filepath.Join(work, "floor.log"), true)
	if err != nil {
		return s.res, err
	}
	defer floor.stop()
	if err := floor.waitReady(ctx, o.ReadyTimeout); err != nil {
		return s.res, err
	}
	s.floor = floor
	if err := sleepCtx(ctx, o.Settle); err != nil {
		return s.res, err
	}
	if ps, err := readProc(floor.PID); err == nil {
		u := usageBetween(floor.PID, ps, ps, 0)
		s.res.FloorIdle = &u
	}

	groups := map[string]func(context.Context) error{
		groupCached:  s.runCached,
		groupNew:     s.runNew,
		groupOpen:    s.runOpen,
		groupFlood:   s.runFlood,
		groupMemory:  s.runMemory,
		groupRevoked: s.runRevoked,
	}
	for _, g := range allGroups {
		if !slices.Contains(o.Groups, g) {
			continue
		}
		logger.Info("case group", "group", g)
		if err := groups[g](ctx); err != nil {
			if ctx.Err() != nil {
				s.res.Markdown = renderMarkdown(s.res)
				return s.res, ctx.Err()
			}
			s.problem("%s: %v", g, err)
		}
		if !floor.alive() {
			s.res.Markdown = renderMarkdown(s.res)
			return s.res, fmt.Errorf("suite: the floor exited; see %s", floor.LogPath)
		}
	}
	s.res.Markdown = renderMarkdown(s.res)
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
func (s *suite) launchServer(ctx context.Context, label string) (srv *serverProc, stop func(), err error) {
	s.launchN++
	name := fmt.Sprintf("%02d-%s", s.launchN, label)
	argv := strings.Fields(s.o.ServerCmd)
	cfgPath := s.o.Config
	dataDir := ""
	if strings.Contains(s.o.ServerCmd, configPlaceholder) {
		dir := filepath.Join(s.work, name)
		dataDir = filepath.Join(dir, "data")
		if err := os.MkdirAll(dataDir, 0o700); err != nil {
			return nil, nil, fmt.Errorf("launch %s: %w", name, err)
		}
		src, err := os.ReadFile(s.o.Config)
		if err != nil {
			return nil, nil, fmt.Errorf("launch %s: %w", name, err)
		}
		set := map[string]string{"data_dir": dataDir}
		keys := []string{"grpc_addr", "http_addr", "admin_addr"}
		addrs, err := freeLoopbackAddrs(len(keys))
		if err != nil {
			return nil, nil, err
		}
		for i, key := range keys {
			set[key] = addrs[i]
		}
		cfg, err := rewriteConfig(src, set)
		if err != nil {
			return nil, nil, fmt.Errorf("launch %s: %w", name, err)
		}
		cfgPath = filepath.Join(dir, configFile)
		if err := os.WriteFile(cfgPath, cfg, 0o600); err != nil {
			return nil, nil, fmt.Errorf("launch %s: %w", name, err)
		}
		for i := range argv {
			argv[i] = strings.ReplaceAll(argv[i], configPlaceholder, cfgPath)
		}
	}
	addrs, err := readServerAddrs(cfgPath)
	if err != nil {
		return nil, nil, err
	}
	token, err := readAdminToken(addrs.AdminTokenFile)
	if err != nil {
		return nil, nil, err
	}
	p, err := startProc(name, argv, filepath.Join(s.work, name+".log"), false)
	if err != nil {
		return nil, nil, err
	}
	p.GRPCAddr, p.AdminAddr, p.AdminToken = addrs.GRPCAddr, addrs.AdminAddr, token
	stop = func() {
		if err := p.stop(); err != nil {
			s.log.Warn("stop server", "name", name, "err", err)
		}
		if dataDir != "" && !s.o.Keep {
			if err := os.RemoveAll(dataDir); err != nil {
				s.log.Warn("remove data dir", "dir", dataDir, "err", err)
			}
		}
	}
	if err := p.waitReady(ctx, s.o.ReadyTimeout); err != nil {
		stop()
		return nil, nil, err
	}
	s.log.Info("server ready", "name", name, "pid", p.PID, "grpc_addr", p.GRPCAddr)
	return p, stop, nil
}

// tokenFile returns the tokens of a file in the gen directory.
func (s *suite) tokenFile(name string) ([]string, error) {
	if t, ok := s.tokens[name]; ok {
		return t, nil
	}
	t, err := readTokens(filepath.Join(s.o.Dir, name))
	if err != nil {
		return nil, err
	}
	s.tokens[name] = t
	return t, nil
}

// baseSpec returns a run spec with the suite-wide settings.
func (s *suite) baseSpec() loadSpec {
	return loadSpec{
		Mode: modeClosed, Duration: s.o.Duration, Warmup: s.o.Warmup, Conns: s.o.Conns, DecodeFull: s.o.DecodeFull,
		Timeout: s.o.Timeout, Expect: expectAllow,
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
