package dedup

import (
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSetMatchesMap drives the set and a Go map with the same random
// operations and compares them after every step.
func TestSetMatchesMap(t *testing.T) {
	tests := []struct {
		name     string
		keySpace uint64 // small spaces force long probe runs and wrap-around
		ops      int
		removePc int
	}{
		{name: "tiny key space", keySpace: 40, ops: 5000, removePc: 45},
		{name: "sequential-ish keys", keySpace: 2000, ops: 20000, removePc: 30},
		{name: "random keys", keySpace: 0, ops: 20000, removePc: 20},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(7, uint64(tt.ops)))
			var s set
			ref := map[uint64]bool{}
			var added []uint64
			key := func() uint64 {
				if tt.keySpace == 0 {
					if len(added) > 0 && r.IntN(3) == 0 {
						return added[r.IntN(len(added))]
					}
					return r.Uint64()
				}
				return r.Uint64N(tt.keySpace) // includes key 0
			}
			for op := range tt.ops {
				k := key()
				if r.IntN(100) < tt.removePc {
					s.remove(k)
					delete(ref, k)
				} else {
					require.Equal(t, !ref[k], s.add(k), "add %d reports whether it was new", k)
					ref[k] = true
					added = append(added, k)
				}
				if op%997 == 0 {
					s.compact()
				}
				require.Equal(t, len(ref), s.len())
				require.Equal(t, ref[k], s.has(k))
				// Every present key is still found (a remove shifts others).
				if op%200 == 0 || op == tt.ops-1 {
					for rk := range ref {
						require.True(t, s.has(rk), "key %d lost after op %d", rk, op)
					}
				}
				if probe := key(); !ref[probe] {
					require.False(t, s.has(probe))
				}
			}
		})
	}
}

func TestSetCompactSize(t *testing.T) {
	var s set
	for i := range uint64(10000) {
		s.add(i*0x9E3779B97F4A7C15 + 1)
	}
	s.compact()
	require.LessOrEqual(t, len(s.slots), 10000*maxLoadDen/maxLoadNum+1)
	for i := range uint64(10000) {
		require.True(t, s.has(i*0x9E3779B97F4A7C15+1))
	}
	require.False(t, s.has(0))
	s.add(0)
	require.True(t, s.has(0))
	require.Equal(t, 10001, s.len())
}
