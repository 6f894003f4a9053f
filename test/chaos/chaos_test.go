package chaos

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"flag"
	"fmt"
	mathrand "math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/time/rate"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
)

var (
	flagDuration        = flag.Duration("chaos.duration", 60*time.Second, "how long traffic and faults run (at least one round of every fault)")
	flagSeed            = flag.Uint64("chaos.seed", 0, "seed of the fault order and the traffic (0: from the clock); printed so a failure replays")
	flagRate            = flag.Int("chaos.rate", 200, "Checks per second from all workers together")
	flagReport          = flag.String("chaos.report", "", "also write the report table to this file (the Cluster run's to FILE.cluster)")
	flagFaults          = flag.String("chaos.faults", "", "run only the faults whose name matches this regular expression")
	flagStallFailover   = flag.Bool("chaos.stall-failover", false, "add a fault to the Sentinel run: both data nodes stalled until Sentinel starts a failover (which it completes in some runs only)")
	flagClusterDuration = flag.Duration("chaos.cluster-duration", 0, "how long the Redis Cluster run lasts (0: a third of -chaos.duration)")
)

const (
	// downAfter is Sentinel's down-after-milliseconds.
	downAfter    = "2000"
	replicaCount = 3
	workers      = 8
	extIssuer    = "https://idp.chaos.test/"
	extAudience  = "chaos-api"
)

// harness is one chaos run: the processes, the token pool, the counters.
type harness struct {
	t        *testing.T
	seed     uint64
	bin      string
	topo     string
	duration time.Duration
	st       *redisserver.SentinelSetup // with topoSentinel
	cluster  *redisserver.ClusterSetup  // with topoCluster
	jwks     *jwksServer
	replicas []*replica
	pool     *pool
	stats    *stats
	client   *http.Client
	limiter  *rate.Limiter
	keyFile  string

	keyMu    sync.Mutex
	extKey   *ecKey // signs new valid external tokens
	attacker *ecKey // a key no JWKS publishes
	keyGen   int
	// retiredKids are external keys withdrawn from the JWKS.
	retiredKids map[string]bool
	cfgGen      int // which of the two good config variants is on disk
	mintCount   int

	// running is the name of the fault running, for its timeline.
	running string
	// emptied counts the Redis faults that may lose sessions (see
	// storeLoss); emptying says the fault running moved it.
	emptied  atomic.Int64
	emptying bool
	// stopServing ends the watch of the fault running (watchServing).
	stopServing func()
	// spares are sessions minted ahead for refreshChain (mintSpares).
	spares chan sessionTok
	// sets are the session sets answered 201 (setRevoker), for sweepSets.
	setsMu sync.Mutex
	sets   []ackedSet
}

func TestChaos(t *testing.T) {
	runChaos(t, topoSentinel, *flagDuration)
}

// TestChaosCluster is a shorter run on a Redis Cluster of three primaries
// with one replica each.
func TestChaosCluster(t *testing.T) {
	d := *flagClusterDuration
	if d == 0 {
		d = *flagDuration / 3
	}
	runChaos(t, topoCluster, d)
}

// The Redis topologies the replicas share.
const (
	topoSentinel = "Redis Sentinel"
	topoCluster  = "Redis Cluster (3 primaries, 3 replicas)"
)

