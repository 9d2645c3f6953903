package pipeline_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/ingest/pipeline"
	"github.com/storepulse/storepulse/ingest/server"
)

// memSpool is an in-memory stand-in for the spool (unit tests only; the
// real one is exercised by ingest/spool and the system tests).
type memSpool struct {
	mu      sync.Mutex
	active  [][]byte
	segs    map[uint64][][]byte
	next    uint64
	max     int64
	appends int
	// corrupt segments fail Read with errCorrupt; Quarantine drops their
	// first record, or fails with quarErr.
	corrupt     map[uint64]bool
	quarErr     error
	quarantined []string
	health      error
}

var errCorrupt = errors.New("corrupt")

var errFull = errors.New("full")

func (s *memSpool) bytesLocked() int64 {
	var n int64
	for _, r := range s.active {
		n += int64(len(r))
	}
	for _, seg := range s.segs {
		for _, r := range seg {
			n += int64(len(r))
		}
	}
	return n
}

func (s *memSpool) Append(_ context.Context, rec []byte) (uint64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.max > 0 && s.bytesLocked()+int64(len(rec)) > s.max {
		return 0, errFull
	}
	s.appends++
	s.active = append(s.active, append([]byte(nil), rec...))
	return s.next, nil
}

func (s *memSpool) Seal() (uint64, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.active) == 0 {
		return 0, false, nil
	}
	id := s.next
	s.segs[id] = s.active
	s.active = nil
	s.next++
	return id, true, nil
}

func (s *memSpool) Sealed() []uint64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []uint64
	for id := range s.segs {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	return ids
}

func (s *memSpool) Read(id uint64, fn func([]byte) error) error {
	s.mu.Lock()
	recs := s.segs[id]
	bad := s.corrupt[id]
	s.mu.Unlock()
	if bad {
		return fmt.Errorf("segment %d: %w", id, errCorrupt)
	}
	for _, r := range recs {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

func (s *memSpool) Remove(id uint64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.segs, id)
	return nil
}

func (s *memSpool) Bytes() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.bytesLocked()
}

func (s *memSpool) IsFull(err error) bool { return errors.Is(err, errFull) }

func (s *memSpool) IsCorrupt(err error) bool { return errors.Is(err, errCorrupt) }

func (s *memSpool) Quarantine(id uint64, _ string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.quarErr != nil {
		return "", s.quarErr
	}
	delete(s.corrupt, id)
	s.segs[id] = s.segs[id][1:]
	if len(s.segs[id]) == 0 {
		delete(s.segs, id)
	}
	name := fmt.Sprintf("%d.seg", id)
	s.quarantined = append(s.quarantined, name)
	return name, nil
}

func (s *memSpool) Quarantined() ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.quarantined...), nil
}

func (s *memSpool) ReleaseReserve() (bool, error) { return false, nil }

func (s *memSpool) Health() error { return s.health }

type memDedup struct {
	mu          sync.Mutex
	seen        map[uint64]bool
	persisted   map[uint64][]uint64
	failPersist int // fail this many Persists first
}

func (d *memDedup) Reserve(keys []uint64) []bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]bool, len(keys))
	for i, k := range keys {
		out[i] = !d.seen[k]
		d.seen[k] = true
	}
	return out
}

func (d *memDedup) Release(keys []uint64) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, k := range keys {
		delete(d.seen, k)
	}
}

func (d *memDedup) Persist(seg uint64, keys []uint64) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.failPersist > 0 {
		d.failPersist--
		return errors.New("I/O error")
	}
	d.persisted[seg] = keys
	return nil
}
func (d *memDedup) Expire() error { return nil }

func (d *memDedup) Persisted(seg uint64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	_, ok := d.persisted[seg]
	return ok
}

// countRollup emits one line per event id, so tests can see what was
// written, and one pending "sketch" line per segment.
type countRollup struct {
	mu       sync.Mutex
	pending  []string
	prepared bool // Prepare ran: MergeSketches fails before it
	// onAdd, when set, runs as a segment is fed a batch.
	onAdd func(seg uint64)
}

func (r *countRollup) Prepare(context.Context) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.prepared = true
}

type countSegment struct {
	r     *countRollup
	seg   uint64
	lines []string
}

