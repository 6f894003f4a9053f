package redis

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"strings"
	"unsafe"

	"github.com/jwt-authz/jwt-authz/revocation"
)

// compactPrefix starts a compact announcement, the form putScript
// publishes. Earlier versions read neither it nor anything after it as an
// entry: the one-entry form starts with a digit and the batch form with
// "b:".
const compactPrefix = "c:"

// An entry of a compact announcement starts with one byte: the kind's code
// in the low three bits, and flags.
const (
	codeJTI      = 1
	codeSID      = 2
	codeSub      = 3 // codeSub and codeProvider carry a cut-off; putScript tests code >= 3
	codeProvider = 4
	codeSIDSet   = 5 // its content is stored apart (see writeSet); before is always 0
	codeKindMask = 0x07

	codeScoped = 0x08 // a provider name follows: uvarint length, bytes
	codeUUID   = 0x10 // the value is the 16 bytes of a canonical lowercase UUID
	codeB64    = 0x20 // the value is the 16 bytes of 22 characters of unpadded base64url
)

var kindByCode = [...]revocation.Kind{codeJTI: revocation.KindJTI, codeSID: revocation.KindSID, codeSub: revocation.KindSub, codeProvider: revocation.KindProvider, codeSIDSet: revocation.KindSIDSet}

func kindCode(k revocation.Kind) byte {
	for c, kind := range kindByCode {
		if kind == k && k != "" {
			return byte(c)
		}
	}
	return 0
}

// compactIdent is what names e in a compact announcement: its code byte,
// its provider when scoped, and its value, packed to 16 bytes when it is a
// canonical UUID or 22 characters of base64url (the jtis and sids of most
// identity providers and of jwt-authz's own issuer), else its length as a
// uvarint and its bytes. putScript appends the entry's numbers.
func compactIdent(e revocation.Entry) string {
	b := []byte{kindCode(e.Kind)}
	if e.Provider != "" {
		b[0] |= codeScoped
		b = binary.AppendUvarint(b, uint64(len(e.Provider)))
		b = append(b, e.Provider...)
	}
	if u, ok := packUUID(e.Value); ok {
		b[0] |= codeUUID
		b = append(b, u...)
	} else if u, ok := packB64(e.Value); ok {
		b[0] |= codeB64
		b = append(b, u...)
	} else {
		b = binary.AppendUvarint(b, uint64(len(e.Value)))
		b = append(b, e.Value...)
	}
	return string(b)
}

// packUUID returns the 16 bytes of v when v is a UUID in canonical form
// with lowercase hex digits, the only form formatUUID gives back.
func packUUID(v string) ([]byte, bool) {
	if len(v) != 36 || v[8] != '-' || v[13] != '-' || v[18] != '-' || v[23] != '-' {
		return nil, false
	}
	h := v[0:8] + v[9:13] + v[14:18] + v[19:23] + v[24:36]
	u, err := hex.DecodeString(h)
	if err != nil || hex.EncodeToString(u) != h {
		return nil, false
	}
	return u, true
}

// appendUUID appends the canonical lowercase form of the 16 bytes u.
func appendUUID(b []byte, u string) []byte {
	const digits = "0123456789abcdef"
	for i := 0; i < 16; i++ {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			b = append(b, '-')
		}
		b = append(b, digits[u[i]>>4], digits[u[i]&0x0f])
	}
	return b
}

// strictB64 refuses encodings whose unused bits are set, which would not
// come back the same from 16 bytes.
var strictB64 = base64.RawURLEncoding.Strict()

func packB64(v string) ([]byte, bool) {
	if len(v) != 22 {
		return nil, false
	}
	u, err := strictB64.DecodeString(v)
	return u, err == nil && len(u) == 16
}

// decodeCompact decodes a compact announcement:
//
//	"c:" <first seq> then per entry:
//	<code> [<provider>] <value> <exp> [<before>] <created>
//
// The sequence numbers are first, first+1, ... (a script call numbers its
// writes without a hole). The provider and an unpacked value are a uvarint
// length and bytes; a packed value (codeUUID, codeB64) is 16 bytes.
// Numbers are zigzag varints, each the difference from the same number of
// the previous entry (of 0 for the first); before is present for the
// codes from codeSub on (the kinds with a cut-off, and a session set,
// whose before is 0), and is 0 for the others. An earlier version knows
// no code past codeProvider and refuses a message holding a session set
// whole (see the package documentation). A message with any
// malformed part is refused whole.
//
// Every replica decodes every message, so the decoding allocates per
// message, not per entry: the packed values are written as text one after
// the other into one buffer, made one string, and each entry's value is a
// part of it; an unpacked value or a provider is a part of the payload.
func decodeCompact(payload string) (announcement, error) {
	r := compactReader{rest: strings.TrimPrefix(payload, compactPrefix)}
	bad := func() (announcement, error) {
		return announcement{}, fmt.Errorf("%w: compact batch %q", errBadRecord, truncate(payload))
	}
	first, ok := r.uvarint()
	if !ok || first == 0 || first > math.MaxInt64 || r.rest == "" {
		return bad()
	}
	// A UUID jti takes 19 to 21 bytes: room for all of them at once (as
	// many as a 64 KiB batch holds at most, whatever the message claims).
	// A packed value takes at least 19 bytes too (code, 16 bytes, two
	// numbers): the text of all of them, 36 characters at most each, fits
	// without growing.
	a := announcement{entries: make([]revocation.Entry, 0, min(len(r.rest)/18+1, 4096))}
	r.text = make([]byte, 0, len(r.rest)/19*36)
	// The length of each packed value's text, in the order written.
	var lensArray [1024]uint8
	lens := lensArray[:0]
	for r.rest != "" {
		e, packed, ok := r.entry()
		if !ok || uint64(len(a.entries)) >= math.MaxInt64-first {
			return bad()
		}
		a.entries = append(a.entries, e)
		if packed > 0 {
			lens = append(lens, uint8(packed))
		}
	}
	if len(lens) > 0 {
		// Nothing writes to r.text any more: its bytes are the string's.
		text, at, next := unsafe.String(unsafe.SliceData(r.text), len(r.text)), 0, lens
		for i := range a.entries {
			// A packed value is the only kind that entry leaves empty.
			if e := &a.entries[i]; e.Value == "" {
				l := int(next[0])
				e.Value, at, next = text[at:at+l], at+l, next[1:]
			}
		}
	}
	a.first, a.last = first, first+uint64(len(a.entries))-1
	return a, nil
}

