package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/lestrrat-go/jwx/v2/jwk"
	"github.com/lestrrat-go/jwx/v2/jwt"
)

// runMainEnv makes the test binary act as authzbench itself, so that the
// suite can start it as the floor and as a stand-in for the server.
const runMainEnv = "AUTHZBENCH_TEST_RUN_MAIN"

func TestMain(m *testing.M) {
	if os.Getenv(runMainEnv) == "1" {
		os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// runCmd runs authzbench with args and returns its exit status and output.
func runCmd(ctx context.Context, args ...string) (code int, stdout, stderr string) {
	var out, errs strings.Builder
	code = run(ctx, args, &out, &errs)
	return code, out.String(), errs.String()
}

// TestCommands runs the commands as BENCHMARKS.md shows them, at a small
// scale: gen, load in both loops against the floor, revoke-load, and the
// suite, which starts the floor and the server as processes of their own.
func TestCommands(t *testing.T) {
	dir := t.TempDir()
	if code, _, errs := runCmd(t.Context(), "gen", "--out", dir, "--tokens", "20", "--flood", "14", "--fill", "6", "--revoked", "4"); code != 0 {
		t.Fatalf("gen: exit %d\n%s", code, errs)
	}
	checkGenerated(t, dir)
	floor := serveCheck(t, allowAll{}.Check)
	for _, tt := range []struct {
		args []string
		ok   func(r loadResult) bool
	}{
		{[]string{"--tokens", filepath.Join(dir, "valid-RS256.txt")}, func(r loadResult) bool { return r.Allowed == r.Requests }},
		// The last token is kept for the warm-up; the run stops when the others are used up.
		{[]string{"--tokens", filepath.Join(dir, "valid-ES256.txt"), "--token-mode", "each", "--expect", "deny", "--duration", "1m"},
			func(r loadResult) bool { return r.Requests == 19 && r.WrongDecisions == 19 }},
		// 200/s for 100 ms; latency counts from the scheduled time, so it includes the send lag.
		{[]string{"--tokens", filepath.Join(dir, "valid-EdDSA.txt"), "--mode", "open", "--rate", "200"},
			func(r loadResult) bool {
				return r.Requests == 20 && r.Allowed == 20 && r.Latency.MaxMS >= r.SendLag.MaxMS
			}},
	} {
		args := append([]string{"load", "--target", floor, "--duration", "100ms", "--warmup", "10ms", "--concurrency", "4", "--pid", strconv.Itoa(os.Getpid())}, tt.args...)
		code, out, errs := runCmd(t.Context(), args...)
		var r loadResult
		if err := json.Unmarshal([]byte(out), &r); code != 0 || err != nil || r.Requests == 0 || r.Errors > 0 || r.Server == nil || r.Server.AnonBytes == 0 || !tt.ok(r) {
			t.Fatalf("%v: exit %d, %v\n%s\n%s", args, code, err, out, errs)
		}
	}

	var posted atomic.Int64
	admin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/admin/revocations" && r.Method == http.MethodPost {
			posted.Add(1)
			w.WriteHeader(http.StatusCreated)
		}
	}))
	defer admin.Close()
	code, out, errs := runCmd(t.Context(), "revoke-load", "--admin", strings.TrimPrefix(admin.URL, "http://"),
		"--jtis", filepath.Join(dir, "revoked-jtis.txt"), "--count", "10", "--concurrency", "2")
	if code != 0 || posted.Load() != 10 || !strings.Contains(out, "revoked 10 of 10") {
		t.Fatalf("revoke-load: exit %d, %d posted\n%s\n%s", code, posted.Load(), out, errs)
	}
	// A server that refuses (a wrong path or admin token) stops the load
	// after about 100 failures instead of a million.
	refusing := httptest.NewServer(http.NotFoundHandler())
	defer refusing.Close()
	if code, _, errs := runCmd(t.Context(), "revoke-load", "--admin", strings.TrimPrefix(refusing.URL, "http://")); code != 1 || !strings.Contains(errs, "refuses") {
		t.Fatalf("revoke-load against a refusing server: exit %d\n%s", code, errs)
	}

	// This binary stands in for the server: authzbench floor --config
	// listens on the grpc_addr of the copy of the config it is given.
	t.Setenv(runMainEnv, "1") // inherited by the processes the suite starts
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	results := filepath.Join(dir, "results.json")
	code, out, errs = runCmd(t.Context(), "suite", "--dir", dir, "--out", results, "--server-cmd", exe+" floor --config {config}",
		"--cases", "cached,open,flood", "--algs", "EdDSA", "--concurrency", "2", "--open-fractions", "0.1",
		"--runs", "1", "--duration", "100ms", "--warmup", "10ms")
	for _, want := range []string{"| cached EdDSA c=2 |", "#### Open loop", "| flood garbage.txt c=16 |", "| flood unknown-kid.txt c=16 |", "fewer than 3 runs"} {
		if code != 0 || !strings.Contains(out+errs, want) {
			t.Fatalf("suite: exit %d, no %q\n%s\n%s", code, want, out, errs)
		}
	}
	b, err := os.ReadFile(results)
	var res suiteResults
	if err != nil || json.Unmarshal(b, &res) != nil || len(res.Cases) != 4 {
		t.Fatalf("results.json: %v\n%s", err, b)
	}
	gen, _ := readServerAddrs(filepath.Join(dir, configFile))
	for _, cr := range res.Cases {
		if r := cr.Runs[0]; r.Floor.Server.PID == r.Server.Server.PID || r.Server.Spec.Target == gen.GRPCAddr || r.Server.Errors > 0 || r.Server.Requests == 0 {
			t.Fatalf("%s: %+v; the server must be a process of its own, on a fresh copy of the config", cr.Name, r)
		}
	}
}

