package jwks

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
)

// userAgent identifies the fetcher to identity providers.
const userAgent = "jwt-authz-jwks"

// remoteState is what a fetch remembers about the JWKS endpoint.
type remoteState struct {
	jwksURL  *url.URL // configured, or learned through discovery; nil to rediscover
	etag     string   // validators of the document behind the current set
	modified string
}

// fetchRemote fetches the JWKS over HTTP(S). With discovery, the JWKS URL
// is looked up on the first fetch, after a failed fetch (apply forgets it),
// and on an explicit Refresh.
func (s *Source) fetchRemote(ctx context.Context, force bool) fetchResult {
	if s.opts.Discovery && (s.remote.jwksURL == nil || force) {
		u, err := s.discover(ctx)
		if err != nil {
			return fetchResult{err: err}
		}
		if s.remote.jwksURL == nil || s.remote.jwksURL.String() != u.String() {
			// Validators belong to the old URL.
			s.remote.etag, s.remote.modified = "", ""
		}
		s.remote.jwksURL = u
	}
	return s.getJWKS(ctx, s.remote.jwksURL)
}

// getJWKS makes one conditional GET for the JWKS document.
func (s *Source) getJWKS(ctx context.Context, u *url.URL) fetchResult {
	fail := func(err error) fetchResult {
		return fetchResult{err: fmt.Errorf("fetch jwks %s: %w", u.Redacted(), err)}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return fail(err)
	}
	req.Header.Set("Accept", "application/jwk-set+json, application/json;q=0.9, */*;q=0.1")
	req.Header.Set("User-Agent", userAgent)
	conditional := false
	if s.set.Load() != nil {
		if s.remote.etag != "" {
			req.Header.Set("If-None-Match", s.remote.etag)
			conditional = true
		}
		if s.remote.modified != "" {
			req.Header.Set("If-Modified-Since", s.remote.modified)
			conditional = true
		}
	}

	resp, err := s.client.Do(req)
	if err != nil {
		return fail(unwrapURLError(err))
	}
	defer drainClose(resp.Body)

	maxAge, hasMaxAge := cacheMaxAge(resp.Header)
	switch {
	case resp.StatusCode == http.StatusNotModified && conditional:
		return fetchResult{notModified: true, maxAge: maxAge, hasMaxAge: hasMaxAge, etag: resp.Header.Get("ETag")}
	case resp.StatusCode != http.StatusOK:
		return fail(fmt.Errorf("unexpected status %d", resp.StatusCode))
	}
	body, err := readLimited(resp.Body, resp.ContentLength)
	if err != nil {
		return fail(err)
	}
	return fetchResult{
		body:      body,
		maxAge:    maxAge,
		hasMaxAge: hasMaxAge,
		etag:      resp.Header.Get("ETag"),
		modified:  resp.Header.Get("Last-Modified"),
	}
}

// readLimited reads a whole document of at most maxDocumentBytes.
func readLimited(r io.Reader, contentLength int64) ([]byte, error) {
	if contentLength > maxDocumentBytes {
		return nil, fmt.Errorf("document of %d bytes exceeds %d", contentLength, maxDocumentBytes)
	}
	body, err := io.ReadAll(io.LimitReader(r, maxDocumentBytes+1))
	if err != nil {
		return nil, fmt.Errorf("read body: %w", err)
	}
	if len(body) > maxDocumentBytes {
		return nil, fmt.Errorf("document exceeds %d bytes", maxDocumentBytes)
	}
	return body, nil
}

// drainClose reads a little of what is left of a body, so the connection
// can be reused, and closes it.
func drainClose(body io.ReadCloser) {
	_, _ = io.Copy(io.Discard, io.LimitReader(body, 64<<10))
	_ = body.Close()
}

// unwrapURLError drops the *url.Error wrapper, whose message repeats the
// method and URL the caller already names.
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}
