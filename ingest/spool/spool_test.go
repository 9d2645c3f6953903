package spool

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func openT(t *testing.T, opts Options) *Spool {
	t.Helper()
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	s, err := Open(opts)
	require.NoError(t, err)
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// readAll returns every record of every sealed segment, oldest first, with the
// segment it was read from.
func readAll(t *testing.T, s *Spool) (recs []string, segs []SegmentID) {
	t.Helper()
	for _, id := range s.Sealed() {
		require.NoError(t, s.Read(id, func(rec []byte) error {
			recs = append(recs, string(rec))
			segs = append(segs, id)
			return nil
		}))
	}
	return recs, segs
}

func appendN(t *testing.T, s *Spool, prefix string, n int) []SegmentID {
	t.Helper()
	ids := make([]SegmentID, n)
	for i := range n {
		id, err := s.Append(context.Background(), []byte(fmt.Sprintf("%s-%d", prefix, i)))
		require.NoError(t, err)
		ids[i] = id
	}
	return ids
}

func TestConcurrentAppendOrderAndReopen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir, SegmentMaxBytes: 16 << 10})
	const writers, per = 16, 150
	type ack struct {
		seg SegmentID
		rec string
	}
	acks := make([][]ack, writers)
	var wg sync.WaitGroup
	for g := range writers {
		wg.Go(func() {
			for i := range per {
				// Vary the size so frames straddle segment limits differently.
				rec := fmt.Sprintf("w%02d-%04d-%s", g, i, strings.Repeat("x", (g*31+i*7)%400))
				id, err := s.Append(context.Background(), []byte(rec))
				if err != nil {
					t.Errorf("append: %v", err)
					return
				}
				acks[g] = append(acks[g], ack{id, rec})
			}
		})
	}
	wg.Wait()
	_, ok, err := s.Seal()
	require.NoError(t, err)
	require.True(t, ok)

	st := s.Stats()
	require.Equal(t, uint64(writers*per), st.Appends)
	require.Less(t, st.Fsyncs, st.Appends, "concurrent appends must share fsyncs")
	require.Greater(t, len(s.Sealed()), 2, "segment size limit must rotate segments")
	require.Equal(t, st.Segments, st.Sealed)

	check := func(s *Spool) {
		recs, segs := readAll(t, s)
		require.Len(t, recs, writers*per)
		where := make(map[string]SegmentID, len(recs))
		next := make([]int, writers)
		for i, r := range recs {
			where[r] = segs[i]
			var g, n int
			_, err := fmt.Sscanf(r[:8], "w%02d-%04d", &g, &n)
			require.NoError(t, err)
			require.Equal(t, next[g], n, "writer %d out of order", g)
			next[g]++
		}
		for g := range writers {
			for _, a := range acks[g] {
				require.Equal(t, a.seg, where[a.rec], "record %s in the segment Append returned", a.rec)
			}
		}
	}
	check(s)
	sealed := s.Sealed()
	bytesBefore := s.Bytes()
	require.NoError(t, s.Close())

	s2 := openT(t, Options{Dir: dir, SegmentMaxBytes: 16 << 10})
	require.Equal(t, sealed, s2.Sealed())
	require.Equal(t, bytesBefore, s2.Bytes())
	check(s2)
}

func TestUnsealedSegmentSealedByReopen(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	ids := appendN(t, s, "a", 5)
	require.Empty(t, s.Sealed())
	require.NoError(t, s.Close())

	s2 := openT(t, Options{Dir: dir})
	require.Equal(t, []SegmentID{ids[0]}, s2.Sealed())
	recs, _ := readAll(t, s2)
	require.Equal(t, []string{"a-0", "a-1", "a-2", "a-3", "a-4"}, recs)
	id, err := s2.Append(context.Background(), []byte("b"))
	require.NoError(t, err)
	require.Greater(t, id, ids[0], "appends after reopen go to a new segment")
}

func lastSegmentPath(t *testing.T, dir string) string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	require.NoError(t, err)
	require.NotEmpty(t, m)
	return m[len(m)-1]
}

