// Package scalesim measures how revocations reach many replicas through
// one shared Redis: the engine of "authzbench scale".
//
// A simulated replica is full, a listener or a raw listener; all of them live in
// one process, each on its own Redis client (its own connections and
// subscription), and they subscribe one after the other, a full replica
// at every Replicas/FullReplicas-th place, so that the full ones sit
// among the listeners in the order Redis holds its subscribers.
//
// A full replica is the product's own revocation.Service, running exactly
// as a jwt-authz process runs it: subscription, incremental pulls, full
// resyncs and the index that Check reads. Only the store handed to the
// Service is wrapped, to note the moment the Service applied each entry
// (once per message or pull, after its last entry), whichever path
// (announcement or pull) brought it first. Its delays and losses are
// exact per (replica, entry).
//
// A listener asks of Redis what a Service asks, with the product's own
// redis.Store: the subscription (the Store decodes every message), the
// incremental pull every ProbeInterval from a cursor that follows the
// announcements, the full listing after a resubscription and every 60 to
// 90 SyncIntervals, the sweep every SweepInterval. So Redis does the same
// fan-out and probe work for it (same connections, messages and bytes);
// but it keeps no index and does no work per entry: it records, per
// message, change-log read or pull, the range of write sequence numbers
// it delivered and when. After the phase the engine reads each entry's
// number from the store's change log and so times every (listener, entry)
// pair too; a message whose entries do not match its numbers is not
// credited, so its entries show as lost unless a pull brought them.
//
// A raw listener (Config.RawListeners, in place of the listeners) asks of
// Redis the fan-out, the probe and the session sets' content: its own
// client subscribed to the channel as the product subscribes (SSUBSCRIBE
// in a Cluster of Redis 7 or later, SUBSCRIBE otherwise), receiving every
// message whole, and Store.Head every ProbeInterval. It decodes no entry:
// per message it keeps the arrival time and its header's first write
// sequence number, and counts messages and bytes. It makes no pull, full
// listing or sweep. In the session-set phase, the message announcing the
// set (the first past the store's position before the phase, whose one
// write is the set's entry) makes it read the set's whole content with
// Store.ReadSetContent, as a replica's load reads it (the header from the
// primary, the chunks through its set reader, again from the primary when
// that fails), without checking or decoding it; a failed read is made
// again until the settle window ends, and counted. Its delivery of the set
// is the end of a successful read, never a failed one. After the phase
// the engine compares each raw listener's messages with those Redis
// published (one not received is a loss) and times each message's first
// entry (the set: each read's end) from the writer's return for it. It
// costs this process a few µs per message, where a listener costs the
// decoding of every entry.
//
// Redis may be a single server, a Cluster or a Sentinel primary with its
// replicas. With replicas, every replica's Store, raw listeners' too,
// reads set content through a set reader (Config.NewSetReader:
// revocation/redis's NewSentinelReadClient or NewClusterReadClient, each
// read sent to a random node among the primary and its replicas), one of
// its own, as each jwt-authz process has. Each reader is warmed when its
// replica starts (its view of the nodes loaded, a connection to each), so
// that the phase measures the reads, not a thousand readers' first
// questions to the sentinels at once. A Sentinel's reader holds two
// connections to a sentinel (its questions and the failover
// announcements) besides one to each node; with Config.SharedSetReaders
// the raw listeners share a few readers instead, taken in turn: Redis's
// data nodes serve the same bytes and commands (one read of the whole
// content per raw listener), on fewer connections, and the sentinels see
// fewer clients.
//
// Revocations are written through the product's write path
// (revocation.Service.Revoke on a separate writer replica, what the admin
// API answers 201 after), at a fixed rate. For full replicas and
// listeners apart the engine reports the propagation delay from the
// writer's return to the apply or delivery, the pairs not reached within
// the settle window (lost); and for the phase the Redis server's CPU time
// and bytes on the wire (INFO deltas), all nodes together and per node
// (every node of a Cluster; a Sentinel's primary and every replica,
// through Config.NewNodesClient), with the busiest node's CPU, the
// messages published (PUBLISH calls on primaries, without the sentinels'
// hellos, told apart by a subscription of the engine's own), the MGETs (set chunk reads), this
// process's CPU and the Go heap per replica.
//
// All replicas share one process, so their CPU competes with Redis on the
// same machine: on a small machine the delays measure that machine, and
// the per-delivery costs (Redis CPU and bytes per delivered entry) are
// the figures that carry over to other sizes. Listeners make a thousand
// replicas affordable: their cost is the product's decoding and the
// sockets, not the index.
package scalesim
