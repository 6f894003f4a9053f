package revocation

import (
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkApplyAnnounced is what a replica's Service does for one
// announced message of 100 new UUID jtis: per entry the index's put, the
// write-back ledger, the lag histogram and the entry gauges. The index
// starts empty and grows to 100,000 entries, a replica's size at the
// scale targets, then starts over.
func BenchmarkApplyAnnounced(b *testing.B) {
	const message, held = 100, 100_000
	ids := uuidLike(rand.New(rand.NewPCG(7, 8)), held)
	now := time.Now()
	entries := make([]Entry, held)
	for i := range entries {
		entries[i] = Entry{Kind: KindJTI, Value: ids[i], ExpiresAt: now.Add(time.Hour).Unix(), CreatedAt: now.UnixMilli()}
	}
	fresh := func() *Service {
		return &Service{index: newIndex(), ledger: &ledger{}, metrics: NewMetrics(prometheus.NewRegistry()), now: time.Now}
	}
	s := fresh()
	b.ReportAllocs()
	at := 0
	for b.Loop() {
		if at+message > held {
			b.StopTimer()
			s, at = fresh(), 0
			b.StartTimer()
		}
		for _, e := range entries[at : at+message] {
			s.applyAnnounced(e)
		}
		at += message
	}
}

// TestKindListIsKinds keeps the entry gauges' order (kindList) and the
// ledger's codes in step with Kinds.
func TestKindListIsKinds(t *testing.T) {
	if !slices.Equal(Kinds(), kindList[:]) {
		t.Fatalf("kindList = %v, want Kinds() = %v", kindList, Kinds())
	}
	for _, k := range Kinds() {
		if back, ok := kindOfCode(kindCode(k)); !ok || back != k {
			t.Errorf("kind %q: code %d gives back %q, %v", k, kindCode(k), back, ok)
		}
	}
}
