package consolidate

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"
	"time"

	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/schema"
)

// Hours kept in memory.
//
// Consolidating an hour reads its minute points back from InfluxDB, and a
// local day reads its hourly points; a backfill's late hours are read again
// after it arrived. The flusher wrote every one of those points itself, so
// it can keep their hourly sums as it writes them (Add), and consolidate
// from memory instead. That is exact only for hours in which nothing was
// stored before this process: Load decides from which hour on that holds
// (memory.from):
//   - for a new ingester (no watermarks, no minute points), every hour;
//   - otherwise, the hour after the latest minute point stored since
//     memLookback ago (the query stays small on InfluxDB 3), or the first
//     whole hour of the lookback when there is none.
//
// Hours before it, and hours dropped when more than Options.MemoryPoints
// sums are held (the oldest first: memory.from moves past them), are read
// from InfluxDB as before. A restart starts memory afresh: the hours written
// before it are then read back.

// memLookback is how far back Load looks for minute points of this
// ingester written before this process.
const memLookback = 2 * time.Hour

// memWidth is the most fields a summed measurement has (New checks).
const memWidth = 8

// memory holds the hourly sums of this ingester's minute points, compactly:
// series are interned once, and an hour's sums are a slice of fixed-width
// values indexed through a map of integers, so the garbage collector has
// almost nothing to scan.
type memory struct {
	decided bool
	// from: every hour at or after it is in hours (math.MaxInt64: none).
	from   int64
	ids    map[string]int32 // series key -> index in series
	series []memSeries
	hours  map[int64]*memHour
	n      int // sums held
	limit  int
}

// memSeries is one interned series: summed measurement (index in
// Consolidator.meas) and tags (sorted by key, ingester included).
type memSeries struct {
	meas int
	tags [][2]string
}

// memHour is one hour's sums.
type memHour struct {
	slot map[int32]int32 // series id -> index in sums
	sums []memSum
}

// memSum is one series' sums in an hour: field i (in the measurement's
// schema order) is v[i] when bit i of set is.
type memSum struct {
	set uint8
	v   [memWidth]float64
}

func newMemory(limit int) memory {
	return memory{from: math.MaxInt64, ids: map[string]int32{}, hours: map[int64]*memHour{}, limit: limit}
}

// Add adds the hourly sums of one flushed segment's minute points to
// memory: call it once per segment, after InfluxDB took its minute points
// (the pipeline does). meas is the summed measurement, hour the UTC hour's
// start, tags the series' tags (ingester included, empty ones left out,
// sorted by key), fields the sums. Hours memory does not keep are left out.
func (c *Consolidator) Add(meas string, hour int64, tags [][2]string, fields map[string]float64) {
	m := &c.mem
	mi, ok := c.measIx[meas]
	if hour < m.from || len(fields) == 0 || !ok {
		return
	}
	var kb strings.Builder
	kb.WriteString(meas)
	for _, t := range tags {
		kb.WriteString("\x00" + t[0] + "=" + t[1])
	}
	id, ok := m.ids[kb.String()]
	if !ok {
		id = int32(len(m.series)) // #nosec G115 -- series are far fewer than 2^31
		m.ids[kb.String()] = id
		m.series = append(m.series, memSeries{meas: mi, tags: slices.Clone(tags)})
	}
	h := m.hours[hour]
	if h == nil {
		h = &memHour{slot: map[int32]int32{}}
		m.hours[hour] = h
	}
	ix, ok := h.slot[id]
	if !ok {
		ix = int32(len(h.sums)) // #nosec G115 -- bounded by MemoryPoints
		h.slot[id] = ix
		h.sums = append(h.sums, memSum{})
		m.n++
	}
	sum := &h.sums[ix]
	for f, v := range fields {
		if fi, ok := c.fieldIx[mi][f]; ok {
			sum.v[fi] += v
			sum.set |= 1 << fi
		}
	}
	for m.n > m.limit && len(m.hours) > 0 {
		oldest := slices.Min(slices.Collect(maps.Keys(m.hours)))
		m.n -= len(m.hours[oldest].sums)
		delete(m.hours, oldest)
		m.from = oldest + int64(time.Hour)
	}
}

