package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
)

// faultTimeout bounds one fault from its start to the recovery of every
// replica; recovery is observed (readiness, metrics), never waited for by
// time.
const faultTimeout = 2 * time.Minute

// fault is one injected failure and the wait for its recovery.
type fault struct {
	name  string
	sweep bool // check afterwards that every replica applies every revocation
	run   func(ctx context.Context, rng *mathrand.Rand) error
}

func (h *harness) faults() []fault {
	jwks := func(m jwksMode) func(context.Context, *mathrand.Rand) error {
		return func(ctx context.Context, _ *mathrand.Rand) error { return h.faultJWKS(ctx, m) }
	}
	var store []fault
	if h.cluster != nil {
		store = []fault{
			{"cluster primary killed", true, h.faultClusterFailover},
			{"cluster restarted empty", true, h.faultClusterRestartEmpty},
			{"cluster stalled (SIGSTOP)", true, h.faultClusterStall},
		}
	} else {
		store = []fault{
			{"redis primary killed", true, h.faultFailover},
			{"redis restarted empty", true, h.faultRestartEmpty},
			{"redis stalled (SIGSTOP)", true, h.faultStall},
		}
		if *flagStallFailover {
			store = append(store, fault{"redis stalled, failover attempted", true, h.faultStallFailover})
		}
	}
	all := append(store, []fault{
		{"replica kill -9", true, h.faultKillReplica},
		{"jwks 500", false, jwks(jwks500)},
		{"jwks hang", false, jwks(jwksHang)},
		{"jwks garbage", false, jwks(jwksGarbage)},
		{"jwks key rotation", false, h.faultRotate},
		{"SIGHUP good config", false, h.faultReloadGood},
		{"SIGHUP broken config", false, h.faultReloadBroken},
	}...)
	only := regexp.MustCompile(*flagFaults)
	var out []fault
	for _, f := range all {
		if only.MatchString(f.name) {
			out = append(out, f)
		}
	}
	return out
}

// setSteady starts (false) or ends (true) a fault window on replicas.
func setSteady(steady bool, rs ...*replica) {
	for _, r := range rs {
		r.update(func(st *replicaState) {
			st.epoch++
			st.steady = steady
		})
	}
}

// setStale marks replicas as seen past max_staleness (true), or ends the
// mark (false) before the store can answer them again.
func setStale(stale bool, rs ...*replica) {
	for _, r := range rs {
		r.update(func(st *replicaState) {
			st.staleGen++
			st.stale = stale
		})
	}
}

func setReloading(on bool, rs ...*replica) {
	for _, r := range rs {
		r.update(func(st *replicaState) {
			st.reloadGen++
			st.reloading = on
		})
	}
}

// faultKillReplica kills one replica with SIGKILL and starts it again on
// its data directory.
func (h *harness) faultKillReplica(ctx context.Context, rng *mathrand.Rand) error {
	ctx, cancel := context.WithTimeout(ctx, faultTimeout)
	defer cancel()
	r := h.replicas[rng.IntN(len(h.replicas))]
	var conn interface{ Close() error }
	r.update(func(st *replicaState) {
		st.up = false
		st.epoch++
		st.steady = false
		if st.conn != nil {
			conn = st.conn
		}
		st.conn = nil
	})
	r.kill()
	if conn != nil {
		_ = conn.Close()
	}
	return h.bringUp(ctx, r)
}

// faultFailover kills the Redis primary; Sentinel promotes the replica,
// and the old primary comes back empty and becomes a replica.
func (h *harness) faultFailover(ctx context.Context, _ *mathrand.Rand) error {
	ctx, cancel := context.WithTimeout(ctx, faultTimeout)
	defer cancel()
	primary, other, err := h.redisRoles(ctx)
	if err != nil {
		return err
	}
	restored := h.metricAll(ctx, "jwt_authz_revocation_syncs_total", `mode="restore"`, `result="success"`)
	setSteady(false, h.replicas...)
	h.storeInjected(false)
	primary.Stop()
	h.watchServing(ctx)
	if err := poll(ctx, func(ctx context.Context) bool {
		addr, err := h.st.PrimaryAddr(ctx)
		return err == nil && addr == other.Addr() && redisRole(ctx, other.Addr()).role == "master"
	}, func() string { return "sentinel to promote " + other.Addr() }); err != nil {
		return err
	}
	primary.Start()
	return h.redisRecovered(ctx, restored)
}

