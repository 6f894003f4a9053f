package chaos

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"slices"
	"strings"
	"time"
)

// Session sets the setRevoker posts: how many sessions one lists, and the
// tokens of listed sessions the traffic keeps checking.
const (
	setMinSessions = 200
	setMaxSessions = 4000
	setExtTokens   = 3 // ext tokens with a sid of their own per set
)

// setRevoker posts a session set now and then (every 2 to 4 s) to a random
// replica's POST /admin/revocations/sessions. Each set lists the sids of
// a few tokens the traffic has been checking as valid since the previous
// set (external tokens with a sid claim and a session of the built-in
// issuer), among a few hundred to a few thousand random sids. Once it is
// answered 201, those tokens are revoked like any other (pool.markRevoked):
// the answering replica must deny them from then on, every other one once
// it applied the set, and every sweep checks that no replica lost it.
func (h *harness) setRevoker(ctx context.Context, rng *rand.Rand) {
	timer := time.NewTimer(setInterval(rng))
	defer timer.Stop()
	var next []*tok // tokens with a sid, in the valid set, for the next set
	for n := 0; ; n++ {
		select {
		case <-ctx.Done():
			return
		case <-timer.C:
		}
		timer.Reset(setInterval(rng))
		r := h.pickUp(rng)
		if r == nil {
			continue
		}
		if len(next) > 0 {
			h.postSet(ctx, rng, r, h.pool.takeThese(next))
			if ctx.Err() != nil {
				return
			}
		}
		next = h.sessionTokens(ctx, r, n)
	}
}

func setInterval(rng *rand.Rand) time.Duration {
	return 2*time.Second + time.Duration(rng.Int64N(int64(2*time.Second)))
}

// sessionTokens adds valid tokens carrying a sid to the pool and returns
// them: setExtTokens external ones, and the access token of a new session
// of the built-in issuer when one can be minted (not while Redis is away).
func (h *harness) sessionTokens(ctx context.Context, r *replica, n int) []*tok {
	var out []*tok
	h.keyMu.Lock()
	for range setExtTokens {
		t := h.newExtSessionToken(classValid, time.Now(), 2*time.Hour, "sess-"+randomID())
		h.pool.add(t)
		out = append(out, t)
	}
	h.keyMu.Unlock()
	pair, err := h.mint(ctx, r, fmt.Sprintf("set-%d", n))
	if err != nil {
		return out
	}
	sid, err := claimSID(pair.Access)
	if err != nil {
		h.stats.count("session sets: minted access token without a readable sid", 1)
		return out
	}
	t := newTok(pair.Access, "self", classValid)
	t.sid = sid
	h.pool.add(t)
	return append(out, t)
}

// claimSID reads the sid claim of a token the test holds.
func claimSID(token string) (string, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return "", fmt.Errorf("not a JWS")
	}
	payload, err := b64.DecodeString(parts[1])
	if err != nil {
		return "", err
	}
	var c struct {
		SID string `json:"sid"`
	}
	if err := json.Unmarshal(payload, &c); err != nil {
		return "", err
	}
	if c.SID == "" {
		return "", fmt.Errorf("no sid")
	}
	return c.SID, nil
}