// memPoints is the sums in memory of the hours in [from, to) (from at or
// after mem.from), of the given stores (nil: all).
func (c *Consolidator) memPoints(from, to int64, stores []string) []point {
	var only map[string]bool
	if stores != nil {
		only = make(map[string]bool, len(stores))
		for _, s := range stores {
			only[s] = true
		}
	}
	var out []point
	for hr := from; hr < to; hr += int64(time.Hour) {
		h := c.mem.hours[hr]
		if h == nil {
			continue
		}
		for id, ix := range h.slot {
			se := &c.mem.series[id]
			if only != nil && !only[storeOf(se.tags)] {
				continue
			}
			sum := &h.sums[ix]
			m := c.meas[se.meas]
			p := point{meas: m.Name, t: hr, tags: se.tags, fields: make(map[string]float64, len(m.Fields))}
			for i, f := range m.Fields {
				if sum.set&(1<<i) != 0 {
					p.fields[f] = sum.v[i]
				}
			}
			out = append(out, p)
		}
	}
	return out
}

// storeOf is the store tag of tags ("" without one).
func storeOf(tags [][2]string) string {
	for _, t := range tags {
		if t[0] == schema.TagStore {
			return t[1]
		}
	}
	return ""
}

// sums is what read returns for [from, to) of the minute series (suffix
// "", through Fine) or the hourly series (schema.SuffixHour, through Main):
// the hours memory holds come from memory, the rest is read.
func (c *Consolidator) sums(ctx context.Context, suffix string, from, to int64, stores []string) ([]point, error) {
	q := c.o.Fine
	if suffix != "" {
		q = c.o.Main
	}
	cut := max(from, min(to, c.mem.from))
	var pts []point
	if from < cut {
		var err error
		if pts, err = c.read(ctx, q, suffix, from, cut, stores); err != nil {
			return nil, err
		}
	}
	if cut < to {
		// Hourly points (suffix SuffixHour) are the same sums as the
		// hourly series holds, or will once late hours are settled.
		mp := c.memPoints(cut, to, stores)
		pts = append(pts, mp...)
	}
	return pts, nil
}

// decideMemory sets memory.from (see above), once, before anything is
// added. isNew: the ingester has no watermarks and no minute points. A
// failed lookup keeps every hour out of memory: it costs reads, never
// correctness.
func (c *Consolidator) decideMemory(ctx context.Context, isNew bool) {
	if c.mem.decided {
		return
	}
	c.mem.decided = true
	if c.mem.limit == 0 {
		return
	}
	if isNew {
		c.mem.from = math.MinInt64
		c.log.Info("consolidation from memory: every hour (a new ingester)")
		return
	}
	since := c.o.Now().Add(-memLookback)
	latest, found, err := c.latestMinute(ctx, since)
	if err != nil {
		c.log.Warn("could not look up the latest minute point; every hour is consolidated from InfluxDB", "err", err)
		return
	}
	from := since.Truncate(time.Hour)
	if from.Before(since) {
		from = from.Add(time.Hour)
	}
	if found {
		from = time.Unix(0, latest).Truncate(time.Hour).Add(time.Hour)
	}
	c.mem.from = from.UnixNano()
	c.log.Info("consolidation from memory", "from", from.UTC().Format(time.RFC3339))
}

// latestMinute is the time of this ingester's latest minute point at or
// after since, in every summed measurement.
func (c *Consolidator) latestMinute(ctx context.Context, since time.Time) (int64, bool, error) {
	stmts := make([]string, len(c.meas))
	for i, m := range c.meas {
		stmts[i] = fmt.Sprintf("SELECT %s FROM %s WHERE %s = %s AND time >= %s ORDER BY time DESC LIMIT 1", fieldList(m, false),
			influxql.Ident(m.Name), influxql.Ident(schema.TagIngester), influxql.String(c.o.Ingester), influxql.Time(since))
	}
	latest, found, err := influxql.Latest(ctx, c.o.Fine, strings.Join(stmts, "; "))
	if err != nil {
		return 0, false, fmt.Errorf("consolidate: InfluxDB: looking up the latest minute point failed: %w", err)
	}
	return latest.UnixNano(), found, nil
}