func (r *countRollup) Begin(seg uint64) pipeline.RollupSegment { return &countSegment{r: r, seg: seg} }

func (r *countRollup) PendingSketchLines() ([]string, func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	lines := append([]string(nil), r.pending...)
	return lines, func() { r.mu.Lock(); r.pending = nil; r.mu.Unlock() }
}

func (r *countRollup) PendingSketches() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

func (c *countSegment) MergeSketches(context.Context) error {
	c.r.mu.Lock()
	defer c.r.mu.Unlock()
	if !c.r.prepared {
		return errors.New("MergeSketches before Prepare")
	}
	sk := fmt.Sprintf("sketch:%d", c.seg)
	for _, p := range c.r.pending {
		if p == sk {
			return nil
		}
	}
	c.r.pending = append(c.r.pending, sk)
	return nil
}

func (c *countSegment) Add(b *event.Batch) {
	if c.r.onAdd != nil {
		c.r.onAdd(c.seg)
	}
	for _, e := range b.Events {
		c.lines = append(c.lines, fmt.Sprintf("%d:%s", c.seg, e.ID))
	}
	for _, p := range b.Points {
		c.lines = append(c.lines, fmt.Sprintf("%d:point:%s", c.seg, p.ID))
	}
}

func (c *countSegment) SumLines() ([]string, error) { return c.lines, nil }

type memWriter struct {
	mu       sync.Mutex
	failures int // fail this many writes first
	lines    []string
	// before, when set, runs before each write, outside the lock; its error
	// fails the write.
	before func(lines []string) error
}

func (w *memWriter) Write(_ context.Context, lines []string) error {
	if w.before != nil {
		if err := w.before(lines); err != nil {
			return err
		}
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.failures > 0 {
		w.failures--
		return errors.New("influxdb down")
	}
	w.lines = append(w.lines, lines...)
	return nil
}
func (w *memWriter) Ready(context.Context) error { return nil }

func key(t event.Type, store, id string) uint64 {
	var h uint64 = 1469598103934665603
	for _, b := range []byte(fmt.Sprintf("%d/%s/%s", t, store, id)) {
		h = (h ^ uint64(b)) * 1099511628211
	}
	return h
}

func newPipeline(t *testing.T, sp *memSpool, w *memWriter) (*pipeline.Pipeline, *memDedup) {
	return newPipelineOpts(t, sp, w, pipeline.Options{SealInterval: time.Hour, FlushBackoff: time.Millisecond, SketchInterval: time.Nanosecond})
}

func newPipelineOpts(t *testing.T, sp *memSpool, w *memWriter, o pipeline.Options) (*pipeline.Pipeline, *memDedup) {
	return newPipelineWith(t, sp, w, &countRollup{}, o)
}

func newPipelineWith(t *testing.T, sp *memSpool, w *memWriter, ru *countRollup, o pipeline.Options) (*pipeline.Pipeline, *memDedup) {
	dd := &memDedup{seen: map[uint64]bool{}, persisted: map[uint64][]uint64{}}
	p := pipeline.New(o, sp, dd, ru, w, key,
		slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry())
	return p, dd
}

// acceptSealed accepts a batch of ids and seals it into a segment.
func acceptSealed(ctx context.Context, t *testing.T, p *pipeline.Pipeline, ids ...string) {
	t.Helper()
	_, err := p.Accept(ctx, events(ids...))
	require.NoError(t, err)
	require.NoError(t, p.Seal())
}

func events(ids ...string) *event.Batch {
	b := &event.Batch{}
	for _, id := range ids {
		b.Events = append(b.Events, event.Event{Type: event.TypeOrder, ID: id, Store: "s1", Time: 1})
	}
	return b
}

func TestAcceptDeduplicatesAndPersists(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}}
	w := &memWriter{}
	p, dd := newPipeline(t, sp, w)
	ctx := context.Background()

	res, err := p.Accept(ctx, events("a", "b", "a"))
	require.NoError(t, err)
	require.Equal(t, server.Result{Accepted: 2, Duplicates: 1}, res, "a repeat inside one request counts once")

	res, err = p.Accept(ctx, events("b", "c"))
	require.NoError(t, err)
	require.Equal(t, server.Result{Accepted: 1, Duplicates: 1}, res)

	res, err = p.Accept(ctx, events("a", "c"))
	require.NoError(t, err)
	require.Equal(t, server.Result{Duplicates: 2}, res)
	require.Equal(t, 2, sp.appends, "an all-duplicate request appends nothing")

	// Line-protocol points have no id: never de-duplicated.
	lp := &event.Batch{Points: []event.Point{{Measurement: "cpu"}, {Measurement: "cpu"}}}
	res, err = p.Accept(ctx, lp)
	require.NoError(t, err)
	require.Equal(t, 2, res.Accepted)

	require.NoError(t, p.Drain(ctx))
	require.ElementsMatch(t, []string{"0:a", "0:b", "0:c", "0:point:", "0:point:", "sketch:0"}, w.lines)
	require.Empty(t, sp.Sealed(), "a written segment leaves the spool")
	require.Len(t, dd.persisted[0], 3, "its ids are kept for de-duplication")
}

