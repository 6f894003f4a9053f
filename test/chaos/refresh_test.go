package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// How long after a Redis failover is complete a client may still fail to
// reach the new primary, by how go-redis finds it (docs/chaos.md, "Refreshes
// around a Redis fault"). A refresh answered 503 that starts later than
// that, while the fault's window is still open, failed closed for longer
// than the failover.
const (
	// graceSentinel: the failover client is told of the new primary by the
	// sentinel's +switch-master message, published before the sentinel
	// shows the failover complete, and asks the sentinel for the primary
	// before every dial; the connections to other nodes are closed at the
	// message. That is a message and a dial on loopback; 250 ms leaves room
	// for a busy machine, no more.
	graceSentinel = 250 * time.Millisecond
	// graceCluster: the Cluster client learns a promotion only when it
	// reloads its slot map, which it does at a command that fails without
	// a reply or is redirected (MOVED), at most once per 200 ms, and each
	// replica's revocation pull sends such a command to the revocation
	// keys' shard every probe interval (1 s).
	graceCluster = 1200 * time.Millisecond
)

// sessionTok is a refresh token the traffic holds, with the Redis faults
// that may have lost its session since it was asked for.
type sessionTok struct {
	refresh string
	name    string // the session's subject, for examples
	rotated bool   // from a rotation, not from creating the session (for examples)
	loss    storeLoss
}

// storeLoss counts the Redis faults that may lose sessions: those that
// empty the dataset. A failover loses none: a session's creation and
// rotation are acknowledged only once a replica has them, or once the
// sentinels or the other Cluster primaries confirmed the node. The count
// moves when such a fault starts and again when its recovery is observed:
// an odd count is a fault in progress.
type storeLoss struct{ emptied int64 }

func (h *harness) storeLoss() storeLoss {
	return storeLoss{h.emptied.Load()}
}

// lost reports whether the store may have lost t's session: a fault
// emptied the dataset since t was asked for, or while it was.
func (t sessionTok) lost(now storeLoss) bool {
	return now.emptied != t.loss.emptied || t.loss.emptied%2 == 1
}

// refreshTry is one refresh request, its answer, and its replica's state
// at its start and end.
type refreshTry struct {
	r        *replica
	st0, st1 replicaState
	t0, t1   time.Time
	status   int
	body     []byte
	err      error
}

// tryRefresh presents refresh to r (seen as st0 just before).
func (h *harness) tryRefresh(ctx context.Context, r *replica, st0 replicaState, refresh string) refreshTry {
	tr := refreshTry{r: r, st0: st0, t0: time.Now()}
	tr.status, tr.body, tr.err = h.post(ctx, st0.httpAddr, "/oauth2/token", "application/x-www-form-urlencoded",
		url.Values{"grant_type": {"refresh_token"}, "refresh_token": {refresh}}.Encode())
	tr.t1 = time.Now()
	tr.st1 = r.state()
	return tr
}

func (tr refreshTry) ok() bool { return tr.err == nil && tr.status == http.StatusOK }

// failedClosed reports a 503: the replica could not decide the refresh.
func (tr refreshTry) failedClosed() bool {
	return tr.err == nil && tr.status == http.StatusServiceUnavailable
}

func (tr refreshTry) invalidGrant() bool {
	return tr.err == nil && tr.status == http.StatusBadRequest && oauthError(tr.body) == "invalid_grant"
}

// String is the answer: status, OAuth error and description.
func (tr refreshTry) String() string {
	s := statusText(tr.status, tr.err)
	if tr.err == nil {
		var e struct {
			Error       string `json:"error"`
			Description string `json:"error_description"`
		}
		_ = json.Unmarshal(tr.body, &e)
		s += " " + e.Error
		if e.Description != "" {
			s += " (" + e.Description + ")"
		}
	}
	return s
}

