package adminapi

import (
	"net/http"

	"github.com/jwt-authz/jwt-authz/revocation"
)

func (h *handler) get(w http.ResponseWriter, r *http.Request) {
	value := r.PathValue("jti")
	kind := revocation.KindJTI
	if k := r.URL.Query().Get("kind"); k != "" {
		kind = revocation.Kind(k)
		if !kind.Valid() {
			writeError(w, http.StatusBadRequest, "invalid_request", `"kind" must be jti, sid, sub, provider or sid_set`)
			return
		}
	}
	if msg := checkID(string(kind), value); msg != "" {
		writeError(w, http.StatusBadRequest, "invalid_request", msg)
		return
	}
	provider := r.URL.Query().Get("provider")
	if provider != "" {
		if kind != revocation.KindSID && kind != revocation.KindSub && kind != revocation.KindSIDSet {
			writeError(w, http.StatusBadRequest, "invalid_request", `"provider" only goes with kind sid, sub or sid_set`)
			return
		}
		if msg := h.checkProvider(provider); msg != "" {
			writeError(w, http.StatusBadRequest, "invalid_request", msg)
			return
		}
	}
	e, found, err := h.svc.Lookup(r.Context(), kind, provider, value)
	if err != nil {
		h.storeError(w, r, "look up revocation", kind, err)
		return
	}
	if !found {
		writeError(w, http.StatusNotFound, "not_found", "not revoked")
		return
	}
	writeJSON(w, http.StatusOK, toJSON(e))
}
