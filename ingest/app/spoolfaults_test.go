package app

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/dedup"
	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/ingest/pipeline"
	"github.com/storepulse/storepulse/ingest/spool"
	"github.com/storepulse/storepulse/internal/diskfull"
	"github.com/storepulse/storepulse/internal/testclock"
)

// These tests run the pipeline over the real spool and de-duplication index
// (with this package's adapters) and a stand-in rollup and InfluxDB, to check
// what reaches "InfluxDB" after damage or a full disk. The system tests do
// the same with the real binary and a real InfluxDB.

// idRollup turns every event into the line "<segment>:<id>"; written points
// are idempotent per segment, as the real rollup's are.
type idRollup struct{}

type idSegment struct {
	seg uint64
	ids []string
}

func (idRollup) Begin(seg uint64) pipeline.RollupSegment { return &idSegment{seg: seg} }
func (idRollup) PendingSketchLines() ([]string, func())  { return nil, func() {} }
func (s *idSegment) Add(b *event.Batch)                  { s.addIDs(b) }
func (s *idSegment) MergeSketches(context.Context) error { return nil }
func (s *idSegment) SumLines() ([]string, error)         { return s.lines(), nil }
func (s *idSegment) addIDs(b *event.Batch) {
	for _, e := range b.Events {
		s.ids = append(s.ids, e.ID)
	}
}

func (s *idSegment) lines() []string {
	out := make([]string, len(s.ids))
	for i, id := range s.ids {
		out[i] = fmt.Sprintf("%d:%s", s.seg, id)
	}
	return out
}

// fakeDB stores lines as a set (a rewrite of the same point changes
// nothing) and can be down.
type fakeDB struct {
	mu    sync.Mutex
	down  bool
	lines map[string]bool
}

func (d *fakeDB) Write(_ context.Context, lines []string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.down {
		return fmt.Errorf("influxdb down")
	}
	for _, l := range lines {
		d.lines[l] = true
	}
	return nil
}

func (d *fakeDB) Ready(context.Context) error { return nil }

func (d *fakeDB) setDown(v bool) { d.mu.Lock(); d.down = v; d.mu.Unlock() }

// ids returns how many times each event id was written (in distinct segments).
func (d *fakeDB) ids() map[string]int {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := map[string]int{}
	for l := range d.lines {
		_, id, _ := strings.Cut(l, ":")
		out[id]++
	}
	return out
}

type stack struct {
	sp   *spool.Spool
	dd   *dedup.Index
	pl   *pipeline.Pipeline
	logs *bytes.Buffer
}

func openStack(t *testing.T, dataDir string, o spool.Options, db *fakeDB) *stack {
	t.Helper()
	logs := &bytes.Buffer{}
	log := slog.New(slog.NewTextHandler(&syncWriter{w: logs}, nil))
	o.Dir = filepath.Join(dataDir, "spool")
	o.QuarantineDir = filepath.Join(dataDir, "quarantine")
	o.Logger = log
	o.Now = testclock.Clock()
	sp, err := spool.Open(o)
	require.NoError(t, err, "the spool must open whatever the damage or the disk")
	dd, err := dedup.Open(filepath.Join(dataDir, "dedup"), time.Hour, testclock.Clock(), log)
	require.NoError(t, err)
	dd.SetWriteFault(o.WriteFault)
	pl := pipeline.New(pipeline.Options{SealInterval: time.Hour, FlushBackoff: time.Millisecond, SketchInterval: time.Nanosecond},
		spoolAdapter{sp}, dd, idRollup{}, db, dedup.Key, log, prometheus.NewRegistry())
	require.NoError(t, pl.Recover(), "start-up must not be refused")
	t.Cleanup(func() { _ = sp.Close() })
	return &stack{sp: sp, dd: dd, pl: pl, logs: logs}
}

