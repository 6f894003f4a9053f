package issuer

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
)

// oauthError is the RFC 6749 §5.2 error response body.
type oauthError struct {
	Error       string `json:"error"`
	Description string `json:"error_description,omitempty"`
}

// writeError writes an OAuth error response (RFC 6749 §5.2). A 503 tells
// the client when to retry.
func writeError(w http.ResponseWriter, status int, code, description string) {
	if status == http.StatusServiceUnavailable {
		w.Header().Set("Retry-After", "1")
	}
	writeJSON(w, status, oauthError{Error: code, Description: description})
}

// writeJSON writes v with the headers every token endpoint response carries:
// nothing in it may be cached (RFC 6749 §5.1).
func writeJSON(w http.ResponseWriter, status int, v any) {
	body, err := json.Marshal(v)
	if err != nil {
		status = http.StatusInternalServerError
		body = []byte(`{"error":"server_error"}`)
	}
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Cache-Control", "no-store")
	h.Set("Pragma", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// etagOf returns a strong ETag for a static body.
func etagOf(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + hex.EncodeToString(sum[:16]) + `"`
}
