package dedup

import "math/bits"

// maxLoad is the fill ratio (3/4) past which a set grows and to which compact
// packs it: linear probing stays at a few probes per lookup, most within one
// cache line.
const (
	maxLoadNum = 3
	maxLoadDen = 4
	minSlots   = 16
)

// set is an open-addressing (linear probing) hash set of uint64 keys: 8 bytes
// per slot and no per-entry overhead, against 16 bytes per slot for a Go map
// of uint64 keys. Slot value 0 means empty; key 0 is kept in a flag.
type set struct {
	slots []uint64
	n     int // keys in slots (key 0 not counted)
	zero  bool
}

// home is k's preferred slot: Fibonacci hashing spreads even sequential keys,
// and the multiply-shift range reduction allows any table size, so a compacted
// set can be sized exactly.
func (s *set) home(k uint64) int {
	hi, _ := bits.Mul64(k*0x9E3779B97F4A7C15, uint64(len(s.slots)))
	return int(hi) //nolint:gosec // hi < len(s.slots)
}

func (s *set) len() int {
	if s.zero {
		return s.n + 1
	}
	return s.n
}

func (s *set) has(k uint64) bool {
	if k == 0 {
		return s.zero
	}
	if len(s.slots) == 0 {
		return false
	}
	for i := s.home(k); ; {
		switch s.slots[i] {
		case k:
			return true
		case 0:
			return false
		}
		if i++; i == len(s.slots) {
			i = 0
		}
	}
}

// add inserts k and reports whether it was absent.
func (s *set) add(k uint64) bool {
	if k == 0 {
		added := !s.zero
		s.zero = true
		return added
	}
	if (s.n+1)*maxLoadDen > len(s.slots)*maxLoadNum {
		s.resize(max(2*len(s.slots), minSlots))
	}
	for i := s.home(k); ; {
		switch s.slots[i] {
		case k:
			return false
		case 0:
			s.slots[i] = k
			s.n++
			return true
		}
		if i++; i == len(s.slots) {
			i = 0
		}
	}
}

// remove deletes k by backward shifting the rest of its probe run, so no
// tombstones accumulate.
func (s *set) remove(k uint64) {
	if k == 0 {
		s.zero = false
		return
	}
	if len(s.slots) == 0 {
		return
	}
	size := len(s.slots)
	i := s.home(k)
	for s.slots[i] != k {
		if s.slots[i] == 0 {
			return
		}
		if i++; i == size {
			i = 0
		}
	}
	// i is the hole. Move back every later entry of the run whose home is not
	// cyclically within (i, j].
	for j := i; ; {
		if j++; j == size {
			j = 0
		}
		v := s.slots[j]
		if v == 0 {
			break
		}
		h := s.home(v)
		if (i <= j && (h <= i || h > j)) || (i > j && h <= i && h > j) {
			s.slots[i] = v
			i = j
		}
	}
	s.slots[i] = 0
	s.n--
}

func (s *set) resize(size int) {
	old := s.slots
	s.slots = make([]uint64, size)
	s.n = 0
	for _, v := range old {
		if v != 0 {
			s.insertFresh(v)
		}
	}
}

// insertFresh places a key known to be absent, with room guaranteed.
func (s *set) insertFresh(k uint64) {
	i := s.home(k)
	for s.slots[i] != 0 {
		if i++; i == len(s.slots) {
			i = 0
		}
	}
	s.slots[i] = k
	s.n++
}

// compact repacks the set at the maximum load, for a generation that will
// receive no more keys: about 10.7 bytes per key.
func (s *set) compact() { *s = s.compacted() }

// compacted returns a copy of s packed at the maximum load, leaving s intact.
func (s *set) compacted() set {
	want := max(s.n*maxLoadDen/maxLoadNum+1, minSlots)
	if want >= len(s.slots) {
		return *s
	}
	c := set{slots: make([]uint64, want), zero: s.zero}
	for _, v := range s.slots {
		if v != 0 {
			c.insertFresh(v)
		}
	}
	return c
}