type syncWriter struct {
	mu sync.Mutex
	w  *bytes.Buffer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

func batchOf(prefix string, from, n, pad int) *event.Batch {
	b := &event.Batch{}
	for i := from; i < from+n; i++ {
		b.Events = append(b.Events, event.Event{Type: event.TypeOrder, ID: fmt.Sprintf("%s%06d", prefix, i), Store: "s1",
			Time: testclock.Now().UnixNano(), SKU: strings.Repeat("k", pad)})
	}
	return b
}

// drain flushes until the spool is empty.
func (s *stack) drain(t *testing.T) {
	t.Helper()
	ctx := context.Background()
	require.Eventually(t, func() bool {
		if err := s.pl.Drain(ctx); err != nil {
			t.Logf("drain: %v", err)
		}
		return len(s.sp.Sealed()) == 0
	}, 60*time.Second, 10*time.Millisecond, "the spool must drain")
}

// TestDamagedSpoolQuarantinedRestFlows: 32 acknowledged batches of 10 events,
// one segment each. A record in a middle segment is bit-flipped and the last
// segment's last (acknowledged) record is truncated. The service starts, the
// two damaged records are quarantined loudly (ERROR, metrics, /readyz
// "degraded" naming them) and every other acknowledged event arrives.
func TestDamagedSpoolQuarantinedRestFlows(t *testing.T) {
	dataDir := t.TempDir()
	db := &fakeDB{down: true, lines: map[string]bool{}}
	st := openStack(t, dataDir, spool.Options{}, db)
	ctx := context.Background()
	var segs []spool.SegmentID
	for i := range 32 {
		_, err := st.pl.Accept(ctx, batchOf("e", i*10, 10, 0))
		require.NoError(t, err)
		require.NoError(t, st.pl.Seal())
		segs = append(segs, st.sp.Sealed()[len(st.sp.Sealed())-1])
	}
	require.Len(t, st.sp.Sealed(), 32)
	require.NoError(t, st.sp.Close())

	// Damage: a payload byte of segment 5's only record, and the last byte
	// of the last segment (its only record, fsynced and acknowledged).
	mid := filepath.Join(dataDir, "spool", fmt.Sprintf("%011d.seg", segs[5]))
	b, err := os.ReadFile(mid)
	require.NoError(t, err)
	b[len(b)-20] ^= 0x10
	require.NoError(t, os.WriteFile(mid, b, 0o600))
	last := filepath.Join(dataDir, "spool", fmt.Sprintf("%011d.seg", segs[31]))
	fi, err := os.Stat(last)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(last, fi.Size()-1))

	st = openStack(t, dataDir, spool.Options{}, db)
	db.setDown(false)
	st.drain(t)

	got := db.ids()
	for i := range 320 {
		id := fmt.Sprintf("e%06d", i)
		if i/10 == 5 || i/10 == 31 {
			require.Zero(t, got[id], "event %s of a damaged record cannot be delivered", id)
			continue
		}
		require.Equal(t, 1, got[id], "event %s: acknowledged and readable, delivered once", id)
	}
	require.Len(t, got, 300)

	q, err := st.sp.Quarantined()
	require.NoError(t, err)
	require.ElementsMatch(t, []string{filepath.Base(mid), filepath.Base(last)}, q)
	require.Contains(t, st.logs.String(), "level=ERROR")
	require.Contains(t, st.logs.String(), "damaged spool segment quarantined")
	require.NotContains(t, st.logs.String(), "torn write", "an acknowledged record is never cut as a torn tail")
	require.EqualValues(t, 2, st.sp.Stats().QuarantinedSegments)
	require.NoError(t, st.pl.Ready(ctx), "quarantined data does not stop the service")
	deg := st.pl.Degraded()
	require.Len(t, deg, 1)
	require.Contains(t, deg[0], filepath.Base(mid))
	require.Contains(t, deg[0], "docs/operations.md")
}

// TestDiskFullDrains fills the disk with acknowledged data while InfluxDB
// is down (a real 20 MiB tmpfs where the machine allows, else a simulated
// ENOSPC through the file layer), restarts on the full disk, and brings
// InfluxDB back: every acknowledged event arrives exactly once, the spool
// drains (the de-duplication ids find room), and once space returns the
// service is ready and accepts again without a restart.
func TestDiskFullDrains(t *testing.T) {
	diskfull.Variants(t, 20<<20, func(t *testing.T, d *diskfull.Disk) {
		o := spool.Options{SegmentMaxBytes: 256 << 10, ReserveBytes: 128 << 10, WriteFault: d.Fault()}
		db := &fakeDB{down: true, lines: map[string]bool{}}
		st := openStack(t, d.Dir, o, db)
		ctx := context.Background()

		acked := 0
		failures := 0
		for i := 0; failures < 3 && i < 100000; i += 500 {
			if _, err := st.pl.Accept(ctx, batchOf("d", i, 500, 200)); err != nil {
				failures++
				continue
			}
			acked = i + 500
		}
		require.Equal(t, 3, failures, "the disk must fill up")
		require.Positive(t, acked)
		err := st.pl.Ready(ctx)
		require.Error(t, err, "not ready while the spool cannot write")
		require.Contains(t, err.Error(), "spool cannot accept writes")
		t.Logf("%d events acknowledged before the disk was full", acked)
		// Something else takes the last free bytes: nothing is left even for
		// the de-duplication ids of a flushed segment.
		d.Fill(t)

		// A restart on the full disk.
		require.NoError(t, st.sp.Close())
		st = openStack(t, d.Dir, o, db)
		db.setDown(false)
		st.drain(t)

		t.Logf("drained; spool stats after: %+v", st.sp.Stats())
		require.Positive(t, st.sp.Stats().ReserveReleases, "the drain needed the reserve")
		got := db.ids()
		require.Len(t, got, acked)
		for i := range acked {
			require.Equal(t, 1, got[fmt.Sprintf("d%06d", i)], "event %d", i)
		}
		require.Eventually(t, func() bool { return st.pl.Ready(ctx) == nil }, 10*time.Second, 50*time.Millisecond,
			"ready again once draining freed space")
		_, err = st.pl.Accept(ctx, batchOf("after", 0, 10, 0))
		require.NoError(t, err, "accepts again without a restart")
	})
}
