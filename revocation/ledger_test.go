package revocation

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestLedgerRecordRoundTrip(t *testing.T) {
	tests := map[string]Entry{
		"jti":           {Kind: KindJTI, Value: "7f1c2a9e-5d1b-4c8e-9a6f-0b3e2d1c4a5b", ExpiresAt: 1_767_225_630, CreatedAt: 1_767_225_600_123},
		"sid":           {Kind: KindSID, Value: "s", ExpiresAt: 1},
		"sub":           {Kind: KindSub, Value: "alice@example.com", Before: 1_767_225_000, ExpiresAt: 1_768_434_600, CreatedAt: 9},
		"longest value": {Kind: KindJTI, Value: strings.Repeat("z", MaxValueBytes), ExpiresAt: 1 << 40, CreatedAt: 1 << 50},
		"binary value":  {Kind: KindSID, Value: "a\x00b\xffc", ExpiresAt: 5},
		// Near-UUIDs stay as they are: packed, they would come back changed.
		"uppercase uuid":       {Kind: KindJTI, Value: "7F1C2A9E-5D1B-4C8E-9A6F-0B3E2D1C4A5B", ExpiresAt: 7},
		"uuid without hyphens": {Kind: KindJTI, Value: "7f1c2a9e5d1b4c8e9a6f0b3e2d1c4a5b0000", ExpiresAt: 7},
		"hyphen misplaced":     {Kind: KindJTI, Value: "7f1c2a9e5-d1b-4c8e-9a6f-0b3e2d1c4a5b", ExpiresAt: 7},
		"non-hex digit":        {Kind: KindSID, Value: "7f1c2a9e-5d1b-4c8e-9a6f-0b3e2d1c4a5g", ExpiresAt: 7},
		"uuid sid":             {Kind: KindSID, Value: "00000000-0000-0000-0000-000000000000", ExpiresAt: 7},
		"base64url id":         {Kind: KindSID, Value: "q83vEjRWeJCrze8SNFZ4kA", ExpiresAt: 7},
		// The last character carries 4 bits of padding; set, they would
		// not survive the round trip through 16 bytes.
		"base64url id, padding bits set": {Kind: KindJTI, Value: "q83vEjRWeJCrze8SNFZ4kB", ExpiresAt: 7},
		"base64 std alphabet":            {Kind: KindJTI, Value: "q83vEjRWeJCrze8SNFZ+kA", ExpiresAt: 7},
		"scoped sid":                     {Kind: KindSID, Provider: "idp-a", Value: "s", ExpiresAt: 7},
		"scoped uuid sid":                {Kind: KindSID, Provider: "self", Value: "00000000-0000-0000-0000-000000000000", ExpiresAt: 7},
		"scoped base64url sub":           {Kind: KindSub, Provider: "self", Value: "q83vEjRWeJCrze8SNFZ4kA", Before: 3, ExpiresAt: 7},
		"provider":                       {Kind: KindProvider, Value: "idp-a", Before: 1_767_225_000, ExpiresAt: 7, CreatedAt: 8},
	}
	for name, want := range tests {
		t.Run(name, func(t *testing.T) {
			b := appendRecord([]byte("prefix"), want)
			got, rest, ok := decodeRecord(b[len("prefix"):])
			if !ok || got != want || len(rest) != 0 {
				t.Fatalf("decode = %+v, %v, %d bytes left; want %+v", got, ok, len(rest), want)
			}
			for cut := range len(b) - len("prefix") {
				if _, _, ok := decodeRecord(b[len("prefix") : len("prefix")+cut]); ok {
					t.Fatalf("decoding a record truncated to %d bytes succeeded", cut)
				}
			}
		})
	}
}

// A canonical lowercase UUID or a 22-character base64url identifier is
// stored as 16 bytes: such a jti's record is about 30 bytes.
func TestLedgerRecordSize(t *testing.T) {
	e := Entry{Kind: KindJTI, Value: "7f1c2a9e-5d1b-4c8e-9a6f-0b3e2d1c4a5b", ExpiresAt: 1_767_225_630, CreatedAt: 1_767_225_600_123}
	if n := len(appendRecord(nil, e)); n > 30 {
		t.Errorf("UUID jti record is %d bytes, want at most 30", n)
	}
	e.Value = strings.ToUpper(e.Value)
	if n := len(appendRecord(nil, e)); n != 50 {
		t.Errorf("uppercase UUID record is %d bytes, want 50 (stored as text)", n)
	}
	e.Value = "q83vEjRWeJCrze8SNFZ4kA" // as issuer.randomID mints them
	if n := len(appendRecord(nil, e)); n > 30 {
		t.Errorf("base64url jti record is %d bytes, want at most 30", n)
	}
}

