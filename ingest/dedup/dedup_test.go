package dedup

import (
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/cespare/xxhash/v2"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
)

// clock is an injectable, settable time source.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newClock() *clock { return &clock{t: time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC)} }

func openT(t *testing.T, dir string, window time.Duration, c *clock) *Index {
	t.Helper()
	ix, err := Open(dir, window, c.now, nil)
	require.NoError(t, err)
	return ix
}

func TestKey(t *testing.T) {
	type item struct {
		typ       event.Type
		store, id string
	}
	tests := []struct {
		name  string
		a, b  item
		equal bool
	}{
		{name: "same item", a: item{event.TypeOrder, "s1", "o1"}, b: item{event.TypeOrder, "s1", "o1"}, equal: true},
		{name: "other type", a: item{event.TypeOrder, "s1", "o1"}, b: item{event.TypePayment, "s1", "o1"}},
		{name: "other store", a: item{event.TypeOrder, "s1", "o1"}, b: item{event.TypeOrder, "s2", "o1"}},
		// The 0 separator keeps store/id boundaries apart.
		{name: "shifted boundary", a: item{event.TypeOrder, "s1", "o1"}, b: item{event.TypeOrder, "s1o", "1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ka, kb := Key(tt.a.typ, tt.a.store, tt.a.id), Key(tt.b.typ, tt.b.store, tt.b.id)
			require.Equal(t, tt.equal, ka == kb)
		})
	}
	// The documented definition, including ids longer than the stack buffer.
	long := string(make([]byte, 300))
	for _, id := range []string{"o-1", long} {
		want := xxhash.Sum64(append(append(append([]byte{byte(event.TypeRefund)}, "store-a"...), 0), id...))
		require.Equal(t, want, Key(event.TypeRefund, "store-a", id))
	}
	require.Zero(t, testing.AllocsPerRun(100, func() { Key(event.TypeOrder, "store", "order-123456") }))
}

func TestReserveRelease(t *testing.T) {
	ix := openT(t, t.TempDir(), time.Hour, newClock())
	tests := []struct {
		name    string
		reserve []uint64
		want    []bool
		release []uint64
		wantLen int
	}{
		{name: "new keys", reserve: []uint64{1, 2, 3}, want: []bool{true, true, true}, wantLen: 3},
		{name: "repeats and a new one", reserve: []uint64{3, 4, 1}, want: []bool{false, true, false}, wantLen: 4},
		{name: "repeat inside one call", reserve: []uint64{5, 5, 6, 5}, want: []bool{true, false, true, false}, wantLen: 6},
		{name: "failed append releases", reserve: []uint64{7, 8}, want: []bool{true, true}, release: []uint64{7, 8}, wantLen: 6},
		{name: "released keys are fresh again", reserve: []uint64{7, 8, 2}, want: []bool{true, true, false}, wantLen: 8},
		{name: "empty", reserve: nil, want: []bool{}, wantLen: 8},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, ix.Reserve(tt.reserve))
			ix.Release(tt.release)
			require.Equal(t, tt.wantLen, ix.Len())
		})
	}
}

