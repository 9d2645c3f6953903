package engine

import (
	"context"
	"slices"
	"strconv"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/cespare/xxhash/v2"

	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/sketch"
)

// memSource is a small reference implementation of the Source contract over
// raw points, with InfluxDB's semantics: windows aligned to the epoch, sums
// over every point of a window and group, absent tags as "".
type memSource struct {
	points   []memPoint
	sketches []memSketch
	sums     []SumSpec
	sks      []SketchSpec
	targets  []memTarget
	camps    []calendar.Campaign
}

type memTarget struct {
	kpi, period string
	row         TargetRow
}

func (m *memSource) Targets(_ context.Context, spec TargetSpec) ([]TargetRow, error) {
	var out []TargetRow
	for _, t := range m.targets {
		if t.kpi == spec.KPI && t.period == spec.Period && !t.row.Time.Before(spec.Start) && t.row.Time.Before(spec.Stop) &&
			(len(spec.Stores) == 0 || slices.Contains(spec.Stores, t.row.Store)) {
			out = append(out, t.row)
		}
	}
	return out, nil
}

func (m *memSource) Campaigns(context.Context) ([]calendar.Campaign, error) {
	out := slices.Clone(m.camps)
	SortCampaigns(out)
	return out, nil
}

type memPoint struct {
	t           time.Time
	meas, field string
	tags        map[string]string
	v           float64
}

type memSketch struct {
	t            time.Time
	kind, window string
	tags         map[string]string
	ids          []int
}

func matches(tags map[string]string, filters map[string][]string) bool {
	for d, vals := range filters {
		if !slices.Contains(vals, tags[d]) {
			return false
		}
	}
	return true
}

func groupsOf(tags map[string]string, groupBy []string) []string {
	out := make([]string, len(groupBy))
	for i, g := range groupBy {
		out[i] = tags[g]
	}
	return out
}

func (m *memSource) Sums(_ context.Context, spec SumSpec) ([]SumRow, error) {
	m.sums = append(m.sums, spec)
	type key struct {
		t     int64
		term  Term
		group string
	}
	acc := map[key]*SumRow{}
	var order []key
	for _, p := range m.points {
		term := Term{p.meas, p.field}
		if p.t.Before(spec.Start) || !p.t.Before(spec.Stop) || !slices.Contains(spec.Terms, term) || !matches(p.tags, spec.Filters) {
			continue
		}
		t := spec.Start
		if spec.Every > 0 {
			t = p.t.Truncate(spec.Every)
		}
		g := groupsOf(p.tags, spec.GroupBy)
		k := key{t.UnixNano(), term, seriesKey(g)}
		if acc[k] == nil {
			acc[k] = &SumRow{Time: t, Term: term, Groups: g}
			order = append(order, k)
		}
		acc[k].Value += p.v
	}
	out := make([]SumRow, 0, len(order))
	for _, k := range order {
		out = append(out, *acc[k])
	}
	return out, nil
}

func (m *memSource) Sketches(_ context.Context, spec SketchSpec, fn func(SketchRow) error) error {
	m.sks = append(m.sks, spec)
	for _, s := range m.sketches {
		if s.t.Before(spec.Start) || !s.t.Before(spec.Stop) || s.window != spec.Window || !slices.Contains(spec.Kinds, s.kind) || !matches(s.tags, spec.Filters) {
			continue
		}
		sk := hyperloglog.New14()
		for _, id := range s.ids {
			sk.InsertHash(xxhash.Sum64String("id" + strconv.Itoa(id)))
		}
		enc, err := sketch.Encode(sk)
		if err != nil {
			return err
		}
		if err := fn(SketchRow{Time: s.t, Kind: s.kind, Groups: groupsOf(s.tags, spec.GroupBy), Sketch: enc}); err != nil {
			return err
		}
	}
	return nil
}

func (m *memSource) DimensionValues(_ context.Context, spec DimensionSpec) ([]string, error) {
	var out []string
	for _, p := range m.points {
		if v := p.tags[spec.Dimension]; v != "" && !slices.Contains(out, v) && matches(p.tags, spec.Filters) {
			out = append(out, v)
		}
	}
	slices.Sort(out)
	return out, nil
}

func ids(from, to int) []int {
	out := make([]int, 0, to-from)
	for i := from; i < to; i++ {
		out = append(out, i)
	}
	return out
}
