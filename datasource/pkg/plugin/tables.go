package plugin

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
)

func withoutNone(v string) string {
	if v == "" {
		return noValue
	}
	return v
}

// contributionFrame is a table ranked by |contribution|: one row per value of
// the dimension; the KPI's totals go into the frame meta.
func contributionFrame(res *engine.ContributionResult, currency string) *data.Frame {
	unit := GrafanaUnit(res.KPI.Unit, currency)
	n := len(res.Rows)
	values := make([]string, n)
	cur, prev, change, contrib, share := make([]*float64, n), make([]*float64, n), make([]*float64, n), make([]*float64, n), make([]*float64, n)
	rate, mix := make([]*float64, n), make([]*float64, n)
	for i, r := range res.Rows {
		values[i] = withoutNone(r.Value)
		cur[i], prev[i], contrib[i], share[i], rate[i], mix[i] = r.Current, r.Previous, r.Contribution, r.Share, r.Rate, r.Mix
		if r.Current != nil && r.Previous != nil {
			d := *r.Current - *r.Previous
			change[i] = &d
		}
	}
	field := func(name, display, unit string, v []*float64) *data.Field {
		return data.NewField(name, nil, v).SetConfig(&data.FieldConfig{DisplayNameFromDS: display, Unit: unit})
	}
	f := data.NewFrame("contribution",
		data.NewField(res.Dimension, nil, values),
		field("current", res.KPI.Name, unit, cur),
		field("previous", res.KPI.Name+compareDisplay(res.Compare, engine.RoleCompare), unit, prev),
		field("change", "Δ "+res.KPI.Name, unit, change),
		field("contribution", "Contribution to Δ", unit, contrib),
		field("share", "Share of Δ", "percentunit", share),
	)
	if res.KPI.Den != nil {
		f.Fields = append(f.Fields, field("rate_effect", "Rate effect", unit, rate), field("mix_effect", "Mix effect", unit, mix))
	}
	f.SetMeta(&data.FrameMeta{Type: data.FrameTypeTable, Custom: map[string]any{
		"kpi": res.KPI.ID, "dimension": res.Dimension, "compare": res.Compare,
		"current": res.Current, "previous": res.Previous, "change": res.Change,
	}})
	return f
}

// funnelFrame is a table of the funnel steps per group.
func funnelFrame(res *engine.FunnelResult) *data.Frame {
	cols := make([][]string, len(res.GroupBy))
	var steps []string
	var values []float64
	var stepRate, overall []*float64
	for _, g := range res.Groups {
		for _, s := range g.Steps {
			for i := range res.GroupBy {
				cols[i] = append(cols[i], withoutNone(g.Groups[i]))
			}
			steps = append(steps, s.Name)
			values = append(values, s.Value)
			stepRate = append(stepRate, s.StepRate)
			overall = append(overall, s.OverallRate)
		}
	}
	f := data.NewFrame("funnel")
	for i, g := range res.GroupBy {
		f.Fields = append(f.Fields, data.NewField(g, nil, cols[i]))
	}
	if steps == nil {
		steps, values = []string{}, []float64{}
	}
	f.Fields = append(f.Fields,
		data.NewField("step", nil, steps),
		data.NewField("value", nil, values).SetConfig(&data.FieldConfig{DisplayNameFromDS: "Count", Unit: "short"}),
		data.NewField("step_rate", nil, stepRate).SetConfig(&data.FieldConfig{DisplayNameFromDS: "Step rate", Unit: "percentunit"}),
		data.NewField("overall_rate", nil, overall).SetConfig(&data.FieldConfig{DisplayNameFromDS: "Of sessions", Unit: "percentunit"}),
	)
	f.SetMeta(&data.FrameMeta{Type: data.FrameTypeTable})
	return f
}

