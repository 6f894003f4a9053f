package adminapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// request is a POST body. Pointers tell an absent field from a zero one.
type request struct {
	JTI      *string `json:"jti"`
	Exp      *int64  `json:"exp"`
	SID      *string `json:"sid"`
	Sub      *string `json:"sub"`
	Before   *int64  `json:"before"`
	Token    *string `json:"token"`
	Provider *string `json:"provider"`
}

func (h *handler) create(w http.ResponseWriter, r *http.Request) {
	// Only application/json is accepted, declared: no HTML form and no
	// CORS-safelisted fetch can send it, so a web page cannot revoke.
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != "application/json" {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be application/json (Content-Type: application/json)")
		return
	}
	var req request
	if status, msg := decode(w, r, &req); status != 0 {
		code := "invalid_request"
		if status == http.StatusRequestEntityTooLarge {
			code = "request_too_large"
		}
		writeError(w, status, code, msg)
		return
	}
	e, status, msg := h.entry(r.Context(), req)
	if status != 0 {
		code := "invalid_request"
		if status == http.StatusNotImplemented {
			code = "unsupported"
		}
		writeError(w, status, code, msg)
		return
	}

	ctx := r.Context()
	actor, ok := revocation.ActorFrom(ctx)
	if !ok {
		actor.Name = "admin_api"
	}
	if actor.RemoteAddr == "" {
		actor.RemoteAddr = r.RemoteAddr
	}
	ctx = revocation.WithActor(ctx, actor)

	if err := h.svc.Revoke(ctx, e); err != nil {
		h.storeError(w, r, "record revocation", e.Kind, err)
		return
	}
	// Show what is stored now: a merge with an earlier revocation may have
	// widened it.
	if stored, found, err := h.svc.Lookup(ctx, e.Kind, e.Provider, e.Value); err == nil && found {
		e = stored
	}
	writeJSON(w, http.StatusCreated, toJSON(e))
}

// decode reads one JSON object from the body into dst. It returns a status
// and message for a bad body, or 0.
func decode(w http.ResponseWriter, r *http.Request, dst *request) (int, string) {
	body := http.MaxBytesReader(w, r.Body, MaxBodyBytes)
	dec := json.NewDecoder(body)
	dec.DisallowUnknownFields()
	err := dec.Decode(dst)
	if err == nil {
		// Exactly one value: trailing data is as wrong as a second object.
		if _, err2 := dec.Token(); !errors.Is(err2, io.EOF) {
			err = errors.New("unexpected data after the JSON object")
			var mbe *http.MaxBytesError
			if errors.As(err2, &mbe) {
				err = err2
			}
		}
	}
	var mbe *http.MaxBytesError
	switch {
	case err == nil:
		return 0, ""
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("the body exceeds %d bytes", MaxBodyBytes)
	case errors.Is(err, io.EOF):
		return http.StatusBadRequest, "empty body; send a JSON object"
	default:
		return http.StatusBadRequest, "malformed JSON body: " + err.Error()
	}
}

// entry turns a request into the entry to record, or a status and message.
func (h *handler) entry(ctx context.Context, req request) (revocation.Entry, int, string) {
	forms := 0
	for _, set := range []bool{req.JTI != nil, req.SID != nil, req.Sub != nil, req.Token != nil} {
		if set {
			forms++
		}
	}
	providerForm := forms == 0 && req.Provider != nil
	if forms != 1 && !providerForm {
		return revocation.Entry{}, http.StatusBadRequest, `send exactly one of "jti", "sid", "sub", "token" or "provider"`
	}
	if req.Exp != nil && req.JTI == nil {
		return revocation.Entry{}, http.StatusBadRequest, `"exp" only goes with "jti"`
	}
	if req.Before != nil && req.Sub == nil && !providerForm {
		return revocation.Entry{}, http.StatusBadRequest, `"before" only goes with "sub" or "provider"`
	}
	if req.Provider != nil && (req.JTI != nil || req.Token != nil) {
		return revocation.Entry{}, http.StatusBadRequest, `"provider" goes with "sid" or "sub", or alone (with "before") to revoke every token of that provider`
	}
	provider := ""
	if req.Provider != nil {
		if msg := h.checkProvider(*req.Provider); msg != "" {
			return revocation.Entry{}, http.StatusBadRequest, msg
		}
		provider = *req.Provider
	}
	now := h.now()
	limit := now.Add(horizon).Unix()

	switch {
	case req.JTI != nil:
		if msg := checkID("jti", *req.JTI); msg != "" {
			return revocation.Entry{}, http.StatusBadRequest, msg
		}
		if req.Exp == nil || *req.Exp <= 0 {
			return revocation.Entry{}, http.StatusBadRequest, `"exp" (unix seconds, the token's expiry) is required with "jti"`
		}
		if *req.Exp > limit {
			return revocation.Entry{}, http.StatusBadRequest, `"exp" is more than ten years ahead`
		}
		return h.jtiEntry(*req.JTI, *req.Exp, now), 0, ""

	case req.SID != nil:
		if msg := checkID("sid", *req.SID); msg != "" {
			return revocation.Entry{}, http.StatusBadRequest, msg
		}
		return revocation.Entry{Kind: revocation.KindSID, Provider: provider, Value: *req.SID, ExpiresAt: now.Add(h.sessionTTL).Unix()}, 0, ""

	case req.Sub != nil:
		if msg := checkID("sub", *req.Sub); msg != "" {
			return revocation.Entry{}, http.StatusBadRequest, msg
		}
		return h.cutoffEntry(revocation.KindSub, provider, *req.Sub, req.Before, now)

	case providerForm:
		return h.cutoffEntry(revocation.KindProvider, "", provider, req.Before, now)

	default:
		return h.tokenEntry(ctx, *req.Token, now)
	}
}

