package backchannel

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"time"

	"github.com/jwt-authz/jwt-authz/replay"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// MaxBodyBytes bounds a logout request's body. A logout token is a few
// hundred bytes; the verifier's own size limit applies to it as well.
const MaxBodyBytes = 64 << 10

// Path is where the handler is served on http_addr.
const Path = "/oidc/backchannel-logout"

// Options configure a Handler. Verifier, Settings, Replay and Revoker are
// required.
type Options struct {
	// Verifier is read on every request, so a reloaded one applies at once.
	Verifier func() Verifier
	// Settings returns a provider's settings by name; false when there is
	// no such provider.
	Settings func(provider string) (Settings, bool)
	Replay   replay.Cache
	Revoker  Revoker
	Metrics  *Metrics     // optional
	Logger   *slog.Logger // default slog.Default()
	Clock    func() time.Time
}

// Handler serves POST /oidc/backchannel-logout.
type Handler struct {
	opts Options
}

// NewHandler returns a Handler.
func NewHandler(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.Default()
	}
	if opts.Clock == nil {
		opts.Clock = time.Now
	}
	return &Handler{opts: opts}
}

// ServeHTTP answers 200 with an empty body when the logout was recorded,
// 400 with an OAuth error otherwise (405 for another method); always with
// Cache-Control: no-store.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		h.fail(w, http.StatusMethodNotAllowed, NoProvider, ResultInvalidRequest, "only POST is allowed")
		return
	}
	raw, desc := readLogoutToken(w, r)
	if desc != "" {
		h.fail(w, http.StatusBadRequest, NoProvider, ResultInvalidRequest, desc)
		return
	}
	l, err := h.logout(r.Context(), raw, r.RemoteAddr)
	if err != nil {
		provider := l.Provider
		if provider == "" {
			provider = NoProvider
		}
		var inv *errInvalid
		if !errors.As(err, &inv) {
			inv = &errInvalid{result: ResultUnavailable, desc: "the logout could not be recorded; retry later"}
			h.opts.Logger.Error("back-channel logout not recorded", "provider", provider, "err", err)
		}
		h.fail(w, http.StatusBadRequest, provider, inv.result, inv.desc)
		return
	}
	h.opts.Metrics.count(l.Provider, ResultRevoked)
	h.opts.Logger.LogAttrs(r.Context(), slog.LevelInfo, "back-channel logout",
		slog.String("audit", "backchannel_logout"),
		slog.String("provider", l.Provider),
		slog.String("sid_hash", idHash(l.SID)),
		slog.String("sub_hash", idHash(l.Subject)),
		slog.String("jti_hash", idHash(l.JTI)),
		slog.Time("logout_at", time.Unix(l.IssuedAt, 0).UTC()),
		slog.String("remote_addr", r.RemoteAddr),
	)
	w.WriteHeader(http.StatusOK)
}

// logout verifies, validates and records one logout token. On error the
// returned Logout names the provider when it is known.
func (h *Handler) logout(ctx context.Context, raw, remoteAddr string) (Logout, error) {
	res, err := h.opts.Verifier().VerifySignature(ctx, raw)
	var l Logout
	if res.Provider != nil {
		l.Provider = res.Provider.Name
	}
	if err != nil {
		result, desc := describeVerifyError(err)
		return l, &errInvalid{result: result, desc: desc}
	}
	s, ok := h.opts.Settings(l.Provider)
	if !ok || !s.Enabled {
		return l, &errInvalid{result: ResultNotEnabled, desc: "back-channel logout is not enabled for the logout_token's issuer"}
	}
	now := h.opts.Clock()
	v, err := validate(res.Claims, s, now)
	if err != nil {
		return l, err
	}
	v.Provider = l.Provider
	// The revocation comes first and is idempotent: should it fail, the
	// identity provider can send the same token again, which a claimed
	// jti would refuse. A replay within the window records the same
	// entries again, which changes nothing, and is then refused.
	if err := h.opts.Revoker.Revoke(revocation.WithActor(ctx, revocation.Actor{
		Name: "backchannel_logout:" + v.Provider, RemoteAddr: remoteAddr,
	}), v); err != nil {
		return l, err
	}
	until := time.Unix(v.IssuedAt, 0).Add(MaxAge + s.ClockSkew + time.Second)
	first, err := h.opts.Replay.Claim(ctx, "logout:"+v.Provider, v.JTI, until)
	if err != nil {
		return l, err
	}
	if !first {
		return l, &errInvalid{result: ResultReplayed, desc: "jti was already used"}
	}
	return v, nil
}

// readLogoutToken reads the form body and returns its one logout_token,
// or a description of what is wrong with the request.
func readLogoutToken(w http.ResponseWriter, r *http.Request) (string, string) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/x-www-form-urlencoded" {
		return "", "the body must be application/x-www-form-urlencoded"
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, MaxBodyBytes))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return "", "the body is too large"
		}
		return "", "the body could not be read"
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		return "", "the body is not a valid form"
	}
	switch v := form["logout_token"]; {
	case len(v) == 0 || v[0] == "":
		return "", "logout_token is missing"
	case len(v) > 1:
		return "", "logout_token appears more than once"
	default:
		return v[0], ""
	}
}

func (h *Handler) fail(w http.ResponseWriter, status int, provider, result, desc string) {
	h.opts.Metrics.count(provider, result)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
	}{"invalid_request", desc})
}

// idHash is the digest of an id that audit lines carry, the same as the
// revocation audit lines', or "" for an absent id.
func idHash(v string) string {
	if v == "" {
		return ""
	}
	return revocation.IDHash(v)
}
