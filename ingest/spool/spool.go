// Package spool is the ingest service's durable write-ahead spool: a directory
// of append-only segment files of CRC-framed records.
//
// Append returns only after the record is fsynced, so a request may be
// acknowledged as soon as Append returns; a crash at any moment loses no
// acknowledged record. Appends from concurrent callers are group-committed: one
// background writer writes everything queued since its last fsync with one
// write and one fsync, so throughput grows with concurrency instead of being
// bounded by fsync latency.
//
// Segments are sealed (closed for appends) on demand or when full; sealed
// segments are read, processed and removed by the caller. Segment ids increase
// monotonically for the life of the directory and are never reused, even after
// every segment was removed and the process restarted.
//
// Failures: a failed write or fsync (ENOSPC, EACCES, EIO) fails only the
// records of that group commit, which are not acknowledged. The segment is cut
// back to its acknowledged length and sealed, the next Append starts a new
// segment, and Health reports the failure until a write succeeds again, so the
// spool recovers by itself when space returns. Damage to acknowledged data is
// never cut silently: Quarantine moves the damaged file aside (Options.
// QuarantineDir) and keeps its readable records; a torn, unacknowledged tail
// found by Open is moved aside too (see the commit file in format.go).
package spool

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"
)

// SegmentID names a segment. Ids are monotonic for the life of the spool
// directory, never reused and always below MaxSegmentID+1 (60e9), because the
// rollup uses them as a nanosecond offset inside a one-minute window.
type SegmentID uint64

// MaxSegmentID is the largest id the spool hands out.
const MaxSegmentID SegmentID = 60_000_000_000 - 1

// Defaults for zero Options fields.
const (
	DefaultSegmentMaxBytes int64 = 64 << 20
	DefaultMaxBytes        int64 = 1 << 30
)

var (
	// ErrFull is returned by Append when the record would take the spool past
	// its disk budget; nothing was written. Retry after segments are removed.
	ErrFull = errors.New("spool: disk budget exhausted")
	// ErrClosed is returned by every operation after Close.
	ErrClosed = errors.New("spool: closed")
	// ErrNotSealed is returned by Read and Remove for an id that is not a
	// sealed segment of this spool (active, unknown or already removed).
	ErrNotSealed = errors.New("spool: not a sealed segment")
	// ErrTooLarge is returned by Append for a record over 1 GiB.
	ErrTooLarge = errors.New("spool: record too large")
	// ErrCorrupt wraps Read errors caused by damaged data (a bad header, a
	// truncated record, a CRC mismatch): Quarantine the segment.
	ErrCorrupt = errors.New("spool: corrupt segment")
	// ErrNoReserve is returned by Append while the drain reserve
	// (Options.ReserveBytes) is released and cannot be restored: the disk is
	// full, and the space left is kept for draining.
	ErrNoReserve = errors.New("spool: disk full, drain reserve not restored")
)

const (
	reserveName = "RESERVE"
	probeName   = "PROBE" + tmpSuffix
	salvageExt  = ".salvage"
	// probeEvery limits how often Health tests a failed disk with a write.
	probeEvery = time.Second
)

// Options configure a Spool.
type Options struct {
	// Dir holds the segments; it is created if missing.
	Dir string
	// SegmentMaxBytes is the size at which Append seals the active segment
	// and starts a new one (default 64 MiB). A single larger record gets a
	// segment of its own.
	SegmentMaxBytes int64
	// MaxBytes is the disk budget: the bytes of every segment not yet removed
	// (default 1 GiB). Appends that would pass it fail with ErrFull.
	MaxBytes int64
	// Logger receives recovery and failure reports (default: discarded).
	Logger *slog.Logger
	// QuarantineDir receives damaged segments and torn tails, never deleted
	// by the spool (default Dir/quarantine). It must be on Dir's file system.
	QuarantineDir string
	// ReserveBytes is the size of a file (Dir/RESERVE) kept allocated so that
	// draining can go on when the disk is full: ReleaseReserve frees it for
	// the writes a flush needs (de-duplication ids), and Append refuses
	// records (ErrNoReserve) until it is restored. 0: no reserve.
	ReserveBytes int64
	// Now stamps quarantine reports (default time.Now).
	Now func() time.Time
	// WriteFault is fault injection for tests: when set, it is called before
	// every write of n bytes to a file at path, and an error it returns is
	// that write's error (a simulated ENOSPC or EACCES through the file
	// layer). Leave nil in production.
	WriteFault func(path string, n int64) error
	// OnCommit, when set, is told how long each successful group commit
	// that carried records took (write, fsync, commit record and its fsync):
	// the part of an acknowledgement spent waiting for the disk. It runs on
	// the spool's writer and must not block.
	OnCommit func(took time.Duration)

	// perAppendSync disables group commit (one fsync per record); only the
	// benchmark uses it, as the baseline.
	perAppendSync bool
}

