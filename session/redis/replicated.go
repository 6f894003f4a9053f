package redis

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Options configure a Store. The zero value suits a single server.
type Options struct {
	// WaitForReplica makes Create, Rotate and Revoke (every write) wait
	// until a replica of the primary has the write (WAIT) whenever the
	// primary has replicas, and fail with ErrUnavailable when none
	// acknowledges it within ReplicaTimeout. A failover to a replica then
	// never loses an acknowledged write: a refresh token never rotates
	// twice, a revoked session stays revoked, and a created session is
	// there at its first refresh. For Sentinel and Cluster.
	WaitForReplica bool
	// ReplicaTimeout bounds the wait, and the check of Sentinel below
	// (the sentinels' answers and the known replicas' together).
	// Default DefaultReplicaTimeout.
	ReplicaTimeout time.Duration
	// Sentinel, for a client of a primary managed by Sentinel, names the
	// sentinels. With WaitForReplica, a write that the primary acknowledges
	// while it has no replica connected (so WAIT has nothing to wait for)
	// then counts only once a majority of the sentinels confirm that this
	// node is the primary they name and none of the replicas they know of
	// it answers that it is a primary or follows another node (see
	// checkReplicas for one that cannot be asked), and fails with
	// ErrUnavailable otherwise: a primary stalled while the sentinels promoted its replica
	// comes back with no replica, still taking writes that the new primary
	// never sees. With a Cluster client, without options, a primary that
	// knows replicas of its own but has none connected refuses the write,
	// and one without replicas must be named the owner of the key's slot,
	// and flagged failing by none, by the other primaries.
	Sentinel *Sentinel
}

// DefaultReplicaTimeout is Options.ReplicaTimeout when left zero.
const DefaultReplicaTimeout = time.Second

// errNotReplicated is reported (wrapped in ErrUnavailable) when the
// primary has replicas and none acknowledged a write in time.
var errNotReplicated = errors.New("no replica acknowledged the write")

// runReplicated runs script on the primary holding key and, with
// WaitForReplica, waits on the same connection until a replica has the
// write, or, when the primary has no replica connected, confirms that it
// is still the primary (confirmPrimary).
func (s *Store) runReplicated(ctx context.Context, script *goredis.Script, key string, args ...any) (_ *goredis.Cmd, rerr error) {
	if !s.opts.WaitForReplica {
		cmd := script.Run(ctx, s.client, []string{key}, args...)
		return cmd, cmd.Err()
	}
	var node *goredis.Client
	switch c := s.client.(type) {
	case *goredis.ClusterClient:
		n, err := c.MasterForKey(ctx, key)
		if err != nil {
			return nil, err
		}
		node = n
		// The node's own client is outside the Cluster client's error
		// handling: a node that stopped answering, redirected the key
		// (MOVED) or could not be confirmed as its slot's primary makes it
		// reload the slot map here.
		defer func() {
			if rerr != nil && ctx.Err() == nil {
				c.ReloadState(ctx)
			}
		}()
	case *goredis.Client:
		node = c
	default:
		return nil, fmt.Errorf("waiting for a replica needs a *redis.Client or *redis.ClusterClient, not %T", s.client)
	}
	cmd, unconfirmed, err := s.runOnNode(ctx, node, script, key, args)
	if err != nil {
		return nil, err
	}
	if unconfirmed != nil {
		// No replica to wait for: the write is safe only if the node is
		// still the primary, and not one stalled through a failover.
		if err := s.confirmPrimary(ctx, *unconfirmed); err != nil {
			return nil, err
		}
	}
	return cmd, nil
}

// runOnNode runs script on node and waits on the same connection until a
// replica has the write. When node has no replica connected it returns
// instead what confirmPrimary needs to know about node, if anything: the
// connection is released first, so that no check holds a connection of
// one node while it waits for another's.
func (s *Store) runOnNode(ctx context.Context, node *goredis.Client, script *goredis.Script, key string, args []any) (*goredis.Cmd, *nodeIdentity, error) {
	conn := node.Conn()
	defer conn.Close()
	cmd := script.Run(ctx, conn, []string{key}, args...)
	if cmd.Err() != nil {
		return cmd, nil, cmd.Err()
	}
	info, err := conn.Info(ctx, "replication").Result()
	if err != nil {
		return nil, nil, err
	}
	if replicas, _ := strconv.Atoi(infoField(info, "connected_slaves")); replicas == 0 {
		id, err := s.identify(ctx, conn, node, key)
		return cmd, id, err
	}
	acked, err := conn.Do(ctx, "WAIT", 1, s.replicaTimeout().Milliseconds()).Int()
	if err != nil {
		return nil, nil, err
	}
	if acked < 1 {
		return nil, nil, errNotReplicated
	}
	return cmd, nil, nil
}

func (s *Store) replicaTimeout() time.Duration {
	if s.opts.ReplicaTimeout <= 0 {
		return DefaultReplicaTimeout
	}
	return s.opts.ReplicaTimeout
}

// infoField returns the value of name in an INFO reply, or "".
func infoField(info, name string) string {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			return v
		}
	}
	return ""
}