// The judgement of one refresh not answered 200.
const (
	refreshFault  = "during a fault"                     // a fault touched its replica (not judged)
	refreshStale  = "replica failing closed (no fault)"  // its own fail-closed past max_staleness
	refreshLost   = "session the store may have lost"    // invalid_grant after a fault that may have lost it
	refreshLoser  = "race loser"                         // invalid_grant of a race with a winner, or judged as a race
	refreshWrong  = "wrong"                              // must not happen
	refreshKeptIG = "invalid_grant during a fault, kept" // a session no fault can have lost, answered invalid_grant in a fault window
)

// judgeRefresh judges a refresh of t that was not answered 200. With no
// fault touching its replica from its start to its end, a refresh of a
// session the store holds must succeed; the only excuse is the replica's
// own fail-closed past max_staleness (503 "revocation state
// unavailable"), shown by its metrics as for the Checks. A race's
// invalid_grant answers are the racers' to share (judgeRace). Every 503 is
// kept for the fault spans (attribute), with whether it was that own
// fail-closed.
func (h *harness) judgeRefresh(ctx context.Context, tr refreshTry, t sessionTok, race bool) string {
	own := tr.failedClosed() && descriptionOf(tr.body) == "revocation state unavailable" &&
		tr.r.failedClosedStale(ctx, tr.st0.failClosed, tr.st0.incarnation)
	if tr.failedClosed() {
		h.stats.refreshFailedClosed(tr, own)
	}
	verdict := refreshWrong
	switch {
	case tr.invalidGrant() && t.lost(h.storeLoss()):
		verdict = refreshLost
	case tr.invalidGrant() && race:
		verdict = refreshLoser
	case !steadyThrough(tr.st0, tr.st1):
		verdict = refreshFault
		if tr.invalidGrant() {
			verdict = refreshKeptIG
		}
	case own:
		verdict = refreshStale
	}
	if ctx.Err() != nil {
		return refreshFault // the run is over; the answer does not count
	}
	what := fmt.Sprintf("refresh of session %s (%s) on replica %d at %s: %s", t.name, issuedBy(t),
		tr.r.idx, tr.t0.UTC().Format("15:04:05.000"), tr)
	h.stats.refreshJudged(verdict, what)
	return verdict
}

// judgeRace judges a race none of whose refreshes was answered 200: with
// every racer steady, the session not lost and no racer excused or wrong
// on its own, one of them should have won.
func (h *harness) judgeRace(t sessionTok, tries []refreshTry, verdicts []string) {
	for i, tr := range tries {
		if tr.ok() || !steadyThrough(tr.st0, tr.st1) || verdicts[i] != refreshLoser {
			return
		}
	}
	if t.lost(h.storeLoss()) {
		return
	}
	answers := make([]string, len(tries))
	for i, tr := range tries {
		answers[i] = fmt.Sprintf("replica %d: %s", tr.r.idx, tr)
	}
	h.stats.refreshJudged(refreshWrong, fmt.Sprintf("race of session %s at %s: none of %d won, with no fault running (%v)",
		t.name, tries[0].t0.UTC().Format("15:04:05.000"), len(tries), answers))
}

func issuedBy(t sessionTok) string {
	if t.rotated {
		return "rotated"
	}
	return "minted"
}

