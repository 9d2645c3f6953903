package rollup

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/influxdata/line-protocol/v2/lineprotocol"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/lineproto"
	"github.com/storepulse/storepulse/internal/schema"
)

// Line classes, in output order among lines of the same timestamp.
const (
	classSum = iota
	classSketch
	classPoint
	classLate
)

// lineRef is one output line before encoding.
type lineRef struct {
	ts    int64
	class int
	i     int // index in the class's sorted slice
}

// passLine is a pass-through point, encoded.
type passLine struct {
	ts   int64
	line string
}

// mergedSketch is a sketch ready to be written.
type mergedSketch struct {
	key SketchKey
	sk  *hyperloglog.Sketch
	ids []uint64 // mergeSketches: the segment's hashed ids to insert
}

// Lines returns every line-protocol line (without trailing newline,
// nanosecond precision) for the segment: summed points, merged sketches,
// pass-through points and late-data records, oldest timestamp first, deterministically ordered.
// Sketches missing from the cache are loaded from the SketchSource in one
// call; if that fails, Lines fails and the segment should be retried. A line
// that cannot be encoded (e.g. a sum that overflowed to +Inf) is logged and
// left out rather than blocking the segment forever.
func (r *Rollup) Lines(ctx context.Context, s *Segment) ([]string, error) {
	return r.lines(ctx, s, true)
}

// SumLines is Lines without the sketches: summed and pass-through points
// and late-data records only. Its sketches go through MergeSketches and PendingSketchLines, which
// lets a caller write sketches less often than sums.
func (r *Rollup) SumLines(s *Segment) ([]string, error) {
	return r.lines(context.Background(), s, false)
}

func (r *Rollup) lines(ctx context.Context, s *Segment, withSketches bool) ([]string, error) {
	if s.id >= uint64(schema.RollupWindow) {
		return nil, fmt.Errorf("rollup: segment id %d must be below %d (the window in ns)", s.id, int64(schema.RollupWindow))
	}
	r.mu.Lock()
	defer r.mu.Unlock()

	var sketches []mergedSketch
	if withSketches {
		var err error
		if sketches, err = r.mergeSketches(ctx, s); err != nil {
			return nil, err
		}
	}
	sums := s.sortedSums()
	points := slices.Clone(s.passed)
	slices.SortStableFunc(points, func(a, b passLine) int { return cmp.Compare(a.ts, b.ts) })

	late := s.sortedLate()
	refs := make([]lineRef, 0, len(sums)+len(sketches)+len(points)+len(late))
	for i, k := range sums {
		refs = append(refs, lineRef{k.window + int64(s.id), classSum, i}) // #nosec G115 -- id < 60e9 checked above
	}
	for i, m := range sketches {
		refs = append(refs, lineRef{m.key.Start, classSketch, i})
	}
	for i, p := range points {
		refs = append(refs, lineRef{p.ts, classPoint, i})
	}
	for i, k := range late {
		refs = append(refs, lineRef{k.day + int64(s.id), classLate, i}) // #nosec G115 -- id < 60e9 checked above
	}
	slices.SortFunc(refs, func(a, b lineRef) int {
		if c := cmp.Compare(a.ts, b.ts); c != 0 {
			return c
		}
		if c := cmp.Compare(a.class, b.class); c != 0 {
			return c
		}
		return cmp.Compare(a.i, b.i)
	})

	var enc lineproto.Encoder
	lines := make([]string, 0, len(refs))
	skipped, firstErr := s.passSkipped, s.passErr
	for _, ref := range refs {
		var line string
		var err error
		switch ref.class {
		case classSum:
			line, err = r.encodeSum(&enc, s, sums[ref.i], ref.ts)
		case classSketch:
			line, err = r.encodeSketch(&enc, sketches[ref.i])
		case classPoint:
			line = points[ref.i].line
		case classLate:
			line, err = r.encodeLate(&enc, late[ref.i], s.late[late[ref.i]], s.arrived, ref.ts)
		}
		if err != nil {
			skipped++
			firstErr = cmp.Or(firstErr, err)
			continue
		}
		lines = append(lines, line)
	}
	if skipped > 0 {
		r.log.Error("rollup: lines left out because they cannot be encoded",
			"segment", s.id, "lines", skipped, "first_error", firstErr)
	}
	if s.refused > 0 && !s.refusedReported {
		s.refusedReported = true
		r.refused.Add(float64(s.refused))
		r.log.Error("rollup: values left out because adding them would make a sum infinite; the rest of each sum is written",
			"segment", s.id, "values", s.refused)
	}
	if s.droppedTags > 0 || s.droppedFields > 0 {
		r.log.Warn("rollup: tags or fields of rolled-up points not in the schema were dropped",
			"segment", s.id, "tags", s.droppedTags, "fields", s.droppedFields)
	}
	return lines, nil
}