// TestTornTailIsCut: bytes past the acknowledged length that are not a valid
// record are a write interrupted by a crash; they are cut, but moved to the
// quarantine directory first, never deleted.
func TestTornTailIsCut(t *testing.T) {
	partial := appendFrame(nil, castagnoli(), []byte("never acknowledged"))
	flipped := appendFrame(nil, castagnoli(), []byte("never acknowledged"))
	flipped[len(flipped)-1] ^= 1
	tests := []struct {
		name string
		tail []byte
	}{
		{name: "garbage appended", tail: []byte("\x07\x00\x00\x00garbage!!\xff\xfe")},
		{name: "zeros appended", tail: make([]byte, 4096)},
		{name: "partial frame appended", tail: partial[:len(partial)-5]},
		{name: "bit-flipped frame appended", tail: flipped},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, Options{Dir: dir})
			ids := appendN(t, s, "r", 4)
			require.NoError(t, s.Close())
			path := lastSegmentPath(t, dir)
			before, err := os.Stat(path)
			require.NoError(t, err)
			appendBytes(t, path, tt.tail)

			var logs bytes.Buffer
			s2 := openT(t, Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			recs, _ := readAll(t, s2)
			require.Equal(t, []string{"r-0", "r-1", "r-2", "r-3"}, recs, "every acknowledged record is kept")
			require.EqualValues(t, len(tt.tail), s2.Stats().TruncatedBytes)
			require.Zero(t, s2.Stats().QuarantinedSegments, "no acknowledged data was damaged")
			after, err := os.Stat(path)
			require.NoError(t, err)
			require.Equal(t, before.Size(), after.Size())
			require.Equal(t, after.Size(), s2.Bytes())
			require.Contains(t, logs.String(), "torn write past the acknowledged length")
			require.NotContains(t, logs.String(), "level=ERROR")

			// The cut bytes are in the quarantine directory, with a report.
			q, err := s2.Quarantined()
			require.NoError(t, err)
			require.Equal(t, []string{fmt.Sprintf("%s.torn-at-%d", segmentName(ids[0]), before.Size())}, q)
			moved, err := os.ReadFile(filepath.Join(dir, "quarantine", q[0]))
			require.NoError(t, err)
			require.Equal(t, tt.tail, moved)
			require.FileExists(t, filepath.Join(dir, "quarantine", q[0]+".json"))

			id, err := s2.Append(context.Background(), []byte("next"))
			require.NoError(t, err)
			require.Greater(t, id, ids[0], "a cut segment's id is not reused")
		})
	}
}

// TestUnacknowledgedSegmentRemoved: a segment created just before a crash,
// before any of its records was acknowledged, leaves the spool; its bytes past
// the header are moved aside.
func TestUnacknowledgedSegmentRemoved(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	ids := appendN(t, s, "r", 2)
	require.NoError(t, s.Close())
	next := ids[0] + 1
	path := filepath.Join(dir, segmentName(next))
	require.NoError(t, os.WriteFile(path, append(appendHeader(nil, next), "torn"...), 0o600))

	s2 := openT(t, Options{Dir: dir})
	require.Equal(t, []SegmentID{ids[0]}, s2.Sealed())
	require.NoFileExists(t, path)
	q, err := s2.Quarantined()
	require.NoError(t, err)
	require.Len(t, q, 1)
	moved, err := os.ReadFile(filepath.Join(dir, "quarantine", q[0]))
	require.NoError(t, err)
	require.Equal(t, "torn", string(moved))
}

func appendBytes(t *testing.T, path string, b []byte) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	require.NoError(t, err)
	_, err = f.Write(b)
	require.NoError(t, err)
	require.NoError(t, f.Close())
}