func TestCommandLine(t *testing.T) {
	toks := filepath.Join(t.TempDir(), "tokens.txt")
	if err := os.WriteFile(toks, []byte("a.b.c\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(t.TempDir(), "missing")
	for args, want := range map[string]int{
		"": 2, "fly": 2, "help": 0, "load -h": 0, "gen": 2, "gen --out " + missing + " --tokens 0": 2,
		"load --tokens " + toks: 2, "load --target 192.0.2.1:9001 --tokens " + toks: 2,
		"load --target 127.0.0.1:1 --mode burst --tokens " + toks:  2,
		"load --target 127.0.0.1:1 --warmup 10ms --tokens " + toks: 1, // nothing listening
		"floor --addr 0.0.0.0:0":                                   1, "suite --cases everything": 2, "suite --concurrency 1,x": 2, "suite --algs HS256": 2,
		"suite --dir " + missing: 1, "revoke-load": 2, "revoke-load --admin 10.0.0.1:9090 --count 1": 1,
	} {
		if code, _, _ := runCmd(t.Context(), strings.Fields(args)...); code != want {
			t.Errorf("authzbench %s: exit %d, want %d", args, code, want)
		}
	}
}

// checkGenerated checks what gen --tokens 20 --flood 14 --fill 6
// --revoked 4 wrote into dir.
func checkGenerated(t *testing.T, dir string) {
	set, err := jwk.ReadFile(filepath.Join(dir, jwksFile))
	if err != nil || set.Len() != 3 {
		t.Fatalf("jwks.json: %v", err)
	}
	read := func(name string, want int) []string {
		lines, err := readTokens(filepath.Join(dir, name))
		if fi, _ := os.Stat(filepath.Join(dir, name)); err != nil || len(lines) != want || fi.Mode().Perm() != 0o600 {
			t.Fatalf("%s: %d lines, %v; want %d, mode 0600", name, len(lines), err, want)
		}
		return lines
	}
	verifies := func(tok string) bool {
		_, err := jwt.ParseString(tok, jwt.WithKeySet(set), jwt.WithIssuer(benchIssuer), jwt.WithAudience(benchAudience))
		return err == nil
	}
	seen := map[string]bool{}
	for name, n := range map[string]int{validFile("RS256"): 20, validFile("ES256"): 20, validFile("EdDSA"): 20, fillFile: 6, revokedFile: 4} {
		for _, tok := range read(name, n) {
			parsed, _ := jwt.ParseString(tok, jwt.WithVerify(false))
			if !verifies(tok) || seen[parsed.JwtID()] {
				t.Fatalf("%s: a token does not verify, or its jti %s repeats", name, parsed.JwtID())
			}
			seen[parsed.JwtID()] = true
		}
	}
	for _, jti := range read(revokedJTIsFile, 4) {
		if !seen[jti] || !strings.Contains(jti, "-r-RS256-") {
			t.Fatalf("revoked-jtis.txt lists %s, which is not a revoked token's", jti)
		}
	}
	for i, tok := range append(read(unknownKIDFile, 14), read(garbageFile, 14)...) {
		_, err := jwt.ParseString(tok, jwt.WithVerify(false), jwt.WithIssuer(benchIssuer))
		if verifies(tok) || seen[tok] || (i < 14 && err != nil) || strings.ContainsFunc(tok, func(c rune) bool { return c < 0x21 || c > 0x7e }) {
			t.Fatalf("line %d: an unknown-kid or garbage token verifies, repeats, or is not printable ASCII; an unknown-kid token is otherwise invalid (%v)", i, err)
		}
		seen[tok] = true
	}
}

func TestStat(t *testing.T) {
	pair := func(floor, server float64) pairRun {
		return pairRun{Floor: loadResult{Server: &serverUsage{ChecksPerCPUSecond: floor}}, Server: loadResult{Server: &serverUsage{ChecksPerCPUSecond: server}}}
	}
	// The ratio is the median of the per-run ratios (1.5, 1, 2), not the
	// ratio of the medians (200 / 200); a run without a reading is left out.
	cr := caseResult{Runs: []pairRun{pair(100, 150), pair(200, 200), pair(300, 600), {}}}
	if f, s, r := stat(cr, checksPerCPU, floorSide), stat(cr, checksPerCPU, serverSide), stat(cr, checksPerCPU, ratioSide); f != 200 || s != 200 || r != 1.5 {
		t.Fatalf("floor %v, server %v, ratio %v", f, s, r)
	}
	ds := make([]time.Duration, 1000)
	for i := range ds {
		ds[len(ds)-1-i] = time.Duration(i+1) * time.Millisecond
	}
	want := latencySummary{Count: 1000, P50MS: 500, P99MS: 990, P999MS: 999, MaxMS: 1000}
	if got := summarize(ds); got != want || median([]float64{4, 1, 3, 2}) != 2.5 {
		t.Fatalf("summarize = %+v, want %+v", got, want)
	}
}

func TestCheckLoopback(t *testing.T) {
	for addr, want := range map[string]error{
		"127.0.0.1:9001": nil, "127.10.20.30:80": nil, "[::1]:9001": nil, "LOCALHOST:1": nil, "[::ffff:127.0.0.1]:9001": nil,
		"10.0.0.1:9001": errNotLoopback, "0.0.0.0:9001": errNotLoopback, "[::]:9001": errNotLoopback, ":9001": errNotLoopback,
		"localhost.example.com:1": errNotLoopback, "[::1%lo]:9001": errNotLoopback, "127.0.0.1": errAny, "127.0.0.1:": errAny,
	} {
		if err := checkLoopback(addr); !errors.Is(err, want) && (want != errAny || err == nil) {
			t.Errorf("checkLoopback(%q) = %v, want %v", addr, err, want)
		}
	}
}

var errAny = errors.New("any error")
