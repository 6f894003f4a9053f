package main

import (
	"encoding/json"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestSuiteEndToEnd runs the suite with this test binary standing in for
// both the floor and the server under test (authzbench floor --config),
// over real processes, /proc sampling and grpc health readiness.
func TestSuiteEndToEnd(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(runMainEnv, "1") // inherited by the processes the suite starts
	dir, _ := genSmall(t)
	out := filepath.Join(t.TempDir(), "results.json")
	o := suiteOptions{
		Dir: dir, Config: filepath.Join(dir, configFile), Out: out,
		ServerCmd: exe + " floor --config " + configPlaceholder, ServerName: "stand-in",
		Runs: 3, Duration: 150 * time.Millisecond, Warmup: 20 * time.Millisecond,
		Concurrency: []int{2}, Algs: []string{"EdDSA"}, Groups: []string{groupCached, groupOpen},
		Conns: 1, Timeout: time.Minute, OpenAlg: "EdDSA", OpenFractions: []float64{0.1},
		OpenMaxInFlight: 8, FloodConcurrency: 2, RevokeConcurrency: 1,
		ReadyTimeout: 30 * time.Second, Settle: 10 * time.Millisecond, FillTimeout: time.Second,
	}
	if err := o.validate(); err != nil {
		t.Fatalf("options: %v", err)
	}
	res, err := runSuite(t.Context(), slog.New(slog.NewTextHandler(io.Discard, nil)), o)
	if err != nil {
		t.Fatalf("runSuite: %v", err)
	}
	if len(res.Problems) > 0 {
		t.Fatalf("problems: %v", res.Problems)
	}
	if len(res.Cases) != 2 {
		t.Fatalf("%d cases, want cached and open", len(res.Cases))
	}
	for _, cr := range res.Cases {
		s := cr.Summary
		if s.Runs != 3 || len(cr.Runs) != 3 {
			t.Fatalf("%s: %d runs, want 3", cr.Name, s.Runs)
		}
		if s.ServerErrors != 0 || s.ServerWrong != 0 || s.FloorErrors != 0 || s.FloorWrong != 0 {
			t.Fatalf("%s: errors or wrong decisions: %+v", cr.Name, s)
		}
		for _, r := range cr.Runs {
			if r.Floor.Server == nil || r.Server.Server == nil || r.Floor.Server.PID == r.Server.Server.PID {
				t.Fatalf("%s: the floor and the server must be sampled as two processes", cr.Name)
			}
			if r.Floor.Target == r.Server.Target {
				t.Fatalf("%s: floor and server share the address %s", cr.Name, r.Floor.Target)
			}
		}
	}
	if open := res.Cases[1]; open.Group != groupOpen || open.Rate <= 0 || open.Rate != open.Runs[0].Server.Rate {
		t.Fatalf("open case = %s rate %v", open.Name, open.Rate)
	}
	for _, want := range []string{"#### Cached token", "| cached EdDSA c=2 |", "#### Open loop", "stand-in p99"} {
		if !strings.Contains(res.Markdown, want) {
			t.Fatalf("markdown lacks %q:\n%s", want, res.Markdown)
		}
	}
	// The per-launch config got fresh ports: the generated one was not used.
	gen, err := readServerAddrs(filepath.Join(dir, configFile))
	if err != nil {
		t.Fatal(err)
	}
	if res.Cases[0].Runs[0].Server.Target == gen.GRPCAddr {
		t.Fatal("the server was started on the generated config's port, not a fresh one")
	}
}

func TestSuiteCommandWritesResults(t *testing.T) {
	t.Setenv(runMainEnv, "1")
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	dir, _ := genSmall(t)
	out := filepath.Join(t.TempDir(), "results.json")
	var stdout, stderr strings.Builder
	code := run(t.Context(), []string{"suite", "--dir", dir, "--out", out,
		"--server-cmd", exe + " floor --config " + configPlaceholder,
		"--cases", "cached", "--algs", "RS256", "--concurrency", "1", "--runs", "1",
		"--duration", "100ms", "--warmup", "0s", "--settle", "0s"}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("suite exit %d; stderr:\n%s", code, stderr.String())
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var res suiteResults
	if err := json.Unmarshal(b, &res); err != nil {
		t.Fatalf("results are not JSON: %v", err)
	}
	if len(res.Cases) != 1 || res.Markdown == "" || !strings.Contains(stdout.String(), "| cached RS256 c=1 |") {
		t.Fatalf("cases %d, stdout:\n%s", len(res.Cases), stdout.String())
	}
	if !strings.Contains(stderr.String(), "fewer than 3 runs") {
		t.Fatalf("no warning about a single run; stderr:\n%s", stderr.String())
	}
}

func TestCommandLine(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want int
	}{
		{name: "no command", args: nil, want: 2},
		{name: "unknown command", args: []string{"fly"}, want: 2},
		{name: "help", args: []string{"help"}, want: 0},
		{name: "flag help", args: []string{"load", "-h"}, want: 0},
		{name: "load without target", args: []string{"load", "--tokens", "x"}, want: 2},
		{name: "load non-loopback", args: []string{"load", "--target", "192.0.2.1:9001", "--tokens", os.Args[0]}, want: 2},
		{name: "floor non-loopback", args: []string{"floor", "--addr", "0.0.0.0:0"}, want: 1},
		{name: "gen without out", args: []string{"gen"}, want: 2},
		{name: "suite bad case", args: []string{"suite", "--cases", "everything"}, want: 2},
		{name: "suite bad concurrency", args: []string{"suite", "--concurrency", "1,x"}, want: 2},
		{name: "suite no concurrency", args: []string{"suite", "--concurrency", ""}, want: 2},
		{name: "suite without gen", args: []string{"suite", "--dir", filepath.Join(t.TempDir(), "missing")}, want: 1},
		{name: "revoke-load without admin", args: []string{"revoke-load"}, want: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := run(t.Context(), tt.args, io.Discard, io.Discard); got != tt.want {
				t.Fatalf("run(%q) = %d, want %d", tt.args, got, tt.want)
			}
		})
	}
}