func TestPersistReopenAndExpire(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	const window = 8 * time.Hour
	ix := openT(t, dir, window, c)
	require.Equal(t, []bool{true, true, true}, ix.Reserve([]uint64{10, 11, 12}))
	require.NoError(t, ix.Persist(1, []uint64{10, 11}))
	// Persisted keys are no longer pending, so Release must not free them.
	ix.Release([]uint64{10, 11})
	require.Equal(t, []bool{false, false}, ix.Reserve([]uint64{10, 11}))
	require.FileExists(t, filepath.Join(dir, "1.ids"))

	c.add(3 * time.Hour)
	require.Equal(t, []bool{true}, ix.Reserve([]uint64{20}))
	require.NoError(t, ix.Persist(2, []uint64{20}))

	// Reopen: persisted keys come back; key 12 was pending only (its segment
	// is still in the spool and is re-reserved by the caller), so it is gone.
	ix2 := openT(t, dir, window, c)
	require.Equal(t, 3, ix2.Len())
	require.Equal(t, []bool{false, false, false, true}, ix2.Reserve([]uint64{10, 11, 20, 12}))

	tests := []struct {
		name      string
		advance   time.Duration
		wantFresh []bool // for keys 10, 11, 20
		files     []string
	}{
		{name: "inside the window", advance: 4 * time.Hour, wantFresh: []bool{false, false, false}, files: []string{"1.ids", "2.ids"}},
		// Segment 1 was persisted 9h ago, plus one generation (1h) of slack.
		{name: "first file expired", advance: 2*time.Hour + time.Second, wantFresh: []bool{true, true, false}, files: []string{"2.ids"}},
		{name: "all expired", advance: 4 * time.Hour, wantFresh: []bool{true, true, true}, files: nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c.add(tt.advance)
			require.NoError(t, ix2.Expire())
			got := ix2.Reserve([]uint64{10, 11, 20})
			require.Equal(t, tt.wantFresh, got)
			// Undo this probe's reservations so the next step sees persisted state only.
			var undo []uint64
			for i, k := range []uint64{10, 11, 20} {
				if got[i] {
					undo = append(undo, k)
				}
			}
			ix2.Release(undo)
			m, err := filepath.Glob(filepath.Join(dir, "*.ids"))
			require.NoError(t, err)
			var names []string
			for _, p := range m {
				names = append(names, filepath.Base(p))
			}
			require.ElementsMatch(t, tt.files, names)
		})
	}
	// Key 12 is still pending: pending keys never expire.
	require.Equal(t, []bool{false}, ix2.Reserve([]uint64{12}))
	require.Equal(t, 1, ix2.Len())
}

func TestOpenDropsExpiredFilesAndStaleTmp(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	ix := openT(t, dir, time.Hour, c)
	ix.Reserve([]uint64{1, 2})
	require.NoError(t, ix.Persist(7, []uint64{1}))
	c.add(30 * time.Minute)
	require.NoError(t, ix.Persist(8, []uint64{2}))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "9.ids.tmp"), []byte("half"), 0o600))

	c.add(time.Hour)
	ix2 := openT(t, dir, time.Hour, c)
	require.Equal(t, []bool{true, false}, ix2.Reserve([]uint64{1, 2}))
	require.NoFileExists(t, filepath.Join(dir, "7.ids"))
	require.FileExists(t, filepath.Join(dir, "8.ids"))
	require.NoFileExists(t, filepath.Join(dir, "9.ids.tmp"))
}

func TestRePersistRestampsKeys(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	ix := openT(t, dir, time.Hour, c)
	ix.Reserve([]uint64{1, 2})
	require.NoError(t, ix.Persist(5, []uint64{1, 2}))

	// A crash between Persist and spool.Remove: the segment is flushed again
	// after restart, later.
	c.add(50 * time.Minute)
	ix2 := openT(t, dir, time.Hour, c)
	require.Equal(t, []bool{false, false}, ix2.Reserve([]uint64{1, 2}))
	require.NoError(t, ix2.Persist(5, []uint64{1, 2}))
	require.Equal(t, 2, ix2.Len(), "one copy per key")

	c.add(30 * time.Minute) // the first stamp is past the window, the second is not
	require.NoError(t, ix2.Expire())
	require.Equal(t, []bool{false, false}, ix2.Reserve([]uint64{1, 2}))
	require.FileExists(t, filepath.Join(dir, "5.ids"), "the restamped file survives")

	c.add(time.Hour)
	require.NoError(t, ix2.Expire())
	require.NoFileExists(t, filepath.Join(dir, "5.ids"))
	require.Zero(t, ix2.Len())
}

func TestCorruptFileIsAnError(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	ix := openT(t, dir, time.Hour, c)
	ix.Reserve([]uint64{1, 2, 3})
	require.NoError(t, ix.Persist(3, []uint64{1, 2, 3}))
	path := filepath.Join(dir, "3.ids")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	b[fileHeader+3] ^= 1
	require.NoError(t, os.WriteFile(path, b, 0o600))
	_, err = Open(dir, time.Hour, c.now, nil)
	require.ErrorContains(t, err, path)
	require.ErrorContains(t, err, "checksum")
}