func TestSpoolFullReleasesIDs(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}, max: 1}
	p, _ := newPipeline(t, sp, &memWriter{})
	_, err := p.Accept(context.Background(), events("x"))
	require.ErrorIs(t, err, server.ErrSpoolFull)

	sp.max = 0
	res, err := p.Accept(context.Background(), events("x"))
	require.NoError(t, err)
	require.Equal(t, 1, res.Accepted, "a rejected request's ids must not block its retry")
}

func TestFailedWriteKeepsSegmentUntilItSucceeds(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}}
	w := &memWriter{failures: 3}
	p, _ := newPipeline(t, sp, w)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	acceptSealed(ctx, t, p, "1", "2")
	acceptSealed(ctx, t, p, "3")

	require.Error(t, p.FlushSealed(ctx))
	require.Len(t, sp.Sealed(), 2, "nothing leaves the spool while InfluxDB fails")

	done := make(chan struct{})
	go func() { _ = p.Run(ctx); close(done) }()
	require.Eventually(t, func() bool { return len(sp.Sealed()) == 0 }, 5*time.Second, 5*time.Millisecond)
	cancel()
	<-done
	w.mu.Lock()
	defer w.mu.Unlock()
	require.Equal(t, []string{"0:1", "0:2", "1:3", "sketch:0", "sketch:1"}, w.lines, "oldest segment first, each written once")
}

// TestPendingSketchesBounded: when the rollup holds MaxPendingSketches, the
// sketches are written at once (a history import's many old days must not
// pile up in memory until SketchInterval), and their segments leave.
func TestPendingSketchesBounded(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}}
	w := &memWriter{}
	p, _ := newPipelineOpts(t, sp, w, pipeline.Options{SealInterval: time.Hour, SketchInterval: time.Hour, MaxAwaiting: 100, MaxPendingSketches: 2})
	ctx := context.Background()
	acceptSealed(ctx, t, p, "e0")
	require.NoError(t, p.FlushSealed(ctx))
	require.Equal(t, []string{"0:e0"}, w.lines, "one pending sketch waits")
	require.Len(t, sp.Sealed(), 1)
	acceptSealed(ctx, t, p, "e1")
	require.NoError(t, p.FlushSealed(ctx))
	require.Equal(t, []string{"0:e0", "1:e1", "sketch:0", "sketch:1"}, w.lines, "two pending sketches are written at once")
	require.Empty(t, sp.Sealed())
}

// Sums are written per segment; the segment leaves the spool only once the
// sketches it fed were written too (every SketchInterval, or at Drain).
func TestSegmentWaitsForItsSketches(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}}
	w := &memWriter{}
	p, _ := newPipelineOpts(t, sp, w, pipeline.Options{SealInterval: time.Hour, SketchInterval: time.Hour, MaxAwaiting: 3})
	ctx := context.Background()
	for i := range 2 {
		acceptSealed(ctx, t, p, fmt.Sprint("e", i))
	}
	require.NoError(t, p.FlushSealed(ctx))
	require.Equal(t, []string{"0:e0", "1:e1"}, w.lines, "sums are written at once")
	require.Len(t, sp.Sealed(), 2, "the segments wait in the spool for their sketches")
	require.NoError(t, p.FlushSealed(ctx))
	require.Equal(t, []string{"0:e0", "1:e1"}, w.lines, "a waiting segment is not written again")

	acceptSealed(ctx, t, p, "e2")
	require.NoError(t, p.FlushSealed(ctx))
	require.Equal(t, []string{"0:e0", "1:e1", "2:e2", "sketch:0", "sketch:1", "sketch:2"}, w.lines, "MaxAwaiting segments force the sketches out")
	require.Empty(t, sp.Sealed())

	_, err := p.Accept(ctx, events("e3"))
	require.NoError(t, err)
	require.NoError(t, p.Drain(ctx))
	require.Equal(t, "sketch:3", w.lines[len(w.lines)-1], "drain writes the pending sketches")
	require.Empty(t, sp.Sealed())
}

