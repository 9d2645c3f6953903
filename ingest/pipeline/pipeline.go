// Package pipeline wires the ingest stages into one data path:
//
//	Accept: de-duplicate -> persist (spool, fsync) -> acknowledge
//	Run:    seal segments -> roll up each sealed segment -> write to InfluxDB
//	        -> keep its ids for de-duplication -> remove it from the spool
//
// The next segment is rolled up while the one before it is written.
//
// A segment leaves the spool only after InfluxDB accepted every line rolled up
// from it, so an InfluxDB outage or a crash at any point loses nothing; the
// rollup's points are idempotent (see docs/design.md), so re-processing a
// segment never counts anything twice.
//
// Damage and a full disk do not stop the flow: a segment whose data fails its
// checks is quarantined by the spool (the damaged bytes moved aside, its
// readable records kept and flushed) while later segments go on; when the
// disk is too full to keep a flushed segment's de-duplication ids, awaiting
// segments are removed first and then the spool's drain reserve is freed, so
// draining never waits for space that only draining can free.
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/ingest/server"
)

// Spool is the durable segment store (ingest/spool).
type Spool interface {
	Append(ctx context.Context, rec []byte) (uint64, error)
	Seal() (uint64, bool, error)
	Sealed() []uint64
	Read(id uint64, fn func(rec []byte) error) error
	Remove(id uint64) error
	Bytes() int64
	IsFull(err error) bool
	// IsCorrupt reports whether a Read error means damaged data.
	IsCorrupt(err error) bool
	// Quarantine moves a damaged segment aside, keeping its readable
	// records under the same id; it returns where the damaged bytes went.
	Quarantine(id uint64, reason string) (string, error)
	// Quarantined lists what the quarantine directory holds.
	Quarantined() ([]string, error)
	// ReleaseReserve frees the drain reserve for the writes of a flush.
	ReleaseReserve() (bool, error)
	// Health reports why the spool cannot accept writes, or nil.
	Health() error
}

// Dedup is the event-id index (ingest/dedup).
type Dedup interface {
	Reserve(keys []uint64) []bool
	Release(keys []uint64)
	Persist(segment uint64, keys []uint64) error
	Persisted(segment uint64) bool
	Expire() error
}

// Rollup turns a segment's batches into line protocol (ingest/rollup). A
// segment is fed batch by batch so its decoded events need not all be in
// memory at once. Its sums are written per segment; its distinct-count
// sketches are merged into pending sketches that are written every
// SketchInterval, since a sketch is rewritten whole each time it is written.
type Rollup interface {
	Begin(segment uint64) RollupSegment
	PendingSketchLines() (lines []string, commit func())
}

// RollupSegment accumulates one segment.
type RollupSegment interface {
	Add(b *event.Batch)
	SumLines() ([]string, error)
	MergeSketches(ctx context.Context) error
}

// Consolidator keeps the consolidated (hourly and daily) series
// (ingest/consolidate). The flusher is its only caller: nothing is written
// to the minute series while it reads them.
type Consolidator interface {
	// Load reads or starts the watermarks; FlushSealed calls it before it
	// writes anything (where the store-level sketches start depends on
	// what was written before this process). Loaded once, it does nothing.
	Load(ctx context.Context) error
	// Written records the hours a flushed segment wrote minute points to,
	// each with the stores whose series it wrote there.
	Written(hours map[int64][]string)
	// Settle consolidates again the hours recorded by Written that were
	// already consolidated; the segments that reported them leave the
	// spool only after it succeeded, or after Defer did.
	Settle(ctx context.Context) error
	// Defer keeps the hours recorded by Written on disk for a later Settle
	// (a restart reads them back), so the segments may leave the spool
	// first; on error they wait for Settle.
	Defer() error
	// Pending reports whether late hours wait for Settle (also ones a
	// Defer kept before a restart).
	Pending() bool
	// Tick consolidates closed hours, for at most budget.
	Tick(ctx context.Context, budget time.Duration) (more bool, err error)
}

// preparer is a Rollup that finds, before the first segment, which
// sketches it need not read back (rollup.Rollup.Prepare).
type preparer interface{ Prepare(ctx context.Context) }

// sketchCounter is a Rollup that tells how many sketches it holds pending.
type sketchCounter interface{ PendingSketches() int }