func TestOpenRejectsBadWindow(t *testing.T) {
	_, err := Open(t.TempDir(), 0, nil, nil)
	require.Error(t, err)
}

func TestConcurrentReserveNeverFreshTwice(t *testing.T) {
	ix := openT(t, t.TempDir(), time.Hour, newClock())
	const goroutines, keys, batch = 16, 20000, 100
	fresh := make([][]uint64, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			// Every goroutine offers every key, in a different order and in
			// batches that overlap differently.
			for start := 0; start < keys; start += batch {
				ks := make([]uint64, 0, batch)
				for i := start; i < start+batch; i++ {
					ks = append(ks, uint64((i*7919+g*104729)%keys)+1)
				}
				for i, f := range ix.Reserve(ks) {
					if f {
						fresh[g] = append(fresh[g], ks[i])
					}
				}
			}
		})
	}
	wg.Wait()
	seen := make(map[uint64]int, keys)
	for _, fs := range fresh {
		for _, k := range fs {
			seen[k]++
		}
	}
	require.Len(t, seen, keys, "every key fresh once")
	for k, n := range seen {
		require.Equal(t, 1, n, "key %d reported fresh %d times", k, n)
	}
	require.Equal(t, keys, ix.Len())
}

// TestPersistWhileReserving runs Persist (which repacks closed generations)
// and Expire concurrently with Reserve; no persisted key may become fresh.
func TestPersistWhileReserving(t *testing.T) {
	c := newClock()
	ix := openT(t, t.TempDir(), 10*time.Hour, c)
	const segments, perSeg = 40, 500
	done := make(chan struct{})
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			k := uint64(1_000_000 * (g + 1))
			for {
				select {
				case <-done:
					return
				default:
				}
				ks := []uint64{k, k + 1, k + 2}
				if got := ix.Reserve(ks); countTrue(got) != len(ks) {
					t.Errorf("fresh keys %v reported %v", ks, got) // not require: off the test goroutine
					return
				}
				k += 3
			}
		})
	}
	for seg := range uint64(segments) {
		keys := make([]uint64, perSeg)
		for i := range keys {
			keys[i] = seg*perSeg + uint64(i) + 1
		}
		require.Equal(t, perSeg, countTrue(ix.Reserve(keys)))
		require.NoError(t, ix.Persist(seg, keys))
		c.add(15 * time.Minute) // a new generation every 5 segments
		require.NoError(t, ix.Expire())
	}
	close(done)
	wg.Wait()
	all := make([]uint64, segments*perSeg)
	for i := range all {
		all[i] = uint64(i) + 1
	}
	require.Zero(t, countTrue(ix.Reserve(all)), "every persisted key is still known")
}

func countTrue(bs []bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// TestPersistOnFullDisk: a Persist that fails for lack of space leaves no
// partial file behind and its keys pending; a re-flush of a segment whose ids
// file already exists needs no new space.
func TestPersistOnFullDisk(t *testing.T) {
	dir := t.TempDir()
	c := newClock()
	ix := openT(t, dir, time.Hour, c)
	full := false
	ix.SetWriteFault(func(path string, _ int64) error {
		if full {
			return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
		}
		return nil
	})
	ix.Reserve([]uint64{1, 2, 3})
	require.NoError(t, ix.Persist(5, []uint64{1, 2}))

	full = true
	err := ix.Persist(6, []uint64{3})
	require.ErrorIs(t, err, syscall.ENOSPC)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	require.Len(t, entries, 1, "only 5.ids: no partial file of 6")
	require.False(t, ix.Persisted(6))
	require.Equal(t, []bool{false}, ix.Reserve([]uint64{3}), "still pending")

	// Segment 5 flushed again (a crash before its removal) on the full disk.
	require.NoError(t, ix.Persist(5, []uint64{1, 2}))
	require.True(t, ix.Persisted(5))
	require.Equal(t, 3, ix.Len())
}
