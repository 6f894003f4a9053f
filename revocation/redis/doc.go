// Package redis is the revocation.Store for several replicas: they share
// one Redis, and each follows the others through it. It implements
// revocation.Shared, which the revocation.Service uses to keep every
// replica's local index in step; the Check path never talks to Redis.
//
// Layout, under the key prefix (default "jwt-authz:revocation:"):
//
//	e:<member>     the entry, "exp:before:created", expiring (EXAT) with it
//	log            sorted set of members by write sequence number
//	exp            sorted set of members by expiry, for the sweep
//
// A member is "<kind>:<id>", or "<kind>@<provider>:<id>" for an entry
// scoped to one provider; a provider cut-off is "provider:<name>". An
// earlier version skips the last two as malformed (see member).
//
//	seq            the write sequence counter
//	epoch          a random marker naming the dataset
//	pending        changed entries not announced yet, every writer's, in
//	               the order of their sequence numbers
//	pending-state  "<seq>:<bytes>": the counter as the last write left it,
//	               and the size of what is pending
//
// These two expire (PX) a minute after the script call that last wrote
// them (after the marker, while entries are pending), so they do not
// outlive the writers.
//
//	announced      the spacing marker, set for the interval (PX) by every
//	               message
//	s:<member>:h   a session set's header, "count:chunks:sha256:exp"
//	s:<member>:<i> chunk i of a session set's content (from 0)
//	s:<member>:w   the claim of the one writer uploading a session set's
//	               content, a random token (PX 30 s)
//
// A session set (revocation.KindSIDSet, member "sid_set:<id>" or
// "sid_set@<provider>:<id>") is one entry like the others, announced like
// them, but its content, the sorted 64-bit hashes of its sessions, is too
// large for a message: 5.7 MB for a million sessions, Rice-coded (the
// gaps between sorted hashes, see encodeChunk). Put writes it first, as
// chunks of 8,192 hashes (about 46 KiB) and a header giving their count and
// the SHA-256 of the whole, every key expiring with the set (in a Cluster
// they share the store's slot through its hash tag); then the entry's
// normal write announces it, one entry of about 30 bytes. A replica that
// receives the entry, by announcement, change log or full listing, reads
// the header, then the chunks (MGET, 4 at a time), checks count and
// SHA-256, and only then hands the entry to the Service. The chunks are
// read through Options.SetReader when there is one, a client that sends
// each read to a random node among the primary and its replicas, so that
// a mass logout read by every replica at once spreads over them; the
// header always comes from the primary, and content that a replica lacks
// or holds otherwise is read again from the primary. The writer waits
// (WAIT, up to a second) until the primary's replicas have the content
// before writing the entry. The replica remembers the
// sets it loaded, so a set delivered again costs one GET. When the content
// cannot be loaded, the entry is not applied: the batch announcing it is
// not covered and a pull stops before it, so the Service's next pull
// tries again, and a store that keeps failing makes the replica stale
// (fail closed past max_staleness) as any failed pull does. The
// write-back (Restore) writes a set's content again, unless its header is
// there already, and one writer at a time uploads it: the one that takes
// the set's claim (SET NX PX 30 s, a random token, in the header's slot;
// one script reads the header and takes the claim when there is none).
// The others, every replica writing back at once after Redis lost its
// data, wait for the header, polling every 20 ms doubling to 200 ms: when
// it names the same content their write is done (at most they move its
// expiry later), and when the claim is gone without it they take the
// claim themselves. So a Redis that lost its data takes a set's size once,
// not once per replica. The holder releases the claim (deleting it only
// if it still holds its token) when done or failed; one that dies leaves
// it to expire, and the others carry on then. A holder slower than the
// claim's 30 s lets a second writer upload the same content again, a
// duplicate and no loss. A writer whose context ends while it waits
// fails, as a failed write does, and leaves no claim behind. A header
// that names other content refuses the write, waiting or not.
//
// Upgrade every replica before revoking session sets. An earlier version
// refuses a compact message holding a session set whole (an unknown kind
// code), and its pull skips the set's member as malformed, logging it: it
// does not enforce the set, but misreads nothing and loses the message's
// other entries only until its next pull.
//
// Every write is one Lua script: merge each entry with the stored one (the
// later expiry and cut-off win), write it with its TTL, give it the next
// sequence number, and queue what changed for announcement on the channel
// (default "jwt-authz:revocations") — all or nothing, so an entry is never
// stored without being queued. Concurrent Puts share one script call: a
// batch is written Options.AnnounceDelay (2 ms) after its first entry, or
// as soon as its announcement reaches Options.AnnounceMaxBytes (64 KiB),
// and each Put returns once the batch is written. Under load a batch also
// waits until an interval after the writer's previous one (by default
// 20 µs per replica subscribed to the channel, at most 100 ms: 20 ms for
// 1,000 replicas), which bounds its script calls.
//
// The spacing of messages holds across all writers, in Redis: the script
// appends the changed entries to the pending list every writer shares, and
// announces the whole list (every writer's entries, in the order of their
// sequence numbers) only when the marker is gone, that is when no message
// went out within the interval; announcing sets it again for the interval
// (in whole milliseconds, rounded down, at least 1). Otherwise the entries stay pending, and the
// writer whose entries started the list runs a small flush script when
// the marker expires (or after its own interval, if a writer with a longer
// one set it); any later write announces them too. So the whole system
// sends at most one message per interval under load, whatever the number
// of writers, and a lone revocation after a quiet interval finds no marker
// and goes out after the 2 ms delay alone. The pending list goes out at
// once, whatever the marker, when it reaches AnnounceMaxBytes, so a burst
// makes messages of that size, not bigger ones. A message holds
// consecutive sequence numbers only: a write-back (Restore, which is not
// announced) between pending entries splits them into two messages, and
// subscribers read the write-back's numbers from the change log as for any
// gap.
//
// Nothing is lost when writers die with entries pending: the entries are
// stored and in the change log, the next write of any writer announces
// them, and meanwhile every replica's pull (every second by default) reads
// them. A Store's Close leaves its pending entries to those. When no writer
// is left for a minute, the pending list and pending-state expire; the
// scripts then drop what the list held (it is in the change log, and the
// next message's gap or the pull delivers it) and start a new list, whose
// writer flushes it.
//
// During a rolling upgrade, a writer of the version before this spacing
// announces its writes at once. Its numbers then pass entries still
// pending, which must not be announced after it: a subscriber would take
// numbers going backwards for a dataset that lost writes, and start over.
// The scripts notice (the counter is not where pending-state says the last
// of them left it) and drop the pending list instead; the earlier
// writer's message leaves a gap before its own numbers, from which
// subscribers read the dropped entries in the change log (or their next
// pull does). New writers keep announcing in order and nothing is lost;
// the dropped entries arrive one change-log read later.
//
// A message is, in the compact form,
//
//	c:<first seq><entry>...
//
// one entry after the other with consecutive sequence numbers, each a
// kind byte, the provider and the identifier (a UUID or 22 characters of
// base64url packed into 16 bytes), and its expiry, cut-off and creation
// time as varint differences from the previous entry's (see
// decodeCompact): about 21 bytes for a UUID jti. A batch with a number of
// more than 15 digits goes out in the earlier batch form,
//
//	b:<seq>:<exp>:<before>:<created>:<len>:<member>...
//
// len being the member's length in bytes, about 76 bytes for a UUID jti.
// Subscribers read both, and the one-entry form
// "<exp>:<before>:<created>:<member>" of versions before batching. An
// earlier version ignores (and logs) a message of a form it does not
// know, and gets those revocations from its periodic pull instead (every
// second by default), so a rolling upgrade delays propagation from new to
// old replicas to about a second and loses nothing.
//
// Writes are announced in the order of their sequence numbers, so a batch
// whose first number does not follow the previous batch's last shows that
// the subscription missed messages: the subscriber reads "everything after
// sequence N" from the change log (the log sorted set, one member per
// stored entry, trimmed by the expiry sweep) and delivers it, without a
// full resync. The Service's cursor
// follows the batches (Subscribe's onCovered), so its pull from the cursor
// every probe interval (two commands: the head script and INFO server for
// the run_id) usually finds the head where it left it and reads nothing;
// it reads the change log only for a gap, and everything only when the
// dataset changed (see revocation.Service.Run for when it resyncs in full).
//
// The epoch marker and the server's run_id make up a replica's view of the
// dataset (revocation.Cursor.Generation). When Redis restarts without
// persistence the marker is gone, when it restarts or fails over the run_id
// changes, and when it lost recent writes the counter goes backwards: in
// each case Pull reports a reset, and the Service writes back every entry
// it holds. A subscription that sees announcements numbered at or before
// ones it already saw reports it too (the counter went backwards and may
// be past the cursor again by the next pull), with the same outcome. No revocation is lost while any replica or Redis holds it.
//
// Topologies: a single server (NewClient), a primary found through Redis
// Sentinel (NewSentinelClient) or a Redis Cluster (NewClusterClient), all
// go-redis clients behind goredis.UniversalClient. In a Cluster
// (Options.Cluster) the keys are under ClusterKeyPrefix, whose hash tag
// keeps every key of a script in one slot, and announcements use sharded
// pub/sub on ClusterChannel when the slot's primary runs Redis 7 or later
// (plain PUBLISH, which a Cluster broadcasts, before). A single server and
// Sentinel keep the untagged names. Probe and CheckSentinels tell a
// configuration that cannot work from a server that is merely unreachable.
//
// Requirements: Redis 6.2 or later (SET EXAT), and maxmemory-policy
// noeviction, since every key has a TTL and a volatile-* policy would evict
// revocations early. Durability of an acknowledged write is what the
// server's persistence and replication give; the write-back covers a
// server that lost it, including a promoted replica that missed writes (its
// run_id differs).
//
// The client passed to New stays the caller's: Close does not close it. A
// Store is safe for concurrent use.
package redis