// postSet revokes the sessions of toks, taken from the valid set (class
// unknown meanwhile), with random ones, as one session set through r. A
// 201 revokes toks; any other answer leaves them unknown for good, like a
// single revocation without a 201: it may or may not have been recorded.
func (h *harness) postSet(ctx context.Context, rng *rand.Rand, r *replica, toks []*tok) {
	size := setMinSessions + rng.IntN(setMaxSessions-setMinSessions+1)
	sids := make([]string, 0, size)
	for _, t := range toks {
		sids = append(sids, t.sid)
	}
	listed := map[string]bool{}
	for _, sid := range sids {
		listed[sid] = true
	}
	for len(sids) < size {
		// Random sids, never a token's: no two alike, so the answer
		// must count as many sessions as lines were sent.
		if sid := fmt.Sprintf("chaos-%016x", rng.Uint64()); !listed[sid] {
			listed[sid] = true
			sids = append(sids, sid)
		}
	}
	rng.Shuffle(len(sids), func(i, j int) { sids[i], sids[j] = sids[j], sids[i] })
	var body strings.Builder
	for _, sid := range sids {
		fmt.Fprintf(&body, "%q\n", sid)
	}
	st := r.state()
	h.stats.count(colSetsPosted, 1)
	status, resp, err := h.post(ctx, st.adminAddr, "/admin/revocations/sessions", "application/x-ndjson", body.String())
	if ctx.Err() != nil {
		return
	}
	if err != nil || status != http.StatusCreated {
		h.stats.count(fmt.Sprintf("session sets not answered 201 (%s)", statusText(status, err)), 1)
		return
	}
	var a struct {
		ID       string `json:"id"`
		Sessions int    `json:"sessions"`
	}
	if err := json.Unmarshal(resp, &a); err != nil || a.ID == "" || a.Sessions != len(sids) {
		// Recorded, but not as sent: its tokens stay unknown.
		h.stats.setMisanswered(fmt.Sprintf("session set of %d sessions through replica %d answered 201 %s", len(sids), r.idx, resp))
		return
	}
	// The answering replica enforces it from its 201 on.
	var inc int64
	if r.state().incarnation == st.incarnation {
		inc = st.incarnation
	}
	h.pool.markSetRevoked(toks, r.idx, inc, a.ID)
	h.setAcked(ackedSet{id: a.ID, sessions: len(sids), replica: r.idx, at: time.Now()})
	h.stats.count(colSetsAcked, 1)
	h.stats.count("session sets answered 201: sessions listed", len(sids))
	h.stats.count("session sets answered 201: tokens of listed sessions checked", len(toks))
}

// ackedSet is a session set answered 201.
type ackedSet struct {
	id       string
	sessions int
	replica  int
	at       time.Time
}

func (h *harness) setAcked(s ackedSet) {
	h.setsMu.Lock()
	defer h.setsMu.Unlock()
	h.sets = append(h.sets, s)
}

// sweepSets checks that the store still holds every session set answered
// 201 so far: each up replica's GET /admin/revocations/{id}?kind=sid_set,
// which reads the set's entry and header from Redis (and its content,
// checked against the header's SHA-256, unless the replica holds that
// content already), must name as many sessions as were sent. It runs
// after a fault's recovery, when every replica wrote back what it holds;
// a set missing then would not be enforced by a replica started
// afterwards. Within the sweep's 30 s, one still missing is lost.
func (h *harness) sweepSets(ctx context.Context) {
	h.setsMu.Lock()
	sets := slices.Clone(h.sets)
	h.setsMu.Unlock()
	type read struct {
		r    *replica
		addr string
		set  ackedSet
		last string
	}
	var pending []*read
	for _, r := range h.replicas {
		if st := r.state(); st.up {
			for _, s := range sets {
				pending = append(pending, &read{r: r, addr: st.adminAddr, set: s})
			}
		}
	}
	sctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	for len(pending) > 0 {
		var kept []*read
		for _, rd := range pending {
			if rd.last = h.readSet(ctx, rd.addr, rd.set); rd.last != "" {
				kept = append(kept, rd)
			}
		}
		pending = kept
		if len(pending) == 0 || ctx.Err() != nil {
			return
		}
		select {
		case <-sctx.Done():
			for _, rd := range pending {
				h.stats.revocationLost(fmt.Sprintf("session set %s of %d sessions (201 from replica %d at %s) read through replica %d: %s",
					rd.set.id, rd.set.sessions, rd.set.replica, rd.set.at.UTC().Format("15:04:05.000"), rd.r.idx, rd.last))
			}
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// readSet asks the replica at addr for set s: "" when it answers the set
// with its sessions, else what it answered.
func (h *harness) readSet(ctx context.Context, addr string, s ackedSet) string {
	status, body, err := h.get(ctx, "http://"+addr+"/admin/revocations/"+s.id+"?kind=sid_set")
	if err != nil || status != http.StatusOK {
		return strings.TrimSpace(statusText(status, err) + " " + string(body))
	}
	var e struct {
		Sessions int `json:"sessions"`
	}
	if err := json.Unmarshal(body, &e); err != nil || e.Sessions != s.sessions {
		return "HTTP 200 " + strings.TrimSpace(string(body))
	}
	return ""
}