func TestRecoverReservesPendingIDs(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}}
	p, _ := newPipeline(t, sp, &memWriter{failures: 1000})
	_, err := p.Accept(context.Background(), events("k1", "k2"))
	require.NoError(t, err)
	require.NoError(t, p.Seal())

	// A restart: a new pipeline over the same spool, fresh de-duplication memory.
	p2, _ := newPipeline(t, sp, &memWriter{})
	require.NoError(t, p2.Recover())
	res, err := p2.Accept(context.Background(), events("k1", "k3"))
	require.NoError(t, err)
	require.Equal(t, server.Result{Accepted: 1, Duplicates: 1}, res)
}

// TestDamagedSegmentDoesNotBlockOthers: a segment whose data is damaged is
// quarantined (its readable records written) while later segments flow; one
// that cannot be quarantined is skipped and retried, and reported by Ready,
// instead of blocking every later segment; Recover never refuses to start.
func TestDamagedSegmentDoesNotBlockOthers(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}, corrupt: map[uint64]bool{}}
	w := &memWriter{}
	p, _ := newPipeline(t, sp, w)
	ctx := context.Background()
	for i := range 4 {
		_, err := p.Accept(ctx, events(fmt.Sprint("a", i)))
		require.NoError(t, err)
		acceptSealed(ctx, t, p, fmt.Sprint("b", i))
	}
	sp.corrupt[1] = true
	sp.quarErr = errors.New("no space for the readable records")

	p2, _ := newPipeline(t, sp, w)
	require.NoError(t, p2.Recover(), "a damaged segment must not stop the start")
	require.NoError(t, p2.FlushSealed(ctx))
	require.NoError(t, p2.Drain(ctx))
	require.Equal(t, []uint64{1}, sp.Sealed(), "only the damaged segment waits")
	require.Subset(t, w.lines, []string{"0:a0", "0:b0", "2:a2", "2:b2", "3:a3", "3:b3"}, "later segments flow")
	err := p2.Ready(ctx)
	require.Error(t, err)
	require.Contains(t, err.Error(), "segment 1 is damaged and blocked")
	require.Equal(t, 1, p2.Blocked())

	sp.mu.Lock()
	sp.quarErr = nil
	sp.mu.Unlock()
	require.NoError(t, p2.Drain(ctx))
	require.Empty(t, sp.Sealed())
	require.Contains(t, w.lines, "1:b1", "the readable record of the damaged segment is delivered")
	require.NotContains(t, w.lines, "1:a1", "the damaged record is not")
	require.NoError(t, p2.Ready(ctx))
	require.Zero(t, p2.Blocked())
	require.Len(t, p2.Degraded(), 1)
	require.Contains(t, p2.Degraded()[0], "1.seg")
}

// TestReadyReportsSpoolHealth: /readyz must fail while the spool cannot write.
func TestReadyReportsSpoolHealth(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}}
	p, _ := newPipeline(t, sp, &memWriter{})
	require.NoError(t, p.Ready(context.Background()))
	sp.health = errors.New("spool cannot accept writes: no space left on device")
	require.ErrorContains(t, p.Ready(context.Background()), "spool cannot accept writes")
}

// HourStores makes countSegment report one hour per segment, of store s1,
// to a consolidator.
func (c *countSegment) HourStores() map[int64][]string {
	return map[int64][]string{int64(c.seg) * int64(time.Hour): {"s1"}}
}

// HourSums gives one hourly sum per segment: its events and points.
func (c *countSegment) HourSums(fn func(meas string, hour int64, tags [][2]string, fields map[string]float64)) {
	fn("m", int64(c.seg)*int64(time.Hour), [][2]string{{"store", "s1"}}, map[string]float64{"n": float64(len(c.lines))})
}