// Stats are counters and gauges of a Spool.
type Stats struct {
	Segments       int    // segments on disk, including the active one
	Sealed         int    // sealed segments awaiting Remove
	Bytes          int64  // as Bytes()
	Appends        uint64 // records made durable since Open
	AppendedBytes  uint64 // their payload bytes
	Fsyncs         uint64 // fsyncs of segment data (group commits)
	Seals          uint64 // segments sealed since Open
	Removes        uint64 // segments removed since Open
	Full           uint64 // appends rejected with ErrFull
	TruncatedBytes int64  // torn, unacknowledged tail bytes moved aside (or empty last segment deleted) by Open
	// WriteErrors counts failed group commits (their records were not
	// acknowledged); Writable is false from a failure until a write succeeds.
	WriteErrors uint64
	Writable    bool
	// QuarantinedSegments and QuarantinedBytes count damaged acknowledged
	// data moved to the quarantine directory since Open.
	QuarantinedSegments uint64
	QuarantinedBytes    int64
	ReserveReleases     uint64 // times the drain reserve was freed for a flush
	ReserveHeld         bool   // the drain reserve file is allocated
}

// batch is one group commit: the frames appended to one segment while the
// writer was busy, plus whether the segment must be created first and sealed
// after.
type batch struct {
	seg      SegmentID
	create   bool
	seal     bool
	sealSize int64 // file size once sealed
	buf      []byte
	records  uint64
	payload  uint64
	done     chan struct{} // closed when err is set
	err      error
}

// Spool is a durable append-only record log. All methods are safe for
// concurrent use.
type Spool struct {
	opts Options
	log  *slog.Logger
	crc  *crc32.Table
	lock *os.File

	mu         sync.Mutex
	work       *sync.Cond // wakes the writer
	queue      []*batch   // waiting for the writer; only the last may grow
	closed     bool
	writeErr   error      // last failed commit, until a write succeeds
	probedAt   time.Time  // last Health probe while writeErr is set
	dead       SegmentID  // a segment abandoned after a failed commit: its queued batches fail
	deadErr    error      // with this error
	reserved   bool       // the reserve file is allocated
	resMu      sync.Mutex // serialises reserve allocation and release
	drainHold  bool       // the reserve was released for draining: only a removal may restore it
	reserveErr error      // last failed reserve allocation, retried after probeEvery
	reserveAt  time.Time
	nextID     SegmentID
	active     SegmentID // 0: none; the next Append creates one
	activeSize int64     // including frames still queued
	sealed     []SegmentID
	sizes      map[SegmentID]int64 // of sealed segments
	removing   map[SegmentID]bool
	bytes      int64 // every segment on disk, including queued frames
	stats      Stats
	freeBufs   [][]byte

	file       *os.File // active segment file; touched only by the writer goroutine and Close
	committed  int64    // acknowledged length of file; writer only
	commitF    *os.File // the commit file; writer only
	commitSeq  uint64
	writerDone chan struct{}
}

