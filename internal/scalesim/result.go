package scalesim

import "time"

// Result is what one simulation measured.
type Result struct {
	// Replicas is how many replicas followed the store; FullReplicas how
	// many of them were revocation.Services (the others were listeners).
	Replicas, FullReplicas int
	// RawListeners is how many of the others were raw listeners (the rest
	// were listeners).
	RawListeners int
	// StartTime is how long starting and subscribing every replica took.
	StartTime time.Duration
	// HeapIdle and HeapPerReplica are the live Go heap per replica (client,
	// subscription, Service, index and write-back ledger) after start and
	// after the last phase. The writer counts as one more replica: it holds
	// the same entries.
	HeapIdle, HeapPerReplica uint64
	// IndexEntries is the mean number of entries in a full replica's index
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
	// full replica's apply, over every full replica and entry, each apply
	// timed once the Service has applied the whole message (or pull) that
	// brought it. An apply before the return (the announcement can overtake
	// the reply) counts as zero.
	P50, P99, Max time.Duration
	// Applied counts (full replica, entry) applies; Lost the pairs missing
	// after the settle window; ViaPull the applies that a pull brought
	// before the announcement did.
	Applied, Lost, ViaPull int64
	// Complete is from the first write's start to the last apply on the
	// last full replica: how long the whole phase took to reach them.
	Complete time.Duration
	// Listeners is how the phase reached the listeners.
	Listeners Delivery
	// Raw is how the phase's messages reached the raw listeners.
	Raw RawDelivery
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
	// RedisMGets counts MGET calls, all nodes: the reads of session-set
	// chunks (up to four a call).
	RedisMGets int64
	// RedisNodes is the usage of each node read (see Config.NewNodesClient),
	// by address: primaries and replicas.
	RedisNodes []NodeUsage
	// SetContentBytes is the size of the session set's stored content
	// (the session-set phase only), read once after the phase.
	SetContentBytes int64
	// SetFallbacks counts the set contents the replicas' set readers could
	// not read and that were read again from the primary (the product's
	// jwt_authz_revocation_set_reads_from_primary_total).
	SetFallbacks int64
	// RedisMessages counts the messages published (PUBLISH and SPUBLISH,
	// from scripts too, on primaries; without a Sentinel's hellos); each
	// reaches every subscribed replica.
	RedisMessages int64
	// ProcessCPU is the CPU seconds of this process (every replica and the
	// writer) over Wall.
	ProcessCPU float64
}

// Delivery is how a phase reached the listeners, timed per (listener,
// entry) from the delivery of the entry's write sequence number: by a
// message that carried as many entries as its numbers say, a read of the
// change log after a gap, or a pull.
type Delivery struct {
	// P50, P99 and Max are the delays from the writer's return to the
	// delivery, each timed once the listener's Store has decoded the whole
	// message (or pull).
	P50, P99, Max time.Duration
	// Delivered counts (listener, entry) pairs delivered; Lost those never
	// delivered within the settle window; ViaPull those a pull delivered
	// first.
	Delivered, Lost, ViaPull int64
	// ShortMessages counts messages not credited because they held fewer
	// (or more) entries than their sequence numbers say.
	ShortMessages int64
	// PullErrors counts the listeners' failed pulls (each makes the next
	// SyncInterval tick list everything, as in the Service), FullListings
	// their full listings of every stored entry.
	PullErrors, FullListings int64
	// PullReads counts the entries the listeners' pulls read from the
	// change log: beyond what ViaPull counts, entries the announcements
	// had brought already.
	PullReads int64
	// Complete is from the first write's start to the last delivery.
	Complete time.Duration
	// Unmeasured, when set, says why the listeners could not be timed
	// (the change log could not be read); the other fields are then 0.
	Unmeasured string
}

// RawDelivery is how a phase's messages reached the raw listeners, which
// read only each message's header.
type RawDelivery struct {
	// Published is how many messages the phase published (RedisMessages);
	// Received how many the raw listeners received in all, MinReceived
	// and MaxReceived the fewest and most one of them received. Missed
	// sums, over the raw listeners, the messages published that one did
	// not receive: each is a loss.
	Published, Received, MinReceived, MaxReceived, Missed int64
	// Delivered counts (raw listener, entry) pairs received: each
	// message's entries are numbered from its header's first sequence
	// number to the next message's (or the phase's last write), over the
	// messages any raw listener received.
	Delivered int64
	// Bytes counts the payload bytes received, all raw listeners together.
	Bytes int64
	// P50, P99 and Max are the delays from the writer's return for the
	// first entry of a message to its arrival, per (raw listener, message).
	P50, P99, Max time.Duration
	// Complete is from the first write's start to the last arrival.
	Complete time.Duration
	// Probes counts the raw listeners' reads of the store's position,
	// ProbeErrors those that failed.
	Probes, ProbeErrors int64
	// SetReads counts, in the session-set phase, the raw listeners that
	// read the set's whole content (Store.ReadSetContent) after the
	// message announcing it; SetBytes the bytes they read; SetReadErrors
	// the reads that failed and were made again; SetUnread the raw
	// listeners that never read it within the settle window (each a
	// loss). In that phase Delivered counts the reads, and the delays run
	// from the writer's return to each read's end.
	SetReads, SetBytes, SetReadErrors, SetUnread int64
	// Unmeasured, when set, says why the delays and deliveries could not
	// be measured (the change log could not be read).
	Unmeasured string
}

// Deliveries counts the (replica, entry) pairs delivered: full replicas',
// listeners' and raw listeners'.
func (p Phase) Deliveries() int64 { return p.Applied + p.Listeners.Delivered + p.Raw.Delivered }

// RedisCores is the mean number of cores Redis used during the phase.
func (p Phase) RedisCores() float64 { return perSecond(p.RedisCPU, p.Wall) }

// RedisBusiestNodeCores is the mean number of cores the busiest Redis
// node used (single-threaded, it saturates at 1).
func (p Phase) RedisBusiestNodeCores() float64 { return perSecond(p.RedisBusiestNodeCPU, p.Wall) }

// ProcessCores is the mean number of cores the replicas used.
func (p Phase) ProcessCores() float64 { return perSecond(p.ProcessCPU, p.Wall) }

// BytesPerDelivery is Redis's output bytes per (replica, entry)
// delivered.
func (p Phase) BytesPerDelivery() float64 { return ratio(float64(p.RedisOut), p.Deliveries()) }

// EntriesPerMessage is the mean number of entries an announcement
// carried: entries written over messages published.
func (p Phase) EntriesPerMessage() float64 {
	return ratio(float64(p.Entries-p.WriteErrors), p.RedisMessages)
}

// RedisMicrosPerDelivery is Redis CPU microseconds per (replica, entry)
// delivered.
func (p Phase) RedisMicrosPerDelivery() float64 { return ratio(p.RedisCPU*1e6, p.Deliveries()) }

// ProcessMicrosPerDelivery is this process's CPU microseconds per
// (replica, entry) delivered, full replicas and listeners together.
func (p Phase) ProcessMicrosPerDelivery() float64 { return ratio(p.ProcessCPU*1e6, p.Deliveries()) }

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
