package revocation

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"sync"
)

// ledger keeps the full entries a replica holds, so that it can write them
// back into a shared store that lost its data; the Index keeps hashes only.
// Records are packed back to back into large chunks (kind, value and
// varint-encoded numbers, about 30 bytes for a UUID jti) instead of one
// heap object per entry, which keeps a million entries small and cheap to
// scan for the garbage collector.
//
// It is append-only: a record superseded by a later one, or expired, stays
// until compact rewrites the chunks. Readers take a snapshot of the chunk
// list and decode it without holding the lock, because a chunk's bytes are
// never modified once written.
type ledger struct {
	mu     sync.Mutex
	chunks [][]byte
	n      int // records written since the last compaction
}

// ledgerChunkBytes is the size of one chunk. Large enough that per-chunk
// overhead is nil, small enough that the unused tail of the last one is.
const ledgerChunkBytes = 256 << 10

// scopedFlag, set in a record's kind byte, says that the entry's provider
// follows the kind byte (its length as a uvarint, then its bytes).
const scopedFlag = 0x20

// Flags set in a record's kind byte say that its value is 16 bytes
// written as text in a form that packValue recognises, and is stored as
// those 16 bytes: a UUID in canonical lowercase form (36 characters; the
// jtis of many identity providers) or unpadded base64url (22 characters;
// the jtis and sids jwt-authz's own issuer mints). Such a record is about
// 30 bytes instead of 36 to 50.
const (
	uuidFlag   = 0x80
	base64Flag = 0x40
	valueFlags = uuidFlag | base64Flag
)

// packValue returns the flag and the 16 bytes of v when v has one of the
// packed forms, exactly as unpackValue gives it back.
func packValue(v string) (flag byte, u [16]byte, ok bool) {
	if u, ok := packUUID(v); ok {
		return uuidFlag, u, true
	}
	if len(v) == 22 {
		if n, err := strictBase64URL.Decode(u[:], []byte(v)); err == nil && n == 16 {
			return base64Flag, u, true
		}
	}
	return 0, u, false
}

// strictBase64URL refuses encodings whose unused bits are set, which
// would not come back the same from 16 bytes.
var strictBase64URL = base64.RawURLEncoding.Strict()

// unpackValue is the text that packValue took u from.
func unpackValue(flag byte, u [16]byte) string {
	if flag == uuidFlag {
		return formatUUID(u)
	}
	return base64.RawURLEncoding.EncodeToString(u[:])
}

// packUUID returns the 16 bytes of s when s is a UUID in canonical form
// with lowercase hex digits, the only form that formatUUID gives back.
func packUUID(s string) (u [16]byte, ok bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return u, false
	}
	// bad collects the high bit that lowerHexValue sets for every byte
	// that is not a lowercase hex digit.
	var bad byte
	for j, i := range uuidHexAt {
		hi, lo := lowerHexValue[s[i]], lowerHexValue[s[i+1]]
		bad |= hi | lo
		u[j] = hi<<4 | lo
	}
	return u, bad&0x80 == 0
}

// uuidHexAt is where each byte's two hex digits start in a canonical UUID.
var uuidHexAt = [16]int{0, 2, 4, 6, 9, 11, 14, 16, 19, 21, 24, 26, 28, 30, 32, 34}

// lowerHexValue is the value of each lowercase hex digit, and 0x80 for
// every other byte.
var lowerHexValue = func() (t [256]byte) {
	for c := range t {
		switch {
		case '0' <= c && c <= '9':
			t[c] = byte(c - '0')
		case 'a' <= c && c <= 'f':
			t[c] = byte(c - 'a' + 10)
		default:
			t[c] = 0x80
		}
	}
	return t
}()

// formatUUID is the canonical lowercase form of u.
func formatUUID(u [16]byte) string {
	var b [36]byte
	hex.Encode(b[0:8], u[0:4])
	b[8] = '-'
	hex.Encode(b[9:13], u[4:6])
	b[13] = '-'
	hex.Encode(b[14:18], u[6:8])
	b[18] = '-'
	hex.Encode(b[19:23], u[8:10])
	b[23] = '-'
	hex.Encode(b[24:36], u[10:16])
	return string(b[:])
}

// kindCode is the byte stored in a record for kind k, and kindOfCode
// the kind back. A KindSIDSet record holds no content: the index keeps
// it, and the write-back takes it from there.
func kindCode(k Kind) byte {
	switch k {
	case KindJTI:
		return 1
	case KindSID:
		return 2
	case KindSub:
		return 3
	case KindProvider:
		return 4
	case KindSIDSet:
		return 5
	}
	return 0
}

