package dashboards_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/dashboards"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/datasource/pkg/plugin/plugintest"
	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/simload"
)

// The dashboards are evaluated at a fixed instant of the simulated data, as
// if Grafana showed them then: a Wednesday afternoon a week after Double
// Eleven (its after-sales phase runs until 21 November), with last year's
// Double Eleven simulated too. Every query's "to" is clamped to it, which is
// what the plugin does with "now" (no buckets after now; the forecast and
// freshness are relative to min(to, now)).
var (
	shanghai = mustLoc("Asia/Shanghai")
	evalNow  = time.Date(2026, 11, 18, 15, 0, 0, 0, shanghai)
)

func mustLoc(name string) *time.Location {
	loc, err := time.LoadLocation(name)
	if err != nil {
		panic(err)
	}
	return loc
}

// simulate fills srv: the 21 weeks before evalNow (the life-cycle panels
// read 20, the anomaly band 6 weeks of history before the drill-down's
// week) with a store
// going silent and a refund spike in the last week, and last year's autumn
// (the same campaign last year, 1y comparisons).
func simulate(t *testing.T, srv *influxtest.Server) {
	t.Helper()
	const stores, seed, scale = 3, 11, 0.3
	silent := sim.Incident{Store: "s001", Kind: sim.IncidentStoreSilent,
		Start: evalNow.AddDate(0, 0, -2).Add(-4 * time.Hour), End: evalNow.AddDate(0, 0, -2)}
	refunds := sim.Incident{Store: "s002", Kind: sim.IncidentRefundSpike,
		Start: evalNow.AddDate(0, 0, -1).Add(-6 * time.Hour), End: evalNow.AddDate(0, 0, -1)}
	start := time.Date(2026, 6, 22, 0, 0, 0, 0, shanghai)
	res := simload.Into(t, srv, sim.Config{Seed: seed, NumStores: stores, Scale: scale, Start: start, End: evalNow,
		IncidentPlan: []sim.Incident{silent, refunds}})
	require.Len(t, res.Generator.Incidents(), 2)
	simload.Into(t, srv, sim.Config{Seed: seed, NumStores: stores, Scale: scale,
		Start: time.Date(2025, 9, 22, 0, 0, 0, 0, shanghai), End: time.Date(2025, 11, 28, 0, 0, 0, 0, shanghai)})
}

// runner runs the dashboards' queries through the plugin over gRPC.
type runner struct {
	t   *testing.T
	c   *datasourcetest.TestPluginClient
	pc  backend.PluginContext
	all map[string]dashJSON
}

