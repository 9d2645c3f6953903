package spool

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// QuarantineReport describes bytes the spool moved to its quarantine
// directory. It is also written next to them as <file>.json.
type QuarantineReport struct {
	Segment uint64 `json:"segment"`
	// Kind is "damaged" (acknowledged data failed its checks; its readable
	// records were kept in the spool) or "torn_tail" (bytes past the
	// acknowledged length, left by a crash during a write that was never
	// acknowledged).
	Kind          string    `json:"kind"`
	Reason        string    `json:"reason"`
	File          string    `json:"file"` // where the bytes are now
	OriginalBytes int64     `json:"original_bytes"`
	Damaged       []Range   `json:"damaged"` // offsets in File
	DamagedBytes  int64     `json:"damaged_bytes"`
	RecordsKept   int       `json:"records_kept"` // still in the spool, delivered as usual
	Time          time.Time `json:"time"`
}

// Quarantine moves a sealed segment whose data is damaged (Read failed with
// ErrCorrupt) to the quarantine directory, unchanged, and puts back a segment
// of the same id holding every record that still passes its CRC, so they are
// delivered as usual (the same id keeps the rollup's points idempotent). The
// damaged bytes are not deleted; the report says where they are. If no record
// is readable the segment leaves the spool. Nothing is changed on error.
func (s *Spool) Quarantine(id SegmentID, reason string) (QuarantineReport, error) {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return QuarantineReport{}, ErrClosed
	}
	size, ok := s.sizes[id]
	if !ok || s.removing[id] {
		s.mu.Unlock()
		return QuarantineReport{}, fmt.Errorf("spool: quarantine %d: %w", id, ErrNotSealed)
	}
	s.removing[id] = true
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.removing, id)
		s.mu.Unlock()
	}()

	path := filepath.Join(s.opts.Dir, segmentName(id))
	data, err := os.ReadFile(path) //nolint:gosec // our own directory
	if err != nil {
		return QuarantineReport{}, fmt.Errorf("spool: quarantine: %w", err)
	}
	frames, damaged := salvage(s.crc, data, id)
	if int64(len(data)) < size {
		// Cut short: the missing bytes are damage too (nothing to move).
		damaged = append(damaged, Range{int64(len(data)), size - int64(len(data))})
	}
	if len(damaged) == 0 {
		return QuarantineReport{}, fmt.Errorf("spool: quarantine: no damage found in %s", path)
	}
	image := appendHeaderFlags(make([]byte, 0, len(data)), id, flagSalvaged)
	for _, fr := range frames {
		image = append(image, data[fr.Offset:fr.Offset+fr.Bytes]...)
	}
	salv := path + salvageExt
	if len(frames) > 0 {
		if err := s.writeUsingReserve(salv, image); err != nil {
			_ = os.Remove(salv)
			return QuarantineReport{}, fmt.Errorf("spool: quarantine: write readable records: %w", err)
		}
	}
	// From here a crash leaves either the original in place (the salvage file
	// is deleted at Open) or the salvage file alone (renamed at Open).
	qpath, err := s.moveAside(path, segmentName(id))
	if err != nil {
		_ = os.Remove(salv)
		return QuarantineReport{}, err
	}
	if len(frames) > 0 {
		if err := os.Rename(salv, path); err != nil {
			return QuarantineReport{}, fmt.Errorf("spool: quarantine: restore readable records: %w", err)
		}
	}
	if err := syncDir(s.opts.Dir); err != nil {
		return QuarantineReport{}, err
	}
	rep := QuarantineReport{Segment: uint64(id), Kind: "damaged", Reason: reason, File: qpath,
		OriginalBytes: int64(len(data)), Damaged: damaged, RecordsKept: len(frames), Time: s.opts.Now().UTC()}
	for _, d := range damaged {
		rep.DamagedBytes += d.Bytes
	}
	s.writeReport(rep)

	s.mu.Lock()
	if len(frames) > 0 {
		s.sizes[id] = int64(len(image))
		s.bytes += int64(len(image)) - size
	} else {
		s.bytes -= size
		delete(s.sizes, id)
		s.sealed = slices.DeleteFunc(s.sealed, func(x SegmentID) bool { return x == id })
	}
	s.stats.QuarantinedSegments++
	s.stats.QuarantinedBytes += rep.DamagedBytes
	s.mu.Unlock()
	s.log.Error("spool: acknowledged data is damaged; the segment was moved to quarantine and its readable records kept",
		"segment", uint64(id), "quarantine_file", qpath, "damaged_bytes", rep.DamagedBytes, "damaged_ranges", len(damaged),
		"records_kept", len(frames), "reason", reason, "see", "docs/operations.md")
	return rep, nil
}

