package redis

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jwt-authz/jwt-authz/revocation"
)

var errBadRecord = errors.New("malformed revocation record")

// member names an entry in the sorted sets: "<kind>:<id>". Kinds contain
// no colon, so the first colon splits it whatever the identifier holds.
func member(kind revocation.Kind, value string) string {
	return string(kind) + ":" + value
}

func splitMember(m string) (revocation.Kind, string, error) {
	kind, value, ok := strings.Cut(m, ":")
	if !ok || !revocation.Kind(kind).Valid() || value == "" {
		return "", "", fmt.Errorf("%w: member %q", errBadRecord, truncate(m))
	}
	return revocation.Kind(kind), value, nil
}

// encodeValue is the stored form of an entry's numbers:
// "<expires>:<before>:<created>".
func encodeValue(e revocation.Entry) string {
	return strconv.FormatInt(e.ExpiresAt, 10) + ":" + strconv.FormatInt(e.Before, 10) + ":" + strconv.FormatInt(e.CreatedAt, 10)
}

// decodeEntry rebuilds the entry stored as v under member m.
func decodeEntry(m, v string) (revocation.Entry, error) {
	kind, value, err := splitMember(m)
	if err != nil {
		return revocation.Entry{}, err
	}
	e := revocation.Entry{Kind: kind, Value: value}
	parts := strings.Split(v, ":")
	if len(parts) != 3 {
		return revocation.Entry{}, fmt.Errorf("%w: value %q", errBadRecord, truncate(v))
	}
	for i, dst := range []*int64{&e.ExpiresAt, &e.Before, &e.CreatedAt} {
		n, err := strconv.ParseInt(parts[i], 10, 64)
		if err != nil || n < 0 {
			return revocation.Entry{}, fmt.Errorf("%w: value %q", errBadRecord, truncate(v))
		}
		*dst = n
	}
	return e, nil
}

// decodeMessage decodes an announcement:
// "<expires>:<before>:<created>:<kind>:<id>".
func decodeMessage(payload string) (revocation.Entry, error) {
	parts := strings.SplitN(payload, ":", 4)
	if len(parts) != 4 {
		return revocation.Entry{}, fmt.Errorf("%w: message %q", errBadRecord, truncate(payload))
	}
	return decodeEntry(parts[3], parts[0]+":"+parts[1]+":"+parts[2])
}

// truncate shortens untrusted text quoted in an error.
func truncate(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	return s[:limit] + "…"
}