// hourLister is a RollupSegment that knows the hours of its sums and
// their stores.
type hourLister interface{ HourStores() map[int64][]string }

// hourSummer is a RollupSegment that gives the hourly sums of its minute
// points (rollup.Segment.HourSums), and sumAdder a Consolidator that keeps
// them (consolidate.Consolidator.Add).
type (
	hourSummer interface {
		HourSums(fn func(meas string, hour int64, tags [][2]string, fields map[string]float64))
	}
	sumAdder interface {
		Add(meas string, hour int64, tags [][2]string, fields map[string]float64)
	}
)

// Writer writes lines to InfluxDB, retrying until ctx ends (ingest/influx).
type Writer interface {
	Write(ctx context.Context, lines []string) error
	Ready(ctx context.Context) error
}

// errSegmentGone: a quarantined segment had no readable record left.
var errSegmentGone = errors.New("pipeline: segment quarantined whole")

// KeyFunc is the de-duplication key of an item (dedup.Key).
type KeyFunc func(t event.Type, store, id string) uint64

// Options tune the pipeline.
type Options struct {
	SealInterval   time.Duration // how often the active segment is sealed
	MaxSpoolBytes  int64         // readiness fails at or above this
	FlushBackoff   time.Duration // first wait after a failed flush (doubles, capped at 30s)
	ExpireInterval time.Duration // how often de-duplication ids are expired
	// SketchInterval is how often pending sketches are written; segments whose
	// sums are written wait in the spool until then (default 30s). They are
	// also written as soon as a Seal finds nothing to seal.
	SketchInterval time.Duration
	// MaxAwaiting writes the sketches early when this many segments wait (default 64).
	MaxAwaiting int
	// MaxPendingSketches writes the sketches early when the rollup holds
	// this many of them (default 8192, about 16 KB each at most; the ingest
	// sets half its sketch cache, whose sketches they are): a history
	// import's segments each touch thousands of old hours and days, whose
	// sketches would otherwise pile up in memory for SketchInterval and
	// push the heap past memory_limit (the garbage collector then runs
	// without pause).
	MaxPendingSketches int
	// Consolidator, when set, is told the hours each segment wrote, settles
	// them before the segments are removed (or, while more sealed segments
	// wait, defers them to when the flusher has caught up, for at most
	// MaxLateDefer) and consolidates closed hours after each flush.
	Consolidator Consolidator
	// MaxLateDefer bounds how long late hours wait for the flusher to catch
	// up before they are consolidated again anyway (default 5m).
	MaxLateDefer time.Duration
}

// Pipeline is the ingest data path.
type Pipeline struct {
	opts   Options
	spool  Spool
	dedup  Dedup
	rollup Rollup
	db     Writer
	key    KeyFunc
	log    *slog.Logger
	m      *metrics

	wake    chan struct{}
	bufPool sync.Pool

	mu       sync.Mutex
	sealedAt map[uint64]time.Time // when each pending segment was sealed, for the lag metric
	started  time.Time
	blocked  map[uint64]string // damaged segments not quarantined yet (why), skipped by flushes

	// Owned by the flusher: segments whose sums are in InfluxDB and whose
	// sketches are pending, oldest first.
	awaiting    []uint64
	awaitingSet map[uint64]bool
	// awaitingSince: when the oldest awaiting segment began to wait.
	awaitingSince time.Time
	// quiet: the last Seal found the active segment empty, so nothing
	// arrived for a seal interval: the load paused (see FlushSealed).
	quiet atomic.Bool
	// rolling: the next segment, being rolled up while the flusher writes
	// the one before it (nil: none). flushSketches waits for it first.
	rolling ahead
	// summed: segments whose hourly sums the consolidator was given, until
	// they leave the spool (a segment flushed again after a failed step
	// must not be added twice).
	summed map[uint64]bool
	// removeSoon asks for the awaiting segments to be removed at the end of
	// this flush: the drain reserve was used, and new writes wait for it.
	removeSoon bool
	// deferredSince: late hours were deferred (Consolidator.Defer) and not
	// settled since then; zero when none are.
	deferredSince time.Time
}