func flipByte(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[off] ^= 0x40
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

// TestAcknowledgedDamageIsQuarantined: damage inside acknowledged data, in
// the last segment or an earlier one, is never cut as a torn tail. Open
// succeeds, Read reports ErrCorrupt, and Quarantine moves the damaged file
// aside unchanged, keeps every readable record in the spool under the same
// id, logs an ERROR and counts it; later segments are unaffected.
func TestAcknowledgedDamageIsQuarantined(t *testing.T) {
	// Records "c-0".."c-4" are 3 bytes: frame i starts at 16 + 11*i; a
	// segment is 16 + 55 = 71 bytes.
	const rec2, rec4, segSize = headerSize + 2*11, headerSize + 4*11, headerSize + 5*11
	all := []string{"c-0", "c-1", "c-2", "c-3", "c-4"}
	tests := []struct {
		name string
		// segs: segments written (each sealed after 5 records); the damage
		// goes into segment index seg.
		segs, seg int
		damage    func(t *testing.T, path string)
		kept      []string // records of the damaged segment still delivered
		damaged   int64    // bytes reported damaged
	}{
		{name: "last record truncated mid payload", segs: 1, damage: truncateTo(segSize - 2), kept: all[:4], damaged: 11},
		{name: "last record truncated in its frame header", segs: 1, damage: truncateTo(rec4 + 5), kept: all[:4], damaged: 11},
		{name: "last record cut whole", segs: 1, damage: truncateTo(rec4), kept: all[:4], damaged: 11},
		{name: "last record payload bit flip", segs: 1, damage: flipAt(segSize - 1), kept: all[:4], damaged: 11},
		{name: "last segment middle record payload", segs: 1, damage: flipAt(rec2 + frameHeader + 1), kept: []string{"c-0", "c-1", "c-3", "c-4"}, damaged: 11},
		{name: "last segment middle record length", segs: 1, damage: flipAt(rec2), kept: []string{"c-0", "c-1", "c-3", "c-4"}, damaged: 11},
		{name: "earlier segment payload", segs: 3, seg: 0, damage: flipAt(rec2 + frameHeader), kept: []string{"c-0", "c-1", "c-3", "c-4"}, damaged: 11},
		{name: "earlier segment header", segs: 3, seg: 1, damage: flipAt(1), kept: all, damaged: headerSize},
		{name: "last segment cut to a torn header", segs: 1, damage: truncateTo(9), kept: nil, damaged: segSize},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			s := openT(t, Options{Dir: dir})
			var ids []SegmentID
			for range tt.segs {
				appendN(t, s, "c", 5)
				id, ok, err := s.Seal()
				require.NoError(t, err)
				require.True(t, ok)
				ids = append(ids, id)
			}
			require.NoError(t, s.Close())
			bad := ids[tt.seg]
			path := filepath.Join(dir, segmentName(bad))
			tt.damage(t, path)
			damagedFile, err := os.ReadFile(path)
			require.NoError(t, err)

			var logs bytes.Buffer
			s2, err := Open(Options{Dir: dir, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
			require.NoError(t, err, "damage to one segment must not stop the service")
			defer s2.Close()
			require.Equal(t, ids, s2.Sealed(), "nothing acknowledged was cut at Open")
			require.Zero(t, s2.Stats().TruncatedBytes)

			err = s2.Read(bad, func([]byte) error { return nil })
			require.ErrorIs(t, err, ErrCorrupt)
			require.Contains(t, err.Error(), path)

			rep, err := s2.Quarantine(bad, err.Error())
			require.NoError(t, err)
			require.Equal(t, "damaged", rep.Kind)
			require.Equal(t, tt.damaged, rep.DamagedBytes)
			require.Equal(t, len(tt.kept), rep.RecordsKept)
			moved, err := os.ReadFile(rep.File)
			require.NoError(t, err)
			require.Equal(t, damagedFile, moved, "the damaged file is moved aside unchanged")
			require.FileExists(t, rep.File+".json")
			require.Equal(t, filepath.Join(dir, "quarantine"), filepath.Dir(rep.File))
			require.Contains(t, logs.String(), "level=ERROR")
			require.Contains(t, logs.String(), "acknowledged data is damaged")
			st := s2.Stats()
			require.EqualValues(t, 1, st.QuarantinedSegments)
			require.Equal(t, tt.damaged, st.QuarantinedBytes)

			var want []string
			for i := range ids {
				if i == tt.seg {
					want = append(want, tt.kept...)
				} else {
					want = append(want, all...)
				}
			}
			recs, _ := readAll(t, s2)
			require.Equal(t, want, recs)

			// The salvaged segment survives a restart as it is.
			require.NoError(t, s2.Close())
			s3 := openT(t, Options{Dir: dir})
			recs, _ = readAll(t, s3)
			require.Equal(t, want, recs)
			q, err := s3.Quarantined()
			require.NoError(t, err)
			require.Equal(t, []string{filepath.Base(rep.File)}, q)
		})
	}
}

func truncateTo(size int64) func(t *testing.T, path string) {
	return func(t *testing.T, path string) { require.NoError(t, os.Truncate(path, size)) }
}

func flipAt(off int64) func(t *testing.T, path string) {
	return func(t *testing.T, path string) { flipByte(t, path, off) }
}

// TestQuarantineInterruptedByCrash: a crash between moving the damaged file
// aside and putting its readable records back is finished by Open.
func TestQuarantineInterruptedByCrash(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	appendN(t, s, "c", 5)
	id, _, err := s.Seal()
	require.NoError(t, err)
	require.NoError(t, s.Close())
	path := filepath.Join(dir, segmentName(id))
	// The state after the salvage file was written and the original moved.
	good, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path+salvageExt, good, 0o600))
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "quarantine"), 0o750))
	require.NoError(t, os.Rename(path, filepath.Join(dir, "quarantine", segmentName(id))))

	s2 := openT(t, Options{Dir: dir})
	recs, _ := readAll(t, s2)
	require.Equal(t, []string{"c-0", "c-1", "c-2", "c-3", "c-4"}, recs)
	require.NoFileExists(t, path+salvageExt)
}

