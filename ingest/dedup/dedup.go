// Package dedup is the ingest service's event-id de-duplication index.
//
// A key (Key: xxhash64 of type, store and id) is reserved when a request
// carrying it is accepted. Reserved keys stay pending, and never expire,
// until the segment holding them is flushed and its keys are persisted to an
// ids file (Persist); from then on they are kept for the window and expire by
// an injected clock (Expire). Keys of segments still pending in the spool
// are not persisted here: the caller re-reserves them at start-up from the
// spool itself.
//
// Memory: persisted keys live in generations, each an open-addressing hash
// set of uint64 covering window/8 of persist time, so expiry drops a whole set
// in O(1) instead of deleting keys one by one. A set takes 8 bytes per slot at
// most 3/4 full; once a generation is closed it is repacked to that load, so
// the window's keys cost about 10.7 bytes each (the open generation and the
// pending keys 10.7 to 21). BenchmarkReserve reports the measured heap bytes
// per key (a Go map[uint64]struct{} measured 37). Keys are kept at least
// window and at most window + window/8 after they were persisted.
package dedup

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/cespare/xxhash/v2"

	"github.com/storepulse/storepulse/ingest/event"
)

// generations is how many persist-time generations one window spans: the
// expiry granularity is window/generations, and Reserve probes at most
// generations+1 maps for a fresh key.
const generations = 8

const (
	idsSuffix = ".ids"
	tmpSuffix = ".tmp"
	version   = 1
	// file layout: magic | version u32 | stamp i64 (unix ns) | segment u64 |
	// count u64 | keys u64*count | crc32c u32 of everything before it.
	fileHeader = 4 + 4 + 8 + 8 + 8
)

var fileMagic = [4]byte{'S', 'P', 'D', 'I'}

// Key is the de-duplication key of an item: xxhash64 over the type byte, the
// store, a 0 byte and the id.
func Key(t event.Type, store, id string) uint64 {
	var buf [256]byte
	b := append(buf[:0], byte(t))
	b = append(b, store...)
	b = append(b, 0)
	b = append(b, id...)
	return xxhash.Sum64(b)
}

// generation holds the keys persisted during one slot of window/generations.
type generation struct {
	slot      int64 // persist time in units of the generation width
	keys      set
	segs      []uint64 // segments whose ids file was stamped in this slot
	compacted bool
}

// Index is the de-duplication index. Its methods are safe for concurrent use.
type Index struct {
	dir    string
	window time.Duration
	width  int64 // generation width in nanoseconds
	now    func() time.Time
	log    *slog.Logger
	crc    *crc32.Table

	// fileMu serialises Persist and Expire, so an expiry never deletes an ids
	// file that a concurrent Persist has just rewritten. They are also the only
	// writers of gens, so holding fileMu alone is enough to read gens.
	fileMu sync.Mutex

	// writeFault is fault injection for tests (SetWriteFault).
	writeFault func(path string, n int64) error

	mu      sync.Mutex
	pending set              // reserved, not yet persisted: never expire
	gens    []*generation    // by slot, oldest first; written under fileMu and mu
	segSlot map[uint64]int64 // segment -> slot of its current ids file
}

// Open loads every ids file in dir (created if missing) that has not expired
// and deletes the expired ones. window is how long persisted keys are kept,
// now the clock (time.Now if nil), logger may be nil.
func Open(dir string, window time.Duration, now func() time.Time, logger *slog.Logger) (*Index, error) {
	if window <= 0 {
		return nil, fmt.Errorf("dedup: window must be positive, got %s", window)
	}
	if now == nil {
		now = time.Now
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("dedup: create %s: %w", dir, err)
	}
	ix := &Index{
		dir:     dir,
		window:  window,
		width:   max(int64(window)/generations, 1),
		now:     now,
		log:     logger,
		crc:     crc32.MakeTable(crc32.Castagnoli),
		segSlot: make(map[uint64]int64),
	}
	if err := ix.load(); err != nil {
		return nil, err
	}
	return ix, nil
}