// compactReader consumes a compact announcement.
type compactReader struct {
	rest string
	// the numbers of the previous entry (before: of the previous one
	// with a cut-off), which the next one's are differences from
	exp, before, created int64
	// text holds the packed values written as text, back to back (see
	// decodeCompact).
	text []byte
}

func (r *compactReader) uvarint() (uint64, bool) {
	if r.rest != "" && r.rest[0] < 0x80 {
		n := uint64(r.rest[0])
		r.rest = r.rest[1:]
		return n, true
	}
	n, size := binary.Uvarint([]byte(r.rest[:min(len(r.rest), binary.MaxVarintLen64)]))
	if size <= 0 {
		return 0, false
	}
	r.rest = r.rest[size:]
	return n, true
}

// bytes reads n bytes, or a uvarint length and as many bytes when n < 0.
func (r *compactReader) bytes(n int) (string, bool) {
	if n < 0 {
		l, ok := r.uvarint()
		if !ok || l > uint64(len(r.rest)) {
			return "", false
		}
		n = int(l)
	}
	if n > len(r.rest) {
		return "", false
	}
	s := r.rest[:n]
	r.rest = r.rest[n:]
	return s, true
}

// number reads a zigzag varint and adds it to prev; the sum must be in
// [0, MaxInt64].
func (r *compactReader) number(prev int64) (int64, bool) {
	u, ok := r.uvarint()
	if !ok {
		return 0, false
	}
	d := int64(u >> 1)
	if u&1 != 0 {
		d = ^d
	}
	if d > 0 && prev > math.MaxInt64-d {
		return 0, false
	}
	n := prev + d
	return n, n >= 0
}

// entry reads one entry. A packed value is left empty: its text, of
// packedLen bytes, is appended to r.text.
func (r *compactReader) entry() (e revocation.Entry, packedLen int, ok bool) {
	if r.rest == "" {
		return revocation.Entry{}, 0, false
	}
	code := r.rest[0]
	r.rest = r.rest[1:]
	c := int(code & codeKindMask)
	if c >= len(kindByCode) || kindByCode[c] == "" || code&^(codeKindMask|codeScoped|codeUUID|codeB64) != 0 || code&codeUUID != 0 && code&codeB64 != 0 {
		return revocation.Entry{}, 0, false
	}
	e.Kind = kindByCode[c]
	if code&codeScoped != 0 {
		e.Provider, ok = r.bytes(-1)
		if !ok || !revocation.ValidProviderName(e.Provider) || e.Kind == revocation.KindJTI || e.Kind == revocation.KindProvider {
			return revocation.Entry{}, 0, false
		}
	}
	if code&(codeUUID|codeB64) == 0 {
		if e.Value, ok = r.bytes(-1); !ok || e.Value == "" {
			return revocation.Entry{}, 0, false
		}
	} else if u, packed := r.bytes(16); !packed {
		return revocation.Entry{}, 0, false
	} else {
		// The value stays empty until decodeCompact gives it its text.
		l := len(r.text)
		if code&codeUUID != 0 {
			r.text = appendUUID(r.text, u)
		} else {
			r.text = base64.RawURLEncoding.AppendEncode(r.text, []byte(u))
		}
		packedLen = len(r.text) - l
	}
	if e.ExpiresAt, ok = r.number(r.exp); !ok {
		return revocation.Entry{}, 0, false
	}
	// putScript writes a cut-off for every code from codeSub on, 0 for a
	// session set.
	if c >= codeSub {
		if e.Before, ok = r.number(r.before); !ok || c == codeSIDSet && e.Before != 0 {
			return revocation.Entry{}, 0, false
		}
	}
	if e.CreatedAt, ok = r.number(r.created); !ok {
		return revocation.Entry{}, 0, false
	}
	r.exp, r.created = e.ExpiresAt, e.CreatedAt
	if c >= codeSub {
		r.before = e.Before
	}
	return e, packedLen, true
}
