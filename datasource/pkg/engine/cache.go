package engine

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/sketch"
)

// DefaultCacheEntries bounds the reads a CachingSource keeps.
const DefaultCacheEntries = 4096

// DefaultCacheBytes bounds the approximate memory of the kept reads (sketches
// dominate); a read larger than a quarter of it is shared but not kept.
const DefaultCacheBytes = 48 << 20

// cacheFetchTimeout bounds a shared read once its first caller is gone.
const cacheFetchTimeout = 2 * time.Minute

// CachingSource serves a read (a normalised Flux spec: range, fields,
// filters, grouping) from memory for TTL after it was read, and lets
// concurrent identical reads share one InfluxDB query (single flight). The
// engine aligns every read to bucket boundaries, so wall screens refreshing
// the same panel a few seconds apart ask for identical reads. Errors are not
// cached. A shared read is cancelled when every caller waiting for it has
// gone. Safe for concurrent use.
type CachingSource struct {
	src        Source
	ttl        time.Duration
	now        func() time.Time
	maxEntries int
	maxBytes   int

	mu      sync.Mutex
	bytes   int
	entries map[string]cacheEntry
	calls   map[string]*flight
}

type cacheEntry struct {
	v       any
	size    int
	expires time.Time
}

type flight struct {
	done    chan struct{}
	v       any
	err     error
	waiters int
	cancel  context.CancelFunc
}

// NewCachingSource wraps src; now is the clock of the TTL (time.Now when nil).
func NewCachingSource(src Source, ttl time.Duration, now func() time.Time) *CachingSource {
	if now == nil {
		now = time.Now
	}
	return &CachingSource{src: src, ttl: ttl, now: now, maxEntries: DefaultCacheEntries, maxBytes: DefaultCacheBytes,
		entries: map[string]cacheEntry{}, calls: map[string]*flight{}}
}

// do answers key from the cache, from a read in flight, or by running fn.
func (c *CachingSource) do(ctx context.Context, key string, fn func(context.Context) (any, error)) (any, error) {
	c.mu.Lock()
	if e, ok := c.entries[key]; ok {
		if c.now().Before(e.expires) {
			c.mu.Unlock()
			return e.v, nil
		}
		c.drop(key)
	}
	f, ok := c.calls[key]
	if !ok {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cacheFetchTimeout)
		f = &flight{done: make(chan struct{}), cancel: cancel}
		c.calls[key] = f
		go c.run(fctx, key, f, fn)
	}
	f.waiters++
	c.mu.Unlock()
	select {
	case <-f.done:
		return f.v, f.err
	case <-ctx.Done():
		c.mu.Lock()
		f.waiters--
		if f.waiters == 0 {
			f.cancel() // nobody waits: stop the read; a later caller starts afresh
			if c.calls[key] == f {
				delete(c.calls, key)
			}
		}
		c.mu.Unlock()
		return nil, backend.DownstreamError(ctx.Err())
	}
}

func (c *CachingSource) run(ctx context.Context, key string, f *flight, fn func(context.Context) (any, error)) {
	defer f.cancel()
	v, err := fn(ctx)
	c.mu.Lock()
	f.v, f.err = v, err
	if c.calls[key] == f {
		delete(c.calls, key)
	}
	if err == nil && c.ttl > 0 {
		c.store(key, v)
	}
	c.mu.Unlock()
	close(f.done)
}

func (c *CachingSource) drop(key string) {
	c.bytes -= c.entries[key].size
	delete(c.entries, key)
}

// sizeOf estimates the memory of a read's result.
func sizeOf(v any) int {
	switch x := v.(type) {
	case []SumRow:
		n := 0
		for _, r := range x {
			n += 96 + 16*len(r.Groups)
		}
		return n
	case []SketchRow:
		n := 0
		for _, r := range x {
			n += 80 + len(r.Sketch) + 16*len(r.Groups)
		}
		return n
	case []string:
		return 16 * len(x)
	case []TargetRow:
		return 48 * len(x)
	case []calendar.Campaign:
		return 512 * len(x)
	}
	return 64
}

// store keeps v, making room by dropping expired entries, then any entry;
// a result larger than a quarter of the byte bound is not kept.
func (c *CachingSource) store(key string, v any) {
	size := sizeOf(v)
	if size > c.maxBytes/4 {
		return
	}
	now := c.now()
	c.drop(key)
	if len(c.entries) >= c.maxEntries || c.bytes+size > c.maxBytes {
		for k, e := range c.entries {
			if !now.Before(e.expires) {
				c.drop(k)
			}
		}
		for k := range c.entries {
			if len(c.entries) < c.maxEntries && c.bytes+size <= c.maxBytes {
				break
			}
			c.drop(k)
		}
	}
	c.entries[key] = cacheEntry{v: v, size: size, expires: now.Add(c.ttl)}
	c.bytes += size
}

// Len is the number of cached reads (expired ones included until replaced)
// and their estimated bytes.
func (c *CachingSource) Len() (entries, bytes int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.entries), c.bytes
}

func keyTime(t time.Time) string { return fmt.Sprint(t.UnixNano()) }

// keyFilters is the filters with dimensions and values sorted: their order
// does not change a read's result.
func keyFilters(filters map[string][]string) string {
	dims := make([]string, 0, len(filters))
	for d := range filters {
		dims = append(dims, d)
	}
	slices.Sort(dims)
	var b strings.Builder
	for _, d := range dims {
		vals := slices.Clone(filters[d])
		slices.Sort(vals)
		fmt.Fprintf(&b, "%q=%q;", d, vals)
	}
	return b.String()
}