// New builds a pipeline; call Recover before serving and Run to flush.
func New(opts Options, sp Spool, dd Dedup, ru Rollup, db Writer, key KeyFunc, log *slog.Logger, reg prometheus.Registerer) *Pipeline {
	if opts.FlushBackoff <= 0 {
		opts.FlushBackoff = 200 * time.Millisecond
	}
	if opts.ExpireInterval <= 0 {
		opts.ExpireInterval = time.Minute
	}
	if opts.SketchInterval <= 0 {
		opts.SketchInterval = 30 * time.Second
	}
	if opts.MaxPendingSketches <= 0 {
		opts.MaxPendingSketches = 8192
	}
	if opts.MaxAwaiting <= 0 {
		opts.MaxAwaiting = 64
	}
	if opts.MaxLateDefer <= 0 {
		opts.MaxLateDefer = 5 * time.Minute
	}
	p := &Pipeline{opts: opts, spool: sp, dedup: dd, rollup: ru, db: db, key: key, log: log,
		wake: make(chan struct{}, 1), sealedAt: map[uint64]time.Time{}, started: time.Now(), blocked: map[uint64]string{},
		awaitingSet: map[uint64]bool{}, summed: map[uint64]bool{}}
	p.bufPool.New = func() any { b := make([]byte, 0, 64<<10); return &b }
	p.m = newMetrics(reg, p)
	if c := opts.Consolidator; c != nil && c.Pending() {
		// Late hours a Defer kept before a restart: consolidated again at
		// the end of the first flush, data or not.
		p.deferredSince = time.Now()
		p.m.lateDeferred.Set(1)
	}
	return p
}

// keys appends the de-duplication keys of b's items; items without an id
// (line protocol points) get no key and are marked by -1 in idx.
func (p *Pipeline) keys(b *event.Batch, dst []uint64, idx []int) ([]uint64, []int) {
	for i := range b.Events {
		e := &b.Events[i]
		dst = append(dst, p.key(e.Type, e.Store, e.ID))
		idx = append(idx, len(dst)-1)
	}
	for i := range b.Points {
		pt := &b.Points[i]
		if pt.ID == "" {
			idx = append(idx, -1)
			continue
		}
		dst = append(dst, p.key(event.TypeUnknown, pointStore(pt), pt.Measurement+"\x00"+pt.ID))
		idx = append(idx, len(dst)-1)
	}
	return dst, idx
}

func pointStore(pt *event.Point) string {
	for _, t := range pt.Tags {
		if t.Key == "store" {
			return t.Value
		}
	}
	return ""
}

// Recover re-reserves the ids of every segment still in the spool, so a
// request retried after a crash is recognised as a duplicate. A damaged
// segment is quarantined (its readable records kept) rather than stopping the
// start; one that cannot be quarantined yet is blocked, reported by Ready and
// retried by the flusher.
func (p *Pipeline) Recover() error {
	for _, id := range p.spool.Sealed() {
		p.markSealed(id, time.Now())
		var keys []uint64
		err := p.readSegment(id, func(rec []byte) error {
			b, err := event.DecodeBatch(rec)
			if err != nil {
				return err
			}
			keys, _ = p.keys(&b, keys, nil)
			return nil
		}, func() { keys = keys[:0] })
		var blocked *blockedError
		if errors.As(err, &blocked) {
			// Reserve what was readable: those ids are still pending.
			p.dedup.Reserve(keys)
			continue
		}
		if errors.Is(err, errSegmentGone) {
			continue
		}
		if err != nil {
			return fmt.Errorf("pipeline: recover segment %d: %w", id, err)
		}
		p.dedup.Reserve(keys)
	}
	return nil
}

// blockedError is a damaged segment that could not be quarantined: the
// flusher skips it and tries again later.
type blockedError struct {
	id  uint64
	err error
}

func (e *blockedError) Error() string {
	return fmt.Sprintf("segment %d is damaged and could not be quarantined yet: %v", e.id, e.err)
}
func (e *blockedError) Unwrap() error { return e.err }