// Open opens (creating if needed) the spool in opts.Dir and recovers it: every
// segment on disk becomes sealed, in id order. A torn tail of the last-written
// segment (bytes past its acknowledged length, per the commit file, that are
// not valid frames) is moved to the quarantine directory and cut, with a
// warning; a last segment without records is deleted. Damage to acknowledged
// data is left in place for Read to report (ErrCorrupt) and Quarantine to move
// aside: Open never discards records that might have been acknowledged.
func Open(opts Options) (*Spool, error) {
	if opts.Dir == "" {
		return nil, errors.New("spool: Options.Dir is empty")
	}
	if opts.SegmentMaxBytes <= 0 {
		opts.SegmentMaxBytes = DefaultSegmentMaxBytes
	}
	if opts.MaxBytes <= 0 {
		opts.MaxBytes = DefaultMaxBytes
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.QuarantineDir == "" {
		opts.QuarantineDir = filepath.Join(opts.Dir, "quarantine")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if err := os.MkdirAll(opts.Dir, 0o750); err != nil {
		return nil, fmt.Errorf("spool: create %s: %w", opts.Dir, err)
	}
	lock, err := lockDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	s := &Spool{
		opts:       opts,
		log:        opts.Logger.With("component", "spool", "dir", opts.Dir),
		crc:        castagnoli(),
		lock:       lock,
		sizes:      make(map[SegmentID]int64),
		removing:   make(map[SegmentID]bool),
		writerDone: make(chan struct{}),
	}
	s.work = sync.NewCond(&s.mu)
	if err := s.recover(); err != nil {
		lock.Close()
		return nil, err
	}
	cf, err := os.OpenFile(filepath.Join(opts.Dir, commitName), os.O_CREATE|os.O_RDWR, 0o600) //nolint:gosec // our own directory
	if err != nil {
		lock.Close()
		return nil, fmt.Errorf("spool: open commit file: %w", err)
	}
	s.commitF = cf
	if err := s.restoreReserve(); err != nil {
		s.log.Error("spool: drain reserve not allocated; appends are refused until it is", "bytes", opts.ReserveBytes, "err", err)
	}
	go s.run()
	return s, nil
}

// Append writes rec as one record of the active segment and returns the
// segment's id once rec is fsynced. It fails with ErrFull, without writing,
// when Bytes() plus the record's size would exceed MaxBytes. ctx is checked
// only before rec is queued: once queued, Append waits for the fsync so that
// its result is definitive (nil: durable; error: not acknowledged — after a
// write failure the record may still be on disk, which the caller's
// idempotency tolerates). rec is copied; the caller may reuse it.
func (s *Spool) Append(ctx context.Context, rec []byte) (SegmentID, error) {
	if err := ctx.Err(); err != nil {
		return 0, fmt.Errorf("spool: append: %w", err)
	}
	if len(rec) > maxRecordBytes {
		return 0, fmt.Errorf("spool: record of %d bytes: %w", len(rec), ErrTooLarge)
	}
	need := int64(frameHeader + len(rec))

	if s.opts.ReserveBytes > 0 && !s.reserveHeld() {
		if s.releasedForDrain() {
			return 0, fmt.Errorf("%w: released for draining", ErrNoReserve)
		}
		if err := s.restoreReserve(); err != nil {
			return 0, fmt.Errorf("%w: %w", ErrNoReserve, err)
		}
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	// A segment that already holds records is sealed before it would pass its
	// size limit; an empty one takes any record, however large.
	rotate := s.active != 0 && s.activeSize > headerSize && s.activeSize+need > s.opts.SegmentMaxBytes
	total := need
	if s.active == 0 || rotate {
		total += headerSize
	}
	if s.bytes+total > s.opts.MaxBytes {
		s.stats.Full++
		s.mu.Unlock()
		return 0, ErrFull
	}
	if rotate {
		s.sealActiveLocked()
	}
	if s.active == 0 {
		if s.nextID > MaxSegmentID {
			s.mu.Unlock()
			return 0, fmt.Errorf("spool: segment ids exhausted (next %d)", s.nextID)
		}
		s.active = s.nextID
		s.nextID++
		s.activeSize = headerSize
		s.bytes += headerSize
		s.newBatchLocked(s.active).create = true
	}
	b := s.joinableBatchLocked()
	b.buf = appendFrame(b.buf, s.crc, rec)
	b.records++
	b.payload += uint64(len(rec))
	s.activeSize += need
	s.bytes += need
	id := s.active
	s.work.Signal()
	s.mu.Unlock()

	<-b.done
	if b.err != nil {
		return 0, b.err
	}
	return id, nil
}

// newBatchLocked queues an empty batch for seg.
func (s *Spool) newBatchLocked(seg SegmentID) *batch {
	b := &batch{seg: seg, done: make(chan struct{})}
	if n := len(s.freeBufs); n > 0 {
		b.buf = s.freeBufs[n-1][:0]
		s.freeBufs = s.freeBufs[:n-1]
	}
	s.queue = append(s.queue, b)
	return b
}

// joinableBatchLocked returns the queued batch new frames of the active
// segment go into: the last one if the writer has not taken it yet. The batch
// being written was already dequeued, which is what makes commits group.
func (s *Spool) joinableBatchLocked() *batch {
	if n := len(s.queue); n > 0 {
		last := s.queue[n-1]
		if last.seg == s.active && !last.seal && (!s.opts.perAppendSync || last.records == 0) {
			return last
		}
	}
	return s.newBatchLocked(s.active)
}

// sealActiveLocked queues the seal of the active segment behind its frames and
// returns the batch whose completion means the segment is sealed.
func (s *Spool) sealActiveLocked() *batch {
	var b *batch
	if n := len(s.queue); n > 0 && s.queue[n-1].seg == s.active && !s.queue[n-1].seal {
		b = s.queue[n-1]
	} else {
		b = s.newBatchLocked(s.active)
	}
	b.seal = true
	b.sealSize = s.activeSize
	s.active = 0
	s.activeSize = 0
	s.work.Signal()
	return b
}

// Seal seals the active segment if it holds records: its frames are fsynced,
// the file is closed and its id joins Sealed(). ok is false when there was
// nothing to seal. The next Append opens a new segment.
func (s *Spool) Seal() (id SegmentID, ok bool, err error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, false, ErrClosed
	}
	if s.active == 0 {
		s.mu.Unlock()
		return 0, false, nil
	}
	id = s.active
	b := s.sealActiveLocked()
	s.mu.Unlock()
	<-b.done
	if b.err != nil {
		return 0, false, b.err
	}
	return id, true, nil
}

// run is the writer goroutine: it commits queued batches in order until the
// spool is closed and the queue is drained.
func (s *Spool) run() {
	defer close(s.writerDone)
	s.mu.Lock()
	for {
		for len(s.queue) == 0 && !s.closed {
			s.work.Wait()
		}
		if len(s.queue) == 0 {
			s.mu.Unlock()
			return
		}
		b := s.queue[0]
		s.queue[0] = nil
		s.queue = s.queue[1:]
		dead := b.seg == s.dead
		deadErr := s.deadErr
		s.mu.Unlock()

		var syncs uint64
		var err error
		var abandoned, sealedSize int64 = -1, 0
		if dead {
			// Queued behind a failed commit of the same segment, which was
			// cut back and sealed: these records were not written.
			err = deadErr
		} else {
			began := time.Now()
			syncs, err = s.commit(b)
			if err != nil {
				abandoned = s.abandon(b.seg)
			} else if syncs > 0 && s.opts.OnCommit != nil {
				s.opts.OnCommit(time.Since(began))
			}
			sealedSize = s.committed
		}

		s.mu.Lock()
		s.stats.Fsyncs += syncs
		if err != nil {
			if !dead {
				s.stats.WriteErrors++
				s.writeErr = fmt.Errorf("spool: write failed: %w", err)
				s.probedAt = time.Now()
				s.dead, s.deadErr = b.seg, s.writeErr
				// Everything counted for the segment leaves the budget but its
				// acknowledged length; its queued batches fail without
				// counting (see dead above).
				var total int64
				if s.active == b.seg {
					total = s.activeSize
					s.active, s.activeSize = 0, 0
				} else {
					total = s.sealSizeLocked(b)
				}
				var keep int64
				if abandoned > headerSize {
					keep = abandoned
					s.sealed = append(s.sealed, b.seg)
					s.sizes[b.seg] = abandoned
					s.stats.Seals++
				}
				s.bytes -= total - keep
				s.log.Error("spool write failed; the records of this commit were not acknowledged, the segment is sealed at its acknowledged length and appends continue in a new one",
					"segment", uint64(b.seg), "err", err)
			}
			b.err = s.deadErr
		} else {
			s.writeErr = nil
			s.stats.Appends += b.records
			s.stats.AppendedBytes += b.payload
			if b.seal {
				s.sealed = append(s.sealed, b.seg)
				s.sizes[b.seg] = sealedSize
				s.bytes += sealedSize - b.sealSize
				s.stats.Seals++
			}
		}
		if cap(b.buf) <= 4*int(min(s.opts.SegmentMaxBytes, 16<<20)) && len(s.freeBufs) < 4 {
			s.freeBufs = append(s.freeBufs, b.buf[:0])
		}
		b.buf = nil
		close(b.done)
	}
}

// sealSizeLocked is the size counted for b's segment, already sealed by
// Append or Seal: that of its seal batch, b itself or one still queued.
func (s *Spool) sealSizeLocked(b *batch) int64 {
	if b.seal {
		return b.sealSize
	}
	for _, q := range s.queue {
		if q.seg == b.seg && q.seal {
			return q.sealSize
		}
	}
	return 0
}

// abandon closes the active segment after a failed commit, cut back to its
// acknowledged length. It returns that length (the segment is then sealed
// if it holds records), or -1 when the segment was never created.
func (s *Spool) abandon(seg SegmentID) int64 {
	f := s.file
	s.file = nil
	if f == nil {
		return -1
	}
	size := s.committed
	// The bytes past the acknowledged length (a partial write) are cut so the
	// file ends on a frame boundary. Were the cut to fail, recovery would find
	// them past the acknowledged length of the commit file and move them aside.
	if err := f.Truncate(size); err != nil {
		s.log.Error("spool: cut back failed segment", "segment", uint64(seg), "err", err)
	} else if err := f.Sync(); err != nil {
		s.log.Error("spool: fsync failed segment", "segment", uint64(seg), "err", err)
	}
	_ = f.Close()
	if size <= headerSize {
		if err := os.Remove(f.Name()); err != nil {
			s.log.Error("spool: remove failed empty segment", "segment", uint64(seg), "err", err)
		}
		return 0
	}
	return size
}

// commit performs one batch: create the segment, write and fsync the frames,
// record the acknowledged length, seal. It returns the number of data fsyncs
// done.
func (s *Spool) commit(b *batch) (uint64, error) {
	var syncs uint64
	if b.create {
		if err := s.createSegment(b.seg); err != nil {
			return syncs, err
		}
	}
	if s.file == nil {
		return syncs, fmt.Errorf("spool: segment %d is not open", b.seg)
	}
	if len(b.buf) > 0 {
		if s.opts.WriteFault != nil {
			if err := s.opts.WriteFault(s.file.Name(), int64(len(b.buf))); err != nil {
				return syncs, fmt.Errorf("spool: write %s: %w", s.file.Name(), err)
			}
		}
		if _, err := s.file.Write(b.buf); err != nil {
			return syncs, fmt.Errorf("spool: write %s: %w", s.file.Name(), err)
		}
		if err := s.file.Sync(); err != nil {
			return syncs, fmt.Errorf("spool: fsync %s: %w", s.file.Name(), err)
		}
		syncs++
		if err := s.writeCommit(b.seg, s.committed+int64(len(b.buf))); err != nil {
			return syncs, err
		}
		s.committed += int64(len(b.buf))
	}
	if b.seal {
		// Every frame of the segment was fsynced by the batch that carried it.
		// A close error cannot lose them: it is only logged, and the
		// segment is sealed at its acknowledged length.
		f := s.file
		s.file = nil
		if err := f.Close(); err != nil {
			s.log.Warn("spool: close sealed segment", "file", f.Name(), "err", err)
		}
	}
	return syncs, nil
}

// createSegment persists the id counter past id, then creates the segment with
// its header, both durable (file and directory fsynced) before any of its
// records can be acknowledged.
func (s *Spool) createSegment(id SegmentID) (err error) {
	tmp := filepath.Join(s.opts.Dir, counterName+tmpSuffix)
	path := filepath.Join(s.opts.Dir, segmentName(id))
	var f *os.File
	defer func() {
		if err == nil {
			return
		}
		// Leave nothing behind that takes space: the id is simply skipped.
		if f != nil {
			_ = f.Close()
			_ = os.Remove(path)
		}
		_ = os.Remove(tmp)
	}()
	if s.opts.WriteFault != nil {
		if err := s.opts.WriteFault(path, headerSize+32); err != nil {
			return fmt.Errorf("spool: create segment: %w", err)
		}
	}
	if err := writeFileSync(tmp, fmt.Appendf(nil, "%d\n", uint64(id)+1)); err != nil {
		return err
	}
	f, err = os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600) //nolint:gosec // path built from our own dir and id
	if err != nil {
		return fmt.Errorf("spool: create segment: %w", err)
	}
	if _, err := f.Write(appendHeader(nil, id)); err != nil {
		return fmt.Errorf("spool: write header %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("spool: fsync %s: %w", path, err)
	}
	if err := os.Rename(tmp, filepath.Join(s.opts.Dir, counterName)); err != nil {
		return fmt.Errorf("spool: persist segment counter: %w", err)
	}
	if err := syncDir(s.opts.Dir); err != nil {
		return err
	}
	s.file = f
	s.committed = headerSize
	return nil
}

// writeCommit records that seg is acknowledged up to length (see the commit
// file in format.go) and fsyncs it.
func (s *Spool) writeCommit(seg SegmentID, length int64) error {
	s.commitSeq++
	rec := appendCommitRecord(nil, s.crc, commitRecord{seq: s.commitSeq, seg: seg, length: length})
	off := int64(s.commitSeq%2) * commitSlotGap
	if _, err := s.commitF.WriteAt(rec, off); err != nil {
		return fmt.Errorf("spool: write commit record: %w", err)
	}
	if err := s.commitF.Sync(); err != nil {
		return fmt.Errorf("spool: fsync commit record: %w", err)
	}
	return nil
}

// Sealed returns the sealed segments, oldest first.
func (s *Spool) Sealed() []SegmentID {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sealed)
}

// Read calls fn with every record of sealed segment id, in append order, each
// verified against its CRC. fn may retain rec. A damaged record is an error
// naming the file and offset; an error from fn stops the read and is returned.
func (s *Spool) Read(id SegmentID, fn func(rec []byte) error) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	size, ok := s.sizes[id]
	s.mu.Unlock()
	if !ok {
		return fmt.Errorf("spool: read %d: %w", id, ErrNotSealed)
	}
	path := filepath.Join(s.opts.Dir, segmentName(id))
	f, err := os.Open(path) //nolint:gosec // path built from our own dir and id
	if err != nil {
		return fmt.Errorf("spool: read: %w", err)
	}
	defer f.Close()
	// Only the acknowledged length counts: bytes past it (a cut that failed)
	// were never acknowledged, and a file shorter than it lost records.
	r := bufio.NewReaderSize(io.LimitReader(f, size), 256<<10)
	hdr := make([]byte, headerSize)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return fmt.Errorf("%w: %s: header at offset 0: %w", ErrCorrupt, path, err)
	}
	if err := checkHeader(hdr, id); err != nil {
		return fmt.Errorf("%w: %s: header at offset 0: %w", ErrCorrupt, path, err)
	}
	off := int64(headerSize)
	var fh [frameHeader]byte
	for {
		if _, err := io.ReadFull(r, fh[:]); err != nil {
			if errors.Is(err, io.EOF) {
				if off < size {
					return fmt.Errorf("%w: %s: file ends at offset %d, %d bytes were acknowledged", ErrCorrupt, path, off, size)
				}
				return nil
			}
			return fmt.Errorf("%w: %s: truncated record at offset %d: %w", ErrCorrupt, path, off, err)
		}
		n := binary.LittleEndian.Uint32(fh[:])
		if n > maxRecordBytes {
			return fmt.Errorf("%w: %s: corrupt record length %d at offset %d", ErrCorrupt, path, n, off)
		}
		rec := make([]byte, n)
		if _, err := io.ReadFull(r, rec); err != nil {
			return fmt.Errorf("%w: %s: truncated record at offset %d: %w", ErrCorrupt, path, off, err)
		}
		if frameCRC(s.crc, fh[:4], rec) != binary.LittleEndian.Uint32(fh[4:]) {
			return fmt.Errorf("%w: %s: CRC mismatch in record at offset %d", ErrCorrupt, path, off)
		}
		if err := fn(rec); err != nil {
			return err
		}
		off += frameHeader + int64(n)
	}
}