// sortedSums orders the segment's non-empty summed points by window,
// measurement and tag values.
func (s *Segment) sortedSums() []sumKey {
	keys := make([]sumKey, 0, len(s.sums))
	for k, i := range s.sums {
		if s.val(i).set != 0 { // e.g. a ticket event with neither status adds nothing
			keys = append(keys, k)
		}
	}
	slices.SortFunc(keys, func(a, b sumKey) int {
		if c := cmp.Compare(a.window, b.window); c != 0 {
			return c
		}
		if c := strings.Compare(s.r.meas[a.meas].name, s.r.meas[b.meas].name); c != 0 {
			return c
		}
		for i := range a.tags {
			if c := strings.Compare(s.names[a.tags[i]], s.names[b.tags[i]]); c != 0 {
				return c
			}
		}
		return 0
	})
	return keys
}

// sortedLate orders the segment's late-data records by day and store.
func (s *Segment) sortedLate() []lateKey {
	keys := make([]lateKey, 0, len(s.late))
	for k := range s.late {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b lateKey) int {
		if c := cmp.Compare(a.day, b.day); c != 0 {
			return c
		}
		return strings.Compare(a.store, b.store)
	})
	return keys
}

// encodeLate writes a late-data record at its day's first instant plus the
// segment id: replaying the segment rewrites the same point.
func (r *Rollup) encodeLate(enc *lineproto.Encoder, k lateKey, v *lateVal, arrived, ts int64) (string, error) {
	enc.StartLine(schema.MeasLate)
	enc.AddTag(schema.TagIngester, r.ingester)
	if k.store != "" {
		enc.AddTag(schema.TagStore, k.store)
	}
	enc.AddField(schema.FieldArrived, lineprotocol.IntValue(arrived))
	enc.AddField(schema.FieldEvents, lineprotocol.MustNewValue(v.events))
	for i, f := range lateFields {
		fv, ok := lineprotocol.FloatValue(v.v[i])
		if !ok {
			return "", fmt.Errorf("%s field %s: sum %v is not a finite number", schema.MeasLate, f, v.v[i])
		}
		enc.AddField(f, fv)
	}
	return enc.EndLine(ts)
}

func (r *Rollup) encodeSum(enc *lineproto.Encoder, s *Segment, k sumKey, ts int64) (string, error) {
	v := s.val(s.sums[k])
	spec := &r.meas[k.meas]
	enc.StartLine(spec.name)
	for _, i := range spec.lpTags {
		switch {
		case i < 0:
			enc.AddTag(schema.TagIngester, r.ingester)
		case k.tags[i] != 0:
			enc.AddTag(spec.tagKeys[i], s.names[k.tags[i]])
		}
	}
	for _, i := range spec.lpFields {
		if v.set&(1<<i) == 0 {
			continue
		}
		fv, ok := lineprotocol.FloatValue(v.v[i])
		if !ok {
			return "", fmt.Errorf("%s field %s: sum %v is not a finite number", spec.name, spec.fields[i], v.v[i])
		}
		enc.AddField(spec.fields[i], fv)
	}
	return enc.EndLine(ts)
}

func (r *Rollup) encodeSketch(enc *lineproto.Encoder, m mergedSketch) (string, error) {
	// Estimate first: it compacts the sparse form, which makes the encoding
	// of a given set of ids canonical (same segment, same bytes).
	est := float64(m.sk.Estimate())
	sketch, err := EncodeSketch(m.sk)
	if err != nil {
		return "", err
	}
	enc.StartLine(m.key.Measurement())
	for _, t := range [...][2]string{ // sorted by key
		{schema.TagCategory, m.key.Category},
		{schema.TagChannel, m.key.Channel},
		{schema.TagIngester, r.ingester},
		{schema.TagKind, m.key.Kind},
		{schema.TagStore, m.key.Store},
		{schema.TagWindow, m.key.Window},
	} {
		if t[1] != "" {
			enc.AddTag(t[0], t[1])
		}
	}
	ev, _ := lineprotocol.FloatValue(est)
	enc.AddField(schema.FieldEstimate, ev)
	sv, ok := lineprotocol.StringValue(sketch)
	if !ok {
		return "", errors.New("sketch is not valid UTF-8") // base64 always is
	}
	enc.AddField(schema.FieldSketch, sv)
	return enc.EndLine(m.key.Start)
}