func descriptionOf(body []byte) string {
	var e struct {
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Description
}

// steadyThrough reports whether no fault touched a replica from a
// request's start (st0) to its end (st1): the same process, no fault
// window opened or closed, none open.
func steadyThrough(st0, st1 replicaState) bool {
	return st0.incarnation == st1.incarnation && st0.epoch == st1.epoch && st0.steady && st1.steady
}

// storeFault is one Redis fault's timeline.
type storeFault struct {
	name       string
	injected   time.Time // the fault was done to Redis
	failedOver time.Time // Sentinel or the Cluster named a primary for every slot that answers as one
	recovered  time.Time // the fault's window closed (redisRecovered)
	grace      time.Duration
}

// refresh503 is a refresh answered 503, kept for the fault spans.
type refresh503 struct {
	t0, t1 time.Time
	// own: "revocation state unavailable" from a replica whose metrics
	// say it was failing closed, its copy past max_staleness (as
	// failedClosedStale judges it).
	own  bool
	what string
}

// storeInjected opens the timeline of the Redis fault now running (its
// name set by the run loop); emptied moves the loss count (storeLoss).
func (h *harness) storeInjected(emptied bool) {
	if emptied {
		h.emptied.Add(1)
	}
	h.emptying = emptied
	grace := graceSentinel
	if h.cluster != nil {
		grace = graceCluster
	}
	h.stats.storeInjected(h.running, time.Now(), grace)
}

// watchServing starts watching for the store to serve again after the
// fault now running: Sentinel names a primary it does not see down or
// failing over, and that node answers as a primary (sentinelServing), or
// the Cluster serves every slot (clusterServing). redisRecovered stops the
// watch once Redis is healthy, which implies serving, and records the time
// the watch saw it, or the time it stopped it if the watch had not yet.
func (h *harness) watchServing(ctx context.Context) {
	serving := h.sentinelServing
	if h.cluster != nil {
		serving = h.clusterServing
	}
	ctx, cancel := context.WithCancel(ctx)
	var at time.Time
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			cctx, ccancel := context.WithTimeout(ctx, time.Second)
			ok := serving(cctx)
			ccancel()
			if ok {
				at = time.Now()
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(10 * time.Millisecond):
			}
		}
	}()
	h.stopServing = func() {
		now := time.Now()
		cancel()
		<-done
		if at.IsZero() {
			at = now
		}
		h.stats.storeFailedOver(at)
	}
}

// storeRecovered closes the timeline of the Redis fault now running, and
// moves the loss count again if its start did.
func (h *harness) storeRecovered() {
	if h.emptying {
		h.emptied.Add(1)
	}
	h.emptying = false
	h.stats.storeRecovered(time.Now())
}

// sentinelServing reports whether Sentinel names a primary that it does
// not flag down or being failed over, and that node answers as a primary.
func (h *harness) sentinelServing(ctx context.Context) bool {
	sc := goredis.NewSentinelClient(&goredis.Options{Addr: h.st.Sentinel.Addr(), MaxRetries: -1})
	defer sc.Close()
	m, err := sc.Master(ctx, h.st.MasterName).Result()
	if err != nil {
		return false
	}
	for f := range strings.SplitSeq(m["flags"], ",") {
		switch f {
		case "s_down", "o_down", "failover_in_progress", "force_failover":
			return false
		}
	}
	return redisRole(ctx, net.JoinHostPort(m["ip"], m["port"])).role == "master"
}

// clusterServing reports whether the Cluster serves every slot: every node
// that answers reports cluster_state:ok and names the same three primaries
// (the nodes that hold slots), none flagged failing, and each of them
// answers as a primary.
func (h *harness) clusterServing(ctx context.Context) bool {
	var named []string
	for _, addr := range h.cluster.Addrs() {
		info, nodes, err := clusterView(ctx, addr)
		if err != nil {
			continue // down: judged by what the others name
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return false
		}
		var ps []string
		for line := range strings.Lines(nodes) {
			// <id> <addr> <flags> <primary> <ping> <pong> <epoch> <link> <slot>...
			f := strings.Fields(line)
			if len(f) < 9 || !strings.Contains(f[2], "master") {
				continue
			}
			if strings.Contains(f[2], "fail") {
				return false
			}
			a, _, _ := strings.Cut(f[1], "@")
			ps = append(ps, a)
		}
		slices.Sort(ps)
		if named == nil {
			named = ps
		} else if !slices.Equal(ps, named) {
			return false
		}
	}
	if len(named) != 3 {
		return false
	}
	for _, a := range named {
		if redisRole(ctx, a).role != "master" {
			return false
		}
	}
	return true
}
