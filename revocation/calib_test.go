package revocation

import (
	"hash/maphash"
	"testing"
)

var sink uint64

func BenchmarkCalibHash(b *testing.B) {
	seed := maphash.MakeSeed()
	probes := probeSet(3, 1<<10)
	b.ResetTimer()
	cpu := startCPU(b)
	defer cpu.stop()
	i := 0
	for b.Loop() {
		sink += maphash.String(seed, probes[i&1023])
		i++
	}
}

func BenchmarkCalibSmallMap(b *testing.B) {
	m := map[uint64]int64{}
	for i := range 1024 {
		m[uint64(i)*0x9e3779b97f4a7c15] = 1
	}
	b.ResetTimer()
	cpu := startCPU(b)
	defer cpu.stop()
	i := 0
	for b.Loop() {
		_, ok := m[uint64(i&2047)*0x9e3779b97f4a7c15]
		if ok {
			sink++
		}
		i++
	}
}
