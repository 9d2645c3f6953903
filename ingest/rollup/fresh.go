package rollup

import (
	"context"
	"hash/maphash"
	"math"
	"time"
)

// Sketches that were never stored need not be read back.
//
// Merging a segment's ids reads the stored sketch of every key that is
// neither pending nor cached. Most of those reads find nothing: a new hour or
// day, or a backfill into a new ingester. Prepare asks InfluxDB once, before
// the first merge, for the latest window start of this ingester's stored
// sketches (over freshLookback, so the query stays small on InfluxDB 3);
// every key that starts after it had nothing stored before this process. Such
// a key holds only what this process merged into it, which stays in memory
// (pending, then cached) until the cache evicts it; from then on it is read
// back like any other. So the set of evicted keys is kept (as hashes: a
// collision only causes a needless read), and when it grows past maxEvicted
// the bound moves up to the latest start among them and the set is cleared.

// LatestSketches is a SketchSource that can tell where this ingester's
// stored sketches end.
type LatestSketches interface {
	// Latest is the largest window start (unix ns) of this ingester's
	// sketches stored at or after since, detailed and store-level; found is
	// false when there are none.
	Latest(ctx context.Context, since time.Time) (start int64, found bool, err error)
}

// How far back Prepare looks for stored sketches: freshLookback, or
// freshLookbackShort when InfluxDB refuses that (8 days of sketches can
// exceed InfluxDB 3 Core's default file limit; 2 hours cannot).
const (
	freshLookback      = 8 * 24 * time.Hour
	freshLookbackShort = 2 * time.Hour
)

// maxEvicted bounds the evicted keys remembered (about 40 bytes each).
const maxEvicted = 1 << 20

// freshness says which keys were not stored before this process.
type freshness struct {
	prepared bool
	// after: keys starting after it had nothing stored before this process
	// (math.MaxInt64: none known).
	after int64
	// evicted: hashes of keys starting after `after` that left the cache;
	// latest is the largest start among them.
	evicted map[uint64]struct{}
	latest  int64
	limit   int // maxEvicted (tests lower it)
	seed    maphash.Seed
}

func newFreshness() freshness {
	return freshness{after: math.MaxInt64, evicted: map[uint64]struct{}{}, limit: maxEvicted, seed: maphash.MakeSeed()}
}

// unstored reports whether k is known to have nothing stored: it starts
// after the bound and never left the cache.
func (f *freshness) unstored(k SketchKey) bool {
	if k.Start <= f.after {
		return false
	}
	_, gone := f.evicted[maphash.Comparable(f.seed, k)]
	return !gone
}

// evict records that k left the cache.
func (f *freshness) evict(k SketchKey) {
	if k.Start <= f.after {
		return
	}
	f.evicted[maphash.Comparable(f.seed, k)] = struct{}{}
	f.latest = max(f.latest, k.Start)
	if len(f.evicted) > f.limit {
		f.after = f.latest
		clear(f.evicted)
	}
}

// Prepare finds, once, which sketch keys had nothing stored before this
// process (see above). Call it before the first segment is merged; without
// it, or when the SketchSource cannot tell (LatestSketches), every key not
// in memory is read back. A failed lookup is logged and leaves it so: it
// costs reads, never correctness.
func (r *Rollup) Prepare(ctx context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fresh.prepared {
		return
	}
	r.fresh.prepared = true
	ls, ok := r.src.(LatestSketches)
	if !ok {
		return
	}
	var (
		since  time.Time
		latest int64
		found  bool
		err    error
	)
	for _, lb := range []time.Duration{freshLookback, freshLookbackShort} {
		since = r.clock().Add(-lb)
		if latest, found, err = ls.Latest(ctx, since); err == nil {
			break
		}
		r.log.Warn("rollup: could not look up the latest stored sketch", "lookback", lb, "err", err)
	}
	if err != nil {
		r.log.Warn("rollup: every sketch is read back before it is merged")
		return
	}
	after := since.UnixNano() - 1
	if found {
		after = max(after, latest)
	}
	r.fresh.after = after
	r.log.Info("rollup: sketches starting after this were not stored before; they are not read back",
		"after", time.Unix(0, after).UTC().Format(time.RFC3339Nano))
}
