package redisserver

import (
	"context"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// ClusterSetup is a Redis Cluster of three primaries, the 16384 slots
// split between them by redis-cli --cluster create, and optionally one
// replica of each.
type ClusterSetup struct {
	Nodes []*Server
	tls   *TLS // nil: plain TCP
}

// NewCluster starts a three-primary Cluster without replicas for the test
// and stops it in t.Cleanup. It skips the test when redis-server or
// redis-cli is missing (fails it in CI).
func NewCluster(t testing.TB) *ClusterSetup {
	t.Helper()
	return newCluster(t, 0, nil)
}

// NewClusterTLS is NewCluster with TLS only, on the certificate of x:
// between clients and nodes and on the Cluster bus.
func NewClusterTLS(t testing.TB, x *TLS) *ClusterSetup {
	t.Helper()
	return newCluster(t, 0, x)
}

// NewClusterWithReplicas starts three primaries with one replica each; a
// primary that stops is replaced by its replica after about two seconds.
func NewClusterWithReplicas(t testing.TB) *ClusterSetup {
	t.Helper()
	return newCluster(t, 1, nil)
}

// NewClusterWithReplicasTLS is NewClusterWithReplicas with TLS only, on
// the certificate of x, replication included.
func NewClusterWithReplicasTLS(t testing.TB, x *TLS) *ClusterSetup {
	t.Helper()
	return newCluster(t, 1, x)
}

// clusterCreateTimeout bounds redis-cli --cluster create.
const clusterCreateTimeout = 2 * time.Minute

func newCluster(t testing.TB, replicas int, x *TLS) *ClusterSetup {
	t.Helper()
	server := lookPath(t, "redis-server", "redis-server")
	cli := lookPath(t, "redis-cli", "redis-tools")
	cs := &ClusterSetup{tls: x}
	args := []string{"--cluster", "create"}
	if x != nil {
		args = append([]string{"--tls", "--cacert", x.CAFile}, args...)
	}
	nodeArgs := []string{
		"--cluster-enabled", "yes",
		"--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", "2000",
		"--cluster-replica-validity-factor", "0",
		"--repl-diskless-sync-delay", "0",
	}
	if x != nil {
		nodeArgs = append(nodeArgs, "--tls-cluster", "yes")
	}
	for range 3 * (1 + replicas) {
		n := newServer(t, server, nil, nodeArgs, x)
		cs.Nodes = append(cs.Nodes, n)
		args = append(args, n.Addr())
	}
	args = append(args, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	out := &testkit.LogBuffer{}
	// redis-cli waits for the nodes to agree without a limit of its own;
	// a setup that cannot converge fails the test with its output instead
	// of hanging it.
	ctx, cancel := context.WithTimeout(context.Background(), clusterCreateTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, cli, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out.String())
	}
	for _, n := range cs.Nodes {
		poll(t, "cluster_state:ok on "+n.Addr(), func(ctx context.Context) bool {
			if !clusterOK(ctx, n.Addr(), x) {
				return false
			}
			info := infoOf(ctx, n.Addr(), "", x, "replication")
			return strings.Contains(info, "role:master") || strings.Contains(info, "master_link_status:up")
		})
	}
	return cs
}

// PrimaryFor returns the node serving key's slot as primary.
func (cs *ClusterSetup) PrimaryFor(t testing.TB, key string) *Server {
	t.Helper()
	for _, n := range cs.Nodes {
		c := client(n.Addr(), "", cs.tls)
		err := c.Do(context.Background(), "GET", key).Err()
		_ = c.Close()
		if err == nil || err == goredis.Nil {
			if role(context.Background(), n.Addr(), "", cs.tls) == "master" {
				return n
			}
		}
	}
	t.Fatalf("no primary serves the slot of %q", key)
	return nil
}

// WaitPromoted waits until another node serves key's slot as primary
// after its primary was stopped, and the Cluster is ok again.
func (cs *ClusterSetup) WaitPromoted(t testing.TB, key string, old *Server) {
	t.Helper()
	poll(t, "a replica to take over the slot of "+key, func(ctx context.Context) bool {
		for _, n := range cs.Nodes {
			if n == old {
				continue
			}
			c := client(n.Addr(), "", cs.tls)
			err := c.Do(ctx, "GET", key).Err()
			_ = c.Close()
			if (err == nil || err == goredis.Nil) && role(ctx, n.Addr(), "", cs.tls) == "master" && clusterOK(ctx, n.Addr(), cs.tls) {
				return true
			}
		}
		return false
	})
}

// Addrs returns every node's host:port.
func (cs *ClusterSetup) Addrs() []string {
	out := make([]string, len(cs.Nodes))
	for i, n := range cs.Nodes {
		out[i] = n.Addr()
	}
	return out
}

func clusterOK(ctx context.Context, addr string, x *TLS) bool {
	c := client(addr, "", x)
	defer c.Close()
	info, err := c.ClusterInfo(ctx).Result()
	return err == nil && strings.Contains(info, "cluster_state:ok")
}