// readSegment reads segment id with fn. If its data is damaged, the spool
// quarantines it (ERROR log, metrics) and the salvaged segment is read again
// from the start, after reset; a segment with nothing readable left is gone
// (errSegmentGone). A quarantine that fails blocks the segment (blockedError).
func (p *Pipeline) readSegment(id uint64, fn func(rec []byte) error, reset func()) error {
	err := p.spool.Read(id, fn)
	if err == nil || !p.spool.IsCorrupt(err) {
		return err
	}
	reason := err.Error()
	where, qerr := p.spool.Quarantine(id, reason)
	if qerr != nil {
		p.m.flushErrors.WithLabelValues("quarantine").Inc()
		p.mu.Lock()
		p.blocked[id] = fmt.Sprintf("%v (quarantine failed: %v)", reason, qerr)
		p.mu.Unlock()
		p.log.Error("damaged spool segment could not be quarantined; it is skipped and retried, later segments flow",
			"segment", id, "damage", reason, "err", qerr)
		return &blockedError{id: id, err: errors.Join(err, qerr)}
	}
	p.m.quarantined.Inc()
	p.mu.Lock()
	delete(p.blocked, id)
	p.mu.Unlock()
	p.log.Error("damaged spool segment quarantined; its readable records are delivered, the damaged bytes are kept aside",
		"segment", id, "quarantine_file", where, "damage", reason, "see", "docs/operations.md")
	reset()
	if !slices.Contains(p.spool.Sealed(), id) {
		return errSegmentGone
	}
	return p.spool.Read(id, fn)
}

// Accept de-duplicates b and makes what is new durable. It returns only once
// the spool has fsynced the record: the caller may then acknowledge.
func (p *Pipeline) Accept(ctx context.Context, b *event.Batch) (server.Result, error) {
	n := b.Len()
	keys, idx := p.keys(b, make([]uint64, 0, n), make([]int, 0, n))
	fresh := p.dedup.Reserve(keys)
	dups := 0
	for _, f := range fresh {
		if !f {
			dups++
		}
	}
	kept := b
	var reserved []uint64
	if dups > 0 {
		kept = &event.Batch{}
		for i := range b.Events {
			if fresh[idx[i]] {
				kept.Events = append(kept.Events, b.Events[i])
				reserved = append(reserved, keys[idx[i]])
			}
		}
		for i := range b.Points {
			k := idx[len(b.Events)+i]
			if k < 0 || fresh[k] {
				kept.Points = append(kept.Points, b.Points[i])
				if k >= 0 {
					reserved = append(reserved, keys[k])
				}
			}
		}
	} else {
		reserved = keys
	}
	if kept.Len() == 0 {
		return server.Result{Duplicates: dups}, nil
	}
	bufp := p.bufPool.Get().(*[]byte)
	rec := event.AppendBatch((*bufp)[:0], kept)
	// Once the record is written it must be acknowledged or retried as a
	// duplicate, never released: so the append ignores the client's cancel.
	_, err := p.spool.Append(context.WithoutCancel(ctx), rec)
	*bufp = rec
	p.bufPool.Put(bufp)
	if err != nil {
		p.dedup.Release(reserved)
		if p.spool.IsFull(err) {
			return server.Result{}, fmt.Errorf("%w: %w", server.ErrSpoolFull, err)
		}
		return server.Result{}, fmt.Errorf("pipeline: persist: %w", err)
	}
	return server.Result{Accepted: kept.Len(), Duplicates: dups}, nil
}

// Run seals and flushes segments until ctx ends.
func (p *Pipeline) Run(ctx context.Context) error {
	seal := time.NewTicker(p.opts.SealInterval)
	defer seal.Stop()
	expire := time.NewTicker(p.opts.ExpireInterval)
	defer expire.Stop()
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.flushLoop(ctx)
	}()
	for {
		select {
		case <-ctx.Done():
			<-done
			return nil
		case <-seal.C:
			if err := p.Seal(); err != nil {
				p.log.Error("seal segment", "err", err)
			}
		case <-expire.C:
			if err := p.dedup.Expire(); err != nil {
				p.log.Error("expire de-duplication ids", "err", err)
			}
		}
	}
}

// Seal closes the active segment (if it has records) and wakes the flusher.
func (p *Pipeline) Seal() error {
	id, ok, err := p.spool.Seal()
	if err != nil {
		return fmt.Errorf("pipeline: seal: %w", err)
	}
	p.quiet.Store(!ok)
	if ok {
		p.markSealed(id, time.Now())
	}
	select {
	case p.wake <- struct{}{}:
	default:
	}
	return nil
}

func (p *Pipeline) markSealed(id uint64, t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, ok := p.sealedAt[id]; !ok {
		p.sealedAt[id] = t
	}
}