// faultRestartEmpty restarts both Redis data nodes without their data.
func (h *harness) faultRestartEmpty(ctx context.Context, _ *mathrand.Rand) error {
	ctx, cancel := context.WithTimeout(ctx, faultTimeout)
	defer cancel()
	primary, other, err := h.redisRoles(ctx)
	if err != nil {
		return err
	}
	restored := h.metricAll(ctx, "jwt_authz_revocation_syncs_total", `mode="restore"`, `result="success"`)
	setSteady(false, h.replicas...)
	h.storeInjected(true)
	other.Stop()
	primary.Stop()
	h.watchServing(ctx)
	primary.Start()
	other.Start()
	return h.redisRecovered(ctx, restored)
}

// faultStall stops both Redis data nodes with SIGSTOP until every replica
// has passed max_staleness (not ready), then lets them run. The sentinel
// keeps running (a sentinel that was stopped itself enters TILT mode and
// would then refuse to promote a replica that was cut off longer than it),
// told not to fail over meanwhile: this fault is a stall, not a failover.
func (h *harness) faultStall(ctx context.Context, _ *mathrand.Rand) error {
	ctx, cancel := context.WithTimeout(ctx, faultTimeout)
	defer cancel()
	setSteady(false, h.replicas...)
	redisDo(ctx, h.st.Sentinel.Addr(), "SENTINEL", "SET", h.st.MasterName, "down-after-milliseconds", "600000")
	defer redisDo(context.WithoutCancel(ctx), h.st.Sentinel.Addr(), "SENTINEL", "SET", h.st.MasterName, "down-after-milliseconds", downAfter)
	h.storeInjected(false)
	resume, err := h.stallData(ctx, h.st.Primary, h.st.Replica)
	defer resume()
	if err != nil {
		return err
	}
	resume()
	h.watchServing(ctx)
	return h.redisRecovered(ctx, nil)
}

// stallData stops Redis data nodes with SIGSTOP and waits until every
// replica has passed max_staleness: /readyz answers 503 naming the store.
// From then on until resume the replica is marked past max_staleness, and
// every answer it gives must fail closed (see request); 100 requests are
// judged so before stallData returns. The returned
// resume ends the marks and then lets the nodes run again; calls after the
// first do nothing.
func (h *harness) stallData(ctx context.Context, nodes ...*redisserver.Server) (resume func(), err error) {
	for _, n := range nodes {
		n.Pause()
	}
	resume = sync.OnceFunc(func() {
		setStale(false, h.replicas...)
		for _, n := range nodes {
			n.Resume()
		}
	})
	for _, r := range h.replicas {
		if err := poll(ctx, r.storeStale,
			func() string { return fmt.Sprintf("replica %d to fail closed past max_staleness", r.idx) }); err != nil {
			return resume, err
		}
		setStale(true, r)
	}
	// Some traffic on the stale replicas, all of which must fail closed.
	h.waitRequests(ctx, 100)
	return resume, nil
}

// faultStallFailover stops both Redis data nodes with SIGSTOP until every
// replica has passed max_staleness and Sentinel has declared the primary
// down and started a failover, then lets both run. Sentinel promotes the
// replica only when its last INFO of it is recent enough (it asks every
// 10 s), so in some runs the old primary, running again, is a primary for
// a moment next to the new one; in others the failover is abandoned. Off
// by default (-chaos.stall-failover).
func (h *harness) faultStallFailover(ctx context.Context, _ *mathrand.Rand) error {
	ctx, cancel := context.WithTimeout(ctx, faultTimeout)
	defer cancel()
	setSteady(false, h.replicas...)
	h.storeInjected(false)
	resume, err := h.stallData(ctx, h.st.Primary, h.st.Replica)
	defer resume()
	if err != nil {
		return err
	}
	if err := poll(ctx, func(ctx context.Context) bool {
		sc := goredis.NewSentinelClient(&goredis.Options{Addr: h.st.Sentinel.Addr(), MaxRetries: -1})
		defer sc.Close()
		m, err := sc.Master(ctx, h.st.MasterName).Result()
		return err == nil && strings.Contains(m["flags"], "failover_in_progress")
	}, func() string { return "Sentinel to start a failover" }); err != nil {
		return err
	}
	resume()
	h.watchServing(ctx)
	return h.redisRecovered(ctx, nil)
}

