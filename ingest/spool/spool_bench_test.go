package spool

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
)

// BenchmarkAppend compares group commit with one fsync per record for
// concurrent writers of ~64 KB records (a request of ~1,000 events).
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
				var wg sync.WaitGroup
				for range writers {
					wg.Go(func() {
						for left.Add(-1) >= 0 {
							if _, err := s.Append(context.Background(), rec); err != nil {
								b.Error(err)
								return
							}
						}
					})
				}
				wg.Wait()
				b.StopTimer()
				st := s.Stats()
				b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
				b.ReportMetric(float64(st.Appends)/float64(max(st.Fsyncs, 1)), "records/fsync")
			})
		}
	}
}
