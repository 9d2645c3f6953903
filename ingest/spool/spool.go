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
	TruncatedBytes int64  // torn-tail bytes cut (or empty last segment deleted) by Open
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
	failed     error // sticky: after a failed write or fsync nothing is trusted
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
	writerDone chan struct{}
}

// Open opens (creating if needed) the spool in opts.Dir and recovers it: every
// segment on disk becomes sealed, in id order; a torn tail of the last-written
// segment (an incomplete or CRC-bad frame with no valid frame after it) is
// truncated and logged, and an empty last segment is deleted. Damage followed by
// valid frames, or a bad header of an earlier segment, is an error naming the
// file and offset: Open never discards records that might have been
// acknowledged.
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

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return 0, ErrClosed
	}
	if s.failed != nil {
		err := s.failed
		s.mu.Unlock()
		return 0, err
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
	if s.failed != nil {
		err := s.failed
		s.mu.Unlock()
		return 0, false, err
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
		err := s.failed
		s.mu.Unlock()

		var syncs uint64
		if err == nil {
			syncs, err = s.commit(b)
		}

		s.mu.Lock()
		s.stats.Fsyncs += syncs
		if err != nil {
			if s.failed == nil {
				// The kernel may have dropped the dirty pages a failed fsync
				// covered, so retrying could acknowledge lost data: stop.
				s.failed = fmt.Errorf("spool: writer stopped, reopen required: %w", err)
				s.log.Error("spool write failed; refusing further appends", "segment", b.seg, "err", err)
			}
			b.err = s.failed
		} else {
			s.stats.Appends += b.records
			s.stats.AppendedBytes += b.payload
			if b.seal {
				s.sealed = append(s.sealed, b.seg)
				s.sizes[b.seg] = b.sealSize
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

// commit performs one batch: create the segment, write and fsync the frames,
// seal. It returns the number of data fsyncs done.
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
		if _, err := s.file.Write(b.buf); err != nil {
			return syncs, fmt.Errorf("spool: write %s: %w", s.file.Name(), err)
		}
		if err := s.file.Sync(); err != nil {
			return syncs, fmt.Errorf("spool: fsync %s: %w", s.file.Name(), err)
		}
		syncs++
	}
	if b.seal {
		// Every frame of the segment was fsynced by the batch that carried it.
		f := s.file
		s.file = nil
		if err := f.Close(); err != nil {
			return syncs, fmt.Errorf("spool: close %s: %w", f.Name(), err)
		}
	}
	return syncs, nil
}

// createSegment persists the id counter past id, then creates the segment with
// its header, both durable (file and directory fsynced) before any of its
// records can be acknowledged.
func (s *Spool) createSegment(id SegmentID) error {
	tmp := filepath.Join(s.opts.Dir, counterName+tmpSuffix)
	if err := writeFileSync(tmp, fmt.Appendf(nil, "%d\n", uint64(id)+1)); err != nil {
		return err
	}
	path := filepath.Join(s.opts.Dir, segmentName(id))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600) //nolint:gosec // path built from our own dir and id
	if err != nil {
		return fmt.Errorf("spool: create segment: %w", err)
	}
	if _, err := f.Write(appendHeader(nil, id)); err != nil {
		f.Close()
		return fmt.Errorf("spool: write header %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("spool: fsync %s: %w", path, err)
	}
	if err := os.Rename(tmp, filepath.Join(s.opts.Dir, counterName)); err != nil {
		f.Close()
		return fmt.Errorf("spool: persist segment counter: %w", err)
	}
	if err := syncDir(s.opts.Dir); err != nil {
		f.Close()
		return err
	}
	s.file = f
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
	_, ok := s.sizes[id]
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
	r := bufio.NewReaderSize(f, 256<<10)
	hdr := make([]byte, headerSize)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return fmt.Errorf("spool: %s: header at offset 0: %w", path, err)
	}
	if err := checkHeader(hdr, id); err != nil {
		return fmt.Errorf("spool: %s: header at offset 0: %w", path, err)
	}
	off := int64(headerSize)
	var fh [frameHeader]byte
	for {
		if _, err := io.ReadFull(r, fh[:]); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("spool: %s: truncated record at offset %d: %w", path, off, err)
		}
		n := binary.LittleEndian.Uint32(fh[:])
		if n > maxRecordBytes {
			return fmt.Errorf("spool: %s: corrupt record length %d at offset %d", path, n, off)
		}
		rec := make([]byte, n)
		if _, err := io.ReadFull(r, rec); err != nil {
			return fmt.Errorf("spool: %s: truncated record at offset %d: %w", path, off, err)
		}
		if frameCRC(s.crc, fh[:4], rec) != binary.LittleEndian.Uint32(fh[4:]) {
			return fmt.Errorf("spool: %s: CRC mismatch in record at offset %d", path, off)
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
	s.lock.Close()
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil && s.failed != nil {
		err = s.failed
	}
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
