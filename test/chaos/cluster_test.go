package chaos

import (
	"context"
	"fmt"
	mathrand "math/rand/v2"
	"net"
	"slices"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
)

// revocationKey is a key in the slot of every revocation key in a Cluster.
const revocationKey = "{jwt-authz:revocation}:chaos"

// faultClusterFailover stops the Cluster primary that holds the
// revocation keys; its replica takes over, and the old primary comes back
// empty as the new primary's replica.
func (h *harness) faultClusterFailover(ctx context.Context, _ *mathrand.Rand) error {
	ctx, cancel := context.WithTimeout(ctx, faultTimeout)
	defer cancel()
	old, err := h.revocationPrimary(ctx)
	if err != nil {
		return err
	}
	restored := h.metricAll(ctx, "jwt_authz_revocation_syncs_total", `mode="restore"`, `result="success"`)
	setSteady(false, h.replicas...)
	h.storeInjected(false)
	old.Stop()
	h.watchServing(ctx)
	h.cluster.WaitPromoted(h.t, revocationKey, old)
	old.Start()
	return h.redisRecovered(ctx, restored)
}

// faultClusterRestartEmpty kills either the primary of the revocation
// keys' slot or every node, and starts it again at once without its data
// but with its nodes.conf, so that it rejoins the Cluster as the node it
// was. A lone primary is usually back before its replica could take over
// (cluster-node-timeout): it is still the primary, empty, and its replica
// resyncs from it and empties too. Otherwise the replica, which kept the
// data, is promoted and the restarted node becomes its replica. Every
// replica must write back what it holds in both cases: the dataset lost
// its marker, or its primary's run_id changed.
func (h *harness) faultClusterRestartEmpty(ctx context.Context, rng *mathrand.Rand) error {
	ctx, cancel := context.WithTimeout(ctx, faultTimeout)
	defer cancel()
	old, err := h.revocationPrimary(ctx)
	if err != nil {
		return err
	}
	nodes, which := []*redisserver.Server{old}, "the revocation keys' primary"
	if rng.IntN(2) == 0 {
		nodes, which = h.cluster.Nodes, "every node"
	}
	restored := h.metricAll(ctx, "jwt_authz_revocation_syncs_total", `mode="restore"`, `result="success"`)
	setSteady(false, h.replicas...)
	h.storeInjected(true)
	for _, n := range nodes {
		n.Stop()
	}
	h.watchServing(ctx)
	for _, n := range nodes {
		n.Start()
	}
	return h.clusterRecovered(ctx, "cluster restarted empty, "+which, old, restored, true)
}

// faultClusterStall stops either the shard of the revocation keys (its
// primary and replica) or every node with SIGSTOP until every replica has
// passed max_staleness, then lets them run. Nodes stopped longer than
// cluster-node-timeout are marked failing by the others (which keep
// running when only one shard stalls) or by each other as they resume, so
// a replica may be promoted after the stall; otherwise every primary keeps
// its role. Nothing could be written meanwhile, but a promoted replica has
// another run_id, and every replica must then write back what it holds.
func (h *harness) faultClusterStall(ctx context.Context, rng *mathrand.Rand) error {
	ctx, cancel := context.WithTimeout(ctx, faultTimeout)
	defer cancel()
	old, err := h.revocationPrimary(ctx)
	if err != nil {
		return err
	}
	nodes, which := h.cluster.Nodes, "every node"
	if rng.IntN(2) == 0 {
		rep, err := h.replicaOf(ctx, old)
		if err != nil {
			return err
		}
		nodes, which = []*redisserver.Server{old, rep}, "the revocation keys' shard"
	}
	restored := h.metricAll(ctx, "jwt_authz_revocation_syncs_total", `mode="restore"`, `result="success"`)
	setSteady(false, h.replicas...)
	h.storeInjected(false)
	resume, err := h.stallData(ctx, nodes...)
	defer resume()
	if err != nil {
		return err
	}
	resume()
	h.watchServing(ctx)
	return h.clusterRecovered(ctx, "cluster stalled, "+which, old, restored, false)
}

