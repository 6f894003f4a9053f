package bolt

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// recordVersion is the first byte of every stored record, so the format
// can change without misreading old files.
const recordVersion = 1

// recordBytes is the size of an encoded record: version, then expiry,
// cut-off and creation time as big-endian int64s.
const recordBytes = 1 + 3*8

var errCorrupt = errors.New("corrupt revocation record")

// entryKey is kind, a zero byte, then the identifier. Kinds never contain a
// zero byte, so the split is unambiguous whatever the identifier holds.
func entryKey(kind revocation.Kind, value string) []byte {
	k := make([]byte, 0, len(kind)+1+len(value))
	k = append(k, kind...)
	k = append(k, 0)
	return append(k, value...)
}

func splitEntryKey(k []byte) (revocation.Kind, string, error) {
	i := bytes.IndexByte(k, 0)
	if i < 0 {
		return "", "", fmt.Errorf("%w: key without kind", errCorrupt)
	}
	return revocation.Kind(k[:i]), string(k[i+1:]), nil
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
	kind, value, err := splitEntryKey(k)
	if err != nil {
		return revocation.Entry{}, err
	}
	if len(v) != recordBytes || v[0] != recordVersion {
		return revocation.Entry{}, fmt.Errorf("%w: %d bytes, version %d", errCorrupt, len(v), firstByte(v))
	}
	return revocation.Entry{
		Kind:      kind,
		Value:     value,
		ExpiresAt: int64(binary.BigEndian.Uint64(v[1:])),
		Before:    int64(binary.BigEndian.Uint64(v[9:])),
		CreatedAt: int64(binary.BigEndian.Uint64(v[17:])),
	}, nil
}

func firstByte(b []byte) int {
	if len(b) == 0 {
		return -1
	}
	return int(b[0])
}