func (p *Pipeline) flushLoop(ctx context.Context) {
	backoff := p.opts.FlushBackoff
	for ctx.Err() == nil {
		err := p.FlushSealed(ctx)
		switch {
		case err == nil:
			backoff = p.opts.FlushBackoff
			select {
			case <-ctx.Done():
			case <-p.wake:
			case <-time.After(p.opts.SealInterval):
			}
		case ctx.Err() != nil:
			return
		default:
			p.log.Error("flush failed; the segment stays in the spool and is retried", "err", err, "retry_in", backoff)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 30*time.Second)
		}
	}
}

// FlushSealed processes every sealed segment, oldest first, and stops at the
// first failure (the failed segment stays pending). Pending sketches are
// written when SketchInterval has passed, MaxAwaiting segments wait or the
// rollup holds MaxPendingSketches.
func (p *Pipeline) FlushSealed(ctx context.Context) error {
	if c := p.opts.Consolidator; c != nil {
		if err := c.Load(ctx); err != nil {
			p.m.flushErrors.WithLabelValues("consolidate").Inc()
			return fmt.Errorf("pipeline: consolidate: %w", err)
		}
	}
	if pr, ok := p.rollup.(preparer); ok {
		pr.Prepare(ctx)
	}
	todo := p.toFlush(nil)
	// Each segment is rolled up while the one before it is written: the
	// rollup's CPU and InfluxDB's work overlap. Nothing else runs while a
	// segment is rolled up ahead (see rollAhead). Segments sealed meanwhile
	// join the list for up to SketchInterval (what follows the loop must
	// still run under a load that never pauses), so the last one of a load
	// is rolled up ahead too, and the late hours are not consolidated again
	// before it (settle, below).
	p.rolling = p.rollAhead(ctx, todo, 0)
	joinUntil := time.Now().Add(p.opts.SketchInterval)
	next := func(i int) ahead {
		if i == len(todo) && time.Now().Before(joinUntil) {
			todo = p.toFlush(todo)
		}
		return p.rollAhead(ctx, todo, i)
	}
	for i := 0; i < len(todo); i++ {
		r := <-p.rolling
		p.rolling = next(i + 1)
		err := p.finish(ctx, r)
		var blocked *blockedError
		isBlocked := errors.As(err, &blocked)
		if p.rolling == nil && (err == nil || isBlocked) {
			// Sealed while this one was written.
			p.rolling = next(i + 1)
		}
		if isBlocked {
			// Only this segment is stuck: the rest flows.
			continue
		}
		if err == nil && (len(p.awaiting) >= p.opts.MaxAwaiting || p.pendingSketches() >= p.opts.MaxPendingSketches) {
			err = p.flushSketches(ctx, i < len(todo)-1)
		}
		if err != nil {
			// The segment rolled up ahead is rolled up again next time
			// (merging its ids again changes nothing).
			p.rolling.wait()
			p.rolling = nil
			return err
		}
	}
	// Quiet: nothing arrived for a seal interval (the load paused) and the
	// spool sealed nothing more meanwhile (it seals full segments itself),
	// so what waits is written now rather than at the end of SketchInterval.
	quiet := p.quiet.Load() && !p.unflushed()
	if len(p.awaiting) > 0 && (p.removeSoon || quiet || time.Since(p.awaitingSince) >= p.opts.SketchInterval) {
		if err := p.flushSketches(ctx, false); err != nil {
			return err
		}
	}
	if !p.deferredSince.IsZero() {
		// Caught up: the late hours deferred while the backlog lasted are
		// consolidated again once.
		if err := p.settle(ctx); err != nil {
			return err
		}
	}
	if c := p.opts.Consolidator; c != nil {
		if _, err := c.Tick(ctx, consolidateBudget); err != nil {
			p.m.flushErrors.WithLabelValues("consolidate").Inc()
			return fmt.Errorf("pipeline: consolidate: %w", err)
		}
	}
	return nil
}

// toFlush is todo followed by the sealed segments after its last one that
// are not yet waiting for their sketches: on the first call (todo nil)
// every such segment, damaged ones included (they are retried once per
// FlushSealed).
func (p *Pipeline) toFlush(todo []uint64) []uint64 {
	for _, id := range p.spool.Sealed() {
		if p.awaitingSet[id] || (len(todo) > 0 && id <= todo[len(todo)-1]) {
			continue
		}
		todo = append(todo, id)
	}
	return todo
}