func kindOfCode(c byte) (Kind, bool) {
	switch c {
	case 1:
		return KindJTI, true
	case 2:
		return KindSID, true
	case 3:
		return KindSub, true
	case 4:
		return KindProvider, true
	case 5:
		return KindSIDSet, true
	}
	return "", false
}

// appendRecord encodes e after dst.
func appendRecord(dst []byte, e Entry) []byte {
	code := kindCode(e.Kind)
	if e.Provider != "" {
		code |= scopedFlag
	}
	flag, u, packed := packValue(e.Value)
	dst = append(dst, code|flag)
	if e.Provider != "" {
		dst = binary.AppendUvarint(dst, uint64(len(e.Provider)))
		dst = append(dst, e.Provider...)
	}
	if packed {
		dst = append(dst, u[:]...)
	} else {
		dst = binary.AppendUvarint(dst, uint64(len(e.Value)))
		dst = append(dst, e.Value...)
	}
	dst = binary.AppendVarint(dst, e.ExpiresAt)
	dst = binary.AppendVarint(dst, e.Before)
	return binary.AppendVarint(dst, e.CreatedAt)
}

// decodeRecord decodes the record at the start of b and returns it and the
// bytes after it. ok is false for a truncated or corrupt record, which
// cannot happen for bytes written by appendRecord.
func decodeRecord(b []byte) (e Entry, rest []byte, ok bool) {
	if len(b) == 0 {
		return e, nil, false
	}
	kind, ok := kindOfCode(b[0] &^ (valueFlags | scopedFlag))
	if !ok {
		return e, nil, false
	}
	flag := b[0] & valueFlags
	scoped := b[0]&scopedFlag != 0
	b = b[1:]
	e.Kind = kind
	if scoped {
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return e, nil, false
		}
		e.Provider = string(b[n : n+int(l)])
		b = b[n+int(l):]
	}
	switch flag {
	case uuidFlag, base64Flag:
		if len(b) < 16 {
			return e, nil, false
		}
		e.Value = unpackValue(flag, [16]byte(b[:16]))
		b = b[16:]
	case 0:
		l, n := binary.Uvarint(b)
		if n <= 0 || uint64(len(b)-n) < l {
			return e, nil, false
		}
		e.Value = string(b[n : n+int(l)])
		b = b[n+int(l):]
	default:
		return e, nil, false
	}
	for _, dst := range []*int64{&e.ExpiresAt, &e.Before, &e.CreatedAt} {
		v, n := binary.Varint(b)
		if n <= 0 {
			return e, nil, false
		}
		*dst = v
		b = b[n:]
	}
	return e, b, true
}

// add appends e.
func (l *ledger) add(e Entry) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.appendLocked(e)
}

func (l *ledger) appendLocked(e Entry) {
	need := 1 + binary.MaxVarintLen64*5 + len(e.Provider) + len(e.Value)
	last := len(l.chunks) - 1
	if last < 0 || cap(l.chunks[last])-len(l.chunks[last]) < need {
		l.chunks = append(l.chunks, make([]byte, 0, max(ledgerChunkBytes, need)))
		last++
	}
	l.chunks[last] = appendRecord(l.chunks[last], e)
	l.n++
}

// snapshot returns the chunks written so far. The caller may read them
// without the lock.
func (l *ledger) snapshot() [][]byte {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := make([][]byte, len(l.chunks))
	copy(out, l.chunks)
	return out
}

// each calls fn for every record in chunks, stopping at fn's first error.
func each(chunks [][]byte, fn func(Entry) error) error {
	for _, c := range chunks {
		for len(c) > 0 {
			e, rest, ok := decodeRecord(c)
			if !ok {
				break
			}
			if err := fn(e); err != nil {
				return err
			}
			c = rest
		}
	}
	return nil
}

// records returns how many records the ledger holds, live or not.
func (l *ledger) records() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.n
}

// compact rewrites the ledger keeping only the records for which keep
// returns true. Records added while it runs are kept. Only one compact may
// run at a time (the Service's Run loop calls it).
func (l *ledger) compact(keep func(Entry) bool) (kept int) {
	old := l.snapshot()

	fresh := &ledger{}
	_ = each(old, func(e Entry) error {
		if keep(e) {
			fresh.appendLocked(e)
		}
		return nil
	})

	l.mu.Lock()
	defer l.mu.Unlock()
	// Carry over what was appended after the snapshot: the chunk that was
	// last at snapshot time may have grown, and new chunks may follow it.
	if len(old) > 0 {
		tail := l.chunks[len(old)-1][len(old[len(old)-1]):]
		_ = each([][]byte{tail}, func(e Entry) error { fresh.appendLocked(e); return nil })
	}
	_ = each(l.chunks[len(old):], func(e Entry) error { fresh.appendLocked(e); return nil })
	l.chunks, l.n = fresh.chunks, fresh.n
	return l.n
}
