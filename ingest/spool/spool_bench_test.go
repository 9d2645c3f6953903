package spool

import (
	"context"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkAppend compares group commit with one fsync per record for
// concurrent writers of ~64 KB records (a request of ~1,000 events). It
// reports records/s, MB/s, records per fsync and the p99 Append latency at
// saturation (an upper bound for the latency at a lower, steady rate).
//
//	go test -run '^$' -bench Append -benchtime 2s ./ingest/spool/
func BenchmarkAppend(b *testing.B) {
	const recSize = 64 << 10
	for _, mode := range []struct {
		name          string
		perAppendSync bool
	}{{"group-commit", false}, {"fsync-per-append", true}} {
		for _, writers := range []int{1, 16, 64} {
			b.Run(fmt.Sprintf("%s/writers=%d", mode.name, writers), func(b *testing.B) {
				s, err := Open(Options{
					Dir:             b.TempDir(),
					MaxBytes:        1 << 40, // the benchmark measures appends, not the budget
					Logger:          slog.New(slog.DiscardHandler),
					perAppendSync:   mode.perAppendSync,
					SegmentMaxBytes: DefaultSegmentMaxBytes,
				})
				if err != nil {
					b.Fatal(err)
				}
				defer s.Close()
				rec := make([]byte, recSize)
				b.SetBytes(recSize)
				var left atomic.Int64
				left.Store(int64(b.N))
				b.ResetTimer()
				lat := make([][]time.Duration, writers)
				var wg sync.WaitGroup
				for w := range writers {
					wg.Go(func() {
						for left.Add(-1) >= 0 {
							start := time.Now()
							if _, err := s.Append(context.Background(), rec); err != nil {
								b.Error(err)
								return
							}
							lat[w] = append(lat[w], time.Since(start))
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				all := slices.Concat(lat...)
				slices.Sort(all)
				if len(all) > 0 {
					b.ReportMetric(float64(all[len(all)*99/100].Microseconds())/1000, "p99-ms")
				}
				st := s.Stats()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(st.Appends)/float64(max(st.Fsyncs, 1)), "records/fsync")
			})
		}
	}
}
