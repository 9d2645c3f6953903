// Package rollup turns the content of one sealed spool segment into the
// InfluxDB line-protocol lines that represent it (docs/design.md, "Records,
// segments and idempotency"; docs/schema.md):
//
//   - summed points: per (measurement, tag set, 1-minute window) the sum of
//     every field, written at window start + segment id nanoseconds and tagged
//     with the ingester, so that re-processing a segment rewrites the same
//     points and a later segment adds to a window instead of overwriting it;
//   - distinct-count sketches (HyperLogLog, read-merge-write, idempotent);
//   - pass-through points (line protocol outside the StorePulse schema),
//     unchanged;
//   - late-data records (schema.MeasLate): per store and local day already
//     over when the segment is rolled up, how many of its events and how
//     much GMV, paid amount and refund amount arrived late (Options.Now).
//
// The event -> field mapping lives in rules.go.
package rollup

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/lineproto"
	"github.com/storepulse/storepulse/internal/localday"
	"github.com/storepulse/storepulse/internal/schema"
)

// DefaultLocation is the store time zone used when Options.Location is nil.
const DefaultLocation = "Asia/Shanghai"

// DefaultCacheSize is the sketch LRU size used when Options.CacheSize is 0:
// every hourly and daily sketch of a hundred busy stores (most of them
// sparse, a few hundred bytes; a dense one about 16 KB).
const DefaultCacheSize = 1 << 16

// DefaultLateGrace is Options.LateGrace's default: events of a local day
// rolled up within this time after the day ended are not late (the spool's
// ordinary delay of seconds).
const DefaultLateGrace = 10 * time.Minute

// Limits of the compact keys; New checks the schema fits.
const (
	maxTags = 4
	// maxFields bounds a summed measurement's fields (the schema's widest,
	// sp_orders, has 7): every sum of a segment holds this many values.
	maxFields = 8
	// sumSlab is how many sums a segment allocates at once.
	sumSlab = 1024
)

// Options configure a Rollup.
type Options struct {
	// Ingester is this instance's id, written as tag schema.TagIngester on
	// every rolled-up point and sketch. Required.
	Ingester string
	// Location is the store time zone: it sets the day boundaries of daily
	// sketches. Default DefaultLocation.
	Location *time.Location
	// Sketches loads the currently stored sketches on a cache miss. Required.
	Sketches SketchSource
	// CacheSize is the number of sketches kept in memory (LRU). Default
	// DefaultCacheSize.
	CacheSize int
	// Logger receives warnings about dropped data. Default: discard.
	Logger *slog.Logger
	// Metrics, when set, registers storepulse_ingest_rollup_refused_values_total.
	Metrics prometheus.Registerer
	// Now, when set, is the clock of late data: a segment's events of a
	// local day that ended more than LateGrace before the segment is rolled
	// up (NewSegment) are recorded in schema.MeasLate. Nil: nothing is
	// recorded (a bulk loader of simulated history).
	Now func() time.Time
	// LateGrace is the delay after a day's end within which its events are
	// not late (default DefaultLateGrace).
	LateGrace time.Duration
}

// Rollup holds the compiled mapping and the sketch cache. Lines calls are
// serialised; Segments are built independently.
type Rollup struct {
	ingester string
	loc      *time.Location
	src      SketchSource
	log      *slog.Logger
	refused  prometheus.Counter // values refused to keep a sum finite
	now      func() time.Time   // late data clock; nil: not recorded
	grace    time.Duration

	meas     []measSpec
	measIx   map[string]int
	ingestIx int
	rules    []compiledRule   // by event.Type
	distinct [][]compiledKind // by event.Type

	mu      sync.Mutex // guards cache, pending and fresh, and serialises Lines
	cache   *lru
	pending map[SketchKey]*hyperloglog.Sketch // merged, not yet written
	fresh   freshness                         // keys not stored before this process (fresh.go)
}

// clock is Options.Now, else the wall clock.
func (r *Rollup) clock() time.Time {
	if r.now != nil {
		return r.now()
	}
	return time.Now()
}

// measSpec is a summed measurement compiled for fast keys.
type measSpec struct {
	name    string
	tagKeys []string // schema order; position = index in sumKey.tags
	tagSrc  []tagSrc
	fields  []string // schema order; position = bit in sumVal.set
	// lpTags lists positions in tagKeys in line-protocol (sorted) order, with
	// -1 standing for the ingester tag.
	lpTags []int
	// lpFields lists field positions in sorted order.
	lpFields []int
}

