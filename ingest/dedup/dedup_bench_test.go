package dedup

import (
	"math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/storepulse/storepulse/ingest/event"
)

// fill puts n persisted keys into ix, spread over every generation, without
// writing files (the benchmark measures the in-memory index).
func fill(ix *Index, r *rand.Rand, n int) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for i := range n {
		g := ix.genLocked(int64(i % generations))
		g.keys.add(r.Uint64())
	}
	// As after Open: only the newest generation is open.
	ix.compactClosedLocked()
}

// BenchmarkReserve reserves requests of 1,000 keys (fresh, as most are)
// against an index already holding 1M persisted keys, from 1 and 8
// goroutines; it reports keys/s and the index's heap bytes per key.
//
//	go test -run '^$' -bench Reserve ./ingest/dedup/
func BenchmarkReserve(b *testing.B) {
	const held, batch = 1_000_000, 1000
	for _, par := range []int{1, 8} {
		b.Run("goroutines="+strconv.Itoa(par), func(b *testing.B) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			ix, err := Open(b.TempDir(), time.Hour, nil, nil)
			if err != nil {
				b.Fatal(err)
			}
			fill(ix, rand.New(rand.NewPCG(1, 2)), held)
			runtime.GC()
			runtime.ReadMemStats(&after)
			bytesPerKey := float64(after.HeapAlloc-before.HeapAlloc) / float64(ix.Len())

			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N / par
			for g := range par {
				wg.Go(func() {
					r := rand.New(rand.NewPCG(uint64(g), 99))
					ks := make([]uint64, batch)
					for range per {
						for i := range ks {
							ks[i] = r.Uint64()
						}
						ix.Reserve(ks)
					}
				})
			}
			wg.Wait()
			b.StopTimer()
			b.ReportMetric(float64(per*par*batch)/b.Elapsed().Seconds(), "keys/s")
			b.ReportMetric(bytesPerKey, "heap-bytes/key")
		})
	}
}

// BenchmarkKey measures hashing one event's key.
func BenchmarkKey(b *testing.B) {
	for b.Loop() {
		Key(event.TypeOrder, "store-0001", "order-2026-11-11-000123456")
	}
}