// Quarantined lists the files in the quarantine directory (their reports
// excluded), oldest name first: what an operator still has to look at.
func (s *Spool) Quarantined() ([]string, error) {
	entries, err := os.ReadDir(s.opts.QuarantineDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("spool: read quarantine: %w", err)
	}
	var names []string
	for _, e := range entries {
		if !e.Type().IsRegular() || strings.HasSuffix(e.Name(), ".json") || strings.HasSuffix(e.Name(), tmpSuffix) {
			continue
		}
		names = append(names, e.Name())
	}
	return names, nil
}

// QuarantineDir is where damaged data and torn tails are moved.
func (s *Spool) QuarantineDir() string { return s.opts.QuarantineDir }

// moveAside renames src into the quarantine directory under base (made
// unique) without copying, so it needs no new space.
func (s *Spool) moveAside(src, base string) (string, error) {
	dst, err := s.quarantinePath(base)
	if err != nil {
		return "", err
	}
	if err := os.Rename(src, dst); err != nil {
		return "", fmt.Errorf("spool: move %s to quarantine: %w", src, err)
	}
	if err := syncDir(s.opts.QuarantineDir); err != nil {
		return "", err
	}
	return dst, syncDir(filepath.Dir(src))
}

// quarantinePath returns an unused path for base in the quarantine directory.
func (s *Spool) quarantinePath(base string) (string, error) {
	if err := os.MkdirAll(s.opts.QuarantineDir, 0o750); err != nil {
		return "", fmt.Errorf("spool: create quarantine dir: %w", err)
	}
	dst := filepath.Join(s.opts.QuarantineDir, base)
	for i := 1; ; i++ {
		if _, err := os.Lstat(dst); errors.Is(err, os.ErrNotExist) { //nolint:gosec // our quarantine dir and segment names
			return dst, nil
		}
		dst = filepath.Join(s.opts.QuarantineDir, fmt.Sprintf("%s.%d", base, i))
	}
}

// writeReport writes rep next to its file; a failure is logged (the bytes
// themselves are safe, and the log line carries the same facts).
func (s *Spool) writeReport(rep QuarantineReport) {
	b, err := json.MarshalIndent(rep, "", "  ")
	if err == nil {
		err = writeFileSync(rep.File+".json", append(b, '\n'))
	}
	if err != nil {
		s.log.Error("spool: write quarantine report", "file", rep.File+".json", "err", err)
	}
}

// writeUsingReserve writes a file, freeing the drain reserve and retrying
// once if the disk is full.
func (s *Spool) writeUsingReserve(path string, data []byte) error {
	err := s.writeFault(path, data)
	if err == nil {
		return nil
	}
	_ = os.Remove(path)
	if released, rerr := s.ReleaseReserve(); rerr != nil || !released {
		return err
	}
	return s.writeFault(path, data)
}

func (s *Spool) writeFault(path string, data []byte) error {
	if s.opts.WriteFault != nil {
		if err := s.opts.WriteFault(path, int64(len(data))); err != nil {
			return fmt.Errorf("spool: write %s: %w", path, err)
		}
	}
	return writeFileSync(path, data)
}

