package adminapi

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// entryJSON is how an entry is shown.
type entryJSON struct {
	Kind      revocation.Kind `json:"kind"`
	Provider  string          `json:"provider,omitempty"`
	Value     string          `json:"value"`
	Before    int64           `json:"before,omitempty"`
	ExpiresAt int64           `json:"expires_at"`
	CreatedAt int64           `json:"created_at"`         // unix milliseconds
	Sessions  int             `json:"sessions,omitempty"` // of a sid_set
}

func toJSON(e revocation.Entry) entryJSON {
	return entryJSON{Kind: e.Kind, Provider: e.Provider, Value: e.Value, Before: e.Before, ExpiresAt: e.ExpiresAt, CreatedAt: e.CreatedAt, Sessions: e.Set.Len()}
}

// storeError answers a failed service call.
func (h *handler) storeError(w http.ResponseWriter, r *http.Request, what string, kind revocation.Kind, err error) {
	switch {
	case errors.Is(err, revocation.ErrInvalidEntry):
		writeError(w, http.StatusBadRequest, "invalid_request", err.Error())
	case errors.Is(err, revocation.ErrUnavailable):
		h.log.Warn(what+" failed: store unavailable", "kind", kind, "err", err)
		w.Header().Set("Retry-After", "1")
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "the revocation store is unavailable; retry")
	case r.Context().Err() != nil:
		// The client went away; nobody reads the answer.
		writeError(w, http.StatusServiceUnavailable, "temporarily_unavailable", "request canceled")
	default:
		h.log.Error(what+" failed", "kind", kind, "err", err)
		writeError(w, http.StatusInternalServerError, "server_error", "internal error")
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

type errorJSON struct {
	Error       string `json:"error"`
	Description string `json:"error_description"`
}

func writeError(w http.ResponseWriter, status int, code, description string) {
	writeJSON(w, status, errorJSON{Error: code, Description: description})
}