// clusterRecovered waits for the Cluster to be healthy, counts whether the
// revocation keys' slot kept its primary old or a replica was promoted,
// and then waits for the replicas as redisRecovered does. The write-back is
// awaited when the dataset changed: always when lost, else when a replica
// was promoted.
func (h *harness) clusterRecovered(ctx context.Context, fault string, old *redisserver.Server, restored map[int]float64, lost bool) error {
	if err := h.waitClusterHealthy(ctx); err != nil {
		return err
	}
	now, err := h.revocationPrimary(ctx)
	if err != nil {
		return err
	}
	if now == old {
		h.stats.count(fault+": primary kept", 1)
		if !lost {
			restored = nil
		}
	} else {
		h.stats.count(fault+": replica promoted", 1)
	}
	return h.redisRecovered(ctx, restored)
}

// waitClusterHealthy waits until the Cluster is whole again (see
// clusterProblem), so that every node can fail and be replaced once more.
func (h *harness) waitClusterHealthy(ctx context.Context) error {
	var last string
	return poll(ctx, func(ctx context.Context) bool {
		last = h.clusterProblem(ctx)
		return last == ""
	}, func() string { return "the Cluster to be healthy (last: " + last + ")" })
}

// clusterView asks the Cluster node at addr for its CLUSTER INFO and
// CLUSTER NODES, on a connection of its own.
func clusterView(ctx context.Context, addr string) (info, nodes string, err error) {
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, PoolSize: 1, DialTimeout: time.Second})
	defer c.Close()
	if info, err = c.ClusterInfo(ctx).Result(); err != nil {
		return "", "", err
	}
	nodes, err = c.ClusterNodes(ctx).Result()
	return info, nodes, err
}

// clusterProblem returns what keeps the Cluster from being whole, or ""
// when it is: every node reports cluster_state:ok, sees every other node
// connected and none failing (so no failover is about to start), and names
// the same primaries; every primary has a replica, and every replica's
// link to its primary is up.
func (h *harness) clusterProblem(ctx context.Context) string {
	var primaries []string
	for i, addr := range h.cluster.Addrs() {
		info, nodes, err := clusterView(ctx, addr)
		if err != nil {
			return addr + ": " + err.Error()
		}
		if !strings.Contains(info, "cluster_state:ok") {
			return addr + ": cluster_state not ok"
		}
		var ps []string
		for line := range strings.Lines(nodes) {
			// <id> <addr> <flags> <primary> <ping> <pong> <epoch> <link> <slot>...
			f := strings.Fields(line)
			if len(f) < 8 {
				continue
			}
			if strings.Contains(f[2], "fail") || strings.Contains(f[2], "handshake") || strings.Contains(f[2], "noaddr") || f[7] != "connected" {
				return fmt.Sprintf("%s sees %s %s %s", addr, f[1], f[2], f[7])
			}
			if strings.Contains(f[2], "master") && len(f) > 8 {
				ps = append(ps, f[0])
			}
		}
		slices.Sort(ps)
		if i == 0 {
			primaries = ps
		} else if !slices.Equal(ps, primaries) {
			return fmt.Sprintf("%s names primaries %v, %s %v", addr, ps, h.cluster.Addrs()[0], primaries)
		}
		switch ri := redisRole(ctx, addr); {
		case ri.role == "slave" && !ri.linkUp:
			return addr + ": replica's link to its primary is down"
		case ri.role == "master" && ri.replicas == 0:
			return addr + ": primary without a replica"
		case ri.role != "slave" && ri.role != "master":
			return addr + ": no role"
		}
	}
	if len(primaries) != 3 {
		return fmt.Sprintf("%d primaries serve slots", len(primaries))
	}
	return ""
}

// revocationPrimary returns the node that serves the revocation keys' slot
// as primary.
func (h *harness) revocationPrimary(ctx context.Context) (*redisserver.Server, error) {
	for _, n := range h.cluster.Nodes {
		c := goredis.NewClient(&goredis.Options{Addr: n.Addr(), MaxRetries: -1, PoolSize: 1, DialTimeout: time.Second})
		err := c.Get(ctx, revocationKey).Err()
		_ = c.Close()
		if (err == nil || err == goredis.Nil) && redisRole(ctx, n.Addr()).role == "master" {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no primary serves the slot of %q", revocationKey)
}

// replicaOf returns the node that replicates primary.
func (h *harness) replicaOf(ctx context.Context, primary *redisserver.Server) (*redisserver.Server, error) {
	_, port, _ := net.SplitHostPort(primary.Addr())
	for _, n := range h.cluster.Nodes {
		if ri := redisRole(ctx, n.Addr()); n != primary && ri.role == "slave" && ri.masterPort == port {
			return n, nil
		}
	}
	return nil, fmt.Errorf("no replica of %s", primary.Addr())
}