// unflushed reports whether a sealed segment waits to be flushed (damaged
// ones that could not be quarantined yet aside).
func (p *Pipeline) unflushed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, id := range p.spool.Sealed() {
		if !p.awaitingSet[id] && p.blocked[id] == "" {
			return true
		}
	}
	return false
}

// consolidateBudget bounds the time one flush spends consolidating closed
// hours (a catch-up over a long history goes on at the next flush).
const consolidateBudget = 2 * time.Second

// written tells the consolidator the hours a segment wrote to.
func (p *Pipeline) written(seg RollupSegment) {
	if c := p.opts.Consolidator; c != nil {
		if h, ok := seg.(hourLister); ok {
			c.Written(h.HourStores())
		}
	}
}

// addSums gives the consolidator the hourly sums of a segment whose minute
// points InfluxDB took, once per segment.
func (p *Pipeline) addSums(id uint64, seg RollupSegment) {
	a, ok := p.opts.Consolidator.(sumAdder)
	h, ok2 := seg.(hourSummer)
	if !ok || !ok2 || p.summed[id] {
		return
	}
	h.HourSums(a.Add)
	p.summed[id] = true
}

// pendingSketches is how many sketches the rollup holds (0 when it cannot
// tell).
func (p *Pipeline) pendingSketches() int {
	if c, ok := p.rollup.(sketchCounter); ok {
		return c.PendingSketches()
	}
	return 0
}

// flushSketches writes every pending sketch, then removes the segments that
// waited for it. A crash before that leaves them in the spool: replaying
// rewrites the same sums and merges the same ids again, changing nothing.
// backlog: more sealed segments wait to be flushed, so late hours are
// deferred rather than consolidated again now (see settleLate).
func (p *Pipeline) flushSketches(ctx context.Context, backlog bool) error {
	// A segment rolled up ahead merges into the pending sketches: it must
	// not merge between encoding them and forgetting them.
	p.rolling = p.rolling.wait()
	lines, commit := p.rollup.PendingSketchLines()
	// The late hours are consolidated while InfluxDB takes the sketches:
	// neither reads what the other writes, and the segments leave only
	// once both are done.
	written := make(chan error, 1)
	go func() {
		if len(lines) == 0 {
			written <- nil
			return
		}
		written <- p.db.Write(ctx, lines)
	}()
	settled := p.settleLate(ctx, backlog)
	if err := <-written; err != nil {
		p.m.flushErrors.WithLabelValues("write_sketches").Inc()
		return errors.Join(fmt.Errorf("pipeline: write %d sketches: %w", len(lines), err), settled)
	}
	commit()
	p.removeSoon = false
	p.m.lines.Add(float64(len(lines)))
	if settled != nil {
		return settled
	}
	for len(p.awaiting) > 0 {
		id := p.awaiting[0]
		if err := p.spool.Remove(id); err != nil {
			p.m.flushErrors.WithLabelValues("remove").Inc()
			return fmt.Errorf("pipeline: remove segment %d: %w", id, err)
		}
		p.awaiting = p.awaiting[1:]
		delete(p.awaitingSet, id)
		delete(p.summed, id)
		p.mu.Lock()
		delete(p.sealedAt, id)
		p.mu.Unlock()
		p.m.flushed.Inc()
	}
	return nil
}

// settleLate makes the late hours of the awaiting segments safe before the
// segments go. Late minute points in consolidated hours need their hours
// and days consolidated again; a crash before that must not lose the list
// of them. Normally they are consolidated again right away (a crash before
// that replays the segments, which report the same hours again). While a
// backlog lasts (a backfill or a history import, whose every segment
// touches the same past hours), they are instead kept on disk
// (Consolidator.Defer) and consolidated again once the flusher has caught
// up, or after MaxLateDefer: once, instead of at every sketch flush.
func (p *Pipeline) settleLate(ctx context.Context, backlog bool) error {
	c := p.opts.Consolidator
	if c == nil || len(p.awaiting) == 0 {
		return nil
	}
	if backlog && (p.deferredSince.IsZero() || time.Since(p.deferredSince) < p.opts.MaxLateDefer) {
		err := c.Defer()
		if err == nil {
			if p.deferredSince.IsZero() {
				p.deferredSince = time.Now()
				p.m.lateDeferred.Set(1)
			}
			return nil
		}
		p.log.Warn("could not keep late hours on disk; consolidating them again now", "err", err)
	}
	return p.settle(ctx)
}

