package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"

	authv3 "github.com/envoyproxy/go-control-plane/envoy/service/auth/v3"
	"google.golang.org/genproto/googleapis/rpc/code"
)

// answer is what a replica said about one request.
type answer struct {
	kind   string // allow, deny, unavailable (503), error (no answer)
	reason string
}

const requestTimeout = 10 * time.Second

// checkGRPC sends one ext_authz Check over the replica's connection.
func checkGRPC(ctx context.Context, st replicaState, token string) answer {
	if st.conn == nil {
		return answer{"error", "no connection"}
	}
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req := &authv3.CheckRequest{Attributes: &authv3.AttributeContext{Request: &authv3.AttributeContext_Request{
		Http: &authv3.AttributeContext_HttpRequest{Method: "GET", Path: "/api/orders", Host: "api.chaos.test", Scheme: "https",
			Headers: map[string]string{"authorization": "Bearer " + token}},
	}}}
	resp, err := authv3.NewAuthorizationClient(st.conn).Check(ctx, req)
	if err != nil {
		return answer{"error", err.Error()}
	}
	if resp.GetStatus().GetCode() == int32(code.Code_OK) {
		return answer{"allow", "ok"}
	}
	reason := resp.GetDynamicMetadata().GetFields()["jwt_authz"].GetStructValue().GetFields()["reason"].GetStringValue()
	if resp.GetDeniedResponse().GetStatus().GetCode() == 503 {
		return answer{"unavailable", reason}
	}
	return answer{"deny", reason}
}