type compiledRule struct {
	ok     bool
	meas   int
	fields []compiledField
}

type compiledField struct {
	ix    int
	late  int // index in lateFields, or -1
	when  func(*event.Event) bool
	value func(*event.Event) float64
}

// lateFields are the sums a late-data record carries besides its events,
// in line-protocol (sorted) order.
var lateFields = [...]string{schema.FieldGMV, schema.FieldPaidAmount, schema.FieldRefundAmount}

type compiledKind struct {
	kind int // index in schema.DistinctKinds()
	when func(*event.Event) bool
	id   func(*event.Event) string
}

// New compiles the mapping of rules.go against the schema and checks options.
func New(opts Options) (*Rollup, error) {
	if opts.Ingester == "" || len(opts.Ingester) > schema.MaxTagValueLen {
		return nil, fmt.Errorf("rollup: ingester id must be 1 to %d bytes, got %q", schema.MaxTagValueLen, opts.Ingester)
	}
	if opts.Sketches == nil {
		return nil, errors.New("rollup: a sketch source is required")
	}
	if opts.CacheSize < 0 {
		return nil, fmt.Errorf("rollup: cache size must not be negative, got %d", opts.CacheSize)
	}
	if opts.CacheSize == 0 {
		opts.CacheSize = DefaultCacheSize
	}
	if opts.Location == nil {
		loc, err := time.LoadLocation(DefaultLocation)
		if err != nil {
			// No tz database on this host: Shanghai has had no DST since 1991.
			loc = time.FixedZone("CST", 8*3600)
		}
		opts.Location = loc
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.LateGrace < 0 {
		return nil, fmt.Errorf("rollup: late grace must not be negative, got %s", opts.LateGrace)
	}
	if opts.LateGrace == 0 {
		opts.LateGrace = DefaultLateGrace
	}
	r := &Rollup{
		now:      opts.Now,
		grace:    opts.LateGrace,
		ingester: opts.Ingester,
		loc:      opts.Location,
		src:      opts.Sketches,
		log:      opts.Logger,
		measIx:   map[string]int{},
		pending:  map[SketchKey]*hyperloglog.Sketch{},
		fresh:    newFreshness(),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "storepulse_ingest_rollup_refused_values_total",
			Help: "Values left out of a one-minute sum because adding them would have made it infinite (should stay 0: parse bounds every value).",
		}),
	}
	r.cache = newLRU(opts.CacheSize, r.fresh.evict)
	if opts.Metrics != nil {
		if err := opts.Metrics.Register(r.refused); err != nil {
			return nil, fmt.Errorf("rollup: register metrics: %w", err)
		}
	}
	for i, m := range schema.Summed() {
		spec, err := compileMeas(m)
		if err != nil {
			return nil, err
		}
		r.meas = append(r.meas, spec)
		r.measIx[m.Name] = i
	}
	r.ingestIx = r.measIx[schema.MeasIngest]
	if err := r.compileRules(); err != nil {
		return nil, err
	}
	return r, nil
}

func compileMeas(m schema.Measurement) (measSpec, error) {
	if len(m.Tags) > maxTags || len(m.Fields) > maxFields {
		return measSpec{}, fmt.Errorf("rollup: measurement %s has more than %d tags or %d fields", m.Name, maxTags, maxFields)
	}
	spec := measSpec{name: m.Name, tagKeys: m.Tags, fields: m.Fields}
	for _, k := range m.Tags {
		spec.tagSrc = append(spec.tagSrc, tagSource(k))
	}
	spec.lpTags = append(spec.lpTags, -1)
	for i := range m.Tags {
		spec.lpTags = append(spec.lpTags, i)
	}
	key := func(i int) string {
		if i < 0 {
			return schema.TagIngester
		}
		return m.Tags[i]
	}
	slices.SortFunc(spec.lpTags, func(a, b int) int { return strings.Compare(key(a), key(b)) })
	for i := range m.Fields {
		spec.lpFields = append(spec.lpFields, i)
	}
	slices.SortFunc(spec.lpFields, func(a, b int) int { return strings.Compare(m.Fields[a], m.Fields[b]) })
	return spec, nil
}