// settle consolidates the late hours again now, deferred ones included.
func (p *Pipeline) settle(ctx context.Context) error {
	if err := p.opts.Consolidator.Settle(ctx); err != nil {
		p.m.flushErrors.WithLabelValues("consolidate").Inc()
		return fmt.Errorf("pipeline: consolidate late data: %w", err)
	}
	p.deferredSince = time.Time{}
	p.m.lateDeferred.Set(0)
	return nil
}

// rolled is a segment read and rolled up (its sketches merged), not yet
// written.
type rolled struct {
	id      uint64
	start   time.Time
	seg     RollupSegment
	keys    []uint64
	lines   []string
	written bool // its sums reached InfluxDB before its damage
	gone    bool // quarantined whole: nothing readable left
	err     error
}

// ahead is a segment being rolled up ahead of its turn; nil: none.
type ahead chan rolled

// rollAhead starts rolling up todo[i], if there is one. While it runs the
// flusher writes the segment before it and keeps that one's ids;
// flushSketches waits for it before encoding the pending sketches.
func (p *Pipeline) rollAhead(ctx context.Context, todo []uint64, i int) ahead {
	if i >= len(todo) {
		return nil
	}
	ch := make(ahead, 1)
	go func() { ch <- p.roll(ctx, todo[i]) }()
	return ch
}

// wait lets the segment rolled up ahead finish; what it returns holds the
// result for the next receive.
func (a ahead) wait() ahead {
	if a == nil {
		return nil
	}
	r := <-a
	done := make(ahead, 1)
	done <- r
	return done
}

// roll reads segment id into the rollup and merges its sketches: the first
// half of flushing it (finish writes it).
func (p *Pipeline) roll(ctx context.Context, id uint64) rolled {
	r := rolled{id: id, start: time.Now(), seg: p.rollup.Begin(id)}
	err := p.readSegment(id, func(rec []byte) error {
		b, err := event.DecodeBatch(rec)
		if err != nil {
			return err
		}
		r.seg.Add(&b)
		r.keys, _ = p.keys(&b, r.keys, nil)
		return nil
	}, func() {
		r.seg = p.rollup.Begin(id)
		r.keys = r.keys[:0]
		// Rewriting the sums of a segment already written, from only its
		// readable records, would overwrite complete points with partial ones.
		r.written = p.dedup.Persisted(id)
	})
	if errors.Is(err, errSegmentGone) {
		r.gone = true
		return r
	}
	if err != nil {
		p.m.flushErrors.WithLabelValues("read").Inc()
		r.err = fmt.Errorf("pipeline: read segment %d: %w", id, err)
		return r
	}
	if !r.written {
		r.lines, err = r.seg.SumLines()
	}
	if err == nil {
		err = r.seg.MergeSketches(ctx)
	}
	if err != nil {
		p.m.flushErrors.WithLabelValues("rollup").Inc()
		r.err = fmt.Errorf("pipeline: roll up segment %d: %w", id, err)
	}
	return r
}

// finish writes a rolled-up segment's sums, keeps its ids and leaves it
// waiting for its sketches.
func (p *Pipeline) finish(ctx context.Context, r rolled) error {
	id, seg := r.id, r.seg
	switch {
	case r.err != nil:
		return r.err
	case r.gone:
		p.mu.Lock()
		delete(p.sealedAt, id)
		p.mu.Unlock()
		return nil
	case r.written:
		p.log.Warn("damaged segment had already been written to InfluxDB; its sums are not rewritten from the readable records",
			"segment", id)
		// Its ids are persisted already; Recover made them pending again.
		p.dedup.Release(r.keys)
		p.written(seg)
		p.await(id)
		return nil
	}
	if err := p.db.Write(ctx, r.lines); err != nil {
		p.m.flushErrors.WithLabelValues("write").Inc()
		return fmt.Errorf("pipeline: write segment %d: %w", id, err)
	}
	p.written(seg)
	p.addSums(id, seg)
	if err := p.persistIDs(ctx, id, r.keys); err != nil {
		p.m.flushErrors.WithLabelValues("dedup").Inc()
		return fmt.Errorf("pipeline: keep ids of segment %d: %w", id, err)
	}
	p.await(id)
	p.m.lines.Add(float64(len(r.lines)))
	p.m.flushSeconds.Observe(time.Since(r.start).Seconds())
	return nil
}