func (ix *Index) load() error {
	entries, err := os.ReadDir(ix.dir)
	if err != nil {
		return fmt.Errorf("dedup: read dir: %w", err)
	}
	cutoff := ix.now().UnixNano() - int64(ix.window)
	dirty := false
	loaded, keys, dropped := 0, 0, 0
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(ix.dir, name)
		if strings.HasSuffix(name, tmpSuffix) {
			// An interrupted Persist: its segment is still in the spool.
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("dedup: remove stale %s: %w", path, err)
			}
			dirty = true
			continue
		}
		seg, ok := parseName(name)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		stamp, ks, err := ix.readFile(path, seg)
		if err != nil {
			return err
		}
		slot := stamp / ix.width
		if ix.expired(slot, cutoff) {
			if err := os.Remove(path); err != nil {
				return fmt.Errorf("dedup: remove expired %s: %w", path, err)
			}
			dirty = true
			dropped++
			continue
		}
		g := ix.genLocked(slot)
		for _, k := range ks {
			g.keys.add(k)
		}
		g.segs = append(g.segs, seg)
		ix.segSlot[seg] = slot
		loaded++
		keys += len(ks)
	}
	ix.compactClosedLocked()
	if dirty {
		if err := syncDir(ix.dir); err != nil {
			return err
		}
	}
	ix.log.Info("de-duplication ids loaded", "files", loaded, "keys", keys, "expired_files", dropped)
	return nil
}

// expired reports whether every stamp in slot is older than cutoff.
func (ix *Index) expired(slot, cutoff int64) bool {
	return (slot+1)*ix.width <= cutoff
}

// genLocked returns the generation of slot, creating it in order.
func (ix *Index) genLocked(slot int64) *generation {
	i, found := slices.BinarySearchFunc(ix.gens, slot, func(g *generation, s int64) int {
		switch {
		case g.slot < s:
			return -1
		case g.slot > s:
			return 1
		}
		return 0
	})
	if found {
		return ix.gens[i]
	}
	g := &generation{slot: slot}
	ix.gens = slices.Insert(ix.gens, i, g)
	return g
}

// compactClosedLocked repacks every generation but the newest, which alone
// still receives keys in the normal course.
func (ix *Index) compactClosedLocked() {
	for _, g := range ix.gens[:max(len(ix.gens)-1, 0)] {
		if !g.compacted {
			g.keys.compact()
			g.compacted = true
		}
	}
}

// compactBeforeSlot repacks the generations closed by a Persist into slot.
// The copies are built holding only fileMu (no other writer of gens can run),
// so Reserve is held up only for the swap, not for the rebuild of what may be
// millions of keys.
func (ix *Index) compactBeforeSlot(slot int64) {
	if n := len(ix.gens); n == 0 || ix.gens[n-1].slot >= slot {
		return
	}
	type repl struct {
		g    *generation
		keys set
	}
	var rs []repl
	for _, g := range ix.gens {
		if !g.compacted {
			rs = append(rs, repl{g, g.keys.compacted()})
		}
	}
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, r := range rs {
		r.g.keys = r.keys
		r.g.compacted = true
	}
}

func (ix *Index) seenLocked(k uint64) bool {
	if ix.pending.has(k) {
		return true
	}
	// Newest first: a repeat is most likely recent.
	for i := len(ix.gens) - 1; i >= 0; i-- {
		if ix.gens[i].keys.has(k) {
			return true
		}
	}
	return false
}

// Reserve atomically reserves every unseen key: fresh[i] is true when keys[i]
// was neither pending nor persisted in the window (and is now pending). A key
// repeated inside keys is fresh only at its first position.
func (ix *Index) Reserve(keys []uint64) []bool {
	fresh := make([]bool, len(keys))
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for i, k := range keys {
		if ix.seenLocked(k) {
			continue
		}
		ix.pending.add(k)
		fresh[i] = true
	}
	return fresh
}

// Release undoes reservations of a request whose spool append failed. keys
// must be exactly the keys that request got fresh: releasing a key reserved
// by another request would let a duplicate through. Persisted keys are not
// affected.
func (ix *Index) Release(keys []uint64) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	for _, k := range keys {
		ix.pending.remove(k)
	}
}