func runChaos(t *testing.T, topo string, duration time.Duration) {
	if testing.Short() {
		t.Skip("the chaos suite runs real processes for a minute; skipped with -short")
	}
	seed := *flagSeed
	if seed == 0 {
		seed = uint64(time.Now().UnixNano())
	}
	t.Logf("chaos: seed %d (replay with -chaos.seed=%d), %s, duration %s, %d Checks/s", seed, seed, topo, duration, *flagRate)
	h := &harness{t: t, seed: seed, topo: topo, duration: duration, pool: &pool{}, stats: newStats(),
		client:  &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}},
		limiter: rate.NewLimiter(rate.Limit(*flagRate), *flagRate/10+1), spares: make(chan sessionTok, spareSessions)}
	rng := mathrand.New(mathrand.NewPCG(seed, 1))

	h.bin = buildBinary(t)
	switch topo {
	case topoSentinel:
		h.st = redisserver.NewSentinel(t)
		// A failover that found no replica to promote (both data nodes
		// stalled) delays the next by twice failover-timeout; a primary is
		// declared down after 2 s without an answer, so that a busy machine
		// does not cause a failover the test did not inject.
		redisDo(context.Background(), h.st.Sentinel.Addr(), "SENTINEL", "SET", h.st.MasterName,
			"failover-timeout", "3000", "down-after-milliseconds", downAfter)
	case topoCluster:
		h.cluster = redisserver.NewClusterWithReplicas(t)
	}
	h.extKey, h.attacker = newECKey("ext-1"), newECKey("ext-1")
	h.keyGen = 1
	h.retiredKids = map[string]bool{}
	h.jwks = newJWKSServer(h.extKey)
	t.Cleanup(func() {
		h.jwks.setMode(jwksOK)
		h.jwks.Close()
	})
	h.keyFile = writeSigningKey(t)
	h.seedTokens()

	ctx, cancel := context.WithTimeout(context.Background(), duration+8*time.Minute)
	defer cancel()
	logDir := keptDir(t)
	for i := range replicaCount {
		dir := t.TempDir()
		r := &replica{h: h, idx: i, dataDir: dir, cfgPath: filepath.Join(dir, "config.yaml"), logPath: filepath.Join(logDir, fmt.Sprintf("replica-%d.log", i))}
		if err := writeFileAtomic(r.cfgPath, []byte(h.config(r, 0))); err != nil {
			t.Fatal(err)
		}
		h.replicas = append(h.replicas, r)
		t.Cleanup(r.stop)
	}
	for _, r := range h.replicas {
		if err := h.bringUp(ctx, r); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		if t.Failed() {
			for _, r := range h.replicas {
				t.Logf("replica %d log tail (whole log kept in %s):\n%s", r.idx, r.logPath, tail(r.logPath))
			}
		}
	}()

	// Traffic.
	trafficCtx, stopTraffic := context.WithCancel(ctx)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer stopTraffic()
	for i := range workers {
		wrng := mathrand.New(mathrand.NewPCG(seed, uint64(100+i)))
		wg.Go(func() { h.worker(trafficCtx, wrng) })
	}
	wg.Go(func() { h.revoker(trafficCtx, mathrand.New(mathrand.NewPCG(seed, 2)), 300*time.Millisecond) })
	wg.Go(func() { h.refreshRacer(trafficCtx, mathrand.New(mathrand.NewPCG(seed, 3)), 500*time.Millisecond) })
	wg.Go(func() { h.refreshChain(trafficCtx, mathrand.New(mathrand.NewPCG(seed, 4)), 250*time.Millisecond) })
	wg.Go(func() { h.mintSpares(trafficCtx, mathrand.New(mathrand.NewPCG(seed, 5)), 100*time.Millisecond) })
	wg.Go(func() { h.watchFailClosed(trafficCtx) })
	wg.Go(func() { h.setRevoker(trafficCtx, mathrand.New(mathrand.NewPCG(seed, 6))) })

	h.waitRequests(ctx, 400)
	before := h.sample(ctx)

	// Faults, one after another, in a seeded order, until the duration is
	// over and every fault ran at least once.
	faults := h.faults()
	if len(faults) == 0 {
		t.Fatalf("no fault matches -chaos.faults=%q", *flagFaults)
	}
	deadline := time.Now().Add(duration)
	for round := 0; ; round++ {
		order := rng.Perm(len(faults))
		for _, i := range order {
			if round > 0 && time.Now().After(deadline) {
				break
			}
			f := faults[i]
			h.waitRequests(ctx, 300) // a steady stretch between faults
			t.Logf("%s fault %s", time.Now().UTC().Format("15:04:05.000"), f.name)
			t0 := time.Now()
			h.running = f.name
			if err := f.run(ctx, rng); err != nil {
				stopTraffic()
				wg.Wait()
				t.Fatalf("fault %s: %v\n%s", f.name, err, h.stats.report(h.head()))
			}
			h.stats.fault(f.name, time.Since(t0))
			if f.sweep {
				if err := h.sweep(ctx, false); err != nil {
					t.Fatalf("after fault %s: %v", f.name, err)
				}
			}
		}
		if time.Now().After(deadline) {
			break
		}
	}
	h.waitRequests(ctx, 300)
	stopTraffic()
	wg.Wait()

	// Every revocation answered 201 is denied by every replica.
	if err := h.sweep(ctx, true); err != nil {
		t.Fatal(err)
	}
	after := h.sample(ctx)
	for _, r := range h.replicas {
		b, a := before[r.idx], after[r.idx]
		h.stats.replicaRow = append(h.stats.replicaRow, fmt.Sprintf("%-8d %9d %11.0f / %-10.0f %12.1f / %-12.1f",
			r.idx, r.state().incarnation-1, b.goroutines, a.goroutines, b.rss/(1<<20), a.rss/(1<<20)))
	}
	report := h.stats.report(h.head())
	t.Log("\n" + report)
	if *flagReport != "" {
		file := *flagReport
		if topo == topoCluster {
			file += ".cluster"
		}
		if err := os.WriteFile(file, []byte(report), 0o644); err != nil {
			t.Error(err)
		}
	}
	for _, c := range mustZeroCols {
		if n := h.stats.mustZero[c]; n != 0 {
			t.Errorf("%s: %d (seed %d)", c, n, seed)
		}
	}
}