// fakeConsolidator keeps the hours it was told until a Settle succeeds.
type fakeConsolidator struct {
	added           map[int64]float64 // Add: the sums per hour
	dirty, settled  []int64
	failSettle      int
	ticks           int
	removedAtSettle []int
	sp              *memSpool
	// failDefer makes Defer fail; defers counts the ones that succeeded.
	failDefer bool
	defers    int
	pending   bool   // late hours kept before a restart
	onSettle  func() // runs at the start of each Settle
}

func (c *fakeConsolidator) Pending() bool { return c.pending }

func (c *fakeConsolidator) Add(_ string, hour int64, _ [][2]string, fields map[string]float64) {
	if c.added == nil {
		c.added = map[int64]float64{}
	}
	c.added[hour] += fields["n"]
}

func (c *fakeConsolidator) Load(context.Context) error { return nil }

func (c *fakeConsolidator) Defer() error {
	if c.failDefer {
		return errors.New("disk full")
	}
	c.defers++
	return nil
}

func (c *fakeConsolidator) Written(hours map[int64][]string) {
	for h := range hours {
		c.dirty = append(c.dirty, h)
	}
}
func (c *fakeConsolidator) Settle(context.Context) error {
	if c.onSettle != nil {
		c.onSettle()
	}
	c.removedAtSettle = append(c.removedAtSettle, len(c.sp.Sealed()))
	if c.failSettle > 0 {
		c.failSettle--
		return errors.New("InfluxDB down")
	}
	c.settled, c.dirty = append(c.settled, c.dirty...), nil
	return nil
}
func (c *fakeConsolidator) Tick(context.Context, time.Duration) (bool, error) {
	c.ticks++
	return false, nil
}

// TestConsolidatorSettlesBeforeRemove: a segment's hours are settled before
// it leaves the spool, and a failed settle keeps it there.
func TestConsolidatorSettlesBeforeRemove(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}}
	cons := &fakeConsolidator{failSettle: 1, sp: sp}
	p, _ := newPipelineOpts(t, sp, &memWriter{}, pipeline.Options{SealInterval: time.Hour, FlushBackoff: time.Millisecond,
		SketchInterval: time.Nanosecond, Consolidator: cons})
	ctx := context.Background()
	acceptSealed(ctx, t, p, "e0")
	time.Sleep(2 * time.Millisecond)
	require.ErrorContains(t, p.FlushSealed(ctx), "consolidate late data")
	require.Len(t, sp.Sealed(), 1, "a segment whose hours are not settled stays in the spool")
	require.Equal(t, []int64{0}, cons.dirty)
	time.Sleep(2 * time.Millisecond)
	require.NoError(t, p.FlushSealed(ctx))
	require.Empty(t, sp.Sealed())
	require.Equal(t, []int64{0}, cons.settled)
	require.Equal(t, []int{1, 1}, cons.removedAtSettle, "settled while the segment was still in the spool")
	require.Equal(t, 1, cons.ticks, "closed hours are consolidated after a successful flush")
}

// TestSumsAddedOncePerSegment: the consolidator gets a segment's hourly sums
// once InfluxDB took its minute points, and only once, even when the segment
// is flushed again after a later step failed.
func TestSumsAddedOncePerSegment(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}}
	cons := &fakeConsolidator{sp: sp}
	w := &memWriter{failures: 1}
	p, dd := newPipelineOpts(t, sp, w, pipeline.Options{SealInterval: time.Hour, FlushBackoff: time.Millisecond,
		SketchInterval: time.Nanosecond, Consolidator: cons})
	dd.failPersist = 1
	ctx := context.Background()
	acceptSealed(ctx, t, p, "e0", "e1")
	require.ErrorContains(t, p.FlushSealed(ctx), "influxdb down")
	require.Empty(t, cons.added, "nothing added before InfluxDB took the points")
	require.ErrorContains(t, p.FlushSealed(ctx), "keep ids")
	require.Equal(t, map[int64]float64{0: 2}, cons.added)
	time.Sleep(2 * time.Millisecond)
	require.NoError(t, p.FlushSealed(ctx))
	require.Empty(t, sp.Sealed())
	require.Equal(t, map[int64]float64{0: 2}, cons.added, "the segment written twice is added once")
}

