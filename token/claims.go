package token

// Claims are the validated claims of one token. Registered claims have
// fields; everything else is in RawPayload, decoded on demand by Decode.
type Claims struct {
	Issuer    string
	Subject   string
	Audience  []string
	Expiry    int64  // unix seconds; 0 when absent
	NotBefore int64  // unix seconds; 0 when absent
	IssuedAt  int64  // unix seconds; 0 when absent
	ID        string // jti
	SessionID string // sid
	Scope     string // "scope", or "scp" joined with spaces

	// Header values of the JWS.
	Type      string // typ
	KeyID     string // kid
	Algorithm string // alg

	// RawPayload is the base64url-decoded JSON payload; never modify it.
	RawPayload []byte
}
