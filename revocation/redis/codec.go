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

// batchPrefix starts a batch announcement. A message in the one-entry
// form of earlier versions starts with a digit.
const batchPrefix = "b:"

// announcement is a decoded message: its entries and, for a batch, the
// write sequence numbers of its first and last entry (zero for the
// one-entry form, which has none).
type announcement struct {
	entries     []revocation.Entry
	first, last uint64
}

// decodeAnnouncement decodes a message in any of its forms: the compact
// form putScript writes (see decodeCompact); the batch form, which
// putScript writes when a number is too large for the compact form and
// earlier versions always,
//
//	"b:" then per entry "<seq>:<expires>:<before>:<created>:<len>:<member>"
//
// where len is the member's length in bytes (members may hold any byte),
// with strictly increasing seq; or the one-entry form of earlier versions
// still, "<expires>:<before>:<created>:<member>" (see decodeMessage). A
// message with any malformed part is refused whole.
func decodeAnnouncement(payload string) (announcement, error) {
	if strings.HasPrefix(payload, compactPrefix) {
		return decodeCompact(payload)
	}
	rest, ok := strings.CutPrefix(payload, batchPrefix)
	if !ok {
		e, err := decodeMessage(payload)
		if err != nil {
			return announcement{}, err
		}
		return announcement{entries: []revocation.Entry{e}}, nil
	}
	var a announcement
	bad := func() (announcement, error) {
		return announcement{}, fmt.Errorf("%w: batch %q", errBadRecord, truncate(payload))
	}
	if rest == "" {
		return bad()
	}
	for rest != "" {
		var nums [5]uint64
		for i := range nums {
			field, after, ok := strings.Cut(rest, ":")
			n, err := strconv.ParseUint(field, 10, 63)
			if !ok || err != nil {
				return bad()
			}
			nums[i], rest = n, after
		}
		seq, size := nums[0], nums[4]
		if seq == 0 || seq <= a.last || size > uint64(len(rest)) {
			return bad()
		}
		kind, provider, value, err := splitMember(rest[:size])
		if err != nil {
			return bad()
		}
		e := revocation.Entry{Kind: kind, Provider: provider, Value: value,
			ExpiresAt: int64(nums[1]), Before: int64(nums[2]), CreatedAt: int64(nums[3])}
		rest = rest[size:]
		if a.first == 0 {
			a.first = seq
		}
		a.last = seq
		a.entries = append(a.entries, e)
	}
	return a, nil
}
