package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"go.etcd.io/bbolt"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// recordVersion is the first byte of every stored record, so the format
// can change without misreading old files.
const recordVersion = 1

// recordBytes is the size of an encoded record: version, then expiry,
// cut-off and creation time as big-endian int64s.
const recordBytes = 1 + 3*8

var errCorrupt = errors.New("corrupt revocation record")

// entryKey is kind, a zero byte, then the identifier; for an entry scoped
// to a provider, kind "@" provider, a zero byte, then the identifier.
// Kinds and provider names never contain a zero byte or "@", so the split
// is unambiguous whatever the identifier holds. Unscoped keys are what
// earlier versions wrote; an earlier version reading a scoped key sees an
// unknown kind, which its Service ignores.
func entryKey(kind revocation.Kind, provider, value string) []byte {
	k := make([]byte, 0, len(kind)+2+len(provider)+len(value))
	k = append(k, kind...)
	if provider != "" {
		k = append(k, '@')
		k = append(k, provider...)
	}
	k = append(k, 0)
	return append(k, value...)
}

func splitEntryKey(k []byte) (kind revocation.Kind, provider, value string, err error) {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return "", "", "", fmt.Errorf("%w: key without kind", errCorrupt)
	}
	head := k[:i]
	if j := bytes.IndexByte(head, '@'); j >= 0 {
		provider, head = string(head[j+1:]), head[:j]
	}
	return revocation.Kind(head), provider, string(k[i+1:]), nil
}

// expiryKey orders entries by expiry: the big-endian expiry, then the
// entry key.
func expiryKey(exp int64, entry []byte) []byte {
	k := make([]byte, 8, 8+len(entry))
	binary.BigEndian.PutUint64(k, uint64(exp))
	return append(k, entry...)
}

func encodeRecord(e revocation.Entry) []byte {
	b := make([]byte, recordBytes)
	b[0] = recordVersion
	binary.BigEndian.PutUint64(b[1:], uint64(e.ExpiresAt))
	binary.BigEndian.PutUint64(b[9:], uint64(e.Before))
	binary.BigEndian.PutUint64(b[17:], uint64(e.CreatedAt))
	return b
}

// decodeRecord decodes the record stored under key k. It copies, so the
// result outlives the transaction.
func decodeRecord(k, v []byte) (revocation.Entry, error) {
	kind, provider, value, err := splitEntryKey(k)
	if err != nil {
		return revocation.Entry{}, err
	}
	if len(v) != recordBytes || v[0] != recordVersion {
		return revocation.Entry{}, fmt.Errorf("%w: %d bytes, version %d", errCorrupt, len(v), firstByte(v))
	}
	return revocation.Entry{
		Kind:      kind,
		Provider:  provider,
		Value:     value,
		ExpiresAt: int64(binary.BigEndian.Uint64(v[1:])),
		Before:    int64(binary.BigEndian.Uint64(v[9:])),
		CreatedAt: int64(binary.BigEndian.Uint64(v[17:])),
	}, nil
}

// encodeSet is the stored content of a KindSIDSet entry: its hashes,
// ascending, little-endian, 8 bytes each.
func encodeSet(set *revocation.SIDSet) []byte {
	hs := set.Hashes()
	b := make([]byte, 0, 8*len(hs))
	for _, h := range hs {
		b = binary.LittleEndian.AppendUint64(b, h)
	}
	return b
}

// decodeSet rebuilds the content stored as v. It copies, so the result
// outlives the transaction.
func decodeSet(v []byte) (*revocation.SIDSet, error) {
	if len(v) == 0 || len(v)%8 != 0 {
		return nil, fmt.Errorf("%w: session set of %d bytes", errCorrupt, len(v))
	}
	hs := make([]uint64, len(v)/8)
	for i := range hs {
		hs[i] = binary.LittleEndian.Uint64(v[8*i:])
	}
	set, err := revocation.SIDSetFromHashes(hs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errCorrupt, err)
	}
	return set, nil
}

// loadSet attaches to e, when it is a KindSIDSet entry stored under key
// k, its content.
func loadSet(tx *bbolt.Tx, k []byte, e *revocation.Entry) error {
	if e.Kind != revocation.KindSIDSet {
		return nil
	}
	v := tx.Bucket(setsBucket).Get(k)
	if v == nil {
		return fmt.Errorf("%w: session set %q has no content", errCorrupt, e.Value)
	}
	set, err := decodeSet(v)
	if err != nil {
		return err
	}
	e.Set = set
	return nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}
