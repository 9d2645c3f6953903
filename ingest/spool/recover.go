package spool

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// recover scans the directory at Open; see Open for the rules.
func (s *Spool) recover() error {
	dir := s.opts.Dir
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("spool: read dir: %w", err)
	}
	var ids []SegmentID
	dirty := false
	for _, e := range entries {
		name := e.Name()
		if strings.HasSuffix(name, tmpSuffix) {
			// A counter update interrupted before its rename; the old counter
			// (or the segments themselves) still bound the next id.
			if err := os.Remove(filepath.Join(dir, name)); err != nil {
				return fmt.Errorf("spool: remove stale %s: %w", name, err)
			}
			dirty = true
			continue
		}
		if id, ok := parseSegmentName(name); ok && e.Type().IsRegular() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)

	next, err := s.readCounter()
	if err != nil {
		return err
	}
	for i, id := range ids {
		next = max(next, id+1)
		size, keep, err := s.recoverSegment(id, i == len(ids)-1)
		if err != nil {
			return err
		}
		if !keep {
			dirty = true
			continue
		}
		s.sealed = append(s.sealed, id)
		s.sizes[id] = size
		s.bytes += size
	}
	s.nextID = max(next, 1)
	if dirty {
		if err := syncDir(dir); err != nil {
			return err
		}
	}
	if len(ids) > 0 || s.stats.TruncatedBytes > 0 {
		s.log.Info("spool recovered", "sealed", len(s.sealed), "bytes", s.bytes, "next_segment", uint64(s.nextID),
			"truncated_bytes", s.stats.TruncatedBytes)
	}
	return nil
}

// readCounter returns the persisted next segment id, or 1 for a new directory.
func (s *Spool) readCounter() (SegmentID, error) {
	path := filepath.Join(s.opts.Dir, counterName)
	b, err := os.ReadFile(path) //nolint:gosec // our own directory
	if errors.Is(err, os.ErrNotExist) {
		return 1, nil
	}
	if err != nil {
		return 0, fmt.Errorf("spool: read segment counter: %w", err)
	}
	n, err := strconv.ParseUint(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n == 0 {
		// Written atomically, so damage here is not a crash artefact; guessing
		// could reuse an id.
		return 0, fmt.Errorf("spool: segment counter %s is corrupt (%q)", path, b)
	}
	return SegmentID(n), nil
}

// recoverSegment checks one segment. Earlier segments were fully fsynced when
// sealed, so only their header is checked here (Read verifies every record).
// The last one may end in a torn write, which is cut. keep is false when the
// segment held no record and was deleted.
func (s *Spool) recoverSegment(id SegmentID, last bool) (size int64, keep bool, err error) {
	path := filepath.Join(s.opts.Dir, segmentName(id))
	if !last {
		f, err := os.Open(path) //nolint:gosec // our own directory
		if err != nil {
			return 0, false, fmt.Errorf("spool: open %s: %w", path, err)
		}
		defer f.Close()
		hdr := make([]byte, headerSize)
		n, err := io.ReadFull(f, hdr)
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
			return 0, false, fmt.Errorf("spool: read %s: %w", path, err)
		}
		if err := checkHeader(hdr[:n], id); err != nil {
			return 0, false, fmt.Errorf("spool: %s: corrupt header at offset 0: %w", path, err)
		}
		st, err := f.Stat()
		if err != nil {
			return 0, false, fmt.Errorf("spool: stat %s: %w", path, err)
		}
		return st.Size(), true, nil
	}

	data, err := os.ReadFile(path) //nolint:gosec // our own directory
	if err != nil {
		return 0, false, fmt.Errorf("spool: read %s: %w", path, err)
	}
	end, records := scanFrames(s.crc, data, id)
	if end < len(data) {
		if at, ok := validFrameAfter(s.crc, data, end); ok {
			return 0, false, fmt.Errorf("spool: %s: corrupt data at offset %d (valid record follows at offset %d)", path, end, at)
		}
	}
	if records == 0 {
		// Created (counter already persisted) but no record was ever
		// acknowledged in it.
		if err := os.Remove(path); err != nil {
			return 0, false, fmt.Errorf("spool: remove empty segment: %w", err)
		}
		s.stats.TruncatedBytes += int64(len(data))
		s.log.Warn("spool: removed segment without records", "file", path, "bytes", len(data))
		return 0, false, nil
	}
	if end < len(data) {
		if err := truncateSync(path, int64(end)); err != nil {
			return 0, false, err
		}
		cut := len(data) - end
		s.stats.TruncatedBytes += int64(cut)
		s.log.Warn("spool: cut torn tail", "file", path, "offset", end, "bytes_cut", cut, "records_kept", records)
	}
	return int64(end), true, nil
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0) //nolint:gosec // our own directory
	if err != nil {
		return fmt.Errorf("spool: open %s: %w", path, err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("spool: truncate %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("spool: fsync %s: %w", path, err)
	}
	return nil
}