// SetWriteFault installs fault injection for tests: f is called before every
// file write of n bytes, and an error it returns is that write's error (a
// simulated ENOSPC through the file layer). Call it before any Persist.
func (ix *Index) SetWriteFault(f func(path string, n int64) error) { ix.writeFault = f }

// Persisted reports whether the keys of segment are in an ids file: its sums
// were written to InfluxDB.
func (ix *Index) Persisted(segment uint64) bool {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	_, ok := ix.segSlot[segment]
	return ok
}

// Persist durably records the keys of a flushed segment in <dir>/<segment>.ids
// (written to a temporary file, fsynced, renamed, directory fsynced), stamped
// with now(); the keys stop being pending and expire a window later. Persisting
// a segment again (a re-flush after a crash) replaces its file and restamps
// its keys, except on a full disk, where a file already holding the same keys
// is kept as it is (so a re-flush needs no new space). On a failed write
// nothing is left behind.
func (ix *Index) Persist(segment uint64, keys []uint64) error {
	ix.fileMu.Lock()
	defer ix.fileMu.Unlock()

	path := filepath.Join(ix.dir, fileName(segment))
	stamp := ix.now().UnixNano()
	err := ix.writeIDs(path, segment, keys, stamp)
	if err != nil && errors.Is(err, syscall.ENOSPC) {
		// A re-flush on a full disk: the file written by the first flush
		// already holds these keys; keep it (and its stamp) rather than need
		// new space to restamp it.
		if old, oldKeys, rerr := ix.readFile(path, segment); rerr == nil && slices.Equal(oldKeys, keys) {
			ix.log.Warn("disk full: kept the existing ids file of a re-flushed segment instead of restamping it",
				"segment", segment)
			return ix.persisted(segment, keys, old)
		}
	}
	if err != nil {
		return err
	}
	return ix.persisted(segment, keys, stamp)
}

// writeIDs writes the ids file of segment atomically.
func (ix *Index) writeIDs(path string, segment uint64, keys []uint64, stamp int64) error {
	buf := make([]byte, 0, fileHeader+8*len(keys)+4)
	buf = append(buf, fileMagic[:]...)
	buf = binary.LittleEndian.AppendUint32(buf, version)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(stamp)) //nolint:gosec // stored bit-exact, read back as int64
	buf = binary.LittleEndian.AppendUint64(buf, segment)
	buf = binary.LittleEndian.AppendUint64(buf, uint64(len(keys)))
	for _, k := range keys {
		buf = binary.LittleEndian.AppendUint64(buf, k)
	}
	buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(buf, ix.crc))

	tmp := path + tmpSuffix
	if ix.writeFault != nil {
		if err := ix.writeFault(tmp, int64(len(buf))); err != nil {
			return fmt.Errorf("dedup: write %s: %w", tmp, err)
		}
	}
	if err := writeFileSync(tmp, buf); err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("dedup: rename %s: %w", tmp, err)
	}
	return syncDir(ix.dir)
}

// persisted moves the keys of segment, now in its ids file stamped stamp,
// from pending to their generation.
func (ix *Index) persisted(segment uint64, keys []uint64, stamp int64) error {
	slot := stamp / ix.width
	ix.compactBeforeSlot(slot)
	ix.mu.Lock()
	defer ix.mu.Unlock()
	g := ix.genLocked(slot)
	_, again := ix.segSlot[segment]
	for _, k := range keys {
		if ix.pending.has(k) {
			ix.pending.remove(k)
		} else if again {
			// A re-persisted key may sit in an older generation; keep one copy.
			for _, o := range ix.gens {
				if o != g {
					o.keys.remove(k)
				}
			}
		}
		g.keys.add(k)
	}
	if prev, ok := ix.segSlot[segment]; !ok || prev != slot {
		g.segs = append(g.segs, segment)
	}
	ix.segSlot[segment] = slot
	return nil
}

