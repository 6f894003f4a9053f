package redis_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	revredis "github.com/jwt-authz/jwt-authz/revocation/redis"
	"github.com/jwt-authz/jwt-authz/session"
	sessionredis "github.com/jwt-authz/jwt-authz/session/redis"
)

// TestClusterKnownReplicaDisconnected: a Cluster primary that knows a
// replica of its own but has none connected refuses rotations, with no
// question to the other primaries: the other primaries still name it while
// its replica may be being promoted (a primary resumed from a stall), and
// a write it acknowledges could be lost with it.
func TestClusterKnownReplicaDisconnected(t *testing.T) {
	cs := redisserver.NewClusterWithReplicas(t)
	c := clusterSession(t, cs, "known-replica")
	s, sid, key, pc, now := c.store, c.sid, c.key, c.primary, c.now
	replica := replicaOf(t, cs, pc)
	// The primary learns the role of the node replicating it from the
	// Cluster bus, a little after the replication link is up.
	myID, err := pc.ClusterMyID(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	testkit.Eventually(t, readyTimeout, 5*time.Millisecond, "the primary to know its replica", func() bool {
		nodes, err := pc.ClusterNodes(t.Context()).Result()
		return err == nil && strings.Contains(nodes, " slave "+myID+" ")
	})
	replica.Stop() // kill -9: the primary still knows it
	waitNoReplica(t, pc)

	_, err = s.Rotate(t.Context(), sid, "j0", session.Rotation{JTI: "j1", RetainUntil: now.Add(time.Hour)}, now)
	if !errors.Is(err, session.ErrUnavailable) || !strings.Contains(err.Error(), "none connected") {
		t.Fatalf("rotation at a primary whose known replica is gone = %v, want ErrUnavailable (none connected)", err)
	}
	if err := s.ConfirmPrimaryOn(t.Context(), pc, key); err == nil {
		t.Fatal("the primary confirmed with its known replica disconnected")
	}
}

// clusterSessionCase is a session created through a replicated store on a
// Cluster, with a client of the primary that holds it.
type clusterSessionCase struct {
	store       *sessionredis.Store
	sid, key    string
	primaryNode *redisserver.Server
	primary     *goredis.Client
	now         time.Time
}

// clusterSession creates session sid (refresh jti "j0") through a store
// that waits for replicas on cs.
func clusterSession(t *testing.T, cs *redisserver.ClusterSetup, sid string) clusterSessionCase {
	t.Helper()
	c := revredis.NewClusterClient(revredis.ClusterOptions{Addrs: cs.Addrs()})
	t.Cleanup(func() { _ = c.Close() })
	k := clusterSessionCase{store: replicatedStore(t, c, nil), sid: sid, key: sessionredis.KeyPrefix + sid, now: time.Now()}
	k.primaryNode = cs.PrimaryFor(t, k.key)
	k.primary = newClient(t, k.primaryNode.Addr())
	if err := k.store.Create(t.Context(), session.Session{ID: sid, Subject: "u", RefreshJTI: "j0",
		CreatedAt: k.now, ExpiresAt: k.now.Add(time.Hour), RetainUntil: k.now.Add(time.Hour)}); err != nil {
		t.Fatal(err)
	}
	return k
}

// replicaOf returns the node replicating the primary behind pc.
func replicaOf(t *testing.T, cs *redisserver.ClusterSetup, pc *goredis.Client) *redisserver.Server {
	t.Helper()
	info, err := pc.Info(t.Context(), "replication").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range cs.Nodes {
		_, port, _ := strings.Cut(n.Addr(), ":")
		if strings.Contains(info, ",port="+port+",") {
			return n
		}
	}
	t.Fatalf("no node of the Cluster replicates %s:\n%s", pc.Options().Addr, info)
	return nil
}

// TestClusterPeerFlagsNodeFailing: a primary with no replica that the
// other primaries flag failing (fail? or fail) is refused even though they
// still name it as the owner of its slots: a primary that flags it may
// already have voted for its replica's promotion. The primary is paused
// until the others flag it fail, and they are given a long node timeout
// before it resumes, so that the flag outlives its return.
func TestClusterPeerFlagsNodeFailing(t *testing.T) {
	cs := redisserver.NewCluster(t)
	c := clusterSession(t, cs, "flagged")
	s, sid, key, pc, now, primary := c.store, c.sid, c.key, c.primary, c.now, c.primaryNode
	myID, err := pc.ClusterMyID(t.Context()).Result()
	if err != nil {
		t.Fatal(err)
	}
	var peers []*goredis.Client
	for _, n := range cs.Nodes {
		if n != primary {
			peers = append(peers, newClient(t, n.Addr()))
		}
	}
	primary.Pause()
	t.Cleanup(primary.Resume)
	for _, p := range peers {
		testkit.Eventually(t, readyTimeout, 5*time.Millisecond, "the primary flagged fail by "+p.Options().Addr, func() bool {
			nodes, err := p.ClusterNodes(t.Context()).Result()
			return err == nil && flagsOf(nodes, myID)["fail"]
		})
		// A failing primary with slots is cleared of the flag two node
		// timeouts after it was set, once it answers again.
		if err := p.ConfigSet(t.Context(), "cluster-node-timeout", "600000").Err(); err != nil {
			t.Fatal(err)
		}
	}
	primary.Resume()
	if err := pc.Ping(t.Context()).Err(); err != nil {
		t.Fatal(err)
	}

	_, err = s.Rotate(t.Context(), sid, "j0", session.Rotation{JTI: "j1", RetainUntil: now.Add(time.Hour)}, now)
	if !errors.Is(err, session.ErrUnavailable) || !strings.Contains(err.Error(), notPrimary) {
		t.Fatalf("rotation at a primary its peers flag failing = %v, want ErrUnavailable (%s)", err, notPrimary)
	}
	if err := s.ConfirmPrimaryOn(t.Context(), pc, key); err == nil || !strings.Contains(err.Error(), "flags it") {
		t.Fatalf("confirming a primary its peers flag failing = %v, want a flag named", err)
	}
}

// flagsOf returns the flags of node id in a CLUSTER NODES answer.
func flagsOf(nodes, id string) map[string]bool {
	for line := range strings.Lines(nodes) {
		f := strings.Fields(line)
		if len(f) > 2 && f[0] == id {
			m := map[string]bool{}
			for _, flag := range strings.Split(f[2], ",") {
				m[flag] = true
			}
			return m
		}
	}
	return nil
}
