package redis

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// Sentinel names the sentinels that manage the primary of a store's
// client, so that a write acknowledged by a primary with no replica
// connected is confirmed with them (see Options.Sentinel).
type Sentinel struct {
	// MasterName is the name the sentinels monitor the primary under.
	MasterName string
	// Clients are clients of every sentinel (not only of one: a majority
	// of them must confirm). The caller owns and closes them.
	Clients []*goredis.SentinelClient
}

var (
	// errNotPrimary is reported (wrapped in ErrUnavailable) when the node
	// that ran a write is not the primary the sentinels or the Cluster
	// name: a stale primary, whose writes the promoted node never sees.
	errNotPrimary = errors.New("the node that ran the write is no longer the primary")
	// errUnconfirmed is reported when too few sentinels or Cluster nodes
	// answered to confirm that node.
	errUnconfirmed = errors.New("could not confirm that the node that ran the write is the primary")
)

// nodeIdentity is what confirmPrimary compares with the topology's
// answer: the node's run_id (Sentinel), or its Cluster node id and the
// slot of the key written.
type nodeIdentity struct {
	addr   string // in the Cluster client's slot map
	runID  string
	nodeID string
	slot   int
}

// identify asks node, on conn, who it is, when a write it acknowledged
// with no replica connected is to be confirmed; nil when there is no one
// to confirm it with (a single server). A Cluster primary that knows
// replicas of its own, none connected, is refused here (errNotReplicated):
// no answer of the other primaries could make its write durable.
func (s *Store) identify(ctx context.Context, conn *goredis.Conn, node *goredis.Client, key string) (*nodeIdentity, error) {
	id := &nodeIdentity{addr: node.Options().Addr}
	switch {
	case s.cluster != nil:
		var nodes *goredis.StringCmd
		var slot *goredis.IntCmd
		if _, err := conn.Pipelined(ctx, func(p goredis.Pipeliner) error {
			nodes = p.ClusterNodes(ctx)
			slot = p.ClusterKeySlot(ctx, key)
			return nil
		}); err != nil {
			return nil, err
		}
		myID, replicas, err := selfInClusterNodes(nodes.Val())
		if err != nil {
			return nil, fmt.Errorf("%w: %v", errUnconfirmed, err)
		}
		if replicas > 0 {
			// A primary that knows replicas of its own, none connected, is
			// one whose replica may be taking over its slots right now (a
			// primary resumed from a stall), or one whose replica is down:
			// either way its writes cannot be made durable.
			return nil, fmt.Errorf("%w: the primary knows %d replica(s), none connected", errNotReplicated, replicas)
		}
		id.nodeID, id.slot = myID, int(slot.Val())
	case s.opts.Sentinel != nil:
		info, err := conn.Info(ctx, "server").Result()
		if err != nil {
			return nil, err
		}
		if id.runID = infoField(info, "run_id"); id.runID == "" {
			return nil, fmt.Errorf("%w: the node reported no run_id", errUnconfirmed)
		}
	default:
		return nil, nil
	}
	return id, nil
}

// confirmPrimary checks, after a write acknowledged by a node while it had
// no replica connected, that the node is still the primary the topology
// names: the promoted replica of a failover that happened while the node
// was stalled never saw the write, so acknowledging it could let a refresh
// token rotate twice. The check is bounded by the replica timeout; an
// error is errNotPrimary or errUnconfirmed, or the caller's own context's.
func (s *Store) confirmPrimary(parent context.Context, id nodeIdentity) error {
	ctx, cancel := context.WithTimeout(parent, s.replicaTimeout())
	defer cancel()
	var err error
	if s.cluster != nil {
		err = confirmSlotOwner(ctx, s.cluster, id)
	} else {
		err = s.opts.Sentinel.confirm(ctx, id.runID, s.runIDAt)
	}
	switch {
	case err == nil:
		return nil
	case parent.Err() != nil:
		return parent.Err()
	case errors.Is(err, errNotPrimary) || errors.Is(err, errUnconfirmed):
		return err
	}
	// The check's own deadline is an answer, not the caller's.
	return fmt.Errorf("%w: %v", errUnconfirmed, err)
}