// Expire forgets the persisted keys and deletes the ids files of every
// generation older than the window. Pending keys never expire.
func (ix *Index) Expire() error {
	ix.fileMu.Lock()
	defer ix.fileMu.Unlock()

	cutoff := ix.now().UnixNano() - int64(ix.window)
	var files []string
	ix.mu.Lock()
	n := 0
	for n < len(ix.gens) && ix.expired(ix.gens[n].slot, cutoff) {
		g := ix.gens[n]
		for _, seg := range g.segs {
			// Only if the segment was not persisted again in a later slot.
			if ix.segSlot[seg] == g.slot {
				delete(ix.segSlot, seg)
				files = append(files, filepath.Join(ix.dir, fileName(seg)))
			}
		}
		n++
	}
	ix.gens = slices.Delete(ix.gens, 0, n)
	ix.mu.Unlock()

	if len(files) == 0 {
		return nil
	}
	var errs []error
	for _, f := range files {
		// A file left behind is deleted by the next Open, being expired.
		if err := os.Remove(f); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, fmt.Errorf("dedup: remove %s: %w", f, err))
		}
	}
	if err := syncDir(ix.dir); err != nil {
		errs = append(errs, err)
	}
	ix.log.Debug("de-duplication ids expired", "generations", n, "files", len(files))
	return errors.Join(errs...)
}

// Len is the number of keys held, pending and persisted.
func (ix *Index) Len() int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	n := ix.pending.len()
	for _, g := range ix.gens {
		n += g.keys.len()
	}
	return n
}

func fileName(segment uint64) string { return strconv.FormatUint(segment, 10) + idsSuffix }

func parseName(name string) (uint64, bool) {
	base, ok := strings.CutSuffix(name, idsSuffix)
	if !ok || base == "" {
		return 0, false
	}
	n, err := strconv.ParseUint(base, 10, 64)
	return n, err == nil
}

// readFile returns the stamp and keys of an ids file. Files are replaced
// atomically, so damage is not a crash artefact and is reported.
func (ix *Index) readFile(path string, segment uint64) (int64, []uint64, error) {
	b, err := os.ReadFile(path) //nolint:gosec // our own directory
	if err != nil {
		return 0, nil, fmt.Errorf("dedup: read %s: %w", path, err)
	}
	bad := func(why string) error { return fmt.Errorf("dedup: ids file %s is corrupt: %s", path, why) }
	if len(b) < fileHeader+4 {
		return 0, nil, bad("short")
	}
	body, sum := b[:len(b)-4], binary.LittleEndian.Uint32(b[len(b)-4:])
	if crc32.Checksum(body, ix.crc) != sum {
		return 0, nil, bad("checksum mismatch")
	}
	if [4]byte(body[:4]) != fileMagic {
		return 0, nil, bad("bad magic")
	}
	if v := binary.LittleEndian.Uint32(body[4:]); v != version {
		return 0, nil, bad(fmt.Sprintf("unsupported version %d", v))
	}
	stamp := int64(binary.LittleEndian.Uint64(body[8:])) //nolint:gosec // written from an int64
	if s := binary.LittleEndian.Uint64(body[16:]); s != segment {
		return 0, nil, bad(fmt.Sprintf("names segment %d", s))
	}
	count := binary.LittleEndian.Uint64(body[24:])
	rest := body[fileHeader:]
	if count != uint64(len(rest)/8) || len(rest)%8 != 0 {
		return 0, nil, bad(fmt.Sprintf("%d keys declared, %d bytes present", count, len(rest)))
	}
	keys := make([]uint64, 0, count)
	for i := 0; i < len(rest); i += 8 {
		keys = append(keys, binary.LittleEndian.Uint64(rest[i:]))
	}
	return stamp, keys, nil
}

// writeFileSync writes and fsyncs path; on failure it removes it, so a full
// disk is not left fuller by a partial file.
func writeFileSync(path string, data []byte) (err error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600) //nolint:gosec // our own directory
	if err != nil {
		return fmt.Errorf("dedup: create %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			_ = os.Remove(path)
		}
	}()
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("dedup: write %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("dedup: fsync %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("dedup: close %s: %w", path, err)
	}
	return nil
}

// syncDir makes creations, renames and removals in dir durable.
func syncDir(dir string) error {
	d, err := os.Open(dir) //nolint:gosec // our own directory
	if err != nil {
		return fmt.Errorf("dedup: open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("dedup: fsync dir %s: %w", dir, err)
	}
	return nil
}
