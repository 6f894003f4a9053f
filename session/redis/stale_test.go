package redis_test

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
	"github.com/jwt-authz/jwt-authz/session"
	sessionredis "github.com/jwt-authz/jwt-authz/session/redis"
	"github.com/jwt-authz/jwt-authz/session/storetest"
)

// readyTimeout bounds the readiness waits of these tests (a failover
// through one sentinel takes a few seconds).
const readyTimeout = 30 * time.Second

// notPrimary is in the error of a write refused because its node is not
// the primary the topology names.
const notPrimary = "no longer the primary"

// sentinelOf returns the store's view of st's sentinels, closed with t.
func sentinelOf(t testing.TB, st *redisserver.SentinelSetup) *sessionredis.Sentinel {
	t.Helper()
	return sentinelTLS(t, st, nil)
}

// sentinelTLS is sentinelOf over TLS with x when it is not nil.
func sentinelTLS(t testing.TB, st *redisserver.SentinelSetup, x *redisserver.TLS) *sessionredis.Sentinel {
	t.Helper()
	o := revredis.SentinelOptions{MasterName: st.MasterName, Addrs: []string{st.Sentinel.Addr()}}
	if x != nil {
		o.TLS, o.TLSConfig = true, x.Client
	}
	clients := revredis.NewSentinelClients(o)
	t.Cleanup(func() {
		for _, c := range clients {
			_ = c.Close()
		}
	})
	return &sessionredis.Sentinel{MasterName: st.MasterName, Clients: clients}
}

