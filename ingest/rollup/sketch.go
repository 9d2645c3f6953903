package rollup

import (
	"container/list"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/influxdata/influxdb-client-go/v2/api"

	"github.com/storepulse/storepulse/internal/fluxq"
	"github.com/storepulse/storepulse/internal/schema"
	"github.com/storepulse/storepulse/internal/sketch"
)

// SketchKey identifies one stored sketch of this ingester: kind
// (schema.Kind*), window (schema.Window*), the dimensions ("" = none) and the
// window start in unix nanoseconds (the point's timestamp). Total marks a
// store-level sketch (schema.MeasDistinctStore: no channel or category).
type SketchKey struct {
	Kind, Window, Store, Channel, Category string
	Start                                  int64
	Total                                  bool
}

// Measurement is where k is stored.
func (k SketchKey) Measurement() string { return schema.DistinctMeasurement(k.Total) }

func compareKeys(a, b SketchKey) int {
	if c := compareInt(a.Start, b.Start); c != 0 {
		return c
	}
	if a.Total != b.Total {
		if a.Total {
			return 1
		}
		return -1
	}
	for _, p := range [...][2]string{{a.Window, b.Window}, {a.Kind, b.Kind}, {a.Store, b.Store},
		{a.Channel, b.Channel}, {a.Category, b.Category}} {
		if c := strings.Compare(p[0], p[1]); c != 0 {
			return c
		}
	}
	return 0
}

