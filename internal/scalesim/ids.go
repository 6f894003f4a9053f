package scalesim

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strconv"
)

// ids names the entries of one run. Each is a canonical UUID (the form
// most identity providers use for jti and sid, and the one the replicas'
// write-back ledger packs into 16 bytes) whose first group is random per
// run and whose last group is the entry's number, so that a replica can
// tell which entry it applied without a lookup table, and entries of an
// earlier run on the same server never match.
type ids struct{ prefix string }

func newIDs() ids {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	return ids{prefix: hex.EncodeToString(b[:]) + "-5ca1-4000-8000-"}
}

// value returns the identifier of entry i (i < 2^48).
func (d ids) value(i int) string { return fmt.Sprintf("%s%012x", d.prefix, i) }

// index returns the entry number of v, or false when v is not of this run.
func (d ids) index(v string) (int, bool) {
	if len(v) != len(d.prefix)+12 || v[:len(d.prefix)] != d.prefix {
		return 0, false
	}
	n, err := strconv.ParseUint(v[len(d.prefix):], 16, 48)
	if err != nil {
		return 0, false
	}
	return int(n), true
}
