package plugin

import (
	"strings"

	"github.com/grafana/grafana-plugin-sdk-go/data"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/internal/kpi"
)

// noValue labels a series whose points lack the grouped tag ("not given").
const noValue = "(none)"

// GrafanaUnit is the Grafana unit id of a catalog unit.
func GrafanaUnit(u kpi.Unit, currency string) string {
	switch u {
	case kpi.UnitCurrency:
		return "currency:" + currency
	case kpi.UnitPercent:
		return "percentunit"
	case kpi.UnitSeconds:
		return "s"
	case kpi.UnitCount:
		return "short"
	}
	return "none"
}

// seriesFrames shapes a result as a multi-frame time series: one frame per
// series with a time field and one numeric field whose labels are the
// dimension values (plus compare/output for comparison series), so that
// alerting reduces them to one instance per series (e.g. per store).
func seriesFrames(res *engine.Result, currency string) data.Frames {
	frames := make(data.Frames, 0, len(res.Series))
	unit := GrafanaUnit(res.KPI.Unit, currency)
	for _, s := range res.Series {
		labels := data.Labels{}
		var names []string
		for i, g := range res.GroupBy {
			v := s.Groups[i]
			if v == "" {
				v = noValue
			}
			labels[g] = v
			names = append(names, v)
		}
		display := res.KPI.Name
		if len(names) > 0 {
			display += " " + strings.Join(names, " / ")
		}
		cfg := &data.FieldConfig{Unit: unit}
		switch s.Role {
		case engine.RoleCompare, engine.RoleDelta:
			display += compareDisplay(res.Compare, s.Role)
		case engine.RoleChange:
			display += compareDisplay(res.Compare, s.Role)
			cfg.Unit = "percentunit"
		case engine.RoleTarget:
			display += " target"
		case engine.RoleAttainment:
			display += " attainment"
			cfg.Unit = "percentunit"
		case engine.RoleExpected, engine.RoleLower, engine.RoleUpper:
			display += " " + s.Role
		case engine.RoleScore:
			display += " anomaly score"
			cfg.Unit = "none"
		case engine.RoleAnomaly:
			display += " anomaly"
			cfg.Unit = "none"
		}
		switch s.Role {
		case engine.RoleCurrent:
		case engine.RoleTarget, engine.RoleAttainment, engine.RoleExpected, engine.RoleLower, engine.RoleUpper,
			engine.RoleScore, engine.RoleAnomaly:
			labels["output"] = s.Role
		default:
			labels["compare"] = res.Compare
			labels["output"] = s.Role
		}
		cfg.DisplayNameFromDS = display
		if len(labels) == 0 {
			labels = nil
		}
		value := data.NewField(res.KPI.ID, labels, s.Values).SetConfig(cfg)
		f := data.NewFrame(res.KPI.ID, data.NewField(data.TimeSeriesTimeFieldName, nil, res.Times), value)
		meta := &data.FrameMeta{
			Type:        data.FrameTypeTimeSeriesMulti,
			TypeVersion: data.FrameTypeVersion{0, 1},
			Custom:      frameCustom(res),
		}
		if s.Notice != "" { // an anomaly band still learning
			meta.Notices = []data.Notice{{Severity: data.NoticeSeverityInfo, Text: display + ": " + s.Notice}}
			meta.Custom.(map[string]any)["learning"] = s.Notice
		}
		f.SetMeta(meta)
		frames = append(frames, f)
	}
	return frames
}

func frameCustom(res *engine.Result) map[string]any {
	c := map[string]any{"interval": res.Step.String(), "kpi": res.KPI.ID, "kind": string(res.KPI.Kind)}
	if res.Cumulative != "" {
		c["cumulative"] = res.Cumulative
	}
	if res.TopN > 0 {
		c["topN"] = res.TopN
	}
	if res.Anomaly > 0 {
		c["anomalyK"] = res.Anomaly
	}
	if m := res.CompareCampaign; m != nil {
		c["campaign"], c["previousCampaign"] = m.Current.ID, m.Previous.ID
	}
	return c
}
