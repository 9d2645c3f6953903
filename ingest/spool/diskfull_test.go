package spool

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/diskfull"
)

// TestDiskFullRecoversByItself fills the spool's disk (a real tmpfs where
// the machine allows, else a simulated ENOSPC through the file layer): appends
// fail without being acknowledged and Health says why; once space returns,
// Health clears and appends succeed again without a restart, and exactly the
// acknowledged records are in the spool, before and after a reopen.
func TestDiskFullRecoversByItself(t *testing.T) {
	diskfull.Variants(t, 20<<20, func(t *testing.T, d *diskfull.Disk) {
		var logs bytes.Buffer
		opts := Options{Dir: d.Dir + "/spool", SegmentMaxBytes: 256 << 10, ReserveBytes: 1 << 20,
			WriteFault: d.Fault(), Logger: slog.New(slog.NewTextHandler(&logs, nil))}
		s := openT(t, opts)
		ctx := context.Background()
		rec := func(i int) []byte { return fmt.Appendf(nil, "rec-%06d-%s", i, bytes.Repeat([]byte("x"), 1000)) }
		var acked []string
		for i := range 50 {
			_, err := s.Append(ctx, rec(i))
			require.NoError(t, err)
			acked = append(acked, string(rec(i)))
		}
		require.NoError(t, s.Health())

		d.Fill(t)
		failed := 0
		for i := 50; i < 100; i++ {
			if _, err := s.Append(ctx, rec(i)); err != nil {
				require.True(t, diskfull.Full(err), "ENOSPC expected, got %v", err)
				failed++
				continue
			}
			acked = append(acked, string(rec(i)))
		}
		require.Positive(t, failed, "the full disk must fail appends")
		err := s.Health()
		require.Error(t, err)
		require.Contains(t, err.Error(), "spool cannot accept writes")
		require.False(t, s.Stats().Writable)
		require.Positive(t, s.Stats().WriteErrors)
		require.Contains(t, logs.String(), "level=ERROR")

		d.Free(t)
		require.Eventually(t, func() bool { return s.Health() == nil }, 5*time.Second, 50*time.Millisecond,
			"health must clear by itself once space returns")
		for i := 100; i < 150; i++ {
			_, err := s.Append(ctx, rec(i))
			require.NoError(t, err, "appends must succeed again without a restart")
			acked = append(acked, string(rec(i)))
		}
		require.True(t, s.Stats().Writable)
		_, _, err = s.Seal()
		require.NoError(t, err)
		recs, _ := readAll(t, s)
		require.Equal(t, acked, recs, "exactly the acknowledged records")

		require.NoError(t, s.Close())
		s2 := openT(t, opts)
		recs, _ = readAll(t, s2)
		require.Equal(t, acked, recs, "exactly the acknowledged records after a reopen")
		require.Zero(t, s2.Stats().QuarantinedSegments)
	})
}

// TestReserveKeepsRoomToDrain: with the drain reserve released, appends are
// refused (ErrNoReserve) while the freed space is left for draining; the
// reserve is restored from space freed by removals, and appends resume.
func TestReserveKeepsRoomToDrain(t *testing.T) {
	diskfull.Variants(t, 20<<20, func(t *testing.T, d *diskfull.Disk) {
		opts := Options{Dir: d.Dir + "/spool", SegmentMaxBytes: 256 << 10, ReserveBytes: 2 << 20, WriteFault: d.Fault()}
		s := openT(t, opts)
		require.True(t, s.Stats().ReserveHeld)
		ctx := context.Background()
		for i := range 100 {
			_, err := s.Append(ctx, bytes.Repeat([]byte{byte(i)}, 4000))
			require.NoError(t, err)
		}
		_, _, err := s.Seal()
		require.NoError(t, err)
		d.Fill(t)

		released, err := s.ReleaseReserve()
		require.NoError(t, err)
		require.True(t, released)
		require.EqualValues(t, 1, s.Stats().ReserveReleases)
		_, err = s.Append(ctx, []byte("refused"))
		require.ErrorIs(t, err, ErrNoReserve, "the released reserve is for draining, not for new records")
		require.Error(t, s.Health())

		// Draining frees space; the reserve comes back first, then appends.
		for _, id := range s.Sealed() {
			require.NoError(t, s.RemoveThenRestore(id))
		}
		require.True(t, s.Stats().ReserveHeld)
		require.Eventually(t, func() bool { return s.Health() == nil }, 5*time.Second, 50*time.Millisecond)
		_, err = s.Append(ctx, []byte("accepted"))
		require.NoError(t, err)
	})
}

