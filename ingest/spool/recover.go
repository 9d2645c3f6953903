package spool

import (
	"errors"
	"fmt"
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
		if seg, ok := strings.CutSuffix(name, salvageExt); ok {
			// A Quarantine interrupted by a crash: if the damaged original was
			// already moved aside, this file holds its readable records.
			id, ok := parseSegmentName(seg)
			if !ok {
				continue
			}
			path := filepath.Join(dir, name)
			if _, err := os.Stat(filepath.Join(dir, seg)); err == nil {
				err = os.Remove(path)
				if err != nil {
					return fmt.Errorf("spool: remove stale %s: %w", path, err)
				}
			} else {
				if err := os.Rename(path, filepath.Join(dir, seg)); err != nil {
					return fmt.Errorf("spool: finish quarantine of %s: %w", seg, err)
				}
				ids = append(ids, id)
			}
			dirty = true
			continue
		}
		if id, ok := parseSegmentName(name); ok && e.Type().IsRegular() {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)

	next, err := s.readCounter()
	if err != nil {
		return err
	}
	commit, haveCommit, err := s.readCommit()
	if err != nil {
		return err
	}
	// New commit records must outrank the old ones in the file.
	s.commitSeq = commit.seq
	for i, id := range ids {
		next = max(next, id+1)
		// How much of the segment was acknowledged: all of it unless it is the
		// last one, which the commit file describes.
		acked := int64(-1)
		if i == len(ids)-1 {
			switch {
			case !haveCommit || commit.seg < id:
				// Created, but no record of it acknowledged (or a directory
				// written before the commit file existed).
				acked = headerSize
			case commit.seg == id:
				acked = commit.length
			}
		}
		size, keep, err := s.recoverSegment(id, acked)
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

// readCommit returns the newest commit record, if any.
func (s *Spool) readCommit() (commitRecord, bool, error) {
	b, err := os.ReadFile(filepath.Join(s.opts.Dir, commitName))
	if errors.Is(err, os.ErrNotExist) {
		return commitRecord{}, false, nil
	}
	if err != nil {
		return commitRecord{}, false, fmt.Errorf("spool: read commit file: %w", err)
	}
	r, ok := parseCommitFile(s.crc, b)
	return r, ok, nil
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

// recoverSegment checks one segment; acked is its acknowledged length, or -1
// when all of it was acknowledged (a segment sealed before the last one). It
// is cut only when the bytes past its valid frames lie past the acknowledged
// length: a torn write that nobody was told succeeded. Those bytes are moved to
// the quarantine directory first. Damage inside the acknowledged length is
// left for Read to report and Quarantine to move aside. keep is false when the
// segment held no record and left the spool.
func (s *Spool) recoverSegment(id SegmentID, acked int64) (size int64, keep bool, err error) {
	path := filepath.Join(s.opts.Dir, segmentName(id))
	if acked < 0 {
		st, err := os.Stat(path)
		if err != nil {
			return 0, false, fmt.Errorf("spool: stat %s: %w", path, err)
		}
		return st.Size(), true, nil
	}

	data, err := os.ReadFile(path) //nolint:gosec // our own directory
	if err != nil {
		return 0, false, fmt.Errorf("spool: read %s: %w", path, err)
	}
	if salvaged(data, id) {
		acked = int64(len(data))
	}
	end, records := scanFrames(s.crc, data, id)
	damagedAcked := int64(end) < acked
	if !damagedAcked && end < len(data) {
		if _, ok := validFrameAfter(s.crc, data, end); ok {
			// A valid record behind the damage: not a torn write.
			damagedAcked = true
		}
	}
	if damagedAcked {
		s.log.Error("spool: acknowledged data is damaged; the segment stays pending and is quarantined when read",
			"file", path, "offset", end, "acknowledged_bytes", acked, "file_bytes", len(data))
		// The size counted is what was acknowledged, so that Read and
		// Quarantine see bytes missing from a file cut short.
		return max(int64(len(data)), acked), true, nil
	}
	if end == len(data) && records > 0 {
		return int64(end), true, nil
	}
	if records == 0 {
		// Created (counter already persisted) but no record of it was ever
		// acknowledged.
		if len(data) > headerSize {
			if _, err := s.quarantineTail(id, path, data, end); err != nil {
				return 0, false, err
			}
		}
		if err := os.Remove(path); err != nil {
			return 0, false, fmt.Errorf("spool: remove empty segment: %w", err)
		}
		s.stats.TruncatedBytes += int64(len(data))
		s.log.Warn("spool: removed segment without acknowledged records", "file", path, "bytes", len(data))
		return 0, false, nil
	}
	qpath, err := s.quarantineTail(id, path, data, end)
	if err != nil {
		return 0, false, err
	}
	if err := truncateSync(path, int64(end)); err != nil {
		return 0, false, err
	}
	cut := len(data) - end
	s.stats.TruncatedBytes += int64(cut)
	s.log.Warn("spool: cut a torn write past the acknowledged length (no acknowledged record lost); the bytes were moved aside",
		"file", path, "offset", end, "bytes_cut", cut, "records_kept", records, "quarantine_file", qpath)
	return int64(end), true, nil
}

// quarantineTail copies data[from:] of a segment to the quarantine directory
// with its report, before the caller cuts it.
func (s *Spool) quarantineTail(id SegmentID, path string, data []byte, from int) (string, error) {
	qpath, err := s.quarantinePath(fmt.Sprintf("%s.torn-at-%d", segmentName(id), from))
	if err != nil {
		return "", err
	}
	if err := s.writeUsingReserve(qpath, data[from:]); err != nil {
		_ = os.Remove(qpath)
		return "", fmt.Errorf("spool: move torn tail of %s aside (nothing was cut): %w", path, err)
	}
	if err := syncDir(s.opts.QuarantineDir); err != nil {
		return "", err
	}
	s.writeReport(QuarantineReport{Segment: uint64(id), Kind: "torn_tail",
		Reason: fmt.Sprintf("bytes past the acknowledged length of %s at offset %d are not a valid record: a write interrupted by a crash, never acknowledged", path, from),
		File:   qpath, OriginalBytes: int64(len(data)), Damaged: []Range{{0, int64(len(data) - from)}}, DamagedBytes: int64(len(data) - from),
		Time: s.opts.Now().UTC()})
	return qpath, nil
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
