package systemtest

import (
	"context"
	le "encoding/binary"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/diskfull"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/testclock"
)

// segmentFiles lists an instance's spool segments, oldest first.
func segmentFiles(t *testing.T, in *ingest) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(in.DataDir, "spool", "*.seg"))
	require.NoError(t, err)
	sort.Strings(m)
	return m
}

// segmentRecords splits an undamaged segment file (16-byte header, then
// frames of length u32 | crc u32 | payload) into its records' offsets and
// the event ids of each.
func segmentRecords(t *testing.T, path string) (offsets []int, ids [][]string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	for off := 16; off < len(b); {
		n := int(le.LittleEndian.Uint32(b[off:]))
		batch, err := event.DecodeBatch(b[off+8 : off+8+n])
		require.NoError(t, err)
		var rec []string
		for _, e := range batch.Events {
			rec = append(rec, e.ID)
		}
		offsets = append(offsets, off)
		ids = append(ids, rec)
		off += 8 + n
	}
	return offsets, ids
}

func without(events []ev, lost []string) []ev {
	drop := map[string]bool{}
	for _, id := range lost {
		drop[id] = true
	}
	var out []ev
	for _, e := range events {
		if !drop[e["id"].(string)] {
			out = append(out, e)
		}
	}
	return out
}

func postAcked(t *testing.T, in *ingest, batch []ev) {
	t.Helper()
	resp, err := in.Do("POST", "/v1/events", "application/json", mustJSON(t, batch), nil)
	require.NoError(t, err)
	require.Equal(t, 202, resp.Status, resp.Body)
}

// requireQuarantined checks that damage was documented, measured and
// alerted: the damaged file is in data_dir/quarantine with its report, the
// metrics count it, /readyz is 200 "degraded" naming it, and the log has
// an ERROR.
func requireQuarantined(t *testing.T, in *ingest, file string, damaged []byte) {
	t.Helper()
	q := filepath.Join(in.DataDir, "quarantine", filepath.Base(file))
	moved, err := os.ReadFile(q)
	require.NoError(t, err, "the damaged segment is moved aside, not deleted")
	require.Equal(t, damaged, moved)
	require.FileExists(t, q+".json")
	n, err := in.Metric("storepulse_ingest_segments_quarantined_total")
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	n, err = in.Metric("storepulse_ingest_spool_quarantine_files")
	require.NoError(t, err)
	require.EqualValues(t, 1, n)
	n, err = in.Metric("storepulse_ingest_spool_quarantined_bytes_total")
	require.NoError(t, err)
	require.Positive(t, n)
	ready, err := in.Do("GET", "/readyz", "", nil, nil)
	require.NoError(t, err)
	require.Equal(t, 200, ready.Status, ready.Body)
	require.Contains(t, ready.Body, `"degraded"`)
	require.Contains(t, ready.Body, filepath.Base(file))
	log := in.Log()
	require.Contains(t, log, `"level":"ERROR"`)
	require.Contains(t, log, "damaged spool segment quarantined")
	require.NotContains(t, log, "torn write", "acknowledged data is never cut as a torn tail")
}

// TestCorruptSpoolTail: the last record of the last segment, fsynced and
// acknowledged, is truncated or bit-flipped while the service is down. It is
// not cut as a torn tail: the segment is quarantined loudly, and InfluxDB
// holds every acknowledged event but exactly that record's.
func TestCorruptSpoolTail(t *testing.T) {
	for _, tt := range []struct {
		name   string
		damage func(t *testing.T, path string, b []byte)
	}{
		{"truncated", func(t *testing.T, path string, b []byte) { require.NoError(t, os.Truncate(path, int64(len(b)-3))) }},
		{"bit-flipped", func(t *testing.T, path string, b []byte) {
			b[len(b)-2] ^= 0x20
			require.NoError(t, os.WriteFile(path, b, 0o600))
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			db := influxtest.Start(t)
			in := startIngest(t, db, ingestOpts{SealInterval: 100 * time.Millisecond})
			events := genEvents(21, "tail", 200, testclock.Now())
			db.Stop()
			for i := 0; i < len(events); i += 10 {
				postAcked(t, in, events[i:i+10])
			}
			in.Kill()

			segs := segmentFiles(t, in)
			last := segs[len(segs)-1]
			_, ids := segmentRecords(t, last)
			lost := ids[len(ids)-1]
			require.Len(t, lost, 10, "one request is one record")
			b, err := os.ReadFile(last)
			require.NoError(t, err)
			tt.damage(t, last, b)
			damaged, err := os.ReadFile(last)
			require.NoError(t, err)

			require.NoError(t, db.Restart())
			in.Start()
			in.WaitDrained(2 * time.Minute)
			requireSums(t, expectedSums(without(events, lost)), storedSums(t, db))
			requireQuarantined(t, in, last, damaged)
		})
	}
}

