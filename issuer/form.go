package issuer

import (
	"errors"
	"io"
	"mime"
	"net"
	"net/http"
	"net/url"
)

// maxFormBytes bounds the form body of the token, revocation and
// introspection endpoints.
const maxFormBytes = 64 << 10

// failure is an OAuth error answer together with its metric result.
type failure struct {
	status int
	code   string
	desc   string
	result string // jwt_authz_token_requests_total result
}

func (f *failure) write(w http.ResponseWriter) {
	writeError(w, f.status, f.code, f.desc)
}

func invalidRequest(desc string) *failure {
	return &failure{http.StatusBadRequest, "invalid_request", desc, resultInvalidReq}
}

func invalidGrant(desc string) *failure {
	return &failure{http.StatusBadRequest, "invalid_grant", desc, resultInvalidGrant}
}

func invalidScope(desc string) *failure {
	return &failure{http.StatusBadRequest, "invalid_scope", desc, resultInvalidReq}
}

func unavailable(desc string) *failure {
	return &failure{http.StatusServiceUnavailable, "temporarily_unavailable", desc, resultError}
}

func serverError() *failure {
	return &failure{http.StatusInternalServerError, "server_error", "internal error", resultError}
}

// multiValued lists the parameters that may repeat (RFC 8693 §2.1); every
// other parameter must appear at most once (RFC 6749 §3.2).
var multiValued = map[string]bool{"audience": true, "resource": true}

// readForm checks method, content type and size, and parses the
// application/x-www-form-urlencoded body. Parameters in the URL query are
// ignored: credentials never travel there. On a repeated parameter the
// parsed form is returned with the failure, for metric labels.
func readForm(w http.ResponseWriter, r *http.Request) (url.Values, *failure) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		return nil, &failure{http.StatusMethodNotAllowed, "invalid_request", "method must be POST", resultInvalidReq}
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return nil, invalidRequest("content type must be application/x-www-form-urlencoded")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxFormBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, &failure{http.StatusRequestEntityTooLarge, "invalid_request", "request body too large", resultInvalidReq}
		}
		return nil, invalidRequest("request body could not be read")
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return nil, invalidRequest("malformed form body")
	}
	for name, values := range form {
		if len(values) > 1 && !multiValued[name] {
			return form, invalidRequest("parameter " + quoteParam(name) + " is repeated")
		}
	}
	return form, nil
}

// quoteParam shortens and quotes a parameter name for an error description.
func quoteParam(name string) string {
	if len(name) > 40 {
		name = name[:40]
	}
	return `"` + url.QueryEscape(name) + `"`
}

// clientAddr is the peer address of r without its port, for audit lines.
func clientAddr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