func encodePoint(enc *lineproto.Encoder, p *event.Point) (string, error) {
	enc.StartLine(p.Measurement)
	for _, t := range p.Tags {
		enc.AddTag(t.Key, t.Value)
	}
	for _, f := range p.Fields {
		v, ok := fieldValue(&f)
		if !ok {
			return "", fmt.Errorf("%s field %s: invalid value", p.Measurement, f.Key)
		}
		enc.AddField(f.Key, v)
	}
	return enc.EndLine(p.Time)
}

func fieldValue(f *event.Field) (lineprotocol.Value, bool) {
	switch f.Kind {
	case event.FieldFloat:
		return lineprotocol.FloatValue(f.Float)
	case event.FieldInt:
		return lineprotocol.IntValue(f.Int), true
	case event.FieldUint:
		return lineprotocol.UintValue(f.Uint), true
	case event.FieldString:
		return lineprotocol.StringValue(f.Str)
	case event.FieldBool:
		return lineprotocol.BoolValue(f.Bool), true
	}
	return lineprotocol.Value{}, false
}

// mergeSketches merges the segment's ids into the current stored sketches
// (cache, else SketchSource) and returns them in key order. The cache is
// updated: replaying a segment merges the same ids again, which changes
// nothing.
func (r *Rollup) mergeSketches(ctx context.Context, s *Segment) ([]mergedSketch, error) {
	kinds := schema.DistinctKinds()
	var merged []mergedSketch
	for dk, ks := range s.sketches {
		window := schema.WindowHour
		if dk.window == winDay {
			window = schema.WindowDay
		}
		for kind, ids := range ks {
			if len(ids) == 0 {
				continue
			}
			merged = append(merged, mergedSketch{key: SketchKey{
				Kind: kinds[kind], Window: window, Store: dk.store, Channel: dk.channel,
				Category: dk.category, Start: dk.start, Total: dk.total,
			}, ids: ids})
		}
	}
	slices.SortFunc(merged, func(a, b mergedSketch) int { return compareKeys(a.key, b.key) })

	var misses []SketchKey
	for _, m := range merged {
		if r.current(m.key) == nil && !r.fresh.unstored(m.key) {
			misses = append(misses, m.key)
		}
	}
	var loaded map[SketchKey]*hyperloglog.Sketch
	if len(misses) > 0 {
		var err error
		loaded, err = r.src.Load(ctx, misses)
		var corrupt *CorruptSketchesError
		switch {
		case errors.As(err, &corrupt):
			r.log.Warn("rollup: stored sketches cannot be decoded; they restart from this segment's ids",
				"segment", s.id, "sketches", len(corrupt.Keys), "error", corrupt.Err)
		case err != nil:
			return nil, fmt.Errorf("rollup: segment %d: loading %d sketches: %w", s.id, len(misses), err)
		}
	}

	// A stored sketch is checked once, when it is loaded: merging an empty
	// sketch of StorePulse's precision fails on any other (then it restarts
	// from this segment's ids, as a corrupt one does).
	empty := hyperloglog.New14()
	for i := range merged {
		m := &merged[i]
		cur := r.current(m.key)
		if cur == nil {
			if cur = loaded[m.key]; cur != nil {
				if err := cur.Merge(empty); err != nil {
					r.log.Warn("rollup: stored sketch cannot be merged; it restarts from this segment's ids",
						"segment", s.id, "kind", m.key.Kind, "window", m.key.Window, "store", m.key.Store, "error", err)
					cur = nil
				}
			}
		}
		if cur == nil {
			cur = hyperloglog.New14()
		}
		for _, h := range m.ids {
			cur.InsertHash(h)
		}
		r.cache.put(m.key, cur)
		m.sk, m.ids = cur, nil
	}
	return merged, nil
}

// current is the freshest in-memory sketch of k: pending (merged but not yet
// written) wins over the cache, which may have evicted it.
func (r *Rollup) current(k SketchKey) *hyperloglog.Sketch {
	if sk, ok := r.pending[k]; ok {
		return sk
	}
	return r.cache.get(k)
}