// redisRecovered waits until Redis is healthy again (under Sentinel: it
// names a primary that is one, the other node replicates it and Sentinel
// knows that; a Cluster: see waitClusterHealthy), every replica wrote
// back what it holds (when restored is not nil: the dataset changed) and
// every replica is ready; then the fault window ends. The fault's
// timeline (storeInjected) gets its failover time (watchServing, at the
// latest now that Redis is healthy) and its recovery.
func (h *harness) redisRecovered(ctx context.Context, restored map[int]float64) error {
	waitHealthy := h.waitRedisHealthy
	if h.cluster != nil {
		waitHealthy = h.waitClusterHealthy
	}
	if err := waitHealthy(ctx); err != nil {
		return err
	}
	if h.stopServing != nil {
		h.stopServing()
		h.stopServing = nil
	}
	for _, r := range h.replicas {
		if restored != nil {
			if err := r.waitMetricAbove(ctx, restored[r.idx], "jwt_authz_revocation_syncs_total", `mode="restore"`, `result="success"`); err != nil {
				return fmt.Errorf("no write-back after the dataset changed: %w", err)
			}
		}
		if err := r.waitReady(ctx); err != nil {
			return err
		}
	}
	setSteady(true, h.replicas...)
	h.storeRecovered()
	return nil
}

// redisRoles returns the data node Sentinel names the primary, and the other.
func (h *harness) redisRoles(ctx context.Context) (primary, other *redisserver.Server, err error) {
	addr, err := h.st.PrimaryAddr(ctx)
	if err != nil {
		return nil, nil, err
	}
	switch addr {
	case h.st.Primary.Addr():
		return h.st.Primary, h.st.Replica, nil
	case h.st.Replica.Addr():
		return h.st.Replica, h.st.Primary, nil
	}
	return nil, nil, fmt.Errorf("sentinel names %s, neither data node", addr)
}

// waitRedisHealthy waits until the data nodes match Sentinel's view: the
// named primary is a primary, the other its replica with the link up, and
// Sentinel lists that replica as healthy (so a later failover can
// happen). A node that came back with the wrong role is told its role, as
// an operator would.
func (h *harness) waitRedisHealthy(ctx context.Context) error {
	return poll(ctx, func(ctx context.Context) bool {
		primary, other, err := h.redisRoles(ctx)
		if err != nil {
			return false
		}
		if redisRole(ctx, primary.Addr()).role != "master" {
			redisDo(ctx, primary.Addr(), "REPLICAOF", "NO", "ONE")
			return false
		}
		host, port, _ := net.SplitHostPort(primary.Addr())
		o := redisRole(ctx, other.Addr())
		if o.role != "slave" || o.masterPort != port {
			redisDo(ctx, other.Addr(), "REPLICAOF", host, port)
			return false
		}
		if !o.linkUp {
			return false
		}
		sc := goredis.NewSentinelClient(&goredis.Options{Addr: h.st.Sentinel.Addr(), MaxRetries: -1})
		defer sc.Close()
		reps, err := sc.Replicas(ctx, h.st.MasterName).Result()
		if err != nil {
			return false
		}
		_, oport, _ := net.SplitHostPort(other.Addr())
		for _, rep := range reps {
			if rep["port"] == oport && !strings.Contains(rep["flags"], "disconnected") && !strings.Contains(rep["flags"], "s_down") {
				return true
			}
		}
		return false
	}, func() string { return "Redis to be healthy again under Sentinel" })
}

type roleInfo struct {
	role, masterPort string
	linkUp           bool
	replicas         int // connected_slaves of a primary
}

func redisRole(ctx context.Context, addr string) roleInfo {
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, PoolSize: 1, DialTimeout: time.Second})
	defer c.Close()
	info, _ := c.Info(ctx, "replication").Result()
	var ri roleInfo
	for line := range strings.Lines(info) {
		k, v, _ := strings.Cut(strings.TrimSpace(line), ":")
		switch k {
		case "role":
			ri.role = v
		case "master_port":
			ri.masterPort = v
		case "master_link_status":
			ri.linkUp = v == "up"
		case "connected_slaves":
			ri.replicas, _ = strconv.Atoi(v)
		}
	}
	return ri
}

func redisDo(ctx context.Context, addr string, args ...any) {
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, PoolSize: 1, DialTimeout: time.Second})
	defer c.Close()
	_ = c.Do(ctx, args...).Err()
}

