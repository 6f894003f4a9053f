package redisserver

import (
	"context"
	"os/exec"
	"strings"
	"testing"

	"github.com/jwt-authz/jwt-authz/internal/testkit"
)

// ClusterSetup is a Redis Cluster of three primaries without replicas,
// the 16384 slots split between them by redis-cli --cluster create.
type ClusterSetup struct {
	Nodes []*Server
}

// NewCluster starts a three-primary Cluster for the test and stops it in
// t.Cleanup. It skips the test when redis-server or redis-cli is missing
// (fails it in CI).
func NewCluster(t testing.TB) *ClusterSetup {
	t.Helper()
	server := lookPath(t, "redis-server", "redis-server")
	cli := lookPath(t, "redis-cli", "redis-tools")
	cs := &ClusterSetup{}
	args := []string{"create"}
	for range 3 {
		n := newServer(t, server, nil, []string{
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-node-timeout", "2000",
		})
		cs.Nodes = append(cs.Nodes, n)
		args = append(args, n.Addr())
	}
	out := &testkit.LogBuffer{}
	cmd := exec.Command(cli, append([]string{"--cluster"}, append(args, "--cluster-yes")...)...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Run(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out.String())
	}
	for _, n := range cs.Nodes {
		poll(t, "cluster_state:ok on "+n.Addr(), func(ctx context.Context) bool {
			return strings.Contains(infoOf(ctx, n.Addr(), "", "cluster"), "cluster_enabled:1") &&
				clusterOK(ctx, n.Addr())
		})
	}
	return cs
}

// Addrs returns every node's host:port.
func (cs *ClusterSetup) Addrs() []string {
	out := make([]string, len(cs.Nodes))
	for i, n := range cs.Nodes {
		out[i] = n.Addr()
	}
	return out
}

func clusterOK(ctx context.Context, addr string) bool {
	c := client(addr, "")
	defer c.Close()
	info, err := c.ClusterInfo(ctx).Result()
	return err == nil && strings.Contains(info, "cluster_state:ok")
}