func compareInt(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// SketchSource loads the currently stored sketches of keys, in bulk. Keys
// with nothing stored are simply absent from the result. An error makes
// Lines fail (the segment is retried), except a *CorruptSketchesError, which
// comes with the usable rest of the result.
type SketchSource interface {
	Load(ctx context.Context, keys []SketchKey) (map[SketchKey]*hyperloglog.Sketch, error)
}

// CorruptSketchesError reports stored sketches that cannot be decoded. Such a
// sketch is replaced by one holding only newer ids: better than blocking the
// ingest forever on data it can never read.
type CorruptSketchesError struct {
	Keys []SketchKey
	Err  error // the first decoding error
}

func (e *CorruptSketchesError) Error() string {
	return fmt.Sprintf("%d stored sketches cannot be decoded (first: %v)", len(e.Keys), e.Err)
}

func (e *CorruptSketchesError) add(k SketchKey, err error) {
	e.Keys = append(e.Keys, k)
	if e.Err == nil {
		e.Err = err
	}
}

func (e *CorruptSketchesError) Unwrap() error { return e.Err }

// loadInto decodes one stored sketch of key k into out (merged with one
// already there: one point per series and time is expected, merging is safe
// anyway); an undecodable one is counted in corrupt instead.
func loadInto(out map[SketchKey]*hyperloglog.Sketch, k SketchKey, stored string, corrupt *CorruptSketchesError) {
	sk, err := DecodeSketch(stored)
	if prev := out[k]; err == nil && prev != nil {
		err = prev.Merge(sk)
		sk = prev
	}
	if err != nil {
		corrupt.add(k, err)
		return
	}
	out[k] = sk
}

// EncodeSketch is the stored form of a sketch (field schema.FieldSketch):
// base64 (standard, padded) of MarshalBinary. It delegates to internal/sketch,
// which the datasource shares.
func EncodeSketch(sk *hyperloglog.Sketch) (string, error) { return sketch.Encode(sk) }

// DecodeSketch parses the stored form of a sketch.
func DecodeSketch(s string) (*hyperloglog.Sketch, error) { return sketch.Decode(s) }

// lru is a plain least-recently-used map of sketches; evicted is told every
// key it drops.
type lru struct {
	size    int
	ll      *list.List // front = most recent; values are *lruEntry
	items   map[SketchKey]*list.Element
	evicted func(SketchKey)
}

type lruEntry struct {
	key SketchKey
	sk  *hyperloglog.Sketch
}

func newLRU(size int, evicted func(SketchKey)) *lru {
	return &lru{size: size, ll: list.New(), items: map[SketchKey]*list.Element{}, evicted: evicted}
}

func (c *lru) get(k SketchKey) *hyperloglog.Sketch {
	el, ok := c.items[k]
	if !ok {
		return nil
	}
	c.ll.MoveToFront(el)
	return el.Value.(*lruEntry).sk
}

func (c *lru) put(k SketchKey, sk *hyperloglog.Sketch) {
	if el, ok := c.items[k]; ok {
		el.Value.(*lruEntry).sk = sk
		c.ll.MoveToFront(el)
		return
	}
	c.items[k] = c.ll.PushFront(&lruEntry{k, sk})
	for c.ll.Len() > c.size {
		last := c.ll.Back()
		c.ll.Remove(last)
		k := last.Value.(*lruEntry).key
		delete(c.items, k)
		if c.evicted != nil {
			c.evicted(k)
		}
	}
}

func (c *lru) len() int { return c.ll.Len() }

// influxSketches loads sketches with one Flux query per Load.
type influxSketches struct {
	q        api.QueryAPI
	bucket   string
	ingester string
}

// NewInfluxSketches returns a SketchSource reading this ingester's stored
// sketches from bucket. One Load is one Flux query (compatible with Flux 0.65
// in InfluxDB 1.8 and with InfluxDB 2.x) over [earliest start, latest start]
// narrowed to the requested starts, kinds, windows and stores.
func NewInfluxSketches(q api.QueryAPI, bucket, ingester string) SketchSource {
	return &influxSketches{q: q, bucket: bucket, ingester: ingester}
}

// maxTimeTerms bounds the _time filter; beyond it the range alone narrows.
const maxTimeTerms = 64

// sketchQuery is the Flux query loading keys.
func sketchQuery(bucket, ingester string, keys []SketchKey) string {
	minStart, maxStart := keys[0].Start, keys[0].Start
	var starts []int64
	var kinds, windows, stores, meas []string
	allStores := true
	for _, k := range keys {
		minStart, maxStart = min(minStart, k.Start), max(maxStart, k.Start)
		starts = append(starts, k.Start)
		meas = append(meas, k.Measurement())
		kinds = append(kinds, k.Kind)
		windows = append(windows, k.Window)
		stores = append(stores, k.Store)
		allStores = allStores && k.Store != ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "from(bucket: %s)\n", fluxq.String(bucket))
	fmt.Fprintf(&b, "  |> range(start: %s, stop: %s)\n", fluxTimeNS(minStart), fluxTimeNS(maxStart+1))
	fmt.Fprintf(&b, "  |> filter(fn: (r) => (%s) and r._field == %s and r.%s == %s)\n",
		anyEqual("r._measurement", uniq(meas), fluxq.String), fluxq.String(schema.FieldSketch), schema.TagIngester, fluxq.String(ingester))
	fmt.Fprintf(&b, "  |> filter(fn: (r) => %s)\n", anyEqual("r."+schema.TagKind, uniq(kinds), fluxq.String))
	fmt.Fprintf(&b, "  |> filter(fn: (r) => %s)\n", anyEqual("r."+schema.TagWindow, uniq(windows), fluxq.String))
	if allStores {
		// A key without store would need "column absent", which == cannot say.
		fmt.Fprintf(&b, "  |> filter(fn: (r) => %s)\n", anyEqual("r."+schema.TagStore, uniq(stores), fluxq.String))
	}
	if s := uniq(starts); len(s) <= maxTimeTerms {
		fmt.Fprintf(&b, "  |> filter(fn: (r) => %s)\n", anyEqual("r._time", s, fluxTimeNS))
	}
	return b.String()
}

func uniq[T int64 | string](xs []T) []T {
	slices.Sort(xs)
	return slices.Compact(xs)
}

func anyEqual[T any](col string, vals []T, lit func(T) string) string {
	terms := make([]string, len(vals))
	for i, v := range vals {
		terms[i] = col + " == " + lit(v)
	}
	return strings.Join(terms, " or ")
}

func fluxTimeNS(ns int64) string { return fluxq.Time(time.Unix(0, ns)) }

// Load implements SketchSource.
func (s *influxSketches) Load(ctx context.Context, keys []SketchKey) (map[SketchKey]*hyperloglog.Sketch, error) {
	out := map[SketchKey]*hyperloglog.Sketch{}
	if len(keys) == 0 {
		return out, nil
	}
	want := make(map[SketchKey]bool, len(keys))
	for _, k := range keys {
		want[k] = true
	}
	res, err := s.q.Query(ctx, sketchQuery(s.bucket, s.ingester, keys))
	if err != nil {
		return nil, fmt.Errorf("InfluxDB: loading %d stored sketches failed: %w", len(keys), err)
	}
	defer func() { _ = res.Close() }()
	var corrupt CorruptSketchesError
	for res.Next() {
		rec := res.Record()
		k := SketchKey{
			Kind:     recString(rec.ValueByKey(schema.TagKind)),
			Window:   recString(rec.ValueByKey(schema.TagWindow)),
			Store:    recString(rec.ValueByKey(schema.TagStore)),
			Channel:  recString(rec.ValueByKey(schema.TagChannel)),
			Category: recString(rec.ValueByKey(schema.TagCategory)),
			Start:    rec.Time().UnixNano(),
			Total:    rec.Measurement() == schema.MeasDistinctStore,
		}
		if !want[k] {
			continue
		}
		loadInto(out, k, recString(rec.Value()), &corrupt)
	}
	if err := res.Err(); err != nil {
		return nil, fmt.Errorf("InfluxDB: reading stored sketches failed: %w", err)
	}
	if len(corrupt.Keys) > 0 {
		return out, &corrupt
	}
	return out, nil
}

func recString(v any) string {
	s, _ := v.(string)
	return s
}
