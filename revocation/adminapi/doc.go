// Package adminapi serves the revocation part of the admin API:
//
//	POST /admin/revocations        record a revocation; 201 once durable
//	GET  /admin/revocations/{jti}  200 with the entry, 404 when not revoked
//
// A POST body is one JSON object, at most 64 KiB, in one of five forms:
//
//	{"jti":"...","exp":1767225600}         one token, until its exp plus the clock skew
//	{"sid":"..."}                          every token of a session
//	{"sub":"...","before":1767225600}      every token of a subject with iat <= before
//	{"token":"<jwt>"}                      one token, by its jti and exp
//	{"provider":"...","before":1767225600} every token of a provider with iat <= before
//
// "provider" (a configured provider's name; "self" for the built-in issuer)
// may also go with "sid" or "sub": the revocation then covers that
// provider's tokens only. An unknown name is refused (WithKnownProviders).
// GET takes ?kind=sid|sub|provider and, for sid and sub, ?provider=.
//
// The token form accepts an expired or otherwise invalid token as long as
// its signature verifies against a configured provider (TokenInspector):
// leaked tokens are what gets revoked. Expiry rules: a jti entry lives
// until max(exp, now) plus the clock skew, so revoking a token that has
// just expired still covers validators whose clocks lag (and GET finds
// it); a token without exp is revoked for ten years; sid entries live for
// the refresh token lifetime, and sub and provider entries for that long
// after max(before, now). exp and before more than ten years ahead are refused.
//
// The subject cut-off is inclusive: a token of sub whose iat is at or
// before "before" is revoked. iat has whole seconds, so "before" defaults
// to the second of the request, and a token minted in that second is
// revoked too (one minted in the next second is not).
//
// Errors are JSON, {"error":"...","error_description":"..."}: 400
// invalid_request, 413 request_too_large, 415 unsupported_media_type, 501
// unsupported (token form without an inspector), 503
// temporarily_unavailable (the store could not record it; retry), 500
// server_error.
//
// Authentication of /admin/* is not done here: the server wraps the whole
// admin listener. Revocations are audit-logged by revocation.Service with
// the actor "admin_api" and the caller's address unless a middleware has
// already put a revocation.Actor in the request context.
//
// The handler is safe for concurrent use.
package adminapi
