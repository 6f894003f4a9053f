// Package issuer is the built-in token issuer of jwt-authz: it owns the
// signing keys (loaded from PEM or generated once into the data directory),
// mints access tokens (typ at+jwt, RFC 9068) and rotating refresh tokens
// (typ rt+jwt), and serves the OAuth 2.0 endpoints around them:
//
//   - POST /oauth2/token: refresh_token grant (rotation with reuse
//     detection) and RFC 8693 token exchange; POST /token/refresh: the
//     refresh with just refresh_token= in the form,
//   - POST /oauth2/revoke (RFC 7009) and POST /oauth2/introspect (RFC 7662),
//   - GET /.well-known/openid-configuration and /.well-known/jwks.json.
//
// Sessions (token families, named by "sid") live in a session.Store; the
// compare-and-swap there decides which of several concurrent refreshes
// wins. Revoking a session's access tokens is delegated to a SessionRevoker
// (the revocation store the authorization check consults), and validating
// tokens of other providers to an ExchangeValidator or Introspector; the
// package knows nothing about Envoy, JWKS fetching or configuration files.
//
// Every token response is audited with one structured log line carrying a
// hash of the jti, never a token. An Issuer is safe for concurrent use.
package issuer
