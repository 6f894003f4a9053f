package jwks

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
)

// discover reads the issuer's OpenID configuration and returns its jwks_uri,
// checked by the same scheme rule as a configured URL. The document's
// "issuer" must equal the configured issuer exactly (OpenID Connect
// Discovery 1.0, section 4.3), so that one issuer cannot publish keys for
// another.
func (s *Source) discover(ctx context.Context) (*url.URL, error) {
	where := discoveryURL(s.opts.Issuer)
	u, err := checkURL(where, s.opts.AllowHTTP)
	if err != nil {
		return nil, fmt.Errorf("discover jwks_uri: %w", err)
	}
	fail := func(err error) (*url.URL, error) {
		return nil, fmt.Errorf("discover jwks_uri at %s: %w", u.Redacted(), err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", userAgent)
	resp, err := s.client.Do(req)
	if err != nil {
		return fail(unwrapURLError(err))
	}
	defer drainClose(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("unexpected status %d", resp.StatusCode))
	}
	body, err := readLimited(resp.Body, resp.ContentLength)
	if err != nil {
		return fail(err)
	}
	var doc struct {
		Issuer  string `json:"issuer"`
		JWKSURI string `json:"jwks_uri"`
	}
	if err := json.Unmarshal(body, &doc); err != nil {
		return fail(fmt.Errorf("parse document: %w", err))
	}
	if doc.Issuer != s.opts.Issuer {
		return fail(fmt.Errorf("document issuer %q does not match the configured issuer %q", clip(doc.Issuer), s.opts.Issuer))
	}
	if doc.JWKSURI == "" {
		return fail(errors.New("document has no jwks_uri"))
	}
	jwksURL, err := checkURL(doc.JWKSURI, s.opts.AllowHTTP)
	if err != nil {
		return fail(fmt.Errorf("jwks_uri: %w", err))
	}
	return jwksURL, nil
}