// cutoffEntry is a sub or provider entry with the cut-off before (nil:
// now).
func (h *handler) cutoffEntry(kind revocation.Kind, provider, value string, reqBefore *int64, now time.Time) (revocation.Entry, int, string) {
	// The cut-off is inclusive (iat <= before) and defaults to the second
	// of the request, so a token minted in that second is revoked too.
	before := now.Unix()
	if reqBefore != nil {
		before = *reqBefore
	}
	if before <= 0 {
		return revocation.Entry{}, http.StatusBadRequest, `"before" must be positive unix seconds: tokens issued at or before it are revoked`
	}
	if before > now.Add(horizon).Unix() {
		return revocation.Entry{}, http.StatusBadRequest, `"before" is more than ten years ahead`
	}
	from := max(before, now.Unix())
	return revocation.Entry{
		Kind:      kind,
		Provider:  provider,
		Value:     value,
		Before:    before,
		ExpiresAt: from + int64(h.sessionTTL/time.Second),
	}, 0, ""
}

// checkProvider returns why name cannot name a provider, or "".
func (h *handler) checkProvider(name string) string {
	switch {
	case !revocation.ValidProviderName(name):
		return fmt.Sprintf(`"provider" must be a provider's configured name (1 to %d characters of a-z, 0-9 and -), not %q`, revocation.MaxProviderBytes, truncate(name))
	case h.known != nil && !h.known(name):
		return fmt.Sprintf(`unknown provider %q: "provider" must name a configured provider`, name)
	}
	return ""
}

// truncate shortens client text quoted in an error.
func truncate(s string) string {
	if len(s) <= 64 {
		return s
	}
	return s[:64] + "…"
}

func (h *handler) jtiEntry(jti string, exp int64, now time.Time) revocation.Entry {
	return revocation.Entry{
		Kind:      revocation.KindJTI,
		Value:     jti,
		ExpiresAt: max(exp, now.Unix()) + int64(h.skew/time.Second),
	}
}

func (h *handler) tokenEntry(ctx context.Context, raw string, now time.Time) (revocation.Entry, int, string) {
	if h.inspector == nil {
		return revocation.Entry{}, http.StatusNotImplemented, "revoking by token is not available on this server; send its jti and exp"
	}
	if raw == "" {
		return revocation.Entry{}, http.StatusBadRequest, `"token" must not be empty`
	}
	jti, exp, err := h.inspector.Inspect(ctx, raw)
	if err != nil {
		// The error names the reason (unknown issuer, bad signature) and
		// never the token.
		h.log.Info("token revocation refused: signature not verified", "err", err)
		return revocation.Entry{}, http.StatusBadRequest, "the token's signature does not verify against any configured provider"
	}
	if msg := checkID("jti", jti); msg != "" {
		return revocation.Entry{}, http.StatusBadRequest, "the token has no usable jti; revoke its sid or sub instead"
	}
	if exp <= 0 || exp > now.Add(horizon).Unix() {
		// A token without exp (or with an absurd one) is valid as long as
		// its key is: revoke it for the longest time allowed.
		exp = now.Add(horizon).Unix()
	}
	return h.jtiEntry(jti, exp, now), 0, ""
}

// checkID returns why an identifier is unusable, or "".
func checkID(field, v string) string {
	switch {
	case v == "":
		return fmt.Sprintf("%q must not be empty", field)
	case len(v) > revocation.MaxValueBytes:
		return fmt.Sprintf("%q is longer than %d bytes", field, revocation.MaxValueBytes)
	}
	return ""
}
