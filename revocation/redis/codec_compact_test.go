package redis

import (
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jwt-authz/jwt-authz/internal/testkit/redisserver"
	"github.com/jwt-authz/jwt-authz/revocation"
)

// encodeCompact is the compact announcement of entries numbered from
// first, as putScript writes it.
func encodeCompact(entries []revocation.Entry, first uint64) string {
	b := binary.AppendUvarint([]byte(compactPrefix), first)
	zigzag := func(b []byte, d int64) []byte { return binary.AppendUvarint(b, uint64(d<<1^d>>63)) }
	var exp, before, created int64
	for _, e := range entries {
		b = append(b, compactIdent(e)...)
		b = zigzag(b, e.ExpiresAt-exp)
		if e.Kind == revocation.KindSub || e.Kind == revocation.KindProvider || e.Kind == revocation.KindSIDSet {
			b = zigzag(b, e.Before-before)
			before = e.Before
		}
		b = zigzag(b, e.CreatedAt-created)
		exp, created = e.ExpiresAt, e.CreatedAt
	}
	return string(b)
}

// compactEntries has one entry of each shape the compact form tells
// apart, with numbers going up and down between entries.
func compactEntries() []revocation.Entry {
	now := time.Now()
	exp, ms := now.Add(time.Hour).Unix(), now.UnixMilli()
	return []revocation.Entry{
		{Kind: revocation.KindJTI, Value: "0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0ff", ExpiresAt: exp, CreatedAt: ms},
		{Kind: revocation.KindJTI, Value: "AAECAwQFBgcICQoLDA0ODw", ExpiresAt: exp - 3000, CreatedAt: ms + 3},
		{Kind: revocation.KindJTI, Value: "a:b\nc\x00", ExpiresAt: exp + 7, CreatedAt: ms - 1},
		{Kind: revocation.KindJTI, Value: "0F1E2D3C-4B5A-4978-8695-A4B3C2D1E0FF", ExpiresAt: exp, CreatedAt: ms}, // upper case: not packed
		{Kind: revocation.KindSID, Provider: "idp-a", Value: "00000000-0000-4000-8000-000000000001", ExpiresAt: exp + 86400, CreatedAt: ms},
		{Kind: revocation.KindSub, Provider: "self", Value: "user:1", Before: now.Unix(), ExpiresAt: exp + 86400, CreatedAt: ms + 1},
		{Kind: revocation.KindSID, Value: "s", ExpiresAt: exp, CreatedAt: ms + 2},
		{Kind: revocation.KindProvider, Value: "corp", Before: now.Unix() - 5, ExpiresAt: exp, CreatedAt: ms + 2},
		{Kind: revocation.KindSub, Value: "u", Before: now.Unix(), ExpiresAt: exp, CreatedAt: ms + 2},
		// A session set's announcement names it; its content is stored apart.
		{Kind: revocation.KindSIDSet, Value: "q83vEjRWeJCrze8SNFZ4kA", ExpiresAt: exp + 86400, CreatedAt: ms + 4},
		{Kind: revocation.KindSIDSet, Provider: "idp-a", Value: "set:1", ExpiresAt: exp, CreatedAt: ms + 4},
		{Kind: revocation.KindSub, Value: "u2", Before: now.Unix() - 9, ExpiresAt: exp, CreatedAt: ms + 5},
	}
}

func TestDecodeCompact(t *testing.T) {
	entries := compactEntries()
	payload := encodeCompact(entries, 41)
	a, err := decodeAnnouncement(payload)
	if err != nil || a.first != 41 || a.last != 41+uint64(len(entries))-1 || len(a.entries) != len(entries) {
		t.Fatalf("decode = %+v, %v", a, err)
	}
	for i, e := range entries {
		if a.entries[i] != e {
			t.Errorf("entry %d = %+v, want %+v", i, a.entries[i], e)
		}
	}
	valid := encodeCompact(entries[:1], 1)
	for name, p := range map[string]string{
		"no entries":           "c:\x01",
		"no sequence":          "c:",
		"seq zero":             "c:\x00" + valid[3:],
		"seq past int64":       "c:\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01" + valid[3:],
		"unknown kind":         "c:\x01\x07" + valid[4:],
		"kind zero":            "c:\x01\x00" + valid[4:],
		"unknown flag":         "c:\x01\x51" + valid[4:],
		"uuid and base64":      "c:\x01\x31" + valid[4:],
		"truncated":            valid[:len(valid)-1],
		"trailing byte":        valid + "\x01",
		"scoped jti":           "c:\x01\x09\x01a\x01j\x02\x02\x02",
		"sid set with cut-off": "c:\x01\x05\x01s\x02\x02\x02",
		"bad provider":         "c:\x01\x0a\x01A\x01s\x02\x02",
		"empty value":          "c:\x01\x01\x00\x02\x02",
		"length past end":      "c:\x01\x01\x09abc\x02\x02",
		"negative expiry":      "c:\x01\x01\x01j\x01\x02",
		"number overflows":     "c:\x01\x01\x01j\xfe\xff\xff\xff\xff\xff\xff\xff\xff\x01\x02\x01\x01k\x02\x02",
		"varint past 64 bits":  "c:\x01\x01\x01j\xff\xff\xff\xff\xff\xff\xff\xff\xff\x7f\x02",
	} {
		if a, err := decodeAnnouncement(p); err == nil {
			t.Errorf("%s: decode(%q) = %+v, want an error", name, p, a)
		}
	}
}

