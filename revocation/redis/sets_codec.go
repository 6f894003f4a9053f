package redis

import (
	"encoding/binary"
	"errors"
	"math/bits"
)

// A chunk of a session set's content holds up to setChunkHashes hashes,
// ascending, Rice-coded:
//
//	<k: 1 byte> <first hash: 8 bytes, little-endian> <bits>
//
// then, for each next hash, its gap to the previous one minus one (gaps
// are at least 1) as a Rice code of parameter k: the gap's high bits
// (gap >> k) in unary, that many 1 bits and a 0, then its k low bits;
// bits fill each byte from its lowest bit. Random 64-bit hashes are
// evenly spread, so the gaps are near 2^64 / n and k near log2 of that: a
// million hashes take about 45.5 bits each, 5.7 MB instead of 8.
const (
	chunkHead    = 1 + 8
	maxRiceK     = 63
	maxRiceQuota = 64 // a larger unary part is corrupt: a k that small is never chosen
)

var errBadChunk = errors.New("session set chunk does not decode")

// riceK is the parameter for gaps averaging span / gaps.
func riceK(span uint64, gaps int) uint {
	if gaps == 0 {
		return 0
	}
	mean := span / uint64(gaps)
	if mean < 2 {
		return 0
	}
	return uint(bits.Len64(mean)) - 1
}

// encodeChunk appends the coded form of hs (ascending, at least one) to
// dst.
func encodeChunk(dst []byte, hs []uint64) []byte {
	k := riceK(hs[len(hs)-1]-hs[0], len(hs)-1)
	dst = append(dst, byte(k))
	dst = binary.LittleEndian.AppendUint64(dst, hs[0])
	var acc uint64                  // pending bits, lowest first
	var n uint                      // how many
	put := func(v uint64, w uint) { // w <= 57 after a flush
		acc |= v << n
		n += w
		for n >= 8 {
			dst = append(dst, byte(acc))
			acc >>= 8
			n -= 8
		}
	}
	mask := uint64(1)<<k - 1
	for i := 1; i < len(hs); i++ {
		gap := hs[i] - hs[i-1] - 1
		for q := gap >> k; q > 0; {
			w := min(q, 32)
			put(1<<w-1, uint(w))
			q -= w
		}
		put(0, 1)
		if k > 32 {
			put(gap&mask&(1<<32-1), 32)
			put(gap&mask>>32, k-32)
		} else {
			put(gap&mask, k)
		}
	}
	if n > 0 {
		dst = append(dst, byte(acc))
	}
	return dst
}

// decodeChunk decodes count hashes from chunk c, passing each to add in
// order. It fails on a chunk that is short, holds more than the bits of
// count hashes (past the last byte's padding), or whose hashes overflow.
func decodeChunk(c []byte, count int, add func(uint64) error) error {
	if len(c) < chunkHead || count < 1 || c[0] > maxRiceK {
		return errBadChunk
	}
	k := uint(c[0])
	h := binary.LittleEndian.Uint64(c[1:])
	if err := add(h); err != nil {
		return err
	}
	r := bitReader{b: c[chunkHead:]}
	for range count - 1 {
		q, ok := r.unary()
		if !ok {
			return errBadChunk
		}
		low, ok := r.read(k)
		if !ok || q >= 1<<(64-k) && k > 0 || k == 0 && q > 1<<32 {
			return errBadChunk
		}
		gap := q<<k | low
		next := h + gap + 1
		if next <= h {
			return errBadChunk // past 2^64
		}
		h = next
		if err := add(h); err != nil {
			return err
		}
	}
	if r.pos+8 <= 8*len(r.b) {
		return errBadChunk // a whole byte left over
	}
	return nil
}

// bitReader reads bits, lowest of each byte first.
type bitReader struct {
	b   []byte
	pos int // in bits
}

// unary counts 1 bits up to the next 0, which it consumes.
func (r *bitReader) unary() (uint64, bool) {
	var q uint64
	for {
		if r.pos >= 8*len(r.b) {
			return 0, false
		}
		byteAt, bit := r.pos>>3, uint(r.pos&7)
		ones := uint(bits.TrailingZeros8(^(r.b[byteAt] >> bit)))
		if avail := 8 - bit; ones >= avail {
			q += uint64(avail)
			r.pos += int(avail)
		} else {
			q += uint64(ones)
			r.pos += int(ones) + 1
			return q, true
		}
		if q > 1<<40 {
			return 0, false
		}
	}
}

// read returns the next w bits (w <= 64).
func (r *bitReader) read(w uint) (uint64, bool) {
	if r.pos+int(w) > 8*len(r.b) {
		return 0, false
	}
	var v uint64
	var got uint
	for got < w {
		byteAt, bit := r.pos>>3, uint(r.pos&7)
		take := min(8-bit, w-got)
		v |= uint64(r.b[byteAt]>>bit&(1<<take-1)) << got
		got += take
		r.pos += int(take)
	}
	return v, true
}
