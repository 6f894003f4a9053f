// Package jwks keeps each token provider's verification keys: it fetches a
// provider's JSON Web Key Set (from a URL, through OpenID Connect discovery,
// or from a local file), refreshes it in the background, and serves the last
// good set while the provider's endpoint fails, for at most a configured
// maximum staleness.
//
// A Source serves one fetched provider; a Static serves keys held in memory,
// such as the built-in issuer's own. Both answer Key(ctx, kid) on the request
// path: a key found in the current set is returned without locking or
// allocating, from an immutable snapshot behind an atomic pointer. A kid not
// in the set triggers at most one refetch per minimum refresh interval,
// shared by every concurrent caller, so a flood of made-up kids cannot turn
// into a flood of fetches.
//
// A Key keeps its pointer identity across refreshes while its kid, algorithm
// and RFC 7638 thumbprint stay the same, and is marked removed once it leaves
// the set, so results cached per key can be dropped.
//
// Only signature keys that are safe and cheap to verify with are kept: RSA
// of 2048 to 8192 bits with an odd exponent in 3..2^32, ECDSA points on
// P-256, P-384 or P-521, and Ed25519 points canonically encoded and not of
// small order. Every other key (for encryption, symmetric, of an
// unsupported type, or outside those bounds) is skipped with a reason from
// SkipReasons: logged, counted and listed in Status, never used. The "x5u" member is
// never fetched and "x5c" never confers trust. Plain http:// URLs are refused
// unless their host is loopback or AllowHTTP is set.
//
// The package knows nothing about tokens, Envoy or gRPC; its only network
// access is through the injected *http.Client. Source, Static and Metrics are
// safe for concurrent use.
package jwks