// campaignsFrame is an annotation frame: one region per campaign phase
// (time, timeEnd, title, text, tags), plus the campaign, phase and kind.
func campaignsFrame(rows []engine.PhaseRow) *data.Frame {
	n := len(rows)
	starts, ends := make([]time.Time, n), make([]time.Time, n)
	title, text, tags, ids, phases, kinds := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, r := range rows {
		c := r.Campaign
		starts[i], ends[i] = r.Phase.Start, r.Phase.End
		title[i] = c.Name + ": " + r.Phase.Name
		stores := "all stores"
		if len(c.Stores) > 0 {
			stores = strings.Join(c.Stores, ", ")
		}
		text[i] = c.Name + " (" + c.Kind + "), " + r.Phase.Name + ", " + stores
		tags[i] = strings.Join([]string{"campaign", c.Kind, r.Phase.Name}, ",")
		ids[i], phases[i], kinds[i] = c.ID, r.Phase.Name, c.Kind
	}
	f := data.NewFrame("campaigns",
		data.NewField("time", nil, starts), data.NewField("timeEnd", nil, ends),
		data.NewField("title", nil, title), data.NewField("text", nil, text), data.NewField("tags", nil, tags),
		data.NewField("campaign", nil, ids), data.NewField("phase", nil, phases), data.NewField("kind", nil, kinds))
	f.SetMeta(&data.FrameMeta{Type: data.FrameTypeTable})
	return f
}

// calendarFrame is a wide frame for the state timeline panel: a time field
// and one string field per campaign holding its phase from that time on
// (null outside its phases).
func calendarFrame(tl *engine.Timeline) *data.Frame {
	f := data.NewFrame("calendar", data.NewField("time", nil, tl.Times))
	for i, c := range tl.Campaigns {
		states := make([]*string, len(tl.Times))
		for j, p := range tl.Phases[i] {
			if p != "" {
				states[j] = &p
			}
		}
		f.Fields = append(f.Fields, data.NewField(c.ID, data.Labels{"kind": c.Kind}, states).
			SetConfig(&data.FieldConfig{DisplayNameFromDS: c.Name}))
	}
	f.SetMeta(&data.FrameMeta{Type: data.FrameTypeTimeSeriesWide})
	return f
}

// anomaliesFrame is an annotation table of the flagged regions: time,
// timeEnd, title, text and tags as Grafana's annotation mapping expects, one
// string field per groupBy dimension, and the peak's value, expected value
// and score.
func anomaliesFrame(res *engine.Result, regions []engine.AnomalyRegion, currency string) *data.Frame {
	n := len(regions)
	starts, ends := make([]time.Time, n), make([]time.Time, n)
	title, text, tags := make([]string, n), make([]string, n), make([]string, n)
	value, expected, score := make([]float64, n), make([]float64, n), make([]float64, n)
	groups := make([][]string, len(res.GroupBy))
	for g := range groups {
		groups[g] = make([]string, n)
	}
	for i, r := range regions {
		starts[i], ends[i] = r.Start, r.End
		var names []string
		for g := range res.GroupBy {
			groups[g][i] = withoutNone(r.Groups[g])
			names = append(names, groups[g][i])
		}
		name := res.KPI.Name
		if len(names) > 0 {
			name += " " + strings.Join(names, " / ")
		}
		dir := "high"
		if r.Score < 0 {
			dir = "low"
		}
		title[i] = "Anomaly: " + name + " " + dir
		text[i] = fmt.Sprintf("%s %s vs expected %s (robust score %.1f, band ±%g spreads)", name,
			strconv.FormatFloat(r.Value, 'g', 6, 64), strconv.FormatFloat(r.Expected, 'g', 6, 64), r.Score, res.Anomaly)
		tags[i] = strings.Join([]string{"anomaly", res.KPI.ID, dir}, ",")
		value[i], expected[i], score[i] = r.Value, r.Expected, r.Score
	}
	unit := GrafanaUnit(res.KPI.Unit, currency)
	f := data.NewFrame("anomalies",
		data.NewField("time", nil, starts), data.NewField("timeEnd", nil, ends),
		data.NewField("title", nil, title), data.NewField("text", nil, text), data.NewField("tags", nil, tags))
	for g, dim := range res.GroupBy {
		f.Fields = append(f.Fields, data.NewField(dim, nil, groups[g]))
	}
	f.Fields = append(f.Fields,
		data.NewField("value", nil, value).SetConfig(&data.FieldConfig{Unit: unit}),
		data.NewField("expected", nil, expected).SetConfig(&data.FieldConfig{Unit: unit}),
		data.NewField("score", nil, score))
	f.SetMeta(&data.FrameMeta{Type: data.FrameTypeTable, Custom: frameCustom(res)})
	return f
}