// TestLateHoursDeferredDuringBacklog: while more sealed segments wait, the
// late hours of the flushed ones are kept on disk (Defer) and the segments
// leave the spool; they are consolidated again once, when the flusher has
// caught up. Without a place to keep them, or after MaxLateDefer, they are
// consolidated again before the segments go, as before.
func TestLateHoursDeferredDuringBacklog(t *testing.T) {
	cases := []struct {
		name         string
		failDefer    bool
		maxLateDefer time.Duration
		wantDefers   int
		wantSettles  []int // sealed segments left in the spool at each Settle
	}{
		{name: "deferred until caught up", wantDefers: 3, wantSettles: []int{1}},
		{name: "no state file", failDefer: true, wantSettles: []int{4, 3, 2, 1}},
		{name: "deferred too long", maxLateDefer: time.Nanosecond, wantDefers: 2, wantSettles: []int{3, 1}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			sp := &memSpool{segs: map[uint64][][]byte{}}
			cons := &fakeConsolidator{sp: sp, failDefer: tc.failDefer}
			p, _ := newPipelineOpts(t, sp, &memWriter{}, pipeline.Options{SealInterval: time.Hour, FlushBackoff: time.Millisecond,
				SketchInterval: time.Hour, MaxAwaiting: 1, MaxLateDefer: tc.maxLateDefer, Consolidator: cons})
			ctx := context.Background()
			for i := range 4 {
				acceptSealed(ctx, t, p, fmt.Sprintf("e%d", i))
			}
			require.Len(t, sp.Sealed(), 4)
			time.Sleep(time.Millisecond)
			require.NoError(t, p.FlushSealed(ctx))
			require.Empty(t, sp.Sealed(), "every segment left the spool")
			require.Equal(t, tc.wantDefers, cons.defers)
			require.Equal(t, tc.wantSettles, cons.removedAtSettle)
			require.ElementsMatch(t, []int64{0, int64(time.Hour), 2 * int64(time.Hour), 3 * int64(time.Hour)}, cons.settled,
				"every segment's hour was consolidated again")
		})
	}
}

// TestDeferredLateHoursSettledAfterRestart: late hours a Defer kept before a
// restart are consolidated again at the first flush, with no new data.
func TestDeferredLateHoursSettledAfterRestart(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}}
	cons := &fakeConsolidator{sp: sp, pending: true}
	p, _ := newPipelineOpts(t, sp, &memWriter{}, pipeline.Options{SealInterval: time.Hour, Consolidator: cons})
	require.NoError(t, p.FlushSealed(context.Background()))
	require.Equal(t, []int{0}, cons.removedAtSettle, "settled once, with an empty spool")
	require.NoError(t, p.FlushSealed(context.Background()))
	require.Len(t, cons.removedAtSettle, 1, "and not again")
}

// TestSketchesWrittenWhenIdle: when a seal finds nothing to seal (nothing
// arrived for a seal interval: the load paused), the pending sketches are
// written and the segments leave the spool without waiting for
// SketchInterval.
func TestSketchesWrittenWhenIdle(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}}
	w := &memWriter{}
	p, _ := newPipelineOpts(t, sp, w, pipeline.Options{SealInterval: time.Hour, SketchInterval: time.Hour})
	ctx := context.Background()
	acceptSealed(ctx, t, p, "e0")
	require.NoError(t, p.FlushSealed(ctx))
	require.NoError(t, p.FlushSealed(ctx))
	require.Equal(t, []string{"0:e0"}, w.lines, "the last seal sealed a segment: not idle")
	require.Len(t, sp.Sealed(), 1)

	acceptSealed(ctx, t, p, "e1")
	require.NoError(t, p.FlushSealed(ctx))
	require.Equal(t, []string{"0:e0", "1:e1"}, w.lines, "still not idle")
	require.Len(t, sp.Sealed(), 2)

	require.NoError(t, p.Seal())
	require.NoError(t, p.FlushSealed(ctx))
	require.Equal(t, []string{"0:e0", "1:e1", "sketch:0", "sketch:1"}, w.lines, "a seal with nothing to seal: the sketches are written")
	require.Empty(t, sp.Sealed())

	// The spool seals full segments itself: one sealed while the flusher
	// wrote the last is flushed, in the same flush, before the sketches are
	// written.
	acceptSealed(ctx, t, p, "e2")
	require.NoError(t, p.Seal()) // nothing to seal: quiet
	_, err := p.Accept(ctx, events("e3"))
	require.NoError(t, err)
	w.before = sealWhenWriting(sp, "2:e2")
	require.NoError(t, p.FlushSealed(ctx))
	require.Equal(t, []string{"0:e0", "1:e1", "sketch:0", "sketch:1", "2:e2", "3:e3", "sketch:2", "sketch:3"}, w.lines,
		"the segment sealed meanwhile before the sketches")
	require.Empty(t, sp.Sealed())
}