func TestBudget(t *testing.T) {
	dir := t.TempDir()
	const budget = 1000
	s := openT(t, Options{Dir: dir, MaxBytes: budget, SegmentMaxBytes: 400})
	rec := bytes.Repeat([]byte("p"), 92) // frame of 100 bytes
	n := 0
	for {
		_, err := s.Append(context.Background(), rec)
		if err != nil {
			require.ErrorIs(t, err, ErrFull)
			break
		}
		n++
		require.LessOrEqual(t, s.Bytes(), int64(budget))
	}
	require.Positive(t, n)
	full := s.Bytes()
	_, err := s.Append(context.Background(), rec)
	require.ErrorIs(t, err, ErrFull)
	require.Equal(t, full, s.Bytes(), "a rejected append writes nothing")
	require.Equal(t, uint64(2), s.Stats().Full)

	// A small record still fits where a large one did not.
	if full+frameHeader+1 <= budget {
		_, err = s.Append(context.Background(), []byte("x"))
		require.NoError(t, err)
	}

	_, _, err = s.Seal()
	require.NoError(t, err)
	sealed := s.Sealed()
	require.NotEmpty(t, sealed)
	require.NoError(t, s.Remove(sealed[0]))
	require.Less(t, s.Bytes(), full)
	require.NoFileExists(t, filepath.Join(dir, segmentName(sealed[0])))
	_, err = s.Append(context.Background(), rec)
	require.NoError(t, err, "accepting again after Remove")

	// The on-disk total matches the accounting.
	var disk int64
	m, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
	require.NoError(t, err)
	for _, p := range m {
		st, err := os.Stat(p)
		require.NoError(t, err)
		disk += st.Size()
	}
	require.Equal(t, disk, s.Bytes())
}

func TestIDsNeverReused(t *testing.T) {
	dir := t.TempDir()
	var last SegmentID
	for round := range 3 {
		s := openT(t, Options{Dir: dir})
		for range 2 {
			ids := appendN(t, s, "i", 3)
			require.Greater(t, ids[0], last, "round %d", round)
			last = ids[0]
			_, _, err := s.Seal()
			require.NoError(t, err)
		}
		for _, id := range s.Sealed() {
			require.NoError(t, s.Remove(id))
		}
		require.Empty(t, s.Sealed())
		require.Zero(t, s.Bytes())
		require.NoError(t, s.Close())
		m, err := filepath.Glob(filepath.Join(dir, "*"+segmentSuffix))
		require.NoError(t, err)
		require.Empty(t, m, "every segment removed")
	}

	// Without the counter file the segments on disk still bound the id.
	s := openT(t, Options{Dir: dir})
	id, err := s.Append(context.Background(), []byte("x"))
	require.NoError(t, err)
	require.Greater(t, id, last)
	require.NoError(t, s.Close())
	require.NoError(t, os.Remove(filepath.Join(dir, counterName)))
	s = openT(t, Options{Dir: dir})
	id2, err := s.Append(context.Background(), []byte("y"))
	require.NoError(t, err)
	require.Greater(t, id2, id)
}

func TestCorruptCounterIsAnError(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, counterName), []byte("12x\n"), 0o600))
	_, err := Open(Options{Dir: dir})
	require.ErrorContains(t, err, "segment counter")
}

func TestLargeRecordGetsOwnSegment(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir(), SegmentMaxBytes: 100})
	small, err := s.Append(context.Background(), []byte("s"))
	require.NoError(t, err)
	big := bytes.Repeat([]byte("B"), 500)
	bigID, err := s.Append(context.Background(), big)
	require.NoError(t, err)
	require.Greater(t, bigID, small)
	after, err := s.Append(context.Background(), []byte("t"))
	require.NoError(t, err)
	require.Greater(t, after, bigID)
	_, _, err = s.Seal()
	require.NoError(t, err)
	require.Equal(t, []SegmentID{small, bigID, after}, s.Sealed())
	var got [][]byte
	require.NoError(t, s.Read(bigID, func(rec []byte) error { got = append(got, rec); return nil }))
	require.Equal(t, [][]byte{big}, got)
}

