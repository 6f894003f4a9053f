package bolt

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"time"

	"github.com/jwt-authz/jwt-authz/session"
)

// recordVersion is the version of the stored encoding.
const recordVersion = 1

// diskRecord is the stored form of a session.Record. Times are Unix
// nanoseconds, 0 for the zero time.
type diskRecord struct {
	Version     int    `json:"v"`
	Subject     string `json:"sub"`
	Scope       string `json:"scope,omitempty"`
	Claims      []byte `json:"claims,omitempty"`
	CreatedAt   int64  `json:"created"`
	ExpiresAt   int64  `json:"expires"`
	RefreshJTI  string `json:"jti"`
	RetainUntil int64  `json:"retain"`
	Revoked     bool   `json:"revoked,omitempty"`
	PreviousJTI string `json:"prev,omitempty"`
	GraceUntil  int64  `json:"grace,omitempty"`
	Replay      []byte `json:"replay,omitempty"`
	JKT         string `json:"jkt,omitempty"`
}

func encodeRecord(r *session.Record) ([]byte, error) {
	return json.Marshal(diskRecord{
		Version:     recordVersion,
		Subject:     r.Subject,
		Scope:       r.Scope,
		Claims:      r.Claims,
		CreatedAt:   unixNano(r.CreatedAt),
		ExpiresAt:   unixNano(r.ExpiresAt),
		RefreshJTI:  r.RefreshJTI,
		RetainUntil: unixNano(r.RetainUntil),
		Revoked:     r.Revoked,
		PreviousJTI: r.PreviousJTI,
		GraceUntil:  unixNano(r.GraceUntil),
		Replay:      r.Replay,
		JKT:         r.JKT,
	})
}

func decodeRecord(sid string, b []byte) (*session.Record, error) {
	var d diskRecord
	if err := json.Unmarshal(b, &d); err != nil {
		return nil, fmt.Errorf("decode session %s: %w", sid, err)
	}
	if d.Version != recordVersion {
		return nil, fmt.Errorf("decode session %s: unknown record version %d", sid, d.Version)
	}
	return &session.Record{
		Session: session.Session{
			ID:          sid,
			Subject:     d.Subject,
			Scope:       d.Scope,
			Claims:      d.Claims,
			CreatedAt:   fromUnixNano(d.CreatedAt),
			ExpiresAt:   fromUnixNano(d.ExpiresAt),
			RefreshJTI:  d.RefreshJTI,
			RetainUntil: fromUnixNano(d.RetainUntil),
			Revoked:     d.Revoked,
			JKT:         d.JKT,
		},
		PreviousJTI: d.PreviousJTI,
		GraceUntil:  fromUnixNano(d.GraceUntil),
		Replay:      d.Replay,
	}, nil
}

// expiryKey is the index key of a record: RetainUntil (big-endian Unix
// nanoseconds, so keys sort by time) followed by the sid.
func expiryKey(retain time.Time, sid string) []byte {
	k := make([]byte, 8, 8+len(sid))
	binary.BigEndian.PutUint64(k, uint64(max(unixNano(retain), 0)))
	return append(k, sid...)
}

func unixNano(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

func fromUnixNano(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n)
}