func (r *Rollup) compileRules() error {
	n := len(event.Types()) + 1
	r.rules = make([]compiledRule, n)
	r.distinct = make([][]compiledKind, n)
	for t, rule := range sumRules() {
		mi, ok := r.measIx[rule.meas]
		if !ok {
			return fmt.Errorf("rollup: rule for %s: unknown measurement %s", t, rule.meas)
		}
		cr := compiledRule{ok: true, meas: mi}
		for _, f := range rule.fields {
			ix := slices.Index(r.meas[mi].fields, f.field)
			if ix < 0 {
				return fmt.Errorf("rollup: rule for %s: %s has no field %s", t, rule.meas, f.field)
			}
			cr.fields = append(cr.fields, compiledField{ix, slices.Index(lateFields[:], f.field), f.when, f.value})
		}
		r.rules[t] = cr
	}
	if f := r.meas[r.ingestIx].fields; len(f) != 1 || f[0] != schema.FieldEvents {
		return fmt.Errorf("rollup: %s must have exactly the field %s", schema.MeasIngest, schema.FieldEvents)
	}
	kinds := schema.DistinctKinds()
	if len(kinds) != len(kindSketches{}) {
		return fmt.Errorf("rollup: %d sketch kinds, room for %d", len(kinds), len(kindSketches{}))
	}
	for t, rules := range distinctRules() {
		for _, d := range rules {
			k := slices.Index(kinds, d.kind)
			if k < 0 {
				return fmt.Errorf("rollup: rule for %s: unknown sketch kind %s", t, d.kind)
			}
			r.distinct[t] = append(r.distinct[t], compiledKind{k, d.when, d.id})
		}
	}
	return nil
}

// Segment accumulates one spool segment's content. It is not safe for
// concurrent use.
type Segment struct {
	r  *Rollup
	id uint64

	// sums indexes the segment's sums, allocated in slabs of sumSlab
	// (vals): neither keys nor values hold a pointer, so the garbage
	// collector need not scan a backfill's hundreds of thousands of them.
	sums     map[sumKey]uint32
	vals     [][]sumVal
	sketches map[dimKey]*kindSketches
	// passed are the pass-through points, encoded when added: a decoded
	// point shares its whole spool record's memory and is several times
	// larger than its line. passSkipped counts those that cannot be
	// encoded (left out, reported by Lines), passErr is the first reason.
	passed      []passLine
	passSkipped int
	passErr     error
	enc         lineproto.Encoder

	// The last day computed, so most events skip the time zone arithmetic.
	dayStart, dayEnd int64

	// Late data: events before lateBefore (the start of the local day that
	// held the roll-up time minus the grace) are late; arrived is the
	// roll-up time (unix s).
	lateBefore int64
	arrived    int64
	late       map[lateKey]*lateVal

	droppedTags, droppedFields int // of rolled-up points, not in the schema
	// refused counts values left out because adding them would have made a
	// sum infinite or NaN (parse bounds every value, so this is a last line
	// of defence): the rest of the sum is still written.
	refused         int
	refusedReported bool

	// names holds one copy of each tag value the segment's keys hold
	// (names[0] is ""), ids finds it. A decoded event's strings share its
	// whole spool record's memory, so a key keeping one of them would keep
	// the record alive as long as the key lives (in the sketch cache: long
	// after the segment).
	names []string
	ids   map[string]uint32
}

// own is a copy of v that shares no memory with a decoded record, one per
// segment and value.
func (s *Segment) own(v string) string { return s.names[s.intern(v)] }

// intern is the segment's number for tag value v (0 for "").
func (s *Segment) intern(v string) uint32 {
	if v == "" {
		return 0
	}
	if id, ok := s.ids[v]; ok {
		return id
	}
	c := strings.Clone(v)
	id := uint32(len(s.names)) // #nosec G115 -- a segment holds far fewer than 2^32 values
	s.names = append(s.names, c)
	s.ids[c] = id
	return id
}

// sumKey identifies one summed point of a segment: measurement, window start
// (unix ns) and tag values in the measurement's schema order, as the
// segment's numbers for them (Segment.intern; 0 = absent).
type sumKey struct {
	meas   int
	window int64
	tags   [maxTags]uint32
}

type sumVal struct {
	set uint32 // bit i: field i was added to
	v   [maxFields]float64
}