func replicatedStore(t testing.TB, c goredis.UniversalClient, sn *sessionredis.Sentinel) *sessionredis.Store {
	t.Helper()
	s, err := sessionredis.NewWithOptions(c, sessionredis.Options{WaitForReplica: true, Sentinel: sn})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// waitNoReplica waits until the node behind c counts no connected replica.
func waitNoReplica(t testing.TB, c *goredis.Client) {
	t.Helper()
	testkit.Eventually(t, readyTimeout, 5*time.Millisecond, "the node to drop its replica", func() bool {
		info, err := c.Info(t.Context(), "replication").Result()
		return err == nil && strings.Contains(info, "role:master") && strings.Contains(info, "connected_slaves:0\r")
	})
}

// TestSentinelStalePrimaryFailsClosed stalls the primary (SIGSTOP) until
// the sentinel has promoted its replica, then lets it run again. The old
// primary comes back with no replica, still a primary: the sentinel cannot
// demote it here (SLAVEOF and REPLICAOF are renamed away on it), which
// holds open the window in which a client connection still pointing at it
// would have a rotation acknowledged that the new primary never sees. The
// store refuses that rotation, so the refresh token presented there and
// at the new primary rotates once; the same rotation without the check is
// acknowledged, and the token rotates twice.
func TestSentinelStalePrimaryFailsClosed(t *testing.T) {
	t.Run("tcp", func(t *testing.T) { testStalePrimary(t, nil) })
	t.Run("tls", func(t *testing.T) { testStalePrimary(t, redisserver.NewTLS(t)) })
}

func testStalePrimary(t *testing.T, x *redisserver.TLS) {
	st := redisserver.NewSentinelPrimaryArgs(t, x, []string{"--rename-command", "SLAVEOF", "", "--rename-command", "REPLICAOF", ""})
	sn := sentinelTLS(t, st, x)
	ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
	defer cancel()
	var tc *tls.Config
	if x != nil {
		tc = x.Client
	}
	newClient := func(t testing.TB, addr string) *goredis.Client {
		c := goredis.NewClient(&goredis.Options{Addr: addr, TLSConfig: tc})
		t.Cleanup(func() { _ = c.Close() })
		return c
	}

	old := newClient(t, st.Primary.Addr())
	checked := replicatedStore(t, old, sn)
	unchecked := replicatedStore(t, old, nil)
	now := time.Now()
	next := func(jti string) session.Rotation { return session.Rotation{JTI: jti, RetainUntil: now.Add(time.Hour)} }
	// Both sessions reach the replica: a first rotation waits for it.
	for _, sid := range []string{"stale-checked", "stale-unchecked"} {
		if err := checked.Create(ctx, session.Session{ID: sid, Subject: "u", RefreshJTI: "j0",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(time.Hour)}); err != nil {
			t.Fatal(err)
		}
		if out, err := checked.Rotate(ctx, sid, "j0", next("j1"), now); err != nil || out.Result != session.Rotated {
			t.Fatalf("%s: rotation before the failover: %v %v", sid, out.Result, err)
		}
	}

	sc := goredis.NewSentinelClient(&goredis.Options{Addr: st.Sentinel.Addr(), TLSConfig: tc})
	t.Cleanup(func() { _ = sc.Close() })
	sub := sc.Subscribe(ctx, "+switch-master")
	t.Cleanup(func() { _ = sub.Close() })
	if _, err := sub.Receive(ctx); err != nil {
		t.Fatal(err)
	}
	st.Primary.Pause()
	select {
	case <-sub.Channel():
	case <-ctx.Done():
		st.Primary.Resume()
		t.Fatal("no +switch-master from the sentinel")
	}
	st.Primary.Resume()
	st.WaitPrimary(t, st.Replica.Addr())
	waitNoReplica(t, old)

	// At the stale primary: refused with the check, acknowledged without.
	_, err := checked.Rotate(ctx, "stale-checked", "j1", next("j2-old"), now)
	if !errors.Is(err, session.ErrUnavailable) || !strings.Contains(err.Error(), notPrimary) {
		t.Fatalf("rotation at the stale primary = %v, want ErrUnavailable (%s)", err, notPrimary)
	}
	out, err := unchecked.Rotate(ctx, "stale-unchecked", "j1", next("j2-old"), now)
	if err != nil || out.Result != session.Rotated {
		t.Fatalf("rotation at the stale primary without the check: %v %v, want it acknowledged", out.Result, err)
	}

	// At the new primary, itself without a replica: the old one cannot
	// follow it. The old one is up, a primary too, and the sentinel lists
	// it as a replica of the new one; but the new one was promoted out of
	// following it (its master_replid2 is the old one's replication id),
	// not the other way round, so the new one is confirmed (probed with an
	// unknown session, so that the sessions above stay untouched there).
	// The sentinel may not know the new one's run_id yet: the store then
	// asks the address the sentinel names.
	current := replicatedStore(t, newClient(t, st.Replica.Addr()), sn)
	if out, err := current.Rotate(ctx, "stale-probe", "j1", next("j2"), now); err != nil || out.Result != session.NotFound {
		t.Fatalf("rotation at the new primary while the old one is a primary too = %v %v, want confirmed (not found)", out.Result, err)
	}
	st.Primary.Stop()
	out, err = current.Rotate(ctx, "stale-checked", "j1", next("j2-new"), now)
	if err != nil || out.Result != session.Rotated {
		t.Fatalf("rotation at the new primary: %v %v, want the one rotation of j1", out.Result, err)
	}
	out, err = current.Rotate(ctx, "stale-unchecked", "j1", next("j2-new"), now)
	if err != nil || out.Result != session.Rotated {
		t.Fatalf("rotation at the new primary after an unchecked one: %v %v, want a second rotation of j1 (the hole the check closes)", out.Result, err)
	}
	// j1 of the checked session now rotated once: presenting it again is
	// reuse.
	if out, err = current.Rotate(ctx, "stale-checked", "j1", next("j2-again"), now); err != nil || out.Result != session.Reused {
		t.Fatalf("j1 presented again: %v %v, want reused", out.Result, err)
	}
}

// TestSentinelPromotedReplicaFailsClosed promotes the replica by hand
// (REPLICAOF NO ONE), as a sentinel leading a failover does, while the
// sentinel the store asks still names the old primary, as one that has
// not heard of the failover would (the replica's REPLICAOF and SLAVEOF
// are renamed away, so the sentinel cannot turn it back). The old primary
// has no replica connected and a majority of the sentinels names it, but
// its known replica answers that it is a primary: every write there
// (creation, rotation, a rotation that binds a DPoP key, revocation) fails
// closed. Were it acknowledged, the promoted node, which never sees it,
// would let the same refresh token rotate again.
func TestSentinelPromotedReplicaFailsClosed(t *testing.T) {
	const replicaOf = "jwt-authz-test-replicaof"
	st := redisserver.NewSentinelPrimaryArgs(t, nil, nil,
		"--rename-command", "REPLICAOF", replicaOf, "--rename-command", "SLAVEOF", "")
	ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
	defer cancel()
	old := newClient(t, st.Primary.Addr())
	// A loaded machine may take a while to replicate the first writes.
	s, err := sessionredis.NewWithOptions(old, sessionredis.Options{WaitForReplica: true, ReplicaTimeout: readyTimeout, Sentinel: sentinelOf(t, st)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	next := func(jti string) session.Rotation { return session.Rotation{JTI: jti, RetainUntil: now.Add(time.Hour)} }
	newSession := func(sid string) session.Session {
		return session.Session{ID: sid, Subject: "u", RefreshJTI: "j0", CreatedAt: now, ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(time.Hour)}
	}
	for _, sid := range []string{"promoted-rotate", "promoted-bind", "promoted-revoke"} {
		if err := s.Create(ctx, newSession(sid)); err != nil {
			t.Fatalf("%s: creation with the replica connected: %v", sid, err)
		}
	}

	promoted := newClient(t, st.Replica.Addr())
	if err := promoted.Do(ctx, replicaOf, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	waitNoReplica(t, old)
	// The sentinel still names the old primary, untroubled: the majority
	// of the sentinels alone would confirm it.
	sc := goredis.NewSentinelClient(&goredis.Options{Addr: st.Sentinel.Addr()})
	t.Cleanup(func() { _ = sc.Close() })
	m, err := sc.Master(ctx, st.MasterName).Result()
	if err != nil {
		t.Fatal(err)
	}
	if got := net.JoinHostPort(m["ip"], m["port"]); got != st.Primary.Addr() || strings.Contains(m["flags"], "down") || strings.Contains(m["flags"], "failover") {
		t.Fatalf("the sentinel names %s (flags %s), want the old primary %s untroubled", got, m["flags"], st.Primary.Addr())
	}

	refused := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, session.ErrUnavailable) || !strings.Contains(err.Error(), notPrimary) {
			t.Errorf("%s at the old primary = %v, want ErrUnavailable (%s)", what, err, notPrimary)
		}
	}
	_, err = s.Rotate(ctx, "promoted-rotate", "j0", next("j1-old"), now)
	refused("rotation", err)
	bind := next("j1-old")
	bind.JKT = "thumbprint"
	_, err = s.Rotate(ctx, "promoted-bind", "j0", bind, now)
	refused("rotation binding a DPoP key", err)
	refused("revocation", s.Revoke(ctx, "promoted-revoke"))
	refused("creation", s.Create(ctx, newSession("promoted-create")))

	// At the promoted node the refused writes never happened: j0 rotates
	// there once, unbound, and the session is not revoked.
	direct, err := sessionredis.New(promoted)
	if err != nil {
		t.Fatal(err)
	}
	for _, sid := range []string{"promoted-rotate", "promoted-bind", "promoted-revoke"} {
		if out, err := direct.Rotate(ctx, sid, "j0", next("j1-new"), now); err != nil || out.Result != session.Rotated {
			t.Errorf("%s: j0 at the promoted node: %v %v, want rotated", sid, out.Result, err)
		}
	}
	if got, err := direct.Get(ctx, "promoted-bind"); err != nil || got.JKT != "" {
		t.Errorf("promoted-bind at the promoted node: JKT %q, %v; want unbound", got.JKT, err)
	}
}

// TestSentinelStrayPrimaryDoesNotStopWrites: a known replica that is a
// primary with another node's history (here it followed an unrelated
// server and was promoted from it; in a failover, the old primary restarted
// without its data before the sentinels turn it into a replica) does not
// refuse the writes of the primary every sentinel names: it was not
// promoted out of following it and holds none of its writes.
func TestSentinelStrayPrimaryDoesNotStopWrites(t *testing.T) {
	const replicaOf = "jwt-authz-test-replicaof"
	st := redisserver.NewSentinelPrimaryArgs(t, nil, nil,
		"--rename-command", "REPLICAOF", replicaOf, "--rename-command", "SLAVEOF", "")
	ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
	defer cancel()
	primary := newClient(t, st.Primary.Addr())
	s, err := sessionredis.NewWithOptions(primary, sessionredis.Options{WaitForReplica: true, ReplicaTimeout: readyTimeout, Sentinel: sentinelOf(t, st)})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	if err := s.Create(ctx, session.Session{ID: "stray", Subject: "u", RefreshJTI: "j0", CreatedAt: now, ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}

	other := redisserver.New(t)
	host, port, _ := net.SplitHostPort(other.Addr())
	stray := newClient(t, st.Replica.Addr())
	if err := stray.Do(ctx, replicaOf, host, port).Err(); err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, readyTimeout, 5*time.Millisecond, "the replica to follow the other server", func() bool {
		info, err := stray.Info(ctx, "replication").Result()
		return err == nil && strings.Contains(info, "master_link_status:up")
	})
	if err := stray.Do(ctx, replicaOf, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	waitNoReplica(t, primary)

	if out, err := s.Rotate(ctx, "stray", "j0", session.Rotation{JTI: "j1", RetainUntil: now.Add(time.Hour)}, now); err != nil || out.Result != session.Rotated {
		t.Fatalf("rotation at the primary the sentinels name, beside a stray primary: %v %v, want rotated", out.Result, err)
	}
	if err := s.Create(ctx, session.Session{ID: "stray-2", Subject: "u", RefreshJTI: "j0", CreatedAt: now, ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(time.Hour)}); err != nil {
		t.Fatalf("creation beside a stray primary: %v", err)
	}
}

// TestSentinelDocumentedACL: under an ACL user with exactly the rules
// CONFIGURATION.md lists for the data nodes, the check of a primary with
// no replica connected asks the known replica ROLE and is told that it is
// a primary; without +role the replica cannot be asked, and the write
// fails closed all the same.
func TestSentinelDocumentedACL(t *testing.T) {
	const replicaOf = "jwt-authz-test-replicaof"
	rules := []string{"on", ">pw", "+@read", "+@write", "+@scripting", "+@pubsub", "+info", "+ping", "+client|setname", "+wait",
		"~jwt-authz:*", "~{jwt-authz:revocation}:*", "&jwt-authz:*", "&{jwt-authz:revocation}:*"}
	args := []string{"--rename-command", "REPLICAOF", replicaOf, "--rename-command", "SLAVEOF", ""}
	args = append(append(append(args, "--user", "documented", "+role"), rules...), "--user", "no-role")
	st := redisserver.NewSentinelPrimaryArgs(t, nil, nil, append(args, rules...)...)
	sn := sentinelOf(t, st)
	ctx, cancel := context.WithTimeout(t.Context(), readyTimeout)
	defer cancel()
	storeAs := func(user string) *sessionredis.Store {
		c := goredis.NewClient(&goredis.Options{Addr: st.Primary.Addr(), Username: user, Password: "pw"})
		t.Cleanup(func() { _ = c.Close() })
		s, err := sessionredis.NewWithOptions(c, sessionredis.Options{WaitForReplica: true, ReplicaTimeout: readyTimeout, Sentinel: sn})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	documented, noRole := storeAs("documented"), storeAs("no-role")
	now := time.Now()
	for _, sid := range []string{"acl-documented", "acl-no-role"} {
		if err := documented.Create(ctx, session.Session{ID: sid, Subject: "u", RefreshJTI: "j0",
			CreatedAt: now, ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(time.Hour)}); err != nil {
			t.Fatalf("%s: creation as the documented user: %v", sid, err)
		}
	}
	if err := newClient(t, st.Replica.Addr()).Do(ctx, replicaOf, "NO", "ONE").Err(); err != nil {
		t.Fatal(err)
	}
	waitNoReplica(t, newClient(t, st.Primary.Addr()))

	next := session.Rotation{JTI: "j1", RetainUntil: now.Add(time.Hour)}
	_, err := documented.Rotate(ctx, "acl-documented", "j0", next, now)
	if !errors.Is(err, session.ErrUnavailable) || !strings.Contains(err.Error(), "answers ROLE master") {
		t.Errorf("rotation as the documented user = %v, want ErrUnavailable naming the replica's ROLE answer", err)
	}
	_, err = noRole.Rotate(ctx, "acl-no-role", "j0", next, now)
	if !errors.Is(err, session.ErrUnavailable) || !strings.Contains(err.Error(), "NOPERM") {
		t.Errorf("rotation as a user without +role = %v, want ErrUnavailable naming NOPERM", err)
	}
}

// TestSentinelCreateWaitsForReplica: a session is acknowledged only once
// the replica has it, so a failover to the replica keeps it; with the
// replica stalled (SIGSTOP: still connected, answering nothing) the
// creation fails closed.
func TestSentinelCreateWaitsForReplica(t *testing.T) {
	st := redisserver.NewSentinel(t)
	primary, sn := newClient(t, st.Primary.Addr()), sentinelOf(t, st)
	// A loaded machine may take a while to replicate: the first store
	// waits long; the second need not wait for a replica that is stalled.
	s, err := sessionredis.NewWithOptions(primary, sessionredis.Options{WaitForReplica: true, ReplicaTimeout: readyTimeout, Sentinel: sn})
	if err != nil {
		t.Fatal(err)
	}
	short, err := sessionredis.NewWithOptions(primary, sessionredis.Options{WaitForReplica: true, ReplicaTimeout: 200 * time.Millisecond, Sentinel: sn})
	if err != nil {
		t.Fatal(err)
	}
	replica := newClient(t, st.Replica.Addr())
	now := time.Now()
	sess := session.Session{ID: "create-waits", Subject: "u", RefreshJTI: "j0", CreatedAt: now, ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(time.Hour)}
	if err := s.Create(t.Context(), sess); err != nil {
		t.Fatal(err)
	}
	// WAIT returned once the replica acknowledged the write: it has it.
	if n, err := replica.Exists(t.Context(), sessionredis.KeyPrefix+sess.ID).Result(); err != nil || n != 1 {
		t.Fatalf("the replica after an acknowledged creation: exists %d, %v", n, err)
	}

	st.Replica.Pause()
	t.Cleanup(st.Replica.Resume)
	sess.ID = "create-unreplicated"
	if err := short.Create(t.Context(), sess); !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("creation with the replica stalled = %v, want ErrUnavailable", err)
	}
}

// TestSentinelNoReplica: a primary whose replica is gone (killed: its
// address refuses connections) acknowledges a creation and a rotation
// once the sentinel confirms it, and refuses a rotation when no sentinel
// answers.
func TestSentinelNoReplica(t *testing.T) {
	st := redisserver.NewSentinel(t)
	sn := sentinelOf(t, st)
	st.Replica.Stop()
	c := newClient(t, st.Primary.Addr())
	waitNoReplica(t, c)
	s := replicatedStore(t, c, sn)
	now := time.Now()
	if err := s.Create(t.Context(), session.Session{ID: "no-replica", Subject: "u", RefreshJTI: "j0",
		CreatedAt: now, ExpiresAt: now.Add(time.Hour), RetainUntil: now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	out, err := s.Rotate(t.Context(), "no-replica", "j0", session.Rotation{JTI: "j1", RetainUntil: now.Add(time.Hour)}, now)
	if err != nil || out.Result != session.Rotated {
		t.Fatalf("rotation confirmed by the sentinel: %v %v", out.Result, err)
	}
	st.Sentinel.Stop()
	_, err = s.Rotate(t.Context(), "no-replica", "j1", session.Rotation{JTI: "j2", RetainUntil: now.Add(time.Hour)}, now)
	if !errors.Is(err, session.ErrUnavailable) {
		t.Fatalf("rotation with no sentinel answering = %v, want ErrUnavailable", err)
	}
}

// TestClusterNoReplica runs the contract on a Cluster without replicas,
// where every rotation is confirmed with the other primaries, and checks
// that a node not serving the key's slot is refused by them.
func TestClusterNoReplica(t *testing.T) {
	cs := redisserver.NewCluster(t)
	c := revredis.NewClusterClient(revredis.ClusterOptions{Addrs: cs.Addrs()})
	t.Cleanup(func() { _ = c.Close() })
	storetest.Run(t, func(t *testing.T) session.Store { return replicatedStore(t, c, nil) })

	s := replicatedStore(t, c, nil)
	key := sessionredis.KeyPrefix + "owner-probe"
	owner := cs.PrimaryFor(t, key)
	for _, n := range cs.Nodes {
		err := s.ConfirmPrimaryOn(t.Context(), newClient(t, n.Addr()), key)
		switch {
		case n == owner && err != nil:
			t.Errorf("the slot's primary %s: %v", n.Addr(), err)
		case n != owner && (err == nil || !strings.Contains(err.Error(), notPrimary)):
			t.Errorf("%s, not serving the slot: %v, want %q", n.Addr(), err, notPrimary)
		}
	}
}
