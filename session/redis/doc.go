// Package redis is the session.Store shared by several replicas, kept in
// Redis under keys "jwt-authz:session:<sid>" (one hash per session) that
// expire with the session's newest refresh token. Create, Rotate and Revoke
// are Lua scripts, so each is one atomic step on the server: of concurrent
// rotations presenting the same jti, from any number of replicas, exactly
// one rotates. Every script touches one key, so the store works unchanged
// on a single server, through Sentinel and on a Redis Cluster. Every backend error wraps session.ErrUnavailable. Safe for
// concurrent use.
//
// With Options.WaitForReplica (Sentinel, Cluster) a write (creation,
// rotation, revocation) is acknowledged only once a replica of the primary
// has it, or, while the primary has no replica connected, once the
// sentinels (or the Cluster's other primaries) confirm that the node is
// still the primary and, with Sentinel, no replica they know of it has
// been promoted: a primary stalled through a failover would otherwise
// acknowledge a rotation the promoted node never sees, and the same
// refresh token could rotate again there.
package redis
