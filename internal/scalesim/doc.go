// Package scalesim measures how revocations reach many replicas through
// one shared Redis: the engine of "authzbench scale".
//
// Every simulated replica is the product's own revocation.Service on its
// own Redis client (its own connections and subscription), running exactly
// as a jwt-authz process runs it: subscription, incremental pulls, full
// resyncs and the index that Check reads. Only the store handed to the
// Service is wrapped, to note the moment the Service applied each entry,
// whichever path (announcement or pull) brought it first.
//
// Revocations are written through the product's write path
// (revocation.Service.Revoke on a separate writer replica, what the admin
// API answers 201 after), at a fixed rate. For every replica and entry the
// engine reports the propagation delay from the writer's return to the
// replica's apply, the entries a replica never applied within the settle
// window (lost), the Redis server's CPU time and bytes on the wire (INFO
// deltas) and the Go heap per replica.
//
// All replicas share one process, so their CPU competes with Redis on the
// same machine: on a small machine the delays measure that machine, and
// the per-delivery costs (Redis CPU and bytes per delivered entry) are
// the figures that carry over to other sizes.
package scalesim
