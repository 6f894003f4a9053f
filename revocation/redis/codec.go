package redis

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/jwt-authz/jwt-authz/revocation"
)

var errBadRecord = errors.New("malformed revocation record")

// member names an entry in the sorted sets: "<kind>:<id>", or
// "<kind>@<provider>:<id>" for an entry scoped to one provider. Kinds and
// provider names contain no colon or "@", so the first colon splits it
// whatever the identifier holds.
//
// Unscoped members are what earlier versions write and read. An earlier
// version finds no kind it knows in a scoped member, nor in a "provider:"
// one, and skips it as malformed (logging a warning): it does not enforce
// such entries, and it misreads none.
func member(kind revocation.Kind, provider, value string) string {
	if provider != "" {
		return string(kind) + "@" + provider + ":" + value
	}
	return string(kind) + ":" + value
}

func splitMember(m string) (kind revocation.Kind, provider, value string, err error) {
	head, value, ok := strings.Cut(m, ":")
	k, provider, scoped := strings.Cut(head, "@")
	kind = revocation.Kind(k)
	if !ok || !kind.Valid() || value == "" || (scoped && !revocation.ValidProviderName(provider)) {
		return "", "", "", fmt.Errorf("%w: member %q", errBadRecord, truncate(m))
	}
	return kind, provider, value, nil
}

// encodeValue is the stored form of an entry's numbers:
// "<expires>:<before>:<created>".
func encodeValue(e revocation.Entry) string {
	return strconv.FormatInt(e.ExpiresAt, 10) + ":" + strconv.FormatInt(e.Before, 10) + ":" + strconv.FormatInt(e.CreatedAt, 10)
}

// decodeEntry rebuilds the entry stored as v under member m.
func decodeEntry(m, v string) (revocation.Entry, error) {
	kind, provider, value, err := splitMember(m)
	if err != nil {
		return revocation.Entry{}, err
	}
	e := revocation.Entry{Kind: kind, Provider: provider, Value: value}
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
// "<expires>:<before>:<created>:<member>".
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