// ReleaseReserve deletes the drain reserve file, freeing its space for the
// writes that let a flush remove segments (de-duplication ids). released is
// false when no reserve was held. Appends are refused until it is restored
// (RemoveThenRestore and Health try, as space returns).
func (s *Spool) ReleaseReserve() (released bool, err error) {
	s.resMu.Lock()
	defer s.resMu.Unlock()
	path := filepath.Join(s.opts.Dir, reserveName)
	err = os.Remove(path)
	if errors.Is(err, os.ErrNotExist) {
		s.mu.Lock()
		s.reserved = false
		s.mu.Unlock()
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("spool: release reserve: %w", err)
	}
	s.mu.Lock()
	s.reserved = false
	s.drainHold = true
	s.stats.ReserveReleases++
	s.mu.Unlock()
	s.log.Warn("spool: disk full; drain reserve released so flushing can go on, appends are refused until it is restored",
		"bytes", s.opts.ReserveBytes)
	return true, syncDir(s.opts.Dir)
}

func (s *Spool) releasedForDrain() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.drainHold
}

func (s *Spool) reserveHeld() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reserved
}

// restoreReserve allocates the reserve file (written, not sparse) if it is
// missing; failed attempts are repeated at most every probeEvery.
func (s *Spool) restoreReserve() error {
	if s.opts.ReserveBytes <= 0 {
		return nil
	}
	s.resMu.Lock()
	defer s.resMu.Unlock()
	if s.reserveHeld() {
		return nil
	}
	path := filepath.Join(s.opts.Dir, reserveName)
	if st, err := os.Stat(path); err == nil && st.Size() == s.opts.ReserveBytes {
		s.mu.Lock()
		s.reserved = true
		s.mu.Unlock()
		return nil
	}
	if s.reserveErr != nil && time.Since(s.reserveAt) < probeEvery {
		return s.reserveErr
	}
	err := s.allocReserve(path)
	s.reserveErr, s.reserveAt = err, time.Now()
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.reserved = true
	s.mu.Unlock()
	return nil
}

func (s *Spool) allocReserve(path string) (err error) {
	tmp := path + tmpSuffix
	defer func() {
		if err != nil {
			_ = os.Remove(tmp)
		}
	}()
	if s.opts.WriteFault != nil {
		if err := s.opts.WriteFault(tmp, s.opts.ReserveBytes); err != nil {
			return fmt.Errorf("spool: allocate reserve: %w", err)
		}
	}
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600) //nolint:gosec // our own directory
	if err != nil {
		return fmt.Errorf("spool: allocate reserve: %w", err)
	}
	defer f.Close()
	zeros := make([]byte, min(s.opts.ReserveBytes, 1<<20))
	for left := s.opts.ReserveBytes; left > 0; left -= int64(len(zeros)) {
		if _, err := f.Write(zeros[:min(left, int64(len(zeros)))]); err != nil {
			return fmt.Errorf("spool: allocate reserve: %w", err)
		}
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("spool: allocate reserve: %w", err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("spool: allocate reserve: %w", err)
	}
	return syncDir(s.opts.Dir)
}

// Health reports why the spool cannot accept writes, or nil: the last group
// commit failed (tested again with a small write at most every second, so
// the state clears by itself when space returns), or the drain reserve is
// released and cannot be restored.
func (s *Spool) Health() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	werr := s.writeErr
	due := werr != nil && time.Since(s.probedAt) >= probeEvery
	if due {
		s.probedAt = time.Now()
	}
	s.mu.Unlock()
	if due && s.probe() == nil {
		s.mu.Lock()
		if s.writeErr == werr { //nolint:errorlint // identity: the failure the probe answered, not a newer one
			s.writeErr = nil
		}
		werr = s.writeErr
		s.mu.Unlock()
	}
	if werr != nil {
		return fmt.Errorf("spool cannot accept writes: %w", werr)
	}
	if s.opts.ReserveBytes > 0 && !s.reserveHeld() {
		if s.releasedForDrain() {
			return fmt.Errorf("spool cannot accept writes: disk full, the %d-byte drain reserve was released so that pending data can drain",
				s.opts.ReserveBytes)
		}
		if err := s.restoreReserve(); err != nil {
			return fmt.Errorf("spool cannot accept writes: the %d-byte drain reserve is released and cannot be restored (disk full?): %w",
				s.opts.ReserveBytes, err)
		}
	}
	return nil
}

// probe tests that the spool's file system takes a small write again.
func (s *Spool) probe() error {
	path := filepath.Join(s.opts.Dir, probeName)
	defer func() { _ = os.Remove(path) }()
	return s.writeFault(path, make([]byte, 4096))
}