// previousDecodeAnnouncement is decodeAnnouncement as the version before
// the compact form had it, kept to check that such a replica skips a
// compact message rather than misreading it.
func previousDecodeAnnouncement(payload string) (announcement, error) {
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

// The write script announces a batch in the compact form, byte for byte
// as encodeCompact has it, and replicas of the two earlier versions (the
// batch form, and one entry per message before it) refuse the message
// rather than misread it.
func TestScriptAnnouncesCompactForm(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	s := newStore(t, addr, opts)
	payloads := rawSubscribe(t, addr, opts)
	entries := compactEntries()
	if err := s.put(t.Context(), opts.Channel, entries); err != nil {
		t.Fatal(err)
	}
	payload := waitFor(t, payloads)
	a, err := decodeAnnouncement(payload)
	if err != nil {
		t.Fatal(err)
	}
	if want := encodeCompact(entries, a.first); payload != want {
		t.Fatalf("announced\n%q\nwant\n%q", payload, want)
	}
	if len(a.entries) != len(entries) || a.last != a.first+uint64(len(entries))-1 {
		t.Fatalf("decoded %d entries, seq %d..%d", len(a.entries), a.first, a.last)
	}
	if old, err := previousDecodeAnnouncement(payload); err == nil {
		t.Fatalf("the previous version reads the compact message as %+v", old)
	}
	if old, err := decodeMessage(payload); err == nil {
		t.Fatalf("the one-entry decoder reads the compact message as %+v", old)
	}
	var plain int
	for _, e := range entries {
		plain += len(fmt.Sprintf("%d:%d:%d:%d:%d:", a.first, e.ExpiresAt, e.Before, e.CreatedAt, len(member(e.Kind, e.Provider, e.Value)))) + len(member(e.Kind, e.Provider, e.Value))
	}
	t.Logf("%d entries: %d bytes compact, %d in the batch form", len(entries), len(payload), plain+len(batchPrefix))
}

// A number too large for Lua to hold exactly is announced in the batch
// form, which new replicas read as well.
func TestScriptFallsBackToBatchForm(t *testing.T) {
	addr := redisserver.Shared(t)
	opts := uniqueOptions(t)
	s := newStore(t, addr, opts)
	payloads := rawSubscribe(t, addr, opts)
	entries := compactEntries()[:2]
	entries[1].CreatedAt = 1 << 60
	if err := s.put(t.Context(), opts.Channel, entries); err != nil {
		t.Fatal(err)
	}
	payload := waitFor(t, payloads)
	a, err := decodeAnnouncement(payload)
	if err != nil || !strings.HasPrefix(payload, batchPrefix) || len(a.entries) != 2 || a.entries[0] != entries[0] || a.entries[1] != entries[1] {
		t.Fatalf("announced %q: %+v, %v; want both entries in the batch form", payload, a, err)
	}
}

// BenchmarkDecodeAnnouncement decodes a message of 100 UUID jtis, as a
// replica does for every message, in the compact form and the batch form.
func BenchmarkDecodeAnnouncement(b *testing.B) {
	ids := newUUIDs(100)
	seqs := make([]uint64, len(ids))
	for i := range seqs {
		seqs[i] = 1_000_000 + uint64(i)
	}
	for name, payload := range map[string]string{"compact": encodeCompact(ids, seqs[0]), "batch": encodeBatch(ids, seqs)} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(payload)))
			for b.Loop() {
				if a, err := decodeAnnouncement(payload); err != nil || len(a.entries) != len(ids) {
					b.Fatal(err)
				}
			}
		})
	}
}

// newUUIDs returns n jti entries with UUID values and close times.
func newUUIDs(n int) []revocation.Entry {
	exp, ms := time.Now().Add(time.Hour).Unix(), time.Now().UnixMilli()
	out := make([]revocation.Entry, n)
	for i := range out {
		out[i] = revocation.Entry{Kind: revocation.KindJTI, Value: fmt.Sprintf("5ca1ab1e-%04x-4000-8000-%012x", i%7, i*7919), ExpiresAt: exp + int64(i*37%900), CreatedAt: ms + int64(i/5)}
	}
	return out
}