// add adds x to field ix unless the sum would stop being finite; it reports
// whether it added. A refused value leaves the sum (and the line carrying it)
// intact, so one absurd value never takes the ordinary ones with it.
func (v *sumVal) add(ix int, x float64) bool {
	sum := v.v[ix] + x
	if math.IsInf(sum, 0) || math.IsNaN(sum) {
		return false
	}
	v.v[ix] = sum
	v.set |= 1 << ix
	return true
}

// Sketch windows, as indices.
const (
	winHour = iota
	winDay
)

// dimKey identifies the sketches of one window and dimension combination.
type dimKey struct {
	window                   uint8
	start                    int64
	store, channel, category string
	// total: the store-level sketch (schema.MeasDistinctStore), every
	// channel and category of the store merged.
	total bool
}

// kindSketches are the hashed ids of one window and dimension combination,
// by index in schema.DistinctKinds(). They go straight into the current
// sketch when the segment is merged (MergeSketches): building a sketch per
// segment first, then merging it, did the sketch work twice.
type kindSketches [7][]uint64

// lateKey is one late-data record of a segment: store and the start (unix
// ns) of the local day its events belong to.
type lateKey struct {
	store string
	day   int64
}

type lateVal struct {
	events float64
	v      [len(lateFields)]float64
}

// NewSegment starts collecting segment seg. Segment ids must be below
// schema.RollupWindow in nanoseconds (Lines fails otherwise).
func (r *Rollup) NewSegment(seg uint64) *Segment {
	s := &Segment{
		r:          r,
		id:         seg,
		sums:       map[sumKey]uint32{},
		sketches:   map[dimKey]*kindSketches{},
		names:      []string{""},
		ids:        map[string]uint32{},
		lateBefore: math.MinInt64,
	}
	if r.now != nil {
		at := r.now()
		s.arrived = at.Unix()
		s.lateBefore = localday.Floor(at.Add(-r.grace), r.loc).UnixNano()
		s.late = map[lateKey]*lateVal{}
	}
	return s
}

// ID is the segment id.
func (s *Segment) ID() uint64 { return s.id }

// Add folds a batch into the segment.
func (s *Segment) Add(b *event.Batch) {
	for i := range b.Events {
		s.addEvent(&b.Events[i])
	}
	for i := range b.Points {
		s.addPoint(&b.Points[i])
	}
}

// floorDiv rounds t down to a multiple of d (also for negative t).
func floorDiv(t, d int64) int64 {
	m := t % d
	if m < 0 {
		m += d
	}
	return t - m
}

// sum is the sum of k, created empty if new. Sums come from slabs: one
// allocation per sumSlab sums, not one each.
func (s *Segment) sum(k sumKey) *sumVal {
	i, ok := s.sums[k]
	if !ok {
		i = uint32(len(s.sums)) // #nosec G115 -- a segment holds far fewer than 2^32 sums
		if i%sumSlab == 0 {
			s.vals = append(s.vals, make([]sumVal, sumSlab))
		}
		s.sums[k] = i
	}
	return s.val(i)
}

// val is the sum numbered i.
func (s *Segment) val(i uint32) *sumVal { return &s.vals[i/sumSlab][i%sumSlab] }

func (s *Segment) addEvent(e *event.Event) {
	r := s.r
	window := floorDiv(e.Time, int64(schema.RollupWindow))

	ik := sumKey{meas: r.ingestIx, window: window}
	for i, src := range r.meas[r.ingestIx].tagSrc {
		ik.tags[i] = s.intern(tagValue(e, src))
	}
	iv := s.sum(ik)
	iv.v[0]++ // sp_ingest has the one field "events"
	iv.set |= 1

	var lv *lateVal
	if e.Time < s.lateBefore {
		lv = s.lateOf(e)
		lv.events++
	}
	if int(e.Type) >= len(r.rules) {
		return
	}
	if rule := &r.rules[e.Type]; rule.ok {
		k := sumKey{meas: rule.meas, window: window}
		for i, src := range r.meas[rule.meas].tagSrc {
			k.tags[i] = s.intern(tagValue(e, src))
		}
		v := s.sum(k)
		for _, f := range rule.fields {
			if f.when != nil && !f.when(e) {
				continue
			}
			x := f.value(e)
			if !v.add(f.ix, x) {
				s.refused++
				continue
			}
			if lv != nil && f.late >= 0 {
				lv.v[f.late] += x
			}
		}
	}

	var hour, day, hourTotal, dayTotal *kindSketches
	for _, d := range r.distinct[e.Type] {
		if d.when != nil && !d.when(e) {
			continue
		}
		id := d.id(e)
		if id == "" {
			continue
		}
		if hour == nil {
			h, dd := floorDiv(e.Time, int64(time.Hour)), s.day(e.Time)
			hour, day = s.dim(winHour, h, e, false), s.dim(winDay, dd, e, false)
			hourTotal, dayTotal = s.dim(winHour, h, e, true), s.dim(winDay, dd, e, true)
		}
		// Ids are hashed once with xxhash64; every StorePulse sketch uses it.
		h := xxhash.Sum64String(id)
		hour.insert(d.kind, h)
		day.insert(d.kind, h)
		hourTotal.insert(d.kind, h)
		dayTotal.insert(d.kind, h)
	}
}