func (h *harness) head() string {
	v, b, r := h.pool.sizes()
	return fmt.Sprintf("chaos report: seed %d, duration %s, %d replicas on %s, %d Checks/s; tokens: %d valid, %d bad, %d revoked",
		h.seed, h.duration, replicaCount, h.topo, *flagRate, v, b, r)
}

// bringUp starts r (again), waits for readiness and puts it into traffic.
// Every revocation answered 201 before the process started must be
// enforced by it from its first answer.
func (h *harness) bringUp(ctx context.Context, r *replica) error {
	seq := h.pool.revSeq.Load()
	sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	if err := r.start(sctx); err != nil {
		return err
	}
	if err := r.waitReady(sctx); err != nil {
		return err
	}
	r.update(func(st *replicaState) {
		st.up = true
		st.incarnation++
		st.failClosed = failClosedSample{}
		st.epoch++
		st.steady = true
		st.confirmedSeq = seq
	})
	return nil
}

// waitRequests waits until n more requests have been judged.
func (h *harness) waitRequests(ctx context.Context, n int) {
	target := h.stats.completed.Load() + int64(n)
	for h.stats.completed.Load() < target {
		select {
		case <-h.stats.progress:
		case <-ctx.Done():
			return
		}
	}
}

type usage struct{ goroutines, rss float64 }

func (h *harness) sample(ctx context.Context) map[int]usage {
	out := map[int]usage{}
	for _, r := range h.replicas {
		m, err := r.metrics(ctx)
		if err != nil {
			h.t.Logf("replica %d: %v", r.idx, err)
			continue
		}
		out[r.idx] = usage{m.sum("go_goroutines"), m.sum("process_resident_memory_bytes")}
	}
	return out
}

// config is a replica's config file; variant 0 and 1 differ in the
// external provider's clock_skew, which changes the provider on reload.
func (h *harness) config(r *replica, variant int) string {
	return fmt.Sprintf(`grpc_addr: 127.0.0.1:0
http_addr: 127.0.0.1:0
admin_addr: 127.0.0.1:0
data_dir: %s
log_level: info
log_format: json
token_endpoint_rate_limit:
  requests_per_second: 0
providers:
  - name: ext
    issuer: %s
    audiences: [%s]
    jwks_uri: %s/jwks.json
    algorithms: [ES256]
    clock_skew: %ds
    jwks_refresh_interval: 1s
    jwks_min_refresh_interval: 1s
revocation:
  store: redis
%s  max_staleness: 3s
  sync_interval: 5s
issuer:
  issuer: http://authz.chaos.test
  signing_key_file: %s
  access_token_ttl: 2h
`, r.dataDir, extIssuer, extAudience, h.jwks.URL, 30+variant, h.redisYAML(), h.keyFile)
}

// redisYAML is the topology part of the revocation block.
func (h *harness) redisYAML() string {
	if h.cluster != nil {
		return fmt.Sprintf("  redis_cluster:\n    addrs: [%s]\n", strings.Join(h.cluster.Addrs(), ", "))
	}
	return fmt.Sprintf("  redis_sentinel:\n    master_name: %s\n    addrs: [%s]\n", h.st.MasterName, h.st.Sentinel.Addr())
}

