package systemtest

import (
	"bytes"
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/ingesttest"
	"github.com/storepulse/storepulse/internal/testclock"
)

// TestMemoryBoundedUnderConcurrentGzip reproduces issue 11 item 9 against
// the real binary (default memory_limit, 512 MiB, and max_decompressed_bytes,
// 128 MiB): rounds of 24 concurrent
// gzip bodies of about 120 kB that decompress to 120 MB each (the reported
// attack, 2.9 GB RSS before), then of bodies that decompress to 24 MB of
// valid events. Every request is answered 202, 413 or 503 with Retry-After,
// and the process's peak RSS stays bounded. The measured peak is logged for
// docs/benchmarks.md; STOREPULSE_MEMTEST_BINARY runs another build (e.g. the
// one before the fix) for comparison.
func TestMemoryBoundedUnderConcurrentGzip(t *testing.T) {
	bin := binary
	if b := os.Getenv("STOREPULSE_MEMTEST_BINARY"); b != "" {
		bin = b
	}
	db := influxtest.Start(t)
	in := ingesttestStart(t, bin, db, ingestOpts{MaxBodyBytes: 32 << 20})

	event := fmt.Sprintf(`{"type":"signup","id":"m%%d","time":%q,"store":"s1","user":"u"}`, testclock.Now().Add(-time.Minute).Format(time.RFC3339))
	attack := gz(t, append(append([]byte("["+fmt.Sprintf(event, 0)), bytes.Repeat([]byte(" "), 120<<20)...), ']'))
	var valid bytes.Buffer
	valid.WriteString("[")
	for i := 0; i < 5000; i++ {
		if i > 0 {
			valid.WriteString(",")
		}
		fmt.Fprintf(&valid, event, i)
		valid.Write(bytes.Repeat([]byte(" "), 4800))
	}
	valid.WriteString("]")
	big := gz(t, valid.Bytes())
	t.Logf("attack body: %d bytes gzip, %d MiB decompressed; valid body: %d bytes gzip, %d MiB decompressed",
		len(attack), (120<<20)>>20, len(big), valid.Len()>>20)

	counts := map[int]int{}
	var mu sync.Mutex
	round := func(body []byte) {
		var wg sync.WaitGroup
		for i := 0; i < 24; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				resp, err := in.Do("POST", "/v1/events", "application/json", body, map[string]string{"Content-Encoding": "gzip"})
				require.NoError(t, err)
				mu.Lock()
				counts[resp.Status]++
				mu.Unlock()
				switch resp.Status {
				case 202, 413:
				case 503:
					require.NotEmpty(t, resp.Header.Get("Retry-After"), resp.Body)
				default:
					t.Errorf("status %d: %s", resp.Status, resp.Body)
				}
			}()
		}
		wg.Wait()
	}
	for r := 0; r < 3; r++ {
		round(attack)
		round(big)
	}
	peak, err := in.PeakRSS()
	require.NoError(t, err)
	t.Logf("answers %v; peak RSS %d MiB (memory_limit 512 MiB, a quarter of it for bodies)", counts, peak>>20)
	if os.Getenv("STOREPULSE_MEMTEST_BINARY") == "" {
		require.Positive(t, counts[202], "valid bodies still get through")
		require.Less(t, peak, int64(400<<20), "peak RSS bounded by memory_limit, not by the number of requests")
	}
}

func ingesttestStart(t testing.TB, bin string, db *influxtest.Server, o ingestOpts) *ingest {
	return ingesttest.Start(t, bin, db, o)
}
