// Package extauthz answers Envoy's ext_authz v3 Check (and the same
// decision over HTTP forward-auth): it builds one canonical view of the
// request (method, host, normalized path; an ambiguous path is refused
// before any rule), extracts the bearer token, picks the rule for the
// request, verifies and validates the token through a
// token.Verifier, consults the revocation index on every request, and
// builds the allowed or denied response.
//
// It is the only package that imports Envoy types. The decision inputs —
// providers, rules, token sources — form an immutable Policy that a reload
// swaps atomically; a Server is safe for concurrent use.
//
// Hot-path choices: a token allowed once is cached by the SHA-256 of its
// bytes together with its fully built CheckResponse, so a cached Check is a
// hash, a map lookup, a revocation lookup and a counter increment. Denial
// responses are built once per reason and provider when the Policy is made.
package extauthz
