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
//
// The provider of the run's provider-wide mass logout is named alike,
// "scale-<random>", and counts as entry providerSlot.
type ids struct {
	prefix       string
	provider     string
	providerSlot int
}

func newIDs(providerSlot int) ids {
	var b [4]byte
	_, _ = rand.Read(b[:]) // crypto/rand.Read never fails
	r := hex.EncodeToString(b[:])
	return ids{prefix: r + "-5ca1-4000-8000-", provider: "scale-" + r, providerSlot: providerSlot}
}

// value returns the identifier of entry i (i < 2^48).
func (d ids) value(i int) string { return fmt.Sprintf("%s%012x", d.prefix, i) }

// index returns the entry number of v, or false when v is not of this run.
func (d ids) index(v string) (int, bool) {
	if v == d.provider {
		return d.providerSlot, true
	}
	if len(v) != len(d.prefix)+12 || v[:len(d.prefix)] != d.prefix {
		return 0, false
	}
	n, err := strconv.ParseUint(v[len(d.prefix):], 16, 48)
	if err != nil {
		return 0, false
	}
	return int(n), true
}
