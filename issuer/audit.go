package issuer

import (
	"context"
	"log/slog"
)

// Audit events, the "event" attribute of audit lines.
const (
	eventIssued    = "token_issued"
	eventRefreshed = "token_refreshed"
	eventReplayed  = "refresh_replayed"
	eventReuse     = "refresh_reuse_detected"
	eventBehind    = "refresh_store_behind"
	eventRevoked   = "session_revoked"
)

// audit writes one structured line for a token lifecycle event. jti is
// hashed; no token is ever logged.
func (i *Issuer) audit(ctx context.Context, level slog.Level, event, grant, sub, sid, jti, clientAddr string) {
	i.log.LogAttrs(ctx, level, "audit",
		slog.String("event", event),
		slog.String("grant_type", grant),
		slog.String("sub", sub),
		slog.String("sid", sid),
		slog.String("jti_hash", hashID(jti)),
		slog.String("client_addr", clientAddr),
	)
}