// seedTokens fills the pool: valid external tokens, and tokens that must
// never be allowed.
func (h *harness) seedTokens() {
	now := time.Now()
	for range 60 {
		h.pool.add(h.newExtToken(classValid, now, 2*time.Hour))
	}
	for range 10 {
		t := h.newExtToken(classBad, now.Add(-3*time.Hour), time.Hour) // expired two hours ago
		t.kind = "expired"
		h.pool.add(t)
	}
	claims := func() map[string]any {
		return map[string]any{"iss": extIssuer, "aud": extAudience, "sub": "mallory", "iat": now.Unix(), "exp": now.Add(2 * time.Hour).Unix(), "jti": randomID()}
	}
	for range 10 {
		h.pool.add(newTok(h.attacker.sign("ext-1", claims()), "bad_signature", classBad))
		h.pool.add(newTok(h.attacker.sign("kid-nobody-has", claims()), "unknown_kid", classBad))
	}
	hdr := b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	body := b64.EncodeToString([]byte(fmt.Sprintf(`{"iss":%q,"aud":%q,"sub":"mallory","exp":%d}`, extIssuer, extAudience, now.Add(time.Hour).Unix())))
	h.pool.add(newTok(hdr+"."+body+".", "alg_none", classBad))
	for _, g := range []string{"garbage", "a.b.c", "eyJhbGciOiJFUzI1NiJ9.e30.AAAA", randomID() + "." + randomID() + "." + randomID()} {
		h.pool.add(newTok(g, "garbage", classBad))
	}
}

// addExtValid adds a valid token signed with the current key; a key
// rotation retires the tokens of the old key under the same lock, so none
// signed with it joins the valid set afterwards.
func (h *harness) addExtValid() {
	h.keyMu.Lock()
	defer h.keyMu.Unlock()
	h.pool.add(h.newExtToken(classValid, time.Now(), 2*time.Hour))
}

// newExtToken signs a token of the external provider with the current
// key; the caller holds keyMu.
func (h *harness) newExtToken(c class, iat time.Time, ttl time.Duration) *tok {
	return h.newExtSessionToken(c, iat, ttl, "")
}

// newExtSessionToken is newExtToken with a sid claim (none when sid is
// ""); the caller holds keyMu.
func (h *harness) newExtSessionToken(c class, iat time.Time, ttl time.Duration, sid string) *tok {
	k := h.extKey
	claims := map[string]any{"iss": extIssuer, "aud": extAudience, "sub": "user-" + randomID()[:6],
		"iat": iat.Unix(), "exp": iat.Add(ttl).Unix(), "jti": randomID(), "scope": "read"}
	if sid != "" {
		claims["sid"] = sid
	}
	t := newTok(k.sign(k.kid, claims), "ext", c)
	t.kid = k.kid
	t.sid = sid
	return t
}

func randomID() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return b64.EncodeToString(b[:])
}

// keptDir returns a directory for the replicas' logs, removed at the end
// unless the test failed.
func keptDir(t *testing.T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "jwt-authz-chaos-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if !t.Failed() {
			_ = os.RemoveAll(dir)
		}
	})
	return dir
}

var (
	buildOnce sync.Once
	builtDir  string
	builtBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if builtDir != "" {
		_ = os.RemoveAll(builtDir)
	}
	os.Exit(code)
}

// buildBinary builds cmd/jwt-authz as a release build does, once per run
// of the package.
func buildBinary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		gobin, err := exec.LookPath("go")
		if err != nil {
			gobin = filepath.Join(runtime.GOROOT(), "bin", "go")
		}
		if builtDir, buildErr = os.MkdirTemp("", "jwt-authz-chaos-bin-"); buildErr != nil {
			return
		}
		builtBin = filepath.Join(builtDir, "jwt-authz")
		cmd := exec.Command(gobin, "build", "-trimpath", "-tags", "grpcnotrace", "-o", builtBin, "github.com/jwt-authz/jwt-authz/cmd/jwt-authz")
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// writeSigningKey writes the issuer key every replica shares.
func writeSigningKey(t *testing.T) string {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "signing-key.pem")
	if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}