// confirm asks every sentinel which process is the primary. The node is
// compared by its run_id, not by address: the sentinels name the address
// that clients dial (announce-ip, NAT), which the node itself need not
// know, while the run_id they learn from the node's INFO is the node's
// own. A sentinel that has not read the INFO of a newly promoted primary
// yet (it may take up to 10 s) names it with no run_id; runIDAt then asks
// the address it names, as the client would dial it. The node is confirmed
// when a majority of the sentinels name it with no sign of trouble, and
// none names another node or sees it down or being failed over.
//
// Unlike a Cluster primary, the node is not refused for having replicas
// the sentinels know but none connected: the sentinels list a primary
// killed in a failover as a replica of the promoted one until it returns
// (or SENTINEL RESET), so that rule would stop every rotation after an
// ordinary failover. A stalled primary's own failover is refused without
// it: the sentinel leading it flags the primary failover_in_progress
// until it names the promoted replica instead.
func (sn *Sentinel) confirm(ctx context.Context, runID string, runIDAt func(context.Context, string) (string, error)) error {
	type answer struct {
		m   map[string]string
		err error
	}
	answers := make([]answer, len(sn.Clients))
	var wg sync.WaitGroup
	for i, sc := range sn.Clients {
		wg.Go(func() {
			m, err := sc.Master(ctx, sn.MasterName).Result()
			answers[i] = answer{m, err}
		})
	}
	wg.Wait()
	confirmed := 0
	var errs []string
	asked := map[string]string{} // address → run_id, of the addresses asked
	for i, a := range answers {
		name := "sentinel " + sn.Clients[i].String()
		if a.err != nil {
			errs = append(errs, fmt.Sprintf("%s: %v", name, a.err))
			continue
		}
		addr := net.JoinHostPort(a.m["ip"], a.m["port"])
		if troubled(a.m["flags"]) {
			return fmt.Errorf("%w: %s flags the primary %s %s", errNotPrimary, name, addr, a.m["flags"])
		}
		named := a.m["runid"]
		if named == "" {
			if _, ok := asked[addr]; !ok {
				id, err := runIDAt(ctx, addr)
				if err != nil {
					errs = append(errs, fmt.Sprintf("%s names %s: %v", name, addr, err))
					continue
				}
				asked[addr] = id
			}
			named = asked[addr]
		}
		if named != runID {
			return fmt.Errorf("%w: %s names %s", errNotPrimary, name, addr)
		}
		confirmed++
	}
	if 2*confirmed > len(sn.Clients) {
		return nil
	}
	return fmt.Errorf("%w: %d of %d sentinels did: %s", errUnconfirmed, confirmed, len(sn.Clients), strings.Join(errs, "; "))
}

// runIDAt returns the run_id of the data node at addr, reached with the
// credentials and TLS settings of the store's client.
func (s *Store) runIDAt(ctx context.Context, addr string) (string, error) {
	c, ok := s.client.(*goredis.Client)
	if !ok {
		return "", fmt.Errorf("cannot reach %s with a %T", addr, s.client)
	}
	o := c.Options()
	node := goredis.NewClient(&goredis.Options{
		Addr:                       addr,
		Protocol:                   o.Protocol,
		Username:                   o.Username,
		Password:                   o.Password,
		CredentialsProvider:        o.CredentialsProvider,
		CredentialsProviderContext: o.CredentialsProviderContext,
		TLSConfig:                  o.TLSConfig,
		DialTimeout:                o.DialTimeout,
		ReadTimeout:                o.ReadTimeout,
		WriteTimeout:               o.WriteTimeout,
		MaxRetries:                 -1,
		PoolSize:                   1,
		DisableIdentity:            true,
	})
	defer node.Close()
	info, err := node.Info(ctx, "server").Result()
	if err != nil {
		return "", err
	}
	id := infoField(info, "run_id")
	if id == "" {
		return "", errors.New("no run_id in its INFO")
	}
	return id, nil
}

// troubled reports whether a sentinel's flags for the primary show it
// down or being failed over.
func troubled(flags string) bool {
	for f := range strings.SplitSeq(flags, ",") {
		switch f {
		case "s_down", "o_down", "failover_in_progress", "force_failover":
			return true
		}
	}
	return false
}