// checkHTTP asks one of the forward-auth endpoints.
func (h *harness) checkHTTP(ctx context.Context, st replicaState, token string, envoyStyle bool) answer {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	target := "http://" + st.httpAddr + "/forward/x-forwarded"
	if envoyStyle {
		target = "http://" + st.httpAddr + "/authz/api/orders"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return answer{"error", err.Error()}
	}
	if envoyStyle {
		req.Host = "api.chaos.test"
	} else {
		req.Header.Set("X-Forwarded-Method", "GET")
		req.Header.Set("X-Forwarded-Uri", "/api/orders")
		req.Header.Set("X-Forwarded-Host", "api.chaos.test")
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := h.client.Do(req)
	if err != nil {
		return answer{"error", err.Error()}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if err != nil {
		return answer{"error", err.Error()}
	}
	var e struct {
		Description string `json:"error_description"`
	}
	_ = json.Unmarshal(body, &e)
	switch resp.StatusCode {
	case http.StatusOK:
		return answer{"allow", "ok"}
	case http.StatusServiceUnavailable:
		return answer{"unavailable", e.Description}
	case http.StatusUnauthorized, http.StatusForbidden:
		if e.Description == "" {
			e.Description = "missing"
		}
		return answer{"deny", e.Description}
	}
	return answer{"error", fmt.Sprintf("HTTP %d", resp.StatusCode)}
}

// worker sends requests at the shared rate until ctx ends.
func (h *harness) worker(ctx context.Context, rng *rand.Rand) {
	for {
		if err := h.limiter.Wait(ctx); err != nil {
			return
		}
		t := h.pool.pick(rng)
		r := h.pickUp(rng)
		if t == nil || r == nil {
			continue
		}
		h.request(ctx, rng, r, t)
	}
}

// request sends t to r over a random transport and judges the answer by
// the states of r and t at the request's start and end.
func (h *harness) request(ctx context.Context, rng *rand.Rand, r *replica, t *tok) {
	st0 := r.state()
	if !st0.up {
		return
	}
	c0, g0 := t.class()
	var confirmed bool // the revocation was applied by this incarnation before the request
	if rec := t.rev.Load(); rec != nil && c0 == classRevoked {
		confirmed = rec.confirmed[r.idx].Load() == st0.incarnation || rec.seq <= st0.confirmedSeq
	}
	transport := "grpc"
	var a answer
	switch rng.IntN(4) {
	case 0:
		transport = "http"
		a = h.checkHTTP(ctx, st0, t.s, false)
	case 1:
		transport = "http"
		a = h.checkHTTP(ctx, st0, t.s, true)
	default:
		a = checkGRPC(ctx, st0, t.s)
	}
	if ctx.Err() != nil {
		return // the run is over; the answer does not count
	}
	st1 := r.state()
	_, g1 := t.class()
	fresh := steadyThrough(st0, st1)
	reload := st0.reloading || st1.reloading || st0.reloadGen != st1.reloadGen
	// Seen past max_staleness before the request and Redis not let run
	// before its answer: whatever the token, the answer fails closed.
	stale := st0.stale && st1.stale && st0.staleGen == st1.staleGen && st0.incarnation == st1.incarnation
	v := verdict{transport: transport, class: c0, answer: a, replica: r.idx, tok: t, stale: stale}
	if stale && a.kind == "allow" {
		v.wrongAllow = true
	}
	switch {
	case g0 != g1:
		v.straddle = true
	case c0 == classValid:
		switch a.kind {
		case "deny":
			v.wrongDeny = true
		case "unavailable", "error":
			switch {
			case !fresh:
				v.faultUnavailable = true
			case a.kind == "unavailable" && a.reason == "store_unavailable" &&
				r.failedClosedStale(ctx, st0.failClosed, st0.incarnation):
				// No fault, but the replica itself reports its
				// revocation copy past max_staleness.
				v.failClosedStale = true
			default:
				if ctx.Err() != nil {
					return
				}
				v.wrongDeny = true
			}
		}
	case c0 == classBad:
		v.wrongAllow = v.wrongAllow || a.kind == "allow"
	case c0 == classRevoked:
		if a.kind == "allow" {
			if confirmed {
				v.wrongAllow = true
			} else if !stale {
				v.allowedBeforeApplied = true
			}
		}
		if a.kind == "deny" && a.reason == "revoked" && st0.incarnation == st1.incarnation {
			t.rev.Load().confirmed[r.idx].Store(st0.incarnation)
		}
	}
	if reload && (a.kind == "error" || a.kind == "unavailable") {
		v.lostReload = true
	}
	if !v.straddle && !v.wrongDeny && fresh && (a.kind == "error" || (a.kind == "unavailable" && c0 != classValid)) {
		v.errorSteady = true
	}
	h.stats.record(v)
}

// pickUp returns a random replica that is up, or nil.
func (h *harness) pickUp(rng *rand.Rand) *replica {
	var up [maxReplicas]*replica
	n := 0
	for _, r := range h.replicas {
		if r.state().up {
			up[n] = r
			n++
		}
	}
	if n == 0 {
		return nil
	}
	return up[rng.IntN(n)]
}

// upReplicas returns every replica that is up.
func (h *harness) upReplicas() []*replica {
	var out []*replica
	for _, r := range h.replicas {
		if r.state().up {
			out = append(out, r)
		}
	}
	return out
}

// revoker revokes a random valid token through the admin API of a random
// replica, and adds a fresh external token for each.
func (h *harness) revoker(ctx context.Context, rng *rand.Rand, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		h.addExtValid()
		r := h.pickUp(rng)
		if r == nil {
			continue
		}
		t := h.pool.takeValid(rng, 20)
		if t == nil {
			continue
		}
		st := r.state()
		status, _, err := h.post(ctx, st.adminAddr, "/admin/revocations", "application/json", fmt.Sprintf(`{"token":%q}`, t.s))
		if ctx.Err() != nil {
			return
		}
		if err == nil && status == http.StatusCreated {
			// The answering replica enforces it from its 201 on.
			var inc int64
			if r.state().incarnation == st.incarnation {
				inc = st.incarnation
			}
			h.pool.markRevoked(t, r.idx, inc)
			h.stats.count("revocations answered 201", 1)
			continue
		}
		h.stats.count(fmt.Sprintf("revocations not answered 201 (%s)", statusText(status, err)), 1)
	}
}

// refreshRacer mints a session and presents its refresh token to every
// replica at once: at most one may win, and with no fault running one
// must (see judgeRefresh, judgeRace).
func (h *harness) refreshRacer(ctx context.Context, rng *rand.Rand, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r := h.pickUp(rng)
		if r == nil {
			continue
		}
		name := fmt.Sprintf("race-%d", n)
		loss := h.storeLoss()
		pair, err := h.mint(ctx, r, name)
		if err != nil {
			h.stats.count("refresh races: session not minted", 1)
			continue
		}
		st := sessionTok{refresh: pair.Refresh, name: name, loss: loss}
		ups := h.upReplicas()
		if len(ups) == 0 {
			continue
		}
		const racers = 3
		var wg sync.WaitGroup
		tries := make([]refreshTry, racers)
		startGun := make(chan struct{})
		for i := range racers {
			rr := ups[i%len(ups)]
			st0 := rr.state()
			wg.Go(func() {
				<-startGun
				tries[i] = h.tryRefresh(ctx, rr, st0, pair.Refresh)
			})
		}
		close(startGun)
		wg.Wait()
		if ctx.Err() != nil {
			return
		}
		wins, fails := 0, map[string]int{}
		verdicts := make([]string, racers)
		for i, tr := range tries {
			if tr.ok() {
				wins++
				continue
			}
			fails[tr.String()]++
			verdicts[i] = h.judgeRefresh(ctx, tr, st, true)
		}
		switch {
		case wins > 1:
			h.stats.doubleWin(fmt.Sprintf("session %s: %d of %d refreshes won (others: %v)", name, wins, racers, fails))
		case wins == 1:
			h.stats.count("refresh races: one winner", 1)
		default:
			h.stats.count("refresh races: none won (failed closed)", 1)
			h.judgeRace(st, tries, verdicts)
		}
	}
}

