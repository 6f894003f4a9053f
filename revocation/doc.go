// Package revocation decides whether a token has been revoked, without
// touching the network on the request path.
//
// Four kinds of revocation exist (see [Kind]): a single token by its jti,
// a whole session by its sid, every token of a subject issued at or before
// a cut-off (iat <= before), and every token of one provider issued at or
// before a cut-off (a mass logout in one entry). A sid or sub entry covers
// every provider's tokens, or, with Entry.Provider set, one provider's
// only. Each [Entry] expires on its own, so the set stays bounded.
//
// The package owns three things:
//
//   - the [Store] contract that every durable backend implements
//     (revocation/memory, revocation/bolt, revocation/redis), plus the
//     optional [Shared] contract a store implements when several replicas
//     share it;
//   - the [Index], the in-memory view that the ext_authz Check path
//     consults: lock-light, allocation-free, keyed by a per-process hash of
//     each identifier;
//   - the [Service], which keeps the Index in step with the Store: it loads
//     every entry at start, records new revocations durably before applying
//     them, follows other replicas (subscription, pulls of what changed
//     since the last one, a full resync as the fallback), writes back what it holds
//     when a shared store lost its data, expires old entries, and fails
//     closed once a shared store has been unreachable for longer than
//     Options.MaxStaleness.
//
// It knows nothing about JWT parsing, Envoy, HTTP or configuration files;
// callers pass plain identifiers. Apart from [NewMetrics], which takes a
// prometheus.Registerer, it depends on the standard library only.
//
// Index, Service and Metrics are safe for concurrent use.
package revocation
