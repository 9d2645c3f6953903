package plugin

import (
	"context"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
)

func (d *Datasource) lifecycleQuery(ctx context.Context, req engine.Request) (data.Frames, error) {
	res, err := d.engineFor(ctx).Lifecycle(ctx, req)
	if err != nil {
		return nil, err
	}
	return data.Frames{lifecycleFrame(res, d.settings.Currency)}, nil
}

// lifecycleFrame is a table, one row per value of the dimension (largest
// value first): its stage (and stage code 1..4 for value mappings and
// thresholds), weekly growth, the KPI over the last 4 weeks and its share.
func lifecycleFrame(res *engine.LifecycleResult, currency string) *data.Frame {
	n := len(res.Rows)
	values := make([]string, n)
	stages, codes := make([]*string, n), make([]*int64, n)
	growth, value, share := make([]*float64, n), make([]float64, n), make([]*float64, n)
	for i, r := range res.Rows {
		values[i] = withoutNone(r.Groups[0])
		if r.Stage != "" {
			stage, code := r.Stage, int64(r.StageCode)
			stages[i], codes[i] = &stage, &code
		}
		growth[i], value[i], share[i] = r.Growth, r.Value, r.Share
	}
	cfg := func(display, unit string) *data.FieldConfig {
		return &data.FieldConfig{DisplayNameFromDS: display, Unit: unit}
	}
	f := data.NewFrame("lifecycle",
		data.NewField(res.GroupBy[0], nil, values),
		data.NewField("stage", nil, stages).SetConfig(cfg("Stage", "")),
		data.NewField("stage_code", nil, codes).SetConfig(cfg("Stage code", "none")),
		data.NewField("growth", nil, growth).SetConfig(cfg("Weekly growth", "percentunit")),
		data.NewField("value", nil, value).SetConfig(cfg(res.KPI.Name+" (last 4 weeks)", GrafanaUnit(res.KPI.Unit, currency))),
		data.NewField("share", nil, share).SetConfig(cfg("Share", "percentunit")),
	)
	f.SetMeta(&data.FrameMeta{Type: data.FrameTypeTable, Custom: map[string]any{
		"kpi": res.KPI.ID, "dimension": res.GroupBy[0], "from": res.From.UTC(), "to": res.To.UTC(),
		"weeks": res.Weeks, "weeksLeftOut": res.LeftOut,
	}})
	return f
}