// metricAll reads one series on every replica.
func (h *harness) metricAll(ctx context.Context, name string, labels ...string) map[int]float64 {
	out := map[int]float64{}
	for _, r := range h.replicas {
		out[r.idx] = r.metric(ctx, name, labels...)
	}
	return out
}

// faultJWKS makes the JWKS endpoint fail in one way until every replica
// could have noticed (failed fetches, or held ones), then heals it and
// waits for every replica to fetch successfully again. The last good keys
// keep serving meanwhile (jwks_max_stale is 24 h): valid tokens must be
// allowed throughout.
func (h *harness) faultJWKS(ctx context.Context, mode jwksMode) error {
	ctx, cancel := context.WithTimeout(ctx, faultTimeout)
	defer cancel()
	ok := func(ctx context.Context, r *replica) float64 {
		m, err := r.metrics(ctx)
		if err != nil {
			return -1
		}
		return m.sum("jwt_authz_jwks_fetch_total", `provider="ext"`, `result="success"`) +
			m.sum("jwt_authz_jwks_fetch_total", `provider="ext"`, `result="not_modified"`)
	}
	failed := h.jwks.failed.Load()
	h.jwks.setMode(mode)
	defer h.jwks.setMode(jwksOK)
	var err error
	if mode == jwksHang {
		err = poll(ctx, func(context.Context) bool { return h.jwks.hanging.Load() >= replicaCount },
			func() string { return "JWKS fetches to hang" })
	} else {
		err = poll(ctx, func(context.Context) bool { return h.jwks.failed.Load() >= failed+2*replicaCount },
			func() string { return "JWKS fetches to fail" })
	}
	if err != nil {
		return err
	}
	before := map[int]float64{}
	for _, r := range h.replicas {
		before[r.idx] = ok(ctx, r)
	}
	h.jwks.setMode(jwksOK)
	for _, r := range h.replicas {
		if err := poll(ctx, func(ctx context.Context) bool { return ok(ctx, r) > before[r.idx] },
			func() string { return fmt.Sprintf("replica %d to fetch the JWKS again", r.idx) }); err != nil {
			return err
		}
	}
	return nil
}

// faultRotate rotates the external provider's key: the new key is
// published next to the old one, every replica has it before tokens are
// signed with it, then the old key is withdrawn. Once every replica
// dropped the old key, its tokens must be denied.
func (h *harness) faultRotate(ctx context.Context, _ *mathrand.Rand) error {
	ctx, cancel := context.WithTimeout(ctx, faultTimeout)
	defer cancel()
	h.keyMu.Lock()
	h.keyGen++
	next := newECKey(fmt.Sprintf("ext-%d", h.keyGen))
	old := h.extKey
	h.keyMu.Unlock()
	h.jwks.setKeys(old, next)
	if err := h.waitKeys(ctx, old.kid, next.kid); err != nil {
		return err
	}
	h.keyMu.Lock()
	h.extKey = next
	retired := h.pool.retire(old.kid)
	h.keyMu.Unlock()
	h.jwks.setKeys(next)
	if err := h.waitKeys(ctx, next.kid); err != nil {
		return err
	}
	h.keyMu.Lock()
	h.retiredKids[old.kid] = true
	h.keyMu.Unlock()
	for _, t := range retired {
		t.setClass(classBad)
		h.pool.add(t)
	}
	return nil
}

// retired reports whether t was signed with a key no longer published.
func (h *harness) retired(t *tok) bool {
	h.keyMu.Lock()
	defer h.keyMu.Unlock()
	return t.kid != "" && h.retiredKids[t.kid]
}

// waitKeys refreshes every replica's JWKS through the admin API until its
// key ids are exactly want.
func (h *harness) waitKeys(ctx context.Context, want ...string) error {
	for _, r := range h.replicas {
		var last string
		err := poll(ctx, func(ctx context.Context) bool {
			status, body, err := h.post(ctx, r.state().adminAddr, "/admin/jwks/refresh?provider=ext", "application/json", "{}")
			last = fmt.Sprintf("%s %s", statusText(status, err), body)
			if err != nil || status != http.StatusOK {
				return false
			}
			var out struct {
				Providers []struct {
					KeyIDs []string `json:"key_ids"`
				} `json:"providers"`
			}
			if json.Unmarshal(body, &out) != nil || len(out.Providers) != 1 {
				return false
			}
			return slices.Equal(slices.Sorted(slices.Values(out.Providers[0].KeyIDs)), slices.Sorted(slices.Values(want)))
		}, func() string { return fmt.Sprintf("replica %d to hold keys %v (last answer: %s)", r.idx, want, last) })
		if err != nil {
			return err
		}
	}
	return nil
}

