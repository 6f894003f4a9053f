package adminapi

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"strconv"
	"time"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// Limits of POST /admin/revocations/sessions.
const (
	// MaxSessionsBodyBytes bounds the body of a session-set revocation:
	// room for revocation.MaxSetSessions (ten million) sessions of about
	// 50 bytes a line (a quoted UUID is 39).
	MaxSessionsBodyBytes = 512 << 20
	// maxSessionLineBytes bounds one line: a JSON string holding the
	// longest sid, every byte escaped.
	maxSessionLineBytes = 6*revocation.MaxValueBytes + 2
	// sessionsDeadline replaces the admin listener's read and write
	// timeouts for this endpoint, whose body may take a while to send.
	sessionsDeadline = 10 * time.Minute
)

// NDJSONContentType is the media type of a session-set revocation's body:
// one JSON string (a sid) per line.
const NDJSONContentType = "application/x-ndjson"

// sessionsJSON is the answer to a session-set revocation.
type sessionsJSON struct {
	Kind     revocation.Kind `json:"kind"`
	ID       string          `json:"id"`
	Sessions int             `json:"sessions"`
	Provider string          `json:"provider,omitempty"`
	Exp      int64           `json:"exp"`
}

// createSessions serves POST /admin/revocations/sessions: it revokes every
// session listed in the body as one revocation.KindSIDSet entry.
func (h *handler) createSessions(w http.ResponseWriter, r *http.Request) {
	if mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err != nil || mt != NDJSONContentType {
		writeError(w, http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be "+NDJSONContentType+": one JSON string (a sid) per line")
		return
	}
	now := h.now()
	q := r.URL.Query()
	for k := range q {
		if k != "provider" && k != "exp" {
			writeError(w, http.StatusBadRequest, "invalid_request", fmt.Sprintf("unknown parameter %q: use provider and exp", truncate(k)))
			return
		}
	}
	provider := q.Get("provider")
	if q.Has("provider") {
		if msg := h.checkProvider(provider); msg != "" {
			writeError(w, http.StatusBadRequest, "invalid_request", msg)
			return
		}
	}
	exp := now.Add(h.sessionTTL).Unix()
	if q.Has("exp") {
		v, err := strconv.ParseInt(q.Get("exp"), 10, 64)
		switch {
		case err != nil || v <= now.Unix():
			writeError(w, http.StatusBadRequest, "invalid_request", `"exp" must be unix seconds in the future: when the revocation may be forgotten`)
			return
		case v > now.Add(horizon).Unix():
			writeError(w, http.StatusBadRequest, "invalid_request", `"exp" is more than ten years ahead`)
			return
		}
		exp = v
	}

	rc := http.NewResponseController(w)
	_ = rc.SetReadDeadline(time.Now().Add(sessionsDeadline))
	_ = rc.SetWriteDeadline(time.Now().Add(sessionsDeadline))
	set, status, msg := readSessions(w, r)
	if status != 0 {
		code := "invalid_request"
		if status == http.StatusRequestEntityTooLarge {
			code = "request_too_large"
		}
		writeError(w, status, code, msg)
		return
	}

	e := revocation.Entry{Kind: revocation.KindSIDSet, Provider: provider, Value: revocation.NewSetID(), Set: set, ExpiresAt: exp}
	ctx := r.Context()
	actor, ok := revocation.ActorFrom(ctx)
	if !ok {
		actor.Name = "admin_api"
	}
	if actor.RemoteAddr == "" {
		actor.RemoteAddr = r.RemoteAddr
	}
	if err := h.svc.Revoke(revocation.WithActor(ctx, actor), e); err != nil {
		h.storeError(w, r, "record session set", e.Kind, err)
		return
	}
	writeJSON(w, http.StatusCreated, sessionsJSON{Kind: e.Kind, ID: e.Value, Sessions: set.Len(), Provider: provider, Exp: exp})
}

// readSessions reads the sids of the body, one JSON string per line
// (blank lines ignored), as they come. It returns a status and message for
// a bad body, or 0.
func readSessions(w http.ResponseWriter, r *http.Request) (*revocation.SIDSet, int, string) {
	body := http.MaxBytesReader(w, r.Body, MaxSessionsBodyBytes)
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, maxSessionLineBytes), maxSessionLineBytes)
	var b revocation.SIDSetBuilder
	line := 0
	for sc.Scan() {
		line++
		raw := bytes.TrimSpace(sc.Bytes())
		if len(raw) == 0 {
			continue
		}
		sid, ok := sessionLine(raw)
		if !ok && sc.Err() != nil {
			break // the last line read before the body ended early
		}
		if !ok {
			return nil, http.StatusBadRequest, fmt.Sprintf("line %d is not a JSON string (one sid per line, as \"sid\")", line)
		}
		if msg := checkID("sid", sid); msg != "" {
			return nil, http.StatusBadRequest, fmt.Sprintf("line %d: %s", line, msg)
		}
		if b.Len() == revocation.MaxSetSessions {
			return nil, http.StatusBadRequest, fmt.Sprintf("more than %d sessions; revoke them in several sets", revocation.MaxSetSessions)
		}
		b.Add(sid)
	}
	var mbe *http.MaxBytesError
	switch err := sc.Err(); {
	case errors.As(err, &mbe):
		return nil, http.StatusRequestEntityTooLarge, fmt.Sprintf("the body exceeds %d bytes", MaxSessionsBodyBytes)
	case errors.Is(err, bufio.ErrTooLong):
		return nil, http.StatusBadRequest, fmt.Sprintf("line %d is longer than %d bytes", line+1, maxSessionLineBytes)
	case err != nil:
		return nil, http.StatusBadRequest, "reading the body: " + err.Error()
	}
	if b.Len() == 0 {
		return nil, http.StatusBadRequest, "no session in the body; send one JSON string (a sid) per line"
	}
	return b.Set(), 0, ""
}

// sessionLine decodes one line: a JSON string. The common line, quotes
// around printable ASCII without escapes, is taken as it is.
func sessionLine(raw []byte) (string, bool) {
	if len(raw) < 2 || raw[0] != '"' || raw[len(raw)-1] != '"' {
		return "", false
	}
	inner := raw[1 : len(raw)-1]
	plain := true
	for _, c := range inner {
		if c < 0x20 || c >= 0x7f || c == '"' || c == '\\' {
			plain = false
			break
		}
	}
	if plain {
		return string(inner), true
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false
	}
	return s, true
}
