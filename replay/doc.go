// Package replay remembers single-use ids — a DPoP proof's jti, a logout
// token's jti — for as long as they could be presented again, so that each
// is accepted once.
//
// Cache is the one interface: Claim returns first == true exactly once per
// (scope, id) until the given time. An error means the cache could not
// tell, and callers fail closed (refuse the request).
//
// Two implementations:
//
//   - Memory (NewMemory) keeps the ids of one process in a bounded map. It
//     is right for one replica: with several, a proof replayed at another
//     replica would be accepted there.
//   - Redis (NewRedis) claims each id with one SET key 1 NX PXAT until, so
//     every replica sharing the server sees the same claims; the key expires
//     on its own at until.
//
// The package knows nothing of tokens, providers or HTTP: scope is an
// opaque name chosen by the caller ("dpop:<provider>", "logout:<provider>")
// so that the same id in two scopes never collides. Ids are hashed
// (SHA-256 over scope and id) before they are stored: the memory a claim
// costs and the length of a Redis key do not depend on what a client sent.
//
// Both implementations are safe for concurrent use.
package replay
