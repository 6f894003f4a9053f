package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// clusterNode is one line of a CLUSTER NODES answer, the fields the
// primary check reads.
type clusterNode struct {
	id, addr, master string
	flags            []string
	slots            []string // "0-5460", "5461", "[5461->-id]"
}

// parseClusterNodes splits a CLUSTER NODES answer into its lines.
func parseClusterNodes(s string) ([]clusterNode, error) {
	var out []clusterNode
	for line := range strings.Lines(s) {
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if len(f) < 8 {
			return nil, fmt.Errorf("malformed CLUSTER NODES line %q", strings.TrimSpace(line))
		}
		out = append(out, clusterNode{id: f[0], addr: f[1], flags: strings.Split(f[2], ","), master: f[3], slots: f[8:]})
	}
	return out, nil
}

func (n clusterNode) has(flag string) bool {
	for _, f := range n.flags {
		if f == flag {
			return true
		}
	}
	return false
}

// serves reports whether n is a primary that its answer shows serving
// slot (slots being imported or migrated, in brackets, do not count).
func (n clusterNode) serves(slot int) bool {
	if !n.has("master") {
		return false
	}
	for _, r := range n.slots {
		if strings.HasPrefix(r, "[") {
			continue
		}
		lo, hi, ok := strings.Cut(r, "-")
		if !ok {
			hi = lo
		}
		a, err1 := strconv.Atoi(lo)
		b, err2 := strconv.Atoi(hi)
		if err1 == nil && err2 == nil && a <= slot && slot <= b {
			return true
		}
	}
	return false
}

// selfInClusterNodes returns, from a node's own CLUSTER NODES answer, its
// node id and how many replicas of its own it knows, connected or not.
func selfInClusterNodes(s string) (id string, replicas int, err error) {
	nodes, err := parseClusterNodes(s)
	if err != nil {
		return "", 0, err
	}
	for _, n := range nodes {
		if n.has("myself") {
			id = n.id
		}
	}
	if id == "" {
		return "", 0, errors.New("CLUSTER NODES shows no node as myself")
	}
	for _, n := range nodes {
		if n.master == id && !n.has("myself") {
			replicas++
		}
	}
	return id, replicas, nil
}

// peerVerdict reads a peer's CLUSTER NODES answer about id: why the
// peer contradicts the node, when it flags it failing (fail? or fail: it
// may be voting for its replica) or names another primary for the slot,
// or "" when it names the node.
func peerVerdict(answer string, id nodeIdentity) (string, error) {
	nodes, err := parseClusterNodes(answer)
	if err != nil {
		return "", err
	}
	owner := "no node"
	for _, n := range nodes {
		if n.id == id.nodeID && (n.has("fail?") || n.has("fail")) {
			return "flags it " + strings.Join(n.flags, ","), nil
		}
		if n.serves(id.slot) {
			owner = n.id + " (" + n.addr + ")"
			if n.id == id.nodeID {
				owner = ""
			}
		}
	}
	if owner != "" {
		return fmt.Sprintf("names %s for slot %d", owner, id.slot), nil
	}
	return "", nil
}

// confirmSlotOwner asks the other primaries of the Cluster (CLUSTER NODES,
// one round trip each) how they see the node and which primary serves the
// slot. The node is compared by its Cluster node id, not by address
// (cluster-announce-ip, NAT). It is confirmed when none flags it failing
// (fail? or fail: a primary that does may already have voted for its
// replica), none names another node for the slot and, counting itself, a
// majority of the primaries name it: the majority a failover needs to
// promote a replica.
func confirmSlotOwner(ctx context.Context, c *goredis.ClusterClient, id nodeIdentity) error {
	var (
		mu                 sync.Mutex
		masters, confirmed int
		contradicted       error
		errs               []string
	)
	err := c.ForEachMaster(ctx, func(ctx context.Context, m *goredis.Client) error {
		mu.Lock()
		masters++
		mu.Unlock()
		peer := m.Options().Addr
		if peer == id.addr {
			return nil
		}
		answer, err := m.ClusterNodes(ctx).Result()
		var contra string
		if err == nil {
			contra, err = peerVerdict(answer, id)
		}
		mu.Lock()
		defer mu.Unlock()
		switch {
		case err != nil:
			errs = append(errs, fmt.Sprintf("%s: %v", peer, err))
		case contra != "":
			contradicted = fmt.Errorf("%w: %s %s", errNotPrimary, peer, contra)
		default:
			confirmed++
		}
		return nil
	})
	switch {
	case err != nil:
		return err
	case contradicted != nil:
		return contradicted
	case 2*(confirmed+1) > masters:
		return nil
	}
	return fmt.Errorf("%w: %d of %d other primaries did: %s", errUnconfirmed, confirmed, masters-1, strings.Join(errs, "; "))
}