// TestWriteErrorsAreNotSticky: whatever the write error (a full disk, a
// permission taken away, an I/O error), the failed appends are not
// acknowledged nor kept, Health reports it, and the spool takes appends again
// by itself once writes work: no reopen.
func TestWriteErrorsAreNotSticky(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.ENOSPC, syscall.EACCES, syscall.EIO} {
		t.Run(errno.Error(), func(t *testing.T) {
			var failing atomic.Bool
			s := openT(t, Options{Dir: t.TempDir(), WriteFault: func(path string, _ int64) error {
				if failing.Load() {
					return &os.PathError{Op: "write", Path: path, Err: errno}
				}
				return nil
			}})
			ctx := context.Background()
			appendN(t, s, "ok", 3)
			failing.Store(true)
			_, err := s.Append(ctx, []byte("lost"))
			require.ErrorIs(t, err, errno)
			_, err = s.Append(ctx, []byte("lost too")) // in a new segment, whose creation fails
			require.ErrorIs(t, err, errno)
			require.ErrorIs(t, s.Health(), errno)

			failing.Store(false)
			require.Eventually(t, func() bool { return s.Health() == nil }, 5*time.Second, 50*time.Millisecond)
			_, err = s.Append(ctx, []byte("after"))
			require.NoError(t, err)
			_, _, err = s.Seal()
			require.NoError(t, err)
			recs, _ := readAll(t, s)
			require.Equal(t, []string{"ok-0", "ok-1", "ok-2", "after"}, recs)
			var onDisk int64
			for _, id := range s.Sealed() {
				st, err := os.Stat(filepath.Join(s.opts.Dir, segmentName(id)))
				require.NoError(t, err)
				onDisk += st.Size()
			}
			require.Equal(t, onDisk, s.Bytes(), "the budget counts exactly what is on disk")
		})
	}
}

// TestIntermittentWriteErrorsUnderLoad: concurrent appenders while every
// few commits fail and Health probes run: exactly the acknowledged records
// are in the spool, none of the failed ones, and the budget matches the disk.
func TestIntermittentWriteErrorsUnderLoad(t *testing.T) {
	var n atomic.Int64
	var healed atomic.Bool
	dir := t.TempDir()
	s := openT(t, Options{Dir: dir, SegmentMaxBytes: 64 << 10, WriteFault: func(path string, _ int64) error {
		if n.Add(1)%5 == 0 && !healed.Load() {
			return &os.PathError{Op: "write", Path: path, Err: syscall.ENOSPC}
		}
		return nil
	}})
	stop := make(chan struct{})
	probed := make(chan struct{})
	go func() {
		defer close(probed)
		for {
			select {
			case <-stop:
				return
			default:
				_ = s.Health()
				time.Sleep(time.Millisecond)
			}
		}
	}()
	var mu sync.Mutex
	acked := map[string]bool{}
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Go(func() {
			for i := range 100 {
				rec := fmt.Sprintf("w%02d-%03d-%s", w, i, bytes.Repeat([]byte("x"), 300))
				if _, err := s.Append(context.Background(), []byte(rec)); err == nil {
					mu.Lock()
					acked[rec] = true
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-probed
	healed.Store(true)
	_, _, err := s.Seal()
	require.NoError(t, err)
	recs, _ := readAll(t, s)
	got := map[string]bool{}
	for _, r := range recs {
		require.False(t, got[r], "record twice")
		got[r] = true
	}
	require.Equal(t, acked, got, "exactly the acknowledged records")
	require.Positive(t, s.Stats().WriteErrors)
	require.NoError(t, s.Close())
	s2 := openT(t, Options{Dir: dir})
	recs, _ = readAll(t, s2)
	require.Len(t, recs, len(acked))
}