// FuzzLedgerRecord: whatever an entry holds comes back from its record
// unchanged, and no bytes make decoding panic.
func FuzzLedgerRecord(f *testing.F) {
	f.Add(uint8(0), "7f1c2a9e-5d1b-4c8e-9a6f-0b3e2d1c4a5b", int64(1_767_225_630), int64(0), int64(1_767_225_600_123), []byte{0x81, 1, 2})
	f.Add(uint8(2), "alice@example.com", int64(5), int64(4), int64(3), []byte{0x03, 0x05, 'a'})
	f.Add(uint8(1), "q83vEjRWeJCrze8SNFZ4kA", int64(5), int64(0), int64(3), []byte{0xc1, 0})
	f.Fuzz(func(t *testing.T, kind uint8, value string, exp, before, created int64, junk []byte) {
		kinds := []Kind{KindJTI, KindSID, KindSub, KindProvider}
		want := Entry{Kind: kinds[int(kind)%len(kinds)], Value: value, ExpiresAt: exp, Before: before, CreatedAt: created}
		if kind&0x10 != 0 {
			want.Provider = value[:len(value)/2]
		}
		got, rest, ok := decodeRecord(appendRecord(nil, want))
		if !ok || got != want || len(rest) != 0 {
			t.Fatalf("decode = %+v, %v, %d bytes left; want %+v", got, ok, len(rest), want)
		}
		decodeRecord(junk)
	})
}

func TestLedgerCompact(t *testing.T) {
	ix := newIndex()
	l := &ledger{}
	add := func(e Entry) {
		if merged, ok := ix.add(e); ok {
			l.add(merged)
		}
	}
	for i := range 3000 {
		add(Entry{Kind: KindJTI, Value: fmt.Sprint("j", i), ExpiresAt: 100})
	}
	// Supersede a third, let another third expire.
	for i := 0; i < 3000; i += 3 {
		add(Entry{Kind: KindJTI, Value: fmt.Sprint("j", i), ExpiresAt: 200})
	}
	add(Entry{Kind: KindSub, Value: "u", Before: 5, ExpiresAt: 300})
	add(Entry{Kind: KindSub, Value: "u", Before: 7, ExpiresAt: 250})
	if got := l.records(); got != 3000+1000+2 {
		t.Fatalf("records before compaction = %d, want %d", got, 4002)
	}
	ix.sweep(timeAt(100))

	kept := l.compact(func(e Entry) bool { return e.ExpiresAt > 100 && ix.current(e) })
	if kept != 1000+1 {
		t.Fatalf("compact kept %d, want 1001", kept)
	}
	var got []Entry
	_ = each(l.snapshot(), func(e Entry) error { got = append(got, e); return nil })
	for _, e := range got {
		if !ix.current(e) {
			t.Fatalf("kept a record the index does not hold: %+v", e)
		}
	}
	if last := got[len(got)-1]; last != (Entry{Kind: KindSub, Value: "u", Before: 7, ExpiresAt: 300}) {
		t.Fatalf("sub record = %+v, want the merged cut-off", last)
	}
}

func TestLedgerCompactKeepsConcurrentAppends(t *testing.T) {
	l := &ledger{}
	for i := range 20_000 {
		l.add(Entry{Kind: KindJTI, Value: fmt.Sprint("old", i), ExpiresAt: 1})
	}
	var wg sync.WaitGroup
	const added = 5000
	wg.Go(func() {
		for i := range added {
			l.add(Entry{Kind: KindSID, Value: fmt.Sprint("new", i), ExpiresAt: 2})
		}
	})
	// Drop every "old" record; everything appended meanwhile must survive.
	l.compact(func(e Entry) bool { return e.Kind != KindJTI })
	wg.Wait()
	seen := map[string]bool{}
	_ = each(l.snapshot(), func(e Entry) error {
		if e.Kind == KindSID {
			seen[e.Value] = true
		}
		return nil
	})
	if len(seen) != added {
		t.Fatalf("after compaction with concurrent appends: %d of %d new records survive", len(seen), added)
	}
}

func timeAt(unix int64) time.Time { return time.Unix(unix, 0) }
