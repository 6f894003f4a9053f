package scalesim

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// serverUsage is what Redis reports about its own work so far, summed
// over every node it was read from (a Cluster's, or a Sentinel primary's
// and its replicas').
type serverUsage struct {
	cpuSeconds    float64 // used_cpu_user + used_cpu_sys
	netIn, netOut int64   // total_net_input_bytes, total_net_output_bytes
	commands      int64   // total_commands_processed
	// published counts PUBLISH and SPUBLISH calls (from scripts too) on
	// primaries: the messages, each sent to every subscriber. (A replica
	// runs again every PUBLISH its primary replicates to it; those are not
	// counted.)
	published int64
	// mgets counts MGET calls: the reads of session-set chunks.
	mgets int64
	// nodes is the usage per node address.
	nodes map[string]NodeUsage
}

// NodeUsage is one Redis node's share of a phase's usage.
type NodeUsage struct {
	// Addr is the node's address; Role "master" or "slave", as INFO
	// replication names it.
	Addr, Role string
	// CPU is its CPU seconds (used_cpu_user + used_cpu_sys); In and Out
	// its bytes received and sent (total_net_input_bytes,
	// total_net_output_bytes); Commands its commands processed; MGets its
	// MGET calls (each a read of up to four session-set chunks).
	CPU                      float64
	In, Out, Commands, MGets int64
}

// sub returns u minus an earlier reading v; busiest is the largest CPU
// delta of a single node (all of it on a single server).
func (u serverUsage) sub(v serverUsage) (d serverUsage, busiest float64) {
	d = serverUsage{
		cpuSeconds: u.cpuSeconds - v.cpuSeconds,
		netIn:      u.netIn - v.netIn,
		netOut:     u.netOut - v.netOut,
		commands:   u.commands - v.commands,
		published:  u.published - v.published,
		mgets:      u.mgets - v.mgets,
		nodes:      make(map[string]NodeUsage, len(u.nodes)),
	}
	for addr, n := range u.nodes {
		was := v.nodes[addr]
		n.CPU -= was.CPU
		n.In -= was.In
		n.Out -= was.Out
		n.Commands -= was.Commands
		n.MGets -= was.MGets
		d.nodes[addr] = n
		busiest = max(busiest, n.CPU)
	}
	return d, busiest
}

// perNode returns the usage of every node, by address.
func (u serverUsage) perNode() []NodeUsage {
	out := make([]NodeUsage, 0, len(u.nodes))
	for _, addr := range slices.Sorted(maps.Keys(u.nodes)) {
		out = append(out, u.nodes[addr])
	}
	return out
}

// readUsage asks every node c talks to for INFO cpu, stats, replication
// and commandstats: with a Cluster client (a Cluster's, or a Sentinel's
// read client) every primary and replica it knows of. With pubs, a
// primary's PUBLISH calls are counted without the sentinels' hellos (see
// foreignPublishes).
func readUsage(ctx context.Context, c goredis.UniversalClient, pubs *primaries) (serverUsage, error) {
	var (
		mu    sync.Mutex
		total = serverUsage{nodes: map[string]NodeUsage{}}
	)
	add := func(ctx context.Context, node *goredis.Client) error {
		u, err := nodeUsage(ctx, node, pubs)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		total.cpuSeconds += u.CPU
		total.netIn += u.In
		total.netOut += u.Out
		total.commands += u.Commands
		total.mgets += u.MGets
		if u.Role != "slave" {
			total.published += u.published
		}
		u.Addr = node.Options().Addr
		total.nodes[u.Addr] = u.NodeUsage
		return nil
	}
	var err error
	switch cc := c.(type) {
	case *goredis.ClusterClient:
		err = cc.ForEachShard(ctx, add)
	case *goredis.Client:
		err = add(ctx, cc)
	default:
		err = fmt.Errorf("scalesim: unsupported client %T", c)
	}
	return total, err
}

// nodeReading is one node's INFO.
type nodeReading struct {
	NodeUsage
	published int64
}

func nodeUsage(ctx context.Context, c *goredis.Client, pubs *primaries) (nodeReading, error) {
	var u nodeReading
	var foreign int64
	for _, section := range []string{"cpu", "stats", "replication", "commandstats"} {
		var info string
		var err error
		if section == "commandstats" && pubs != nil && u.Role == "master" {
			var f *foreignPublishes
			if f, err = pubs.of(ctx, c.Options().Addr, c); err == nil {
				info, foreign, err = f.publishes(ctx, c)
			}
		} else if info, err = c.Info(ctx, section).Result(); err != nil {
			err = fmt.Errorf("INFO %s: %w", section, err)
		}
		if err != nil {
			return u, err
		}
		for line := range strings.Lines(info) {
			k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok {
				continue
			}
			switch k {
			case "used_cpu_user", "used_cpu_sys":
				f, _ := strconv.ParseFloat(v, 64)
				u.CPU += f
			case "total_net_input_bytes":
				u.In, _ = strconv.ParseInt(v, 10, 64)
			case "total_net_output_bytes":
				u.Out, _ = strconv.ParseInt(v, 10, 64)
			case "total_commands_processed":
				u.Commands, _ = strconv.ParseInt(v, 10, 64)
			case "role":
				u.Role = v
			case "cmdstat_publish", "cmdstat_spublish":
				u.published += commandCalls(v)
			case "cmdstat_mget":
				u.MGets = commandCalls(v)
			}
		}
	}
	u.published -= foreign
	return u, nil
}

// commandCalls reads calls=N from a line of INFO commandstats
// ("calls=3,usec=12,...").
func commandCalls(stats string) int64 {
	for field := range strings.SplitSeq(stats, ",") {
		if n, ok := strings.CutPrefix(field, "calls="); ok {
			calls, _ := strconv.ParseInt(n, 10, 64)
			return calls
		}
	}
	return 0
}