func TestClosedAndMisuse(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := s.Append(ctx, []byte("x"))
	require.ErrorIs(t, err, context.Canceled)
	require.Zero(t, s.Bytes(), "a canceled append writes nothing")

	_, ok, err := s.Seal()
	require.NoError(t, err)
	require.False(t, ok, "nothing to seal")

	id, err := s.Append(context.Background(), []byte("x"))
	require.NoError(t, err)
	require.ErrorIs(t, s.Read(id, func([]byte) error { return nil }), ErrNotSealed, "active segment")
	require.ErrorIs(t, s.Remove(id), ErrNotSealed, "active segment")
	require.ErrorIs(t, s.Remove(id+100), ErrNotSealed)

	_, err = Open(Options{Dir: dir})
	require.Error(t, err, "a second spool on the same directory is refused")

	require.NoError(t, s.Close())
	require.NoError(t, s.Close())
	_, err = s.Append(context.Background(), []byte("y"))
	require.ErrorIs(t, err, ErrClosed)
	_, _, err = s.Seal()
	require.ErrorIs(t, err, ErrClosed)
	require.ErrorIs(t, s.Remove(id), ErrClosed)
	require.ErrorIs(t, s.Read(id, func([]byte) error { return nil }), ErrClosed)

	// The lock is released with Close.
	s2 := openT(t, Options{Dir: dir})
	require.Equal(t, []SegmentID{id}, s2.Sealed())
}

func TestReadStopsOnCallbackError(t *testing.T) {
	s := openT(t, Options{Dir: t.TempDir()})
	appendN(t, s, "e", 3)
	id, _, err := s.Seal()
	require.NoError(t, err)
	stop := fmt.Errorf("stop")
	calls := 0
	err = s.Read(id, func([]byte) error { calls++; return stop })
	require.ErrorIs(t, err, stop)
	require.Equal(t, 1, calls)
}

// TestAcknowledgedLengthSurvivesRestarts: the commit records of a later run
// outrank those of an earlier run that wrote more of them, so a damaged last
// record acknowledged in the later run is still recognised as damage.
func TestAcknowledgedLengthSurvivesRestarts(t *testing.T) {
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir})
	appendN(t, s, "first", 10)
	require.NoError(t, s.Close())
	s = openT(t, Options{Dir: dir})
	appendN(t, s, "second", 1)
	require.NoError(t, s.Close())
	path := lastSegmentPath(t, dir)
	st, err := os.Stat(path)
	require.NoError(t, err)
	require.NoError(t, os.Truncate(path, st.Size()-2))

	s = openT(t, Options{Dir: dir})
	require.Zero(t, s.Stats().TruncatedBytes, "an acknowledged record is not a torn tail")
	ids := s.Sealed()
	require.Len(t, ids, 2)
	require.ErrorIs(t, s.Read(ids[1], func([]byte) error { return nil }), ErrCorrupt)
}

// TestOnCommitTimesEachSuccessfulCommit: every group commit that made
// records durable is timed once, a failed one is not.
func TestOnCommitTimesEachSuccessfulCommit(t *testing.T) {
	var (
		mu    sync.Mutex
		times []time.Duration
		fail  bool
	)
	s := openT(t, Options{Dir: t.TempDir(),
		OnCommit: func(took time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			times = append(times, took)
		},
		WriteFault: func(path string, _ int64) error {
			mu.Lock()
			defer mu.Unlock()
			if fail && strings.HasSuffix(path, segmentSuffix) {
				return syscall.ENOSPC
			}
			return nil
		}})
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() { appendN(t, s, fmt.Sprintf("w%d", g), 50) })
	}
	wg.Wait()
	mu.Lock()
	require.Len(t, times, int(s.Stats().Fsyncs), "one timing per commit that fsynced records")
	require.Less(t, len(times), 8*50, "group commits share")
	for _, d := range times {
		require.Positive(t, d)
	}
	before := len(times)
	fail = true
	mu.Unlock()

	_, err := s.Append(context.Background(), []byte("lost"))
	require.Error(t, err)
	mu.Lock()
	require.Len(t, times, before, "a failed commit is not timed")
	mu.Unlock()
}