// sealWhenWriting is a memWriter.before that seals the spool's active
// segment when a write starts with line: the spool sealing a full segment
// while the flusher writes.
func sealWhenWriting(sp *memSpool, line string) func([]string) error {
	return func(lines []string) error {
		if lines[0] == line {
			_, _, err := sp.Seal()
			return err
		}
		return nil
	}
}

// TestSegmentSealedDuringFlushJoinsIt: a segment sealed while the flusher
// writes the last one it knew of is flushed in the same flush, so a
// backlog's late hours are consolidated again once, after it, not once
// before it and again after it.
func TestSegmentSealedDuringFlushJoinsIt(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}}
	cons := &fakeConsolidator{sp: sp}
	w := &memWriter{}
	p, _ := newPipelineOpts(t, sp, w, pipeline.Options{SealInterval: time.Hour, FlushBackoff: time.Millisecond,
		SketchInterval: time.Hour, MaxAwaiting: 1, Consolidator: cons})
	ctx := context.Background()
	acceptSealed(ctx, t, p, "e0")
	_, err := p.Accept(ctx, events("e1"))
	require.NoError(t, err)
	w.before = sealWhenWriting(sp, "0:e0")
	require.NoError(t, p.FlushSealed(ctx))
	require.Equal(t, []string{"0:e0", "sketch:0", "sketch:1", "1:e1"}, w.lines, "segment 1 rolled up while 0 was written: its sketches went with 0's")
	require.Empty(t, sp.Sealed(), "both segments left in one flush")
	require.Equal(t, 1, cons.defers, "segment 0's late hours deferred: segment 1 was waiting")
	require.Equal(t, []int{1}, cons.removedAtSettle, "consolidated again once, before segment 1 left")
	require.ElementsMatch(t, []int64{0, int64(time.Hour)}, cons.settled)
}

// TestLateHoursSettledWhileSketchesAreWritten: the late hours are
// consolidated while InfluxDB takes the sketches (each waits for the other
// here, so doing them one after the other would fail), and the segments
// leave only once both are done; a failed sketch write keeps them.
func TestLateHoursSettledWhileSketchesAreWritten(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}}
	settling := make(chan struct{}, 1)
	failSketches := 1
	var mu sync.Mutex
	w := &memWriter{before: func(lines []string) error {
		if len(lines) == 0 || lines[0] != "sketch:0" {
			return nil
		}
		select {
		case <-settling:
		case <-time.After(5 * time.Second):
			return errors.New("the late hours were not being consolidated while the sketches were written")
		}
		mu.Lock()
		defer mu.Unlock()
		if failSketches > 0 {
			failSketches--
			return errors.New("influxdb down")
		}
		return nil
	}}
	cons := &fakeConsolidator{sp: sp, onSettle: func() { settling <- struct{}{} }}
	p, _ := newPipelineOpts(t, sp, w, pipeline.Options{SealInterval: time.Hour, FlushBackoff: time.Millisecond,
		SketchInterval: time.Nanosecond, Consolidator: cons})
	ctx := context.Background()
	acceptSealed(ctx, t, p, "e0")
	time.Sleep(2 * time.Millisecond)
	require.ErrorContains(t, p.FlushSealed(ctx), "write 1 sketches")
	require.Len(t, sp.Sealed(), 1, "the sketches failed: the segment stays")
	require.Equal(t, []int{1}, cons.removedAtSettle)

	require.NoError(t, p.FlushSealed(ctx))
	require.Empty(t, sp.Sealed())
	require.Equal(t, []int{1, 1}, cons.removedAtSettle, "settled again, before the segment left")
	require.Equal(t, []string{"0:e0", "sketch:0"}, w.lines)
}

