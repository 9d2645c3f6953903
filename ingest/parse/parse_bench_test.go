package parse

import (
	"bytes"
	"fmt"
	"os"
	"testing"

	"github.com/stretchr/testify/require"
)

// BenchmarkEvents measures parse+validate throughput on a realistic mix; the
// target is >= 300,000 events/s per core (see the ingest budget).
func BenchmarkEvents(b *testing.B) {
	nd, err := os.ReadFile("testdata/events.ndjson")
	require.NoError(b, err)
	lines := bytes.Split(bytes.TrimSpace(nd), []byte("\n"))
	var body bytes.Buffer
	const n = 10000
	for i := range n {
		// Vary ids as real traffic does; the rest repeats like real tag values.
		line := lines[i%len(lines)]
		body.Write(bytes.Replace(line, []byte(`"id":"`), fmt.Appendf(nil, `"id":"%d-`, i), 1))
		body.WriteByte('\n')
	}
	data := body.Bytes()
	lim := testLimits()
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		batch, err := Events(bytes.NewReader(data), lim)
		if err != nil || len(batch.Events) != n {
			b.Fatalf("got %d events, err %v", len(batch.Events), err)
		}
	}
	b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
