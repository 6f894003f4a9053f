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
	// WaitForReplica makes Rotate and Revoke wait until a replica of the
	// primary has the write (WAIT) whenever the primary has replicas, and
	// fail with ErrUnavailable when none acknowledges it within
	// ReplicaTimeout. A failover to a replica then never loses an
	// acknowledged rotation, so a refresh token never rotates twice. For
	// Sentinel and Cluster.
	WaitForReplica bool
	// ReplicaTimeout bounds the wait. Default DefaultReplicaTimeout.
	ReplicaTimeout time.Duration
}

// DefaultReplicaTimeout is Options.ReplicaTimeout when left zero.
const DefaultReplicaTimeout = time.Second

// errNotReplicated is reported (wrapped in ErrUnavailable) when the
// primary has replicas and none acknowledged a write in time.
var errNotReplicated = errors.New("no replica acknowledged the write")

// runReplicated runs script on the primary holding key and, with
// WaitForReplica, waits on the same connection until a replica has the
// write.
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
		// handling: a node that stopped answering makes it reload the slot
		// map here.
		defer func() {
			if err := rerr; err != nil && ctx.Err() == nil {
				var reply goredis.Error
				if !errors.As(err, &reply) {
					c.ReloadState(ctx)
				}
			}
		}()
	case *goredis.Client:
		node = c
	default:
		return nil, fmt.Errorf("waiting for a replica needs a *redis.Client or *redis.ClusterClient, not %T", s.client)
	}
	conn := node.Conn()
	defer conn.Close()
	cmd := script.Run(ctx, conn, []string{key}, args...)
	if cmd.Err() != nil {
		return cmd, cmd.Err()
	}
	info, err := conn.Info(ctx, "replication").Result()
	if err != nil {
		return nil, err
	}
	if replicas := infoInt(info, "connected_slaves"); replicas == 0 {
		return cmd, nil
	}
	timeout := s.opts.ReplicaTimeout
	if timeout <= 0 {
		timeout = DefaultReplicaTimeout
	}
	acked, err := conn.Do(ctx, "WAIT", 1, timeout.Milliseconds()).Int()
	if err != nil {
		return nil, err
	}
	if acked < 1 {
		return nil, errNotReplicated
	}
	return cmd, nil
}

func infoInt(info, name string) int {
	for line := range strings.Lines(info) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), name+":"); ok {
			n, _ := strconv.Atoi(v)
			return n
		}
	}
	return 0
}
