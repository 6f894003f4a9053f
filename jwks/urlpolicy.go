package jwks

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// maxRedirects is how many redirects one request may follow.
const maxRedirects = 3

// checkURL parses raw and applies the scheme rule: https always, http only
// for a loopback host unless allowHTTP. Keys fetched over plain http from a
// remote host could be replaced by anyone on the path.
func checkURL(raw string, allowHTTP bool) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid URL: %w", err)
	}
	if u.Hostname() == "" {
		return nil, fmt.Errorf("URL %s has no host", clip(u.Redacted()))
	}
	switch u.Scheme {
	case "https":
		return u, nil
	case "http":
		if allowHTTP || isLoopbackHost(u.Hostname()) {
			return u, nil
		}
		return nil, fmt.Errorf("URL %s uses http:// for a host that is not loopback (set allow_http to permit it)", clip(u.Redacted()))
	default:
		return nil, fmt.Errorf("URL %s: scheme must be https", clip(u.Redacted()))
	}
}

// isLoopbackHost reports whether host is localhost, in 127.0.0.0/8 or ::1.
// Names other than "localhost" are not resolved: what they resolve to can
// change after the check.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	addr, err := netip.ParseAddr(host)
	return err == nil && addr.Unmap().IsLoopback()
}

// redirectPolicy follows at most maxRedirects redirects, each to a URL the
// scheme rule accepts, and never from https down to http unless allowHTTP:
// a remote server must not be able to point the fetch at a plain-http
// service on this host.
func redirectPolicy(allowHTTP bool) func(*http.Request, []*http.Request) error {
	return func(req *http.Request, via []*http.Request) error {
		if len(via) > maxRedirects {
			return fmt.Errorf("stopped after %d redirects", maxRedirects)
		}
		if _, err := checkURL(req.URL.String(), allowHTTP); err != nil {
			return fmt.Errorf("redirect refused: %w", err)
		}
		if len(via) > 0 && via[len(via)-1].URL.Scheme == "https" && req.URL.Scheme != "https" && !allowHTTP {
			return errors.New("redirect refused: https to http")
		}
		return nil
	}
}

// prepareClient returns a copy of c (or of the default client) carrying
// this package's redirect policy and a timeout.
func prepareClient(c *http.Client, allowHTTP bool) *http.Client {
	cp := *c
	cp.CheckRedirect = redirectPolicy(allowHTTP)
	if cp.Timeout <= 0 {
		cp.Timeout = fetchTimeout
	}
	return &cp
}

// defaultHTTPClient is the client used when none is injected.
func defaultHTTPClient() *http.Client {
	return &http.Client{
		Timeout: fetchTimeout,
		Transport: &http.Transport{
			Proxy: http.ProxyFromEnvironment,
			DialContext: (&net.Dialer{
				Timeout:   5 * time.Second,
				KeepAlive: 30 * time.Second,
			}).DialContext,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   5 * time.Second,
			ResponseHeaderTimeout: fetchTimeout,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConnsPerHost:   2,
			ForceAttemptHTTP2:     true,
		},
	}
}
