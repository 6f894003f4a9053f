package scalesim

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"

	goredis "github.com/redis/go-redis/v9"
)

// serverUsage is what Redis reports about its own work so far, summed
// over every node of a Cluster.
type serverUsage struct {
	cpuSeconds    float64 // used_cpu_user + used_cpu_sys
	netIn, netOut int64   // total_net_input_bytes, total_net_output_bytes
	commands      int64   // total_commands_processed
	// published counts PUBLISH and SPUBLISH calls (from scripts too): the
	// messages, each sent to every subscriber.
	published int64
	// nodeCPU is cpuSeconds per node address.
	nodeCPU map[string]float64
}

// sub returns u minus an earlier reading v; busiest is the largest CPU
// delta of a single node (all of it on a single server).
func (u serverUsage) sub(v serverUsage) (d serverUsage, busiest float64) {
	for addr, cpu := range u.nodeCPU {
		busiest = max(busiest, cpu-v.nodeCPU[addr])
	}
	return serverUsage{
		cpuSeconds: u.cpuSeconds - v.cpuSeconds,
		netIn:      u.netIn - v.netIn,
		netOut:     u.netOut - v.netOut,
		commands:   u.commands - v.commands,
		published:  u.published - v.published,
	}, busiest
}

// readUsage asks every node c talks to for INFO cpu, stats and
// commandstats.
func readUsage(ctx context.Context, c goredis.UniversalClient) (serverUsage, error) {
	var (
		mu    sync.Mutex
		total = serverUsage{nodeCPU: map[string]float64{}}
	)
	add := func(ctx context.Context, node *goredis.Client) error {
		u, err := nodeUsage(ctx, node)
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		total.cpuSeconds += u.cpuSeconds
		total.netIn += u.netIn
		total.netOut += u.netOut
		total.commands += u.commands
		total.published += u.published
		total.nodeCPU[node.Options().Addr] += u.cpuSeconds
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

func nodeUsage(ctx context.Context, c *goredis.Client) (serverUsage, error) {
	var u serverUsage
	for _, section := range []string{"cpu", "stats", "commandstats"} {
		info, err := c.Info(ctx, section).Result()
		if err != nil {
			return u, fmt.Errorf("INFO %s: %w", section, err)
		}
		for line := range strings.Lines(info) {
			k, v, ok := strings.Cut(strings.TrimSpace(line), ":")
			if !ok {
				continue
			}
			switch k {
			case "used_cpu_user", "used_cpu_sys":
				f, _ := strconv.ParseFloat(v, 64)
				u.cpuSeconds += f
			case "total_net_input_bytes":
				u.netIn, _ = strconv.ParseInt(v, 10, 64)
			case "total_net_output_bytes":
				u.netOut, _ = strconv.ParseInt(v, 10, 64)
			case "total_commands_processed":
				u.commands, _ = strconv.ParseInt(v, 10, 64)
			case "cmdstat_publish", "cmdstat_spublish":
				u.published += commandCalls(v)
			}
		}
	}
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