// await leaves a written segment in the spool until its sketches are
// written: at most SketchInterval after the oldest began to wait (a first
// segment after a pause waits its full interval too).
func (p *Pipeline) await(id uint64) {
	if len(p.awaiting) == 0 {
		p.awaitingSince = time.Now()
	}
	p.awaiting = append(p.awaiting, id)
	p.awaitingSet[id] = true
}

// persistIDs keeps the ids of a written segment. On a full disk it first
// frees space the flush itself holds (writes the pending sketches and
// removes the segments awaiting them), then the spool's drain reserve, so a
// full disk never stops the drain that would free it.
func (p *Pipeline) persistIDs(ctx context.Context, id uint64, keys []uint64) error {
	err := p.dedup.Persist(id, keys)
	if err == nil || !errors.Is(err, syscall.ENOSPC) {
		return err
	}
	if len(p.awaiting) > 0 {
		p.log.Warn("disk full while keeping de-duplication ids; removing flushed segments first", "segment", id,
			"awaiting", len(p.awaiting))
		if ferr := p.flushSketches(ctx, false); ferr != nil {
			return errors.Join(err, ferr)
		}
		if err = p.dedup.Persist(id, keys); err == nil || !errors.Is(err, syscall.ENOSPC) {
			return err
		}
	}
	released, rerr := p.spool.ReleaseReserve()
	if rerr != nil || !released {
		return errors.Join(err, rerr)
	}
	p.m.reserveReleases.Inc()
	p.removeSoon = true
	return p.dedup.Persist(id, keys)
}

// Drain seals the active segment and flushes everything pending, sketches
// included, for a graceful shutdown; it gives up when ctx ends (the spool
// keeps the rest). Call it only when Run has returned.
func (p *Pipeline) Drain(ctx context.Context) error {
	if err := p.Seal(); err != nil {
		return err
	}
	if err := p.FlushSealed(ctx); err != nil {
		return err
	}
	return p.flushSketches(ctx, false)
}

// Ready fails when InfluxDB is unreachable, the spool is at its budget, the
// spool cannot accept writes (disk full or unwritable), or a damaged segment
// could not be quarantined.
func (p *Pipeline) Ready(ctx context.Context) error {
	var errs []error
	if b := p.spool.Bytes(); p.opts.MaxSpoolBytes > 0 && b >= p.opts.MaxSpoolBytes {
		errs = append(errs, fmt.Errorf("spool at its budget (%d of %d bytes)", b, p.opts.MaxSpoolBytes))
	}
	if err := p.spool.Health(); err != nil {
		errs = append(errs, err)
	}
	p.mu.Lock()
	ids := make([]uint64, 0, len(p.blocked))
	for id := range p.blocked {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		errs = append(errs, fmt.Errorf("spool segment %d is damaged and blocked: %s; see docs/operations.md", id, p.blocked[id]))
	}
	p.mu.Unlock()
	if err := p.db.Ready(ctx); err != nil {
		errs = append(errs, fmt.Errorf("InfluxDB not ready: %w", err))
	}
	return errors.Join(errs...)
}

// Degraded names conditions an operator must act on that do not stop the
// service taking traffic: data held in the spool's quarantine directory.
func (p *Pipeline) Degraded() []string {
	q, err := p.spool.Quarantined()
	if err != nil {
		return []string{err.Error()}
	}
	if len(q) == 0 {
		return nil
	}
	return []string{fmt.Sprintf("spool quarantine holds %d file(s) of damaged or torn data: %s; see docs/operations.md",
		len(q), strings.Join(q, ", "))}
}

// Blocked is the number of damaged segments not quarantined yet.
func (p *Pipeline) Blocked() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.blocked)
}

// lag is how long the oldest pending segment has waited since it was sealed.
func (p *Pipeline) lag() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	var oldest time.Time
	for _, t := range p.sealedAt {
		if oldest.IsZero() || t.Before(oldest) {
			oldest = t
		}
	}
	if oldest.IsZero() {
		return 0
	}
	return time.Since(oldest).Seconds()
}