// Sums implements Source.
func (c *CachingSource) Sums(ctx context.Context, spec SumSpec) ([]SumRow, error) {
	ts := make([]string, len(spec.Terms))
	for i, t := range spec.Terms {
		ts[i] = t.Measurement + "." + t.Field
	}
	slices.Sort(ts)
	zone := ""
	if spec.DayZone != nil {
		zone = spec.DayZone.String()
	}
	key := fmt.Sprintf("sums|%s|%s|%d|%q|%s|%q|%s", keyTime(spec.Start), keyTime(spec.Stop), spec.Every, ts, keyFilters(spec.Filters), spec.GroupBy, zone)
	v, err := c.do(ctx, key, func(ctx context.Context) (any, error) { return c.src.Sums(ctx, spec) })
	if err != nil {
		return nil, err
	}
	return v.([]SumRow), nil
}

// Sketches implements Source: the rows are kept in memory and replayed,
// merged per window (mergeSketchRows).
func (c *CachingSource) Sketches(ctx context.Context, spec SketchSpec, fn func(SketchRow) error) error {
	kinds := slices.Clone(spec.Kinds)
	slices.Sort(kinds)
	key := fmt.Sprintf("sketches|%s|%s|%q|%s|%s|%q", keyTime(spec.Start), keyTime(spec.Stop), kinds, spec.Window, keyFilters(spec.Filters), spec.GroupBy)
	v, err := c.do(ctx, key, func(ctx context.Context) (any, error) {
		var rows []SketchRow
		err := c.src.Sketches(ctx, spec, func(r SketchRow) error {
			rows = append(rows, r)
			return nil
		})
		if err != nil {
			return nil, err
		}
		return mergeSketchRows(rows)
	})
	if err != nil {
		return err
	}
	for _, r := range v.([]SketchRow) {
		if err := fn(r); err != nil {
			return err
		}
	}
	return nil
}

// DimensionValues implements Source.
func (c *CachingSource) DimensionValues(ctx context.Context, spec DimensionSpec) ([]string, error) {
	key := fmt.Sprintf("dims|%s|%s|%q|%s", keyTime(spec.Start), keyTime(spec.Stop), spec.Dimension, keyFilters(spec.Filters))
	v, err := c.do(ctx, key, func(ctx context.Context) (any, error) { return c.src.DimensionValues(ctx, spec) })
	if err != nil {
		return nil, err
	}
	return slices.Clone(v.([]string)), nil
}

// Targets implements CalendarSource.
func (c *CachingSource) Targets(ctx context.Context, spec TargetSpec) ([]TargetRow, error) {
	stores := slices.Clone(spec.Stores)
	slices.Sort(stores)
	key := fmt.Sprintf("targets|%s|%s|%q|%q|%q", keyTime(spec.Start), keyTime(spec.Stop), spec.KPI, spec.Period, stores)
	v, err := c.do(ctx, key, func(ctx context.Context) (any, error) { return c.src.Targets(ctx, spec) })
	if err != nil {
		return nil, err
	}
	return v.([]TargetRow), nil
}

// Campaigns implements CalendarSource.
func (c *CachingSource) Campaigns(ctx context.Context) ([]calendar.Campaign, error) {
	v, err := c.do(ctx, "campaigns", func(ctx context.Context) (any, error) { return c.src.Campaigns(ctx) })
	if err != nil {
		return nil, err
	}
	return slices.Clone(v.([]calendar.Campaign)), nil
}

// mergeSketchRows merges the sketches of rows with the same time, kind and
// groups into one row. Every reader merges such rows into the same union (a
// window's sketches are one per stored key — store, channel, category,
// ingester — and a bucket holds whole windows), and HyperLogLog merges are
// exact (register-wise maxima), so the result is unchanged; but a cache hit
// then replays one sketch per window and group instead of one per stored key,
// each decoded and merged again on every hit (a wall screen's distinct-count
// panel over 50 stores: ~6,000 sketches per hit before, 36 after). Each row
// carries its estimate, so that a bucket made of one row is counted without
// decoding it.
func mergeSketchRows(rows []SketchRow) ([]SketchRow, error) {
	type merged struct {
		row SketchRow
		u   *sketch.Union
	}
	index := map[string]int{}
	var out []merged
	for _, r := range rows {
		k := fmt.Sprintf("%d|%s|%q", r.Time.UnixNano(), r.Kind, r.Groups)
		i, ok := index[k]
		if !ok {
			index[k] = len(out)
			out = append(out, merged{row: r})
			continue
		}
		m := &out[i]
		if m.u == nil {
			m.u = &sketch.Union{}
			if err := m.u.AddEncoded(m.row.Sketch); err != nil {
				return nil, backend.DownstreamError(fmt.Errorf("InfluxDB returned an undecodable %s sketch at %s: %w", r.Kind, r.Time.Format(time.RFC3339), err))
			}
		}
		if err := m.u.AddEncoded(r.Sketch); err != nil {
			return nil, backend.DownstreamError(fmt.Errorf("InfluxDB returned an undecodable %s sketch at %s: %w", r.Kind, r.Time.Format(time.RFC3339), err))
		}
	}
	res := make([]SketchRow, len(out))
	for i, m := range out {
		res[i] = m.row
		if m.u == nil {
			m.u = &sketch.Union{}
			if err := m.u.AddEncoded(m.row.Sketch); err != nil {
				return nil, backend.DownstreamError(fmt.Errorf("InfluxDB returned an undecodable %s sketch at %s: %w", m.row.Kind, m.row.Time.Format(time.RFC3339), err))
			}
		} else {
			enc, err := m.u.Encode()
			if err != nil {
				return nil, backend.PluginError(err)
			}
			res[i].Sketch = enc
		}
		// Counted once here rather than on every hit: a dense sketch's
		// estimate sums 16,384 registers with math.Pow (~0.6 ms).
		res[i].Estimate = m.u.Estimate()
	}
	return res, nil
}