func (r *runner) run(where, refID, queryType string, raw json.RawMessage, from, to time.Time) backend.DataResponse {
	r.t.Helper()
	if to.After(evalNow) {
		to = evalNow
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	return plugintest.Query(ctx, r.t, r.c, r.pc, refID, queryType, raw, from, to)
}

// variableValues runs a query variable's own query over the dashboard's
// range: the values Grafana would offer.
func (r *runner) variableValues(d dashJSON, v varJSON) []string {
	r.t.Helper()
	from, to, err := panelRange(d, nil, evalNow, shanghai)
	require.NoError(r.t, err)
	var e envelope
	require.NoError(r.t, json.Unmarshal(v.Query, &e))
	resp := r.run(d.UID+" variable "+v.Name, e.RefID, e.QueryType, v.Query, from, to)
	require.NoError(r.t, resp.Error, "%s variable %s: %s", d.UID, v.Name, plugintest.String(resp))
	var out []string
	for _, f := range resp.Frames {
		for _, fld := range f.Fields {
			for i := range fld.Len() {
				if s, ok := fld.At(i).(string); ok && s != "" {
					out = append(out, s)
				}
			}
		}
	}
	require.NotEmpty(r.t, out, "%s variable %s has no values in the data", d.UID, v.Name)
	return out
}

// scenario is one choice of variable values.
type scenario struct {
	name string
	vals map[string]string
	vary []string // the variables this scenario changes from the defaults
}

// scenarios are the defaults (All, the custom variables' defaults), then
// real values of the multi-value variables (one value each, two values
// each), then each choice of compare and KPIs of every kind (a ratio of
// distinct counts, a distinct count, a lower-is-better ratio, a count).
func (r *runner) scenarios(d dashJSON) []scenario {
	base := map[string]string{}
	var multi []varJSON
	single := map[string][]string{}
	for _, v := range d.Templating.List {
		switch {
		case v.Type == "custom":
			base[v.Name] = v.currentValue()
		case v.Multi:
			base[v.Name] = dollarAll
			multi = append(multi, v)
		default:
			// Grafana starts a single-value variable without a current value
			// on its first value (the plugin lists them sorted).
			vals := r.variableValues(d, v)
			base[v.Name] = vals[0]
			single[v.Name] = vals[1:]
		}
	}
	with := func(name string, kv ...string) scenario {
		m := map[string]string{}
		for k, v := range base {
			m[k] = v
		}
		var vary []string
		for i := 0; i < len(kv); i += 2 {
			m[kv[i]] = kv[i+1]
			vary = append(vary, kv[i])
		}
		return scenario{name: name, vals: m, vary: vary}
	}
	out := []scenario{{name: "defaults", vals: base}}
	var one, two []string
	for _, v := range multi {
		vals := r.variableValues(d, v)
		one = append(one, v.Name, vals[0])
		two = append(two, v.Name, "{"+vals[0]+","+vals[len(vals)-1]+"}")
	}
	if len(one) > 0 {
		out = append(out, with("one value each", one...), with("two values each", two...))
	}
	for name, vals := range single {
		for _, v := range vals {
			out = append(out, with(name+"="+v, name, v))
		}
	}
	for _, v := range d.Templating.List {
		switch v.Name {
		case "compare":
			for _, c := range v.optionValues() {
				if c != v.currentValue() {
					out = append(out, with("compare="+c, "compare", c))
				}
			}
		case "kpi":
			opts := v.optionValues()
			for _, id := range []string{"conversion_rate", "active_users", "refund_rate", "sessions"} {
				if slices.Contains(opts, id) && id != v.currentValue() {
					out = append(out, with("kpi="+id, "kpi", id))
				}
			}
		}
	}
	return out
}

// uses reports whether a query refers to any of the variables.
func uses(raw json.RawMessage, names []string) bool {
	for _, n := range names {
		if varPattern(n).Match(raw) {
			return true
		}
	}
	return false
}

// expectation of a query in a scenario: data (the default), an allowed empty
// answer, or a plugin error whose message contains a text.
type expectation struct {
	mayBeEmpty  bool
	errContains string
}

// expect lists what is not "returns data": answers that are legitimately
// empty and documented refusals of the plugin.
func expect(uid, where string, e envelope, sc scenario) expectation {
	switch {
	case e.QueryType == models.QueryTypeInsights && strings.HasPrefix(sc.vals["store"], "{"):
		// Insights brief the business or one store (docs/query.md).
		return expectation{errContains: "one store or all"}
	case e.QueryType == models.QueryTypeInsights:
		// "Nothing unusual" is a valid and common answer: an empty table.
		return expectation{mayBeEmpty: true}
	case e.QueryType == models.QueryTypeAnomalies:
		// Anomalies are rare by design: a run may find none (the drill-down
		// must find the injected silent store, checked separately).
		return expectation{mayBeEmpty: true}
	case uid == dashboards.UIDDrilldown && strings.Contains(where, "Contribution") &&
		(sc.vals["kpi"] == "conversion_rate" || sc.vals["kpi"] == "active_users"):
		return expectation{errContains: "do not add up"}
	}
	return expectation{}
}

// hasData reports whether some frame has a non-null value besides time.
func hasData(frames data.Frames) bool {
	for _, f := range frames {
		for _, fld := range f.Fields {
			if fld.Type() == data.FieldTypeTime || fld.Type() == data.FieldTypeNullableTime {
				continue
			}
			for i := range fld.Len() {
				if v, ok := fld.ConcreteAt(i); ok && v != "" {
					return true
				}
			}
		}
	}
	return false
}

// fieldsNamed are the fields whose name or display name is name (Grafana's
// byName matcher).
func fieldsNamed(frames data.Frames, name string) []*data.Field {
	var out []*data.Field
	for _, f := range frames {
		for _, fld := range f.Fields {
			if fld.Name == name || (fld.Config != nil && fld.Config.DisplayNameFromDS == name) {
				out = append(out, fld)
			}
		}
	}
	return out
}

func hasValue(fld *data.Field) bool {
	for i := range fld.Len() {
		if v, ok := fld.ConcreteAt(i); ok && v != "" {
			return true
		}
	}
	return false
}

// names are the field names and display names Grafana matches overrides
// and reduce options against.
func names(frames data.Frames) []string {
	var out []string
	for _, f := range frames {
		for _, fld := range f.Fields {
			out = append(out, fld.Name)
			if fld.Config != nil && fld.Config.DisplayNameFromDS != "" {
				out = append(out, fld.Config.DisplayNameFromDS)
			}
		}
	}
	return out
}

var (
	fieldLabelRef = regexp.MustCompile(`\$\{__field\.labels\.([a-z_]+)\}`)
	dataFieldRef  = regexp.MustCompile(`\$\{__data\.fields\.([a-z_]+)\}`)
)

// checkPanelNames checks what a panel's options expect of the plugin's
// frames: every field an override names or a regex selects exists, every
// label or column a link or display name uses is there.
func checkPanelNames(t *testing.T, where string, p *panelJSON, frames data.Frames, strictValues bool) {
	t.Helper()
	got := names(frames)
	for _, o := range p.FieldConfig.Overrides {
		opt, _ := o.Matcher.Options.(string)
		for _, pr := range o.Properties {
			if pr.ID == "custom.fillBelowTo" {
				var to string
				require.NoError(t, json.Unmarshal(pr.Value, &to))
				assert.Contains(t, got, to, "%s: fills below to %q, which is no series (fields: %q)", where, to, got)
			}
		}
		switch o.Matcher.ID {
		case "byName":
			// The column or series a panel styles must exist and, with the
			// variables' defaults, hold a value (with a filter a comparison
			// may legitimately have none: a campaign absent before).
			fields := fieldsNamed(frames, opt)
			assert.NotEmpty(t, fields, "%s: override of %q matches no field (fields: %q)", where, opt, got)
			if strictValues {
				assert.True(t, slices.ContainsFunc(fields, hasValue), "%s: override of %q matches no field with a value", where, opt)
			}
		case "byRegexp":
			re, err := jsRegexp(opt)
			require.NoError(t, err)
			assert.True(t, slices.ContainsFunc(got, re.MatchString), "%s: override %s matches no field (fields: %q)", where, opt, got)
		}
	}
	if ro := p.Options.ReduceOptions; ro != nil && ro.Fields != "" {
		re, err := jsRegexp(ro.Fields)
		require.NoError(t, err)
		matched := map[string]bool{}
		for _, n := range got {
			if re.MatchString(n) {
				matched[n] = true
			}
		}
		// "/^(a|b|c)$/" lists the fields shown: each must exist.
		want := 1
		if strings.HasPrefix(ro.Fields, "/^(") {
			want = strings.Count(ro.Fields, "|") + 1
		}
		assert.GreaterOrEqual(t, len(matched), want, "%s: fields %s select %v of %q", where, ro.Fields, matched, got)
	}
	raw, _ := json.Marshal(p)
	for _, m := range fieldLabelRef.FindAllStringSubmatch(string(raw), -1) {
		found := false
		for _, f := range frames {
			for _, fld := range f.Fields {
				if _, ok := fld.Labels[m[1]]; ok {
					found = true
				}
			}
		}
		assert.True(t, found, "%s uses ${__field.labels.%s}: no field has that label", where, m[1])
	}
	for _, m := range dataFieldRef.FindAllStringSubmatch(string(raw), -1) {
		assert.Contains(t, got, m[1], "%s uses ${__data.fields.%s}: no such column", where, m[1])
	}
}

func TestEveryPanelQueryReturnsDataThroughThePlugin(t *testing.T) {
	srv := influxtest.Start(t)
	began := time.Now()
	simulate(t, srv)
	t.Logf("simulated in %s", time.Since(began).Round(time.Second))
	r := &runner{t: t, c: plugintest.ServeAt(t, evalNow), pc: plugintest.Context(srv, dashboards.DatasourceUID, ""), all: loadAll(t)}

	uids := make([]string, 0, len(r.all))
	for uid := range r.all {
		uids = append(uids, uid)
	}
	sort.Strings(uids)
	anomalyRows := 0
	runs := 0
	for _, uid := range uids {
		d := r.all[uid]
		t.Run(uid, func(t *testing.T) {
			r.t = t
			type key struct{ scenario, panel int }
			panelFrames := map[key]data.Frames{}
			var scenarioNames []string
			for i, sc := range r.scenarios(d) {
				scenarioNames = append(scenarioNames, sc.name)
				for _, q := range queries(d) {
					if strings.Contains(q.where, " variable ") {
						continue // run above, for the scenarios' values
					}
					if i > 0 && !uses(q.raw, sc.vary) {
						continue
					}
					raw, err := interpolate(q.raw, sc.vals)
					require.NoError(t, err)
					var e envelope
					require.NoError(t, json.Unmarshal(raw, &e))
					from, to, err := panelRange(d, q.panel, evalNow, shanghai)
					require.NoError(t, err, q.where)
					where := q.where + " [" + sc.name + "]"
					resp := r.run(where, e.RefID, e.QueryType, raw, from, to)
					runs++
					ex := expect(uid, q.where, e, sc)
					if ex.errContains != "" {
						if assert.Error(t, resp.Error, "%s: expected a refusal", where) {
							assert.Contains(t, resp.Error.Error(), ex.errContains, where)
							assert.Equal(t, backend.ErrorSourcePlugin, resp.ErrorSource, where)
						}
						continue
					}
					if !assert.NoError(t, resp.Error, "%s: %s\nquery: %s", where, plugintest.String(resp), raw) {
						continue
					}
					if e.QueryType == models.QueryTypeAnomalies && uid == dashboards.UIDDrilldown && sc.vals["kpi"] == "sessions" {
						for _, f := range resp.Frames {
							anomalyRows += f.Rows()
						}
					}
					if !ex.mayBeEmpty {
						assert.True(t, hasData(resp.Frames), "%s returned no data (%d frames)\nquery: %s", where, len(resp.Frames), raw)
					}
					if q.panel != nil {
						k := key{i, q.panel.ID}
						panelFrames[k] = append(panelFrames[k], resp.Frames...)
					}
				}
			}
			// A panel's options are checked against the frames of all its
			// queries of one scenario.
			for k, f := range panelFrames {
				p := allPanels(d)[slices.IndexFunc(allPanels(d), func(p panelJSON) bool { return p.ID == k.panel })]
				if hasData(f) {
					checkPanelNames(t, fmt.Sprintf("%s panel %d %q [%s]", uid, p.ID, p.Title, scenarioNames[k.scenario]), &p, f, k.scenario == 0)
				}
			}
		})
	}
	r.t = t
	assert.Positive(t, anomalyRows, "the drill-down's anomalies of sessions by store find the silent store")
	t.Logf("%d queries in %s", runs, time.Since(began).Round(time.Second))
}