// faultReloadGood switches every replica to the other good config (the
// external provider's clock_skew changes, so the provider is rebuilt)
// with SIGHUP, under load: no request may be lost or decided wrongly.
func (h *harness) faultReloadGood(ctx context.Context, _ *mathrand.Rand) error {
	ctx, cancel := context.WithTimeout(ctx, faultTimeout)
	defer cancel()
	h.cfgGen ^= 1
	setReloading(true, h.replicas...)
	defer setReloading(false, h.replicas...)
	return h.reload(ctx, "success", func(r *replica) string { return h.config(r, h.cfgGen) })
}

// faultReloadBroken writes a config with an unknown key and sends SIGHUP:
// the reload is refused and the running config keeps serving; then the
// good file comes back.
func (h *harness) faultReloadBroken(ctx context.Context, _ *mathrand.Rand) error {
	ctx, cancel := context.WithTimeout(ctx, faultTimeout)
	defer cancel()
	setReloading(true, h.replicas...)
	defer setReloading(false, h.replicas...)
	if err := h.reload(ctx, "error", func(r *replica) string { return h.config(r, h.cfgGen) + "chaos_unknown_key: 1\n" }); err != nil {
		return err
	}
	return h.reload(ctx, "success", func(r *replica) string { return h.config(r, h.cfgGen) })
}

// reload writes each replica's config, sends SIGHUP and waits for the
// reload counter of result to move.
func (h *harness) reload(ctx context.Context, result string, cfg func(*replica) string) error {
	before := h.metricAll(ctx, "jwt_authz_config_reload_total", `result="`+result+`"`)
	for _, r := range h.replicas {
		if err := writeFileAtomic(r.cfgPath, []byte(cfg(r))); err != nil {
			return err
		}
		if err := r.signal(syscall.SIGHUP); err != nil {
			return err
		}
	}
	for _, r := range h.replicas {
		if err := r.waitMetricAbove(ctx, before[r.idx], "jwt_authz_config_reload_total", `result="`+result+`"`); err != nil {
			return err
		}
	}
	return nil
}

// sweep checks that every up replica denies every token revoked with a
// 201 so far (all: also those it was already seen denying). A replica is
// given 30 s to apply them (the contract is within a second); what is
// still allowed then is lost. Then the store must still hold every session
// set answered 201 (sweepSets).
func (h *harness) sweep(ctx context.Context, all bool) error {
	seq := h.pool.revSeq.Load()
	toks := h.pool.revokedUpTo(seq)
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for _, r := range h.replicas {
		st := r.state()
		if !st.up {
			continue
		}
		var pending []*tok
		for _, t := range toks {
			if all || t.rev.Load().confirmed[r.idx].Load() != st.incarnation {
				pending = append(pending, t)
			}
		}
		last := map[*tok]answer{}
		for len(pending) > 0 {
			var kept []*tok
			for _, t := range pending {
				a := checkGRPC(sctx, st, t.s)
				if a.kind == "deny" && a.reason == "revoked" {
					t.rev.Load().confirmed[r.idx].Store(st.incarnation)
					continue
				}
				if a.kind == "deny" && h.retired(t) {
					continue // its key is gone: denied before revocation is looked at
				}
				last[t] = a
				kept = append(kept, t)
			}
			pending = kept
			if len(pending) == 0 {
				break
			}
			select {
			case <-sctx.Done():
				for _, t := range pending {
					rec := t.rev.Load()
					by := ""
					if rec.set != "" {
						by = fmt.Sprintf(" by its sid %s in session set %s", t.sid, rec.set)
					}
					h.stats.revocationLost(fmt.Sprintf("%s token revoked%s (#%d, 201 at %s) answered %s %s by replica %d",
						t.kind, by, rec.seq, rec.at.UTC().Format("15:04:05.000"), last[t].kind, last[t].reason, r.idx))
				}
				pending = nil
			case <-time.After(50 * time.Millisecond):
			}
		}
		r.update(func(cur *replicaState) {
			if cur.incarnation == st.incarnation && cur.confirmedSeq < seq {
				cur.confirmedSeq = seq
			}
		})
	}
	h.sweepSets(ctx)
	return nil
}
