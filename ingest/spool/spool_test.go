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
	"testing"

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

func TestTornTailIsCut(t *testing.T) {
	tests := []struct {
		name    string
		damage  func(t *testing.T, path string)
		want    []string
		removed bool // the whole segment had no intact record
	}{
		{
			name: "truncated mid payload",
			damage: func(t *testing.T, path string) {
				st, err := os.Stat(path)
				require.NoError(t, err)
				require.NoError(t, os.Truncate(path, st.Size()-3))
			},
			want: []string{"r-0", "r-1", "r-2"},
		},
		{
			name: "truncated inside frame header",
			damage: func(t *testing.T, path string) {
				st, err := os.Stat(path)
				require.NoError(t, err)
				// Last record "r-3" is 3 bytes: 8-byte frame header + 3; keep 5 of them.
				require.NoError(t, os.Truncate(path, st.Size()-6))
			},
			want: []string{"r-0", "r-1", "r-2"},
		},
		{
			name: "garbage appended",
			damage: func(t *testing.T, path string) {
				appendBytes(t, path, []byte("\x07\x00\x00\x00garbage!!\xff\xfe"))
			},
			want: []string{"r-0", "r-1", "r-2", "r-3"},
		},
		{
			name: "zeros appended",
			damage: func(t *testing.T, path string) {
				appendBytes(t, path, make([]byte, 4096))
			},
			want: []string{"r-0", "r-1", "r-2", "r-3"},
		},
		{
			name: "only a torn header left",
			damage: func(t *testing.T, path string) {
				require.NoError(t, os.Truncate(path, 9))
			},
			removed: true,
		},
		{
			name: "header without records",
			damage: func(t *testing.T, path string) {
				require.NoError(t, os.Truncate(path, headerSize))
			},
			removed: true,
		},
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
			tt.damage(t, path)

			s2 := openT(t, Options{Dir: dir})
			recs, _ := readAll(t, s2)
			require.Equal(t, tt.want, recs)
			require.Positive(t, s2.Stats().TruncatedBytes)
			if tt.removed {
				require.Empty(t, s2.Sealed())
				require.NoFileExists(t, path)
				require.Zero(t, s2.Bytes())
			} else {
				after, err := os.Stat(path)
				require.NoError(t, err)
				require.LessOrEqual(t, after.Size(), before.Size())
				require.Equal(t, after.Size(), s2.Bytes())
			}
			id, err := s2.Append(context.Background(), []byte("next"))
			require.NoError(t, err)
			require.Greater(t, id, ids[0], "a cut segment's id is not reused")
		})
	}
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

func TestMidFileCorruption(t *testing.T) {
	// Records "c-0".."c-4" are 3 bytes: frame i starts at 16 + 11*i.
	const rec2 = headerSize + 2*11
	tests := []struct {
		name string
		// segs: number of segments written (each sealed after 5 records); the
		// damage goes into segment index seg.
		segs, seg int
		off       int64
		openErr   string // Open fails with this text
		readErr   string // else Read of the damaged segment fails with this text
	}{
		{name: "last segment payload", segs: 1, seg: 0, off: rec2 + frameHeader + 1, openErr: fmt.Sprintf("corrupt data at offset %d", rec2)},
		{name: "last segment length", segs: 1, seg: 0, off: rec2, openErr: fmt.Sprintf("corrupt data at offset %d", rec2)},
		{name: "earlier segment payload", segs: 2, seg: 0, off: rec2 + frameHeader, readErr: fmt.Sprintf("CRC mismatch in record at offset %d", rec2)},
		{name: "earlier segment header", segs: 2, seg: 0, off: 1, openErr: "corrupt header at offset 0"},
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
			path := filepath.Join(dir, segmentName(ids[tt.seg]))
			flipByte(t, path, tt.off)

			s2, err := Open(Options{Dir: dir})
			if tt.openErr != "" {
				require.Error(t, err)
				require.Contains(t, err.Error(), tt.openErr)
				require.Contains(t, err.Error(), path)
				return
			}
			require.NoError(t, err)
			defer s2.Close()
			var got []string
			err = s2.Read(ids[tt.seg], func(rec []byte) error { got = append(got, string(rec)); return nil })
			require.Error(t, err)
			require.Contains(t, err.Error(), tt.readErr)
			require.Contains(t, err.Error(), path)
			require.Equal(t, []string{"c-0", "c-1"}, got, "records before the damage are delivered")
		})
	}
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