// lateOf is the late-data record of e's store and local day.
func (s *Segment) lateOf(e *event.Event) *lateVal {
	k := lateKey{store: e.Store, day: s.day(e.Time)}
	v := s.late[k]
	if v == nil {
		v = &lateVal{}
		k.store = s.own(k.store)
		s.late[k] = v
	}
	return v
}

func (ks *kindSketches) insert(kind int, h uint64) { ks[kind] = append(ks[kind], h) }

// dim is the sketches of e's series in the window starting at start: the
// store-level one (channel and category merged) when total.
func (s *Segment) dim(window uint8, start int64, e *event.Event, total bool) *kindSketches {
	k := dimKey{window: window, start: start, store: e.Store, channel: e.Channel, category: e.Category}
	switch {
	case total:
		k.channel, k.category, k.total = "", "", true
	case window == winHour:
		// Hourly sketches leave out the category: they serve partial days by
		// store and channel, and keying them by category too multiplied their
		// number (and the write volume) about tenfold. Category filters use
		// the daily sketches.
		k.category = ""
	}
	ks := s.sketches[k]
	if ks == nil {
		ks = &kindSketches{}
		k.store, k.channel, k.category = s.own(k.store), s.own(k.channel), s.own(k.category)
		s.sketches[k] = ks
	}
	return ks
}

// day is the start (unix ns) of the day containing t in the store time zone:
// the first instant of its local date (localday, shared with the datasource's
// day buckets), which is not 00:00 when the clocks jump over midnight.
func (s *Segment) day(t int64) int64 {
	if t >= s.dayStart && t < s.dayEnd {
		return s.dayStart
	}
	at := time.Unix(0, t)
	s.dayStart, s.dayEnd = localday.Floor(at, s.r.loc).UnixNano(), localday.Next(at, s.r.loc).UnixNano()
	return s.dayStart
}

func (s *Segment) addPoint(p *event.Point) {
	mi, ok := s.r.measIx[p.Measurement]
	switch {
	case !p.Rollup || !ok:
		// Not ours: written unchanged.
		line, err := encodePoint(&s.enc, p)
		if err != nil {
			s.passSkipped++
			s.passErr = cmp.Or(s.passErr, err)
			return
		}
		s.passed = append(s.passed, passLine{p.Time, line})
		return
	case mi == s.r.ingestIx:
		// Only StorePulse counts its events (parse rejects such points).
		s.droppedFields += len(p.Fields)
		return
	}
	spec := &s.r.meas[mi]
	k := sumKey{meas: mi, window: floorDiv(p.Time, int64(schema.RollupWindow))}
	for _, t := range p.Tags {
		if i := slices.Index(spec.tagKeys, t.Key); i >= 0 {
			k.tags[i] = s.intern(t.Value)
		} else {
			s.droppedTags++
		}
	}
	var v *sumVal // created at the first usable field: no empty points
	for _, f := range p.Fields {
		ix := slices.Index(spec.fields, f.Key)
		var x float64
		switch {
		case ix < 0:
			s.droppedFields++
			continue
		case f.Kind == event.FieldFloat:
			x = f.Float
		case f.Kind == event.FieldInt:
			x = float64(f.Int)
		case f.Kind == event.FieldUint:
			x = float64(f.Uint)
		default:
			s.droppedFields++
			continue
		}
		if v == nil {
			v = s.sum(k)
		}
		if !v.add(ix, x) {
			s.refused++
		}
	}
}
