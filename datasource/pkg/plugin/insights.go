package plugin

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/digest/briefing"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/localday"
)

// insightsHistoryDays is how far back the briefing reads for a day: the
// band's six weeks of the same weekday and the noise fitted over the seven
// days before it (docs/briefing.md), which bounds the insights' estimate.
const insightsHistoryDays = 7*7 + 1

// insightsBytes estimates an insights query's working memory: the briefing
// checks one KPI at a time, its day band and its hourly band over the
// history, per store when no store is chosen (at most the series limit),
// value and denominator.
func insightsBytes(q models.Query, seriesLimit int) int64 {
	series := int64(max(seriesLimit, 1))
	if len(q.Filters["store"]) == 1 {
		series = 1
	}
	cells := int64(insightsHistoryDays*24 + insightsHistoryDays)
	return cells * series * 2 * bytesPerCell
}

// insightsQuery answers queryType insights: the briefing's "what changed",
// "why" and "what to do" (digest/briefing, the same builder as
// storepulse-digest, over this datasource's engine and store time zone) for
// the last whole local day of the range (that has ended by now), as one
// table.
func (d *Datasource) insightsQuery(ctx context.Context, q models.Query, from, to time.Time) (data.Frames, error) {
	store, err := q.InsightsStore()
	if err != nil {
		return nil, backend.PluginError(err)
	}
	e := d.engineFor(ctx)
	loc := e.Location
	now := d.now()
	// Grafana ends ranges such as Yesterday at 23:59:59.999: a millisecond
	// later the day is whole.
	end := to.Add(time.Millisecond)
	if now.Before(end) {
		end = now
	}
	dayEnd := localday.Floor(end, loc)
	dayStart := localday.AddDays(dayEnd, -1, loc)
	if dayStart.Before(from) {
		return nil, backend.PluginError(fmt.Errorf("insights need a whole local day (%s) in the time range, and %s to %s holds none that has ended: choose a range that holds one, such as Yesterday or the last 2 days",
			loc, from.In(loc).Format(time.DateTime), end.In(loc).Format(time.DateTime)))
	}
	pb, err := d.playbook()
	if err != nil {
		return nil, backend.PluginError(err)
	}
	opts := briefing.Options{Engine: e, Location: loc, Now: d.now, Playbook: pb, Currency: d.settings.Currency}
	if q.Anomaly != nil {
		opts.K = q.Anomaly.K
	}
	b, err := briefing.New(opts)
	if err != nil {
		return nil, backend.PluginError(err)
	}
	date := dayStart.In(loc).Format(time.DateOnly)
	br, err := b.Changes(ctx, date, store)
	if err != nil {
		return nil, err
	}
	return data.Frames{insightsFrame(br, d.catalog, d.settings.Currency)}, nil
}

// playbook is the default playbook (digest/briefing/playbook.yaml), read
// once per datasource instance.
func (d *Datasource) playbook() (*briefing.Playbook, error) {
	d.playbookOnce.Do(func() {
		d.pb, d.pbErr = briefing.LoadPlaybook(d.catalog, "")
	})
	return d.pb, d.pbErr
}

