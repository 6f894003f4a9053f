package scalesim

import "time"

// Result is what one simulation measured.
type Result struct {
	Replicas int
	// StartTime is how long starting and subscribing every replica took.
	StartTime time.Duration
	// HeapIdle and HeapPerReplica are the live Go heap per replica (client,
	// subscription, Service, index and write-back ledger) after start and
	// after the last phase. The writer counts as one more replica: it holds
	// the same entries.
	HeapIdle, HeapPerReplica uint64
	// IndexEntries is the mean number of entries in a replica's index
	// after the last phase.
	IndexEntries float64
	// Resubscriptions counts subscriptions made again after the first, over
	// all replicas: each one is a dropped connection (Redis closes a
	// subscriber whose output buffer outgrew its limit) followed by a full
	// resync.
	Resubscriptions int64
	Phases          []Phase
}

// Phase is one batch of revocations and how it reached the replicas.
type Phase struct {
	Name string
	// Entries is how many revocations the phase wrote; WriteErrors how many
	// of them the writer could not record (they are not counted as lost).
	Entries, WriteErrors int
	// WriteTime is from the first write's start to the last write's return;
	// Rate the achieved writes per second.
	WriteTime time.Duration
	Rate      float64
	// P50, P99 and Max are the delays from the writer's return to each
	// replica's apply, over every replica and entry. An apply before the
	// return (the announcement can overtake the reply) counts as zero.
	P50, P99, Max time.Duration
	// Applied counts (replica, entry) applies; Lost the pairs missing after
	// the settle window; ViaPull the applies that a pull brought before
	// the announcement did.
	Applied, Lost, ViaPull int64
	// Complete is from the first write's start to the last apply on the
	// last replica: how long the whole phase took to reach everyone.
	Complete time.Duration
	// Wall is the span the usage figures cover: from the first write to
	// the last apply (or the end of the settle window).
	Wall time.Duration
	// RedisCPU is the server's CPU seconds (user+sys, all nodes) over Wall;
	// RedisIn and RedisOut its bytes received and sent; RedisCommands its
	// commands processed.
	RedisCPU float64
	// RedisBusiestNodeCPU is the CPU seconds of the busiest node over
	// Wall: in a Cluster, the one that bounds the fan-out.
	RedisBusiestNodeCPU              float64
	RedisIn, RedisOut, RedisCommands int64
	// RedisMessages counts the messages published (PUBLISH and SPUBLISH,
	// from scripts too); each reaches every subscribed replica.
	RedisMessages int64
	// ProcessCPU is the CPU seconds of this process (every replica and the
	// writer) over Wall.
	ProcessCPU float64
}

// RedisCores is the mean number of cores Redis used during the phase.
func (p Phase) RedisCores() float64 { return perSecond(p.RedisCPU, p.Wall) }

// RedisBusiestNodeCores is the mean number of cores the busiest Redis
// node used (single-threaded, it saturates at 1).
func (p Phase) RedisBusiestNodeCores() float64 { return perSecond(p.RedisBusiestNodeCPU, p.Wall) }

// ProcessCores is the mean number of cores the replicas used.
func (p Phase) ProcessCores() float64 { return perSecond(p.ProcessCPU, p.Wall) }

// BytesPerDelivery is Redis's output bytes per (replica, entry) applied.
func (p Phase) BytesPerDelivery() float64 { return ratio(float64(p.RedisOut), p.Applied) }

// EntriesPerMessage is the mean number of entries an announcement
// carried: entries written over messages published.
func (p Phase) EntriesPerMessage() float64 {
	return ratio(float64(p.Entries-p.WriteErrors), p.RedisMessages)
}

// RedisMicrosPerDelivery is Redis CPU microseconds per (replica, entry)
// applied.
func (p Phase) RedisMicrosPerDelivery() float64 { return ratio(p.RedisCPU*1e6, p.Applied) }

// ProcessMicrosPerDelivery is the replicas' CPU microseconds per (replica,
// entry) applied.
func (p Phase) ProcessMicrosPerDelivery() float64 { return ratio(p.ProcessCPU*1e6, p.Applied) }

func perSecond(v float64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return v / d.Seconds()
}

func ratio(v float64, n int64) float64 {
	if n == 0 {
		return 0
	}
	return v / float64(n)
}