// spareSessions is how many sessions mintSpares keeps ready.
const spareSessions = 32

// mintSpares keeps sessions minted ahead for refreshChain, so that its
// refreshes go on through a Redis fault, in which no session can be
// minted.
func (h *harness) mintSpares(ctx context.Context, rng *rand.Rand, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	for n := 0; ; {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r := h.pickUp(rng)
		if r == nil || len(h.spares) == cap(h.spares) {
			continue
		}
		name := fmt.Sprintf("spare-%d", n)
		n++
		loss := h.storeLoss()
		pair, err := h.mint(ctx, r, name)
		if err != nil {
			continue
		}
		h.pool.add(newTok(pair.Access, "self", classValid))
		h.spares <- sessionTok{refresh: pair.Refresh, name: name, loss: loss}
	}
}

// spare returns a session minted ahead that the store cannot have lost
// since, if there is one.
func (h *harness) spare() (sessionTok, bool) {
	for {
		select {
		case t := <-h.spares:
			if !t.lost(h.storeLoss()) {
				return t, true
			}
			h.stats.count("chained refreshes: spare sessions dropped after a fault that may have lost them", 1)
		default:
			return sessionTok{}, false
		}
	}
}

// refreshChain refreshes one session after another, each new access token
// joining the valid tokens; a refresh that is not answered 200 is judged
// (judgeRefresh) and ends the session (its refresh token is never
// presented again), and the next is a spare one (mintSpares).
func (h *harness) refreshChain(ctx context.Context, rng *rand.Rand, every time.Duration) {
	tick := time.NewTicker(every)
	defer tick.Stop()
	var cur sessionTok
	for n := 0; ; {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		r := h.pickUp(rng)
		if r == nil {
			continue
		}
		if cur.refresh == "" {
			cur, _ = h.spare()
		}
		if cur.refresh == "" {
			name := fmt.Sprintf("chain-%d", n)
			loss := h.storeLoss()
			pair, err := h.mint(ctx, r, name)
			n++
			if err != nil {
				continue
			}
			h.pool.add(newTok(pair.Access, "self", classValid))
			cur = sessionTok{refresh: pair.Refresh, name: name, loss: loss}
			continue
		}
		loss := h.storeLoss()
		tr := h.tryRefresh(ctx, r, r.state(), cur.refresh)
		if ctx.Err() != nil {
			return
		}
		if !tr.ok() {
			h.stats.count("chained refreshes: session ended by "+statusText(tr.status, tr.err)+" "+oauthError(tr.body), 1)
			h.judgeRefresh(ctx, tr, cur, false)
			cur = sessionTok{}
			continue
		}
		var p tokenPair
		if err := json.Unmarshal(tr.body, &p); err != nil || p.Access == "" {
			h.stats.count("chained refreshes: unreadable answer", 1)
			cur = sessionTok{}
			continue
		}
		h.stats.count("chained refreshes: answered 200", 1)
		h.pool.add(newTok(p.Access, "self", classValid))
		cur = sessionTok{refresh: p.Refresh, name: cur.name, rotated: true, loss: loss}
	}
}

type tokenPair struct {
	Access  string `json:"access_token"`
	Refresh string `json:"refresh_token"`
}

// mint asks the admin API for a new session's token pair.
func (h *harness) mint(ctx context.Context, r *replica, sub string) (tokenPair, error) {
	status, body, err := h.post(ctx, r.state().adminAddr, "/admin/tokens", "application/json", fmt.Sprintf(`{"sub":%q,"scope":"read"}`, sub))
	if err != nil {
		return tokenPair{}, err
	}
	if status != http.StatusOK {
		return tokenPair{}, fmt.Errorf("mint: HTTP %d", status)
	}
	var p tokenPair
	if err := json.Unmarshal(body, &p); err != nil {
		return tokenPair{}, err
	}
	return p, nil
}

func (h *harness) post(ctx context.Context, addr, path, contentType, body string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", contentType)
	return h.do(req)
}

func (h *harness) get(ctx context.Context, target string) (int, []byte, error) {
	ctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	if err != nil {
		return 0, nil, err
	}
	return h.do(req)
}

func (h *harness) do(req *http.Request) (int, []byte, error) {
	resp, err := h.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var buf bytes.Buffer
	_, err = io.Copy(&buf, io.LimitReader(resp.Body, 4<<20))
	return resp.StatusCode, buf.Bytes(), err
}

func statusText(status int, err error) string {
	if err != nil {
		return "no answer"
	}
	return fmt.Sprintf("HTTP %d", status)
}

func oauthError(body []byte) string {
	var e struct {
		Error string `json:"error"`
	}
	_ = json.Unmarshal(body, &e)
	return e.Error
}