// TestCorruptMiddleSegment: a record of a pending segment in the middle of
// the spool is damaged while the service is down. The service starts, the
// segment is quarantined (its other records delivered), every later segment
// flows, and InfluxDB holds every acknowledged event but the damaged record's.
func TestCorruptMiddleSegment(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{SealInterval: 100 * time.Millisecond})
	events := genEvents(22, "mid", 320, testclock.Now())
	db.Stop()
	for i := 0; i < len(events); i += 10 {
		postAcked(t, in, events[i:i+10])
		time.Sleep(120 * time.Millisecond) // about a segment per request
	}
	in.Kill()

	segs := segmentFiles(t, in)
	require.GreaterOrEqual(t, len(segs), 5)
	mid := segs[len(segs)/2]
	offsets, ids := segmentRecords(t, mid)
	lost := ids[0]
	b, err := os.ReadFile(mid)
	require.NoError(t, err)
	b[offsets[0]+8+5] ^= 0x01
	require.NoError(t, os.WriteFile(mid, b, 0o600))

	require.NoError(t, db.Restart())
	in.Start() // fails the test if the service refuses to start
	in.WaitDrained(2 * time.Minute)
	requireSums(t, expectedSums(without(events, lost)), storedSums(t, db))
	requireQuarantined(t, in, mid, b)
}

// TestDiskFull runs the service with its data_dir on a 6 MiB tmpfs (root
// can mount one; CI runs as root: there the test fails rather than skips if
// it cannot; the simulated variant of the same scenario is
// ingest/app TestDiskFullDrains/simulated).
//
//   - A full disk fails writes with 503 and /readyz says so; when space
//     returns, the service accepts again without a restart.
//   - Filled to the brim with acknowledged data while InfluxDB is down, and
//     restarted on the full disk, it drains everything once InfluxDB is back:
//     InfluxDB holds exactly the acknowledged events.
func TestDiskFull(t *testing.T) {
	d, err := diskfull.Mount(t, 6<<20)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("cannot mount a tmpfs (%v): CI must run this as root", err)
		}
		t.Skipf("cannot mount a tmpfs (%v); see ingest/app TestDiskFullDrains for the simulated variant", err)
	}
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{SealInterval: 100 * time.Millisecond, SegmentMaxBytes: 256 << 10,
		DataDir: filepath.Join(d.Dir, "data")})
	events := genEvents(23, "full", 150000, testclock.Now())
	const perBatch = 1000
	readyz := func() (int, string) {
		r, err := in.Do("GET", "/readyz", "", nil, nil)
		require.NoError(t, err)
		return r.Status, r.Body
	}

	// Phase A: something else fills the disk; writes fail, /readyz says why;
	// space returns and the service recovers by itself.
	db.Stop()
	postAcked(t, in, events[:perBatch])
	sent := perBatch
	d.Fill(t)
	resp, err := in.Do("POST", "/v1/events", "application/json", mustJSON(t, events[sent:sent+perBatch]), nil)
	require.NoError(t, err)
	require.Equal(t, 503, resp.Status, resp.Body)
	require.NotEmpty(t, resp.Header.Get("Retry-After"))
	code, body := readyz()
	require.Equal(t, 503, code)
	require.Contains(t, body, "spool cannot accept writes")
	d.Free(t)
	// (Still 503 for InfluxDB being down, but no longer for the spool.)
	require.Eventually(t, func() bool { _, b := readyz(); return !strings.Contains(b, "spool cannot accept writes") },
		10*time.Second, 100*time.Millisecond, "the spool is writable again once space returns, without a restart")
	postAcked(t, in, events[sent:sent+perBatch])
	sent += perBatch

	// Phase B: the spool fills the disk with acknowledged data while InfluxDB
	// is down.
	rejected := 0
	for rejected < 3 && sent < len(events) {
		resp, err := in.Do("POST", "/v1/events", "application/json", mustJSON(t, events[sent:sent+perBatch]), nil)
		require.NoError(t, err)
		switch resp.Status {
		case 202:
			sent += perBatch
		case 503:
			rejected++
		default:
			t.Fatalf("unexpected %d: %s", resp.Status, resp.Body)
		}
	}
	require.Equal(t, 3, rejected, "the disk must fill up before %d events", len(events))
	code, body = readyz()
	require.Equal(t, 503, code)
	require.Contains(t, body, "spool cannot accept writes")
	t.Logf("%d events acknowledged on the full disk", sent)
	d.Fill(t) // not a byte left, not even for de-duplication ids

	in.Kill()
	in.Start() // on the full disk
	require.NoError(t, db.Restart())
	in.WaitDrained(3 * time.Minute)
	requireSums(t, expectedSums(events[:sent]), storedSums(t, db))
	n, err := in.Metric("storepulse_ingest_drain_reserve_releases_total")
	require.NoError(t, err)
	require.Positive(t, n, "the drain used the reserve")

	// Space is back (the drain freed it): the rest is accepted.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	for end := sent + 10*perBatch; sent < end && sent < len(events); sent += perBatch {
		batch := events[sent : sent+perBatch]
		require.NoError(t, sendUntilAcked(ctx, func() *ingest { return in }, batch, mustJSON(t, batch)))
	}
	in.WaitDrained(2 * time.Minute)
	requireSums(t, expectedSums(events[:sent]), storedSums(t, db))
	code, body = readyz()
	require.Equal(t, 200, code, body)
	require.False(t, strings.Contains(body, "degraded"), body)
}