// MergeSketches merges the segment's ids into the pending sketches (loading
// what is neither pending nor cached from the SketchSource in one call). If
// loading fails nothing is merged and the segment should be retried.
func (r *Rollup) MergeSketches(ctx context.Context, s *Segment) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	merged, err := r.mergeSketches(ctx, s)
	if err != nil {
		return err
	}
	for _, m := range merged {
		r.pending[m.key] = m.sk
	}
	return nil
}

// PendingSketchLines encodes every pending sketch (oldest window first).
// Once InfluxDB took the lines, commit forgets them; until then they stay
// pending, and a crash loses nothing because the segments they came from stay
// in the spool until commit has run (see ingest/pipeline).
func (r *Rollup) PendingSketchLines() (lines []string, commit func()) {
	r.mu.Lock()
	defer r.mu.Unlock()
	merged := make([]mergedSketch, 0, len(r.pending))
	for k, sk := range r.pending {
		merged = append(merged, mergedSketch{key: k, sk: sk})
	}
	slices.SortFunc(merged, func(a, b mergedSketch) int {
		if c := cmp.Compare(a.key.Start, b.key.Start); c != 0 {
			return c
		}
		return compareKeys(a.key, b.key)
	})
	var enc lineproto.Encoder
	lines = make([]string, 0, len(merged))
	for _, m := range merged {
		line, err := r.encodeSketch(&enc, m)
		if err != nil {
			r.log.Error("rollup: sketch left out because it cannot be encoded", "kind", m.key.Kind, "store", m.key.Store, "err", err)
			continue
		}
		lines = append(lines, line)
	}
	// The flusher is the only caller of MergeSketches and of commit, and runs
	// them one after the other, so nothing is merged between encode and commit.
	return lines, func() {
		r.mu.Lock()
		defer r.mu.Unlock()
		clear(r.pending)
	}
}

// PendingSketches is how many merged sketches wait to be written.
func (r *Rollup) PendingSketches() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pending)
}

// HourStores lists the UTC hours (unix ns of their starts) in which the
// segment has summed points, each with the stores (sorted; "" for points
// without one) whose series it changes there: what the consolidated series
// (ingest/consolidate) must redo when the hour is already consolidated.
func (s *Segment) HourStores() map[int64][]string {
	seen := map[int64]map[string]bool{}
	for k, ix := range s.sums {
		if s.val(ix).set == 0 {
			continue
		}
		h := floorDiv(k.window, int64(time.Hour))
		store := ""
		if i := slices.Index(s.r.meas[k.meas].tagKeys, schema.TagStore); i >= 0 {
			store = s.names[k.tags[i]]
		}
		if seen[h] == nil {
			seen[h] = map[string]bool{}
		}
		seen[h][store] = true
	}
	out := make(map[int64][]string, len(seen))
	for h, stores := range seen {
		out[h] = slices.Sorted(maps.Keys(stores))
	}
	return out
}

// HourSums calls fn once per summed measurement, UTC hour (unix ns of its
// start) and series of the segment, with the series' tags as written
// (ingester included, empty ones left out, sorted by key) and the sums of
// its minute points in that hour: what the consolidation keeps in memory
// (ingest/consolidate). fn must not keep tags or fields.
func (s *Segment) HourSums(fn func(meas string, hour int64, tags [][2]string, fields map[string]float64)) {
	type hourKey struct {
		meas int
		hour int64
		tags [maxTags]uint32
	}
	byHour := map[hourKey]*sumVal{}
	for k, ix := range s.sums {
		v := s.val(ix)
		if v.set == 0 {
			continue
		}
		hk := hourKey{k.meas, floorDiv(k.window, int64(time.Hour)), k.tags}
		acc := byHour[hk]
		if acc == nil {
			acc = &sumVal{}
			byHour[hk] = acc
		}
		for i := range maxFields {
			if v.set&(1<<i) != 0 {
				acc.v[i] += v.v[i]
				acc.set |= 1 << i
			}
		}
	}
	var tags [][2]string
	fields := map[string]float64{}
	for hk, v := range byHour {
		spec := &s.r.meas[hk.meas]
		tags = tags[:0]
		for _, i := range spec.lpTags {
			switch {
			case i < 0:
				tags = append(tags, [2]string{schema.TagIngester, s.r.ingester})
			case hk.tags[i] != 0:
				tags = append(tags, [2]string{spec.tagKeys[i], s.names[hk.tags[i]]})
			}
		}
		clear(fields)
		for i, f := range spec.fields {
			if v.set&(1<<i) != 0 {
				fields[f] = v.v[i]
			}
		}
		fn(spec.name, hk.hour, tags, fields)
	}
}
