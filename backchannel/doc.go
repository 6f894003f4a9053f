// Package backchannel implements OpenID Connect Back-Channel Logout 1.0 as
// an HTTP handler: an identity provider posts a signed logout token, and
// the session (sid) or subject (sub) it names is revoked for that provider.
//
// The handler verifies the logout token's signature through the same
// verifier Check uses (the provider is the one whose issuer equals "iss"),
// then validates it as a logout token, not as an access token: aud must
// contain the provider's back-channel audience, typ is logout+jwt when
// present, iat is recent, exp is honoured when present, the events claim
// holds the back-channel logout event, sid and/or sub is set, nonce is
// absent, and the jti is seen for the first time (a replay.Cache, scope
// "logout:<provider>").
//
// It knows nothing of stores or configuration files: the caller supplies
// the verifier, the per-provider settings, the replay cache and a Revoker
// that records the effect. It never logs or echoes a token; audit lines
// carry hashes of the ids.
//
// A Handler is safe for concurrent use.
package backchannel