// insightsFrame is one row per change, ranked by business impact: the KPI,
// its value against the expected one, the impact in currency, the reasons
// (the dimension value with its share of the change, the funnel step, the
// other signals as text), the playbook's first suggestion with its owner
// and rule, and the drill-down link. No change: an empty table with the
// notice "Nothing unusual".
func insightsFrame(br *briefing.Briefing, cat *kpi.Catalog, currency string) *data.Frame {
	n := len(br.Changes)
	rank := make([]int64, n)
	ids, names, stores, units := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	value, expected, delta, score := make([]float64, n), make([]float64, n), make([]float64, n), make([]float64, n)
	impact, impactValue, impactUnit := make([]*float64, n), make([]float64, n), make([]string, n)
	direction, tone := make([]string, n), make([]string, n)
	dim, dimValue, effect, share := make([]string, n), make([]string, n), make([]string, n), make([]*float64, n)
	step, stepChange, why := make([]string, n), make([]*float64, n), make([]string, n)
	action, owner, rule, link := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	for i, c := range br.Changes {
		rank[i], ids[i], names[i], stores[i], units[i] = int64(c.Rank), c.KPI, c.Name, c.Store, c.Unit
		if k, ok := cat.Get(c.KPI); ok {
			units[i] = GrafanaUnit(k.Unit, currency)
		}
		value[i], expected[i], delta[i], score[i] = c.Value, c.Expected, c.Value-c.Expected, c.Score
		impact[i], impactValue[i], impactUnit[i] = c.Impact.Currency, c.Impact.Value, c.Impact.Unit
		direction[i], tone[i], link[i] = c.Direction, c.Tone, c.Link
		var texts []string
		for _, r := range c.Reasons {
			texts = append(texts, r.Text)
			switch {
			case r.Kind == briefing.ReasonDimension && dim[i] == "":
				dim[i], dimValue[i], effect[i] = r.Dimension, r.Value, r.Effect
				if s, ok := r.Numbers["share"]; ok {
					share[i] = &s
				}
			case r.Kind == briefing.ReasonFunnel && step[i] == "":
				step[i] = r.Value
				if s, ok := r.Numbers["change"]; ok {
					stepChange[i] = &s
				}
			}
		}
		why[i] = strings.Join(texts, " ")
		if len(c.Actions) > 0 {
			action[i], owner[i], rule[i] = c.Actions[0].Action, c.Actions[0].Owner, c.Actions[0].Rule
		}
	}
	cfg := func(name, unit string) *data.FieldConfig {
		return &data.FieldConfig{DisplayNameFromDS: name, Unit: unit}
	}
	linkCfg := cfg("Drill down", "")
	linkCfg.Links = []data.DataLink{{Title: "Open the drill-down", URL: "${__value.raw}"}}
	f := data.NewFrame("insights",
		data.NewField("rank", nil, rank).SetConfig(cfg("#", "")),
		data.NewField("kpi", nil, ids).SetConfig(cfg("KPI id", "")),
		data.NewField("name", nil, names).SetConfig(cfg("KPI", "")),
		data.NewField("store", nil, stores).SetConfig(cfg("Store", "")),
		data.NewField("value", nil, value).SetConfig(cfg("Value", "")),
		data.NewField("expected", nil, expected).SetConfig(cfg("Expected", "")),
		data.NewField("delta", nil, delta).SetConfig(cfg("Change", "")),
		data.NewField("unit", nil, units).SetConfig(cfg("Unit", "")),
		data.NewField("impact", nil, impact).SetConfig(cfg("Impact", GrafanaUnit(kpi.UnitCurrency, currency))),
		data.NewField("impactValue", nil, impactValue).SetConfig(cfg("Impact (own unit)", "")),
		data.NewField("impactUnit", nil, impactUnit).SetConfig(cfg("Impact unit", "")),
		data.NewField("score", nil, score).SetConfig(cfg("Score (spreads)", "")),
		data.NewField("direction", nil, direction).SetConfig(cfg("Direction", "")),
		data.NewField("tone", nil, tone).SetConfig(cfg("Tone", "")),
		data.NewField("dimension", nil, dim).SetConfig(cfg("Dimension", "")),
		data.NewField("dimensionValue", nil, dimValue).SetConfig(cfg("Explained by", "")),
		data.NewField("share", nil, share).SetConfig(cfg("Share of the change", "percentunit")),
		data.NewField("effect", nil, effect).SetConfig(cfg("Mix or rate", "")),
		data.NewField("funnelStep", nil, step).SetConfig(cfg("Funnel step", "")),
		data.NewField("funnelStepChange", nil, stepChange).SetConfig(cfg("Step rate change", "percentunit")),
		data.NewField("why", nil, why).SetConfig(cfg("Why", "")),
		data.NewField("action", nil, action).SetConfig(cfg("What to do", "")),
		data.NewField("owner", nil, owner).SetConfig(cfg("Owner", "")),
		data.NewField("rule", nil, rule).SetConfig(cfg("Playbook rule", "")),
		data.NewField("link", nil, link).SetConfig(linkCfg),
	)
	meta := &data.FrameMeta{Type: data.FrameTypeTable, Custom: map[string]any{
		"date": br.Date, "store": br.Store, "timeZone": br.TimeZone, "sensitivity": br.Sensitivity,
		"nothingUnusual": br.NothingUnusual,
	}}
	if br.NothingUnusual {
		what := "the business"
		if br.Store != "" {
			what = "store " + br.Store
		}
		meta.Notices = []data.Notice{{Severity: data.NoticeSeverityInfo,
			Text: fmt.Sprintf("Nothing unusual on %s (%s): no KPI of %s moved beyond its normal range.", br.Date, br.Weekday, what)}}
	}
	f.SetMeta(meta)
	return f
}