// Remove deletes sealed segment id (processed by the caller) and fsyncs the
// directory. Its bytes leave the budget.
func (s *Spool) Remove(id SegmentID) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	if _, ok := s.sizes[id]; !ok || s.removing[id] {
		s.mu.Unlock()
		return fmt.Errorf("spool: remove %d: %w", id, ErrNotSealed)
	}
	s.removing[id] = true
	s.mu.Unlock()

	// The file system work runs unlocked so appends are not held up by it.
	err := os.Remove(filepath.Join(s.opts.Dir, segmentName(id)))
	if errors.Is(err, os.ErrNotExist) {
		err = nil
	}
	gone := err == nil
	if err == nil {
		err = syncDir(s.opts.Dir)
	} else {
		err = fmt.Errorf("spool: remove %d: %w", id, err)
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.removing, id)
	if gone {
		// Even if the directory fsync failed the file is gone for this process;
		// should it reappear after a crash it is merely processed again.
		s.bytes -= s.sizes[id]
		delete(s.sizes, id)
		s.sealed = slices.DeleteFunc(s.sealed, func(x SegmentID) bool { return x == id })
		s.stats.Removes++
	}
	return err
}

// RemoveThenRestore is Remove followed by an attempt to restore the drain
// reserve from the space freed (an error of the latter is only logged).
func (s *Spool) RemoveThenRestore(id SegmentID) error {
	if err := s.Remove(id); err != nil {
		return err
	}
	if s.opts.ReserveBytes > 0 && !s.reserveHeld() {
		s.mu.Lock()
		s.drainHold = false
		s.mu.Unlock()
		if err := s.restoreReserve(); err != nil {
			s.log.Debug("spool: drain reserve not restored yet", "err", err)
		}
	}
	return nil
}