// TestNextSegmentRolledUpWhileWriting: a segment is rolled up while the one
// before it is written (the write of segment 0 waits here until segment 1
// is being rolled up, so doing them one after the other would fail).
func TestNextSegmentRolledUpWhileWriting(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}}
	rolling := make(chan struct{}, 1)
	ru := &countRollup{onAdd: func(seg uint64) {
		if seg == 1 {
			rolling <- struct{}{}
		}
	}}
	w := &memWriter{before: func(lines []string) error {
		if len(lines) == 0 || lines[0] != "0:e0" {
			return nil
		}
		select {
		case <-rolling:
			return nil
		case <-time.After(5 * time.Second):
			return errors.New("segment 1 was not rolled up while segment 0 was written")
		}
	}}
	p, _ := newPipelineWith(t, sp, w, ru, pipeline.Options{SealInterval: time.Hour, SketchInterval: time.Hour})
	ctx := context.Background()
	for i := range 2 {
		acceptSealed(ctx, t, p, fmt.Sprint("e", i))
	}
	require.NoError(t, p.FlushSealed(ctx))
	require.NoError(t, p.Drain(ctx))
	require.Equal(t, []string{"0:e0", "1:e1", "sketch:0", "sketch:1"}, w.lines)
	require.Empty(t, sp.Sealed())
}

// TestSketchFlushWaitsForTheSegmentAhead: pending sketches written early
// (MaxPendingSketches) while the next segment is rolled up ahead include its
// merge or leave it pending; none is forgotten unwritten. Here segment 1
// merges while the sketches of segment 0 are being written, unless the
// flush waits for it.
func TestSketchFlushWaitsForTheSegmentAhead(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}}
	ru := &countRollup{onAdd: func(seg uint64) {
		if seg == 1 {
			time.Sleep(20 * time.Millisecond)
		}
	}}
	w := &memWriter{before: func(lines []string) error {
		if len(lines) > 0 && lines[0] == "sketch:0" {
			time.Sleep(100 * time.Millisecond)
		}
		return nil
	}}
	p, _ := newPipelineWith(t, sp, w, ru, pipeline.Options{SealInterval: time.Hour, SketchInterval: time.Hour, MaxPendingSketches: 1})
	ctx := context.Background()
	for i := range 3 {
		acceptSealed(ctx, t, p, fmt.Sprint("e", i))
	}
	require.NoError(t, p.FlushSealed(ctx))
	require.NoError(t, p.Drain(ctx))
	var sketches []string
	for _, l := range w.lines {
		if strings.HasPrefix(l, "sketch:") {
			sketches = append(sketches, l)
		}
	}
	require.ElementsMatch(t, []string{"sketch:0", "sketch:1", "sketch:2"}, slices.Compact(slices.Sorted(slices.Values(sketches))),
		"every segment's sketch was written")
	require.Empty(t, sp.Sealed())
}

// TestSketchIntervalCountsFromTheOldestWaitingSegment: a segment waits at
// most SketchInterval for its sketches, counted from when it began to wait,
// not from the last write: the first segment after a pause is not written
// out at once (its sketches would be written again a moment later).
func TestSketchIntervalCountsFromTheOldestWaitingSegment(t *testing.T) {
	sp := &memSpool{segs: map[uint64][][]byte{}}
	w := &memWriter{}
	p, _ := newPipelineOpts(t, sp, w, pipeline.Options{SealInterval: time.Hour, SketchInterval: 50 * time.Millisecond})
	ctx := context.Background()
	time.Sleep(60 * time.Millisecond) // a pause longer than SketchInterval
	acceptSealed(ctx, t, p, "e0")
	require.NoError(t, p.FlushSealed(ctx))
	require.Equal(t, []string{"0:e0"}, w.lines, "the segment just began to wait")
	time.Sleep(60 * time.Millisecond)
	require.NoError(t, p.FlushSealed(ctx))
	require.Equal(t, []string{"0:e0", "sketch:0"}, w.lines, "it waited SketchInterval")
	require.Empty(t, sp.Sealed())
}