// Bytes is the size of every segment still on disk, including records queued
// for the next group commit: the measure of the MaxBytes budget.
func (s *Spool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytes
}

// Stats returns a snapshot of the spool's counters.
func (s *Spool) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := s.stats
	st.Sealed = len(s.sealed)
	st.Segments = len(s.sizes)
	if s.active != 0 {
		st.Segments++
	}
	st.Bytes = s.bytes
	st.Writable = s.writeErr == nil
	st.ReserveHeld = s.reserved
	return st
}

// Close waits for queued records to be committed, closes the active segment
// (it becomes sealed at the next Open) and releases the directory. Later calls
// of any method return ErrClosed; a second Close returns nil.
func (s *Spool) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.work.Broadcast()
	s.mu.Unlock()
	<-s.writerDone

	var err error
	if s.file != nil {
		if e := s.file.Sync(); e != nil {
			err = fmt.Errorf("spool: fsync %s: %w", s.file.Name(), e)
		}
		if e := s.file.Close(); e != nil && err == nil {
			err = fmt.Errorf("spool: close %s: %w", s.file.Name(), e)
		}
		s.file = nil
	}
	if s.commitF != nil {
		_ = s.commitF.Close()
	}
	s.lock.Close()
	return err
}

// writeFileSync writes data to path and fsyncs it.
func writeFileSync(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600) //nolint:gosec // path built from our own dir
	if err != nil {
		return fmt.Errorf("spool: create %s: %w", path, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("spool: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("spool: fsync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("spool: close %s: %w", path, err)
	}
	return nil
}

// syncDir fsyncs a directory so that file creations, renames and removals in it
// survive a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // our own directory
	if err != nil {
		return fmt.Errorf("spool: open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("spool: fsync dir %s: %w", dir, err)
	}
	return nil
}
