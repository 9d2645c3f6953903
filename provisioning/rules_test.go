package provisioning

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/data"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/plugin/plugintest"
	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/simload"
)

// The rules are run the way Grafana runs them, without Grafana: every query
// of a rule goes through the plugin over gRPC against a real InfluxDB filled
// by the simulator, over the rule's relative time range ending at an
// evaluation instant; the evaluator of expr_test.go computes the
// expressions. Each rule must fire for the store of its incident during the
// incident and for no store at any instant of a normal week before.
//
// Instants are whole hours: the plugin reads whole buckets (hours, 5
// minutes), and in a test the bucket holding a mid-hour instant would hold
// the simulated future too; at a whole hour every range ends on a bucket
// boundary, as "now" does for real.

// Six weeks of four stores from Monday 6 July 2026 (Asia/Shanghai): weeks 1-4
// are the anomaly rule's history, week 5 (3-9 August) is the normal week,
// week 6 (10-16 August) has one planned incident per rule. July and August hold no big
// campaign, only the weekly member days (Wednesdays). Each incident's store
// is sized for its rule's volume minimum, no larger: the load dominates the
// test's time.
func ruleTestConfig(loc *time.Location) sim.Config {
	day := func(d, h int) time.Time { return time.Date(2026, 8, d, h, 0, 0, 0, loc) }
	mix := [4]float64{0.4, 0.2, 0.25, 0.15}
	return sim.Config{
		Seed: 7,
		Stores: []sim.StoreConfig{
			{ID: "s001", Size: 0.35, ChannelMix: mix},
			{ID: "s002", Size: 1.5, ChannelMix: mix},
			{ID: "s003", Size: 1, ChannelMix: mix},
			{ID: "s004", Size: 0.3, ChannelMix: mix},
		},
		Location: loc,
		Start:    time.Date(2026, 7, 6, 0, 0, 0, 0, loc),
		Days:     42,
		Scale:    4,
		IncidentPlan: []sim.Incident{
			{Store: "s002", Kind: sim.IncidentPaymentOutage, Start: day(10, 11), End: day(10, 14)},
			{Store: "s003", Kind: sim.IncidentCheckoutFailure, Start: day(11, 10), End: day(11, 15)},
			{Store: "s001", Kind: sim.IncidentRefundSpike, Start: day(12, 10), End: day(12, 18)},
			{Store: "s004", Kind: sim.IncidentStoreSilent, Start: day(13, 14), End: day(13, 18)},
			{Store: "s002", Kind: sim.IncidentServiceBacklog, Start: day(14, 11), End: day(14, 16)},
			// Saturday: not a member day. The first category's own price at a
			// tenth; prices are observed in even hours only.
			{Store: "s003", Kind: sim.IncidentPriceError, Start: day(15, 10), End: day(15, 15)},
		},
	}
}

// incidentRules maps each planned incident to the rule that must catch it
// and how long after the incident's start the rule's window lies inside it.
func incidentRules() map[sim.IncidentKind]struct {
	uid   string
	after time.Duration
} {
	return map[sim.IncidentKind]struct {
		uid   string
		after time.Duration
	}{
		sim.IncidentPaymentOutage:   {"storepulse-revenue-drop", 2 * time.Hour},
		sim.IncidentCheckoutFailure: {"storepulse-conversion-anomaly", 2 * time.Hour},
		sim.IncidentRefundSpike:     {"storepulse-refund-spike", 7 * time.Hour},
		sim.IncidentStoreSilent:     {"storepulse-store-silent", time.Hour},
		sim.IncidentServiceBacklog:  {"storepulse-first-response", 2 * time.Hour},
		// the window 10:00-13:00 holds the observations of 10:00 and 12:00
		sim.IncidentPriceError: {"storepulse-price-anomaly", 3 * time.Hour},
	}
}

type ruleRunner struct {
	t      *testing.T
	client *datasourcetest.TestPluginClient
	pc     backend.PluginContext
}

// eval evaluates rule r at instant at and returns every refId's numbers.
func (rr ruleRunner) eval(ctx context.Context, r rule, at time.Time) map[string][]number {
	nums, _ := rr.evalNoData(ctx, r, at)
	return nums
}

// evalNoData is eval, and also returns the refIds of the plugin's queries
// that answered with no data as Grafana's alerting sees it (IsNoData in
// pkg/services/ngalert/eval: no frame, or one frame without fields). Grafana
// gives the whole rule the NoData state when any of them did, whatever the
// other queries returned.
func (rr ruleRunner) evalNoData(ctx context.Context, r rule, at time.Time) (map[string][]number, []string) {
	t := rr.t
	t.Helper()
	var noData []string
	exprs, err := parseExpressions(r.Data)
	require.NoError(t, err)
	queries := map[string][]series{}
	for _, q := range r.Data {
		if q.DatasourceUID != datasourceUID {
			continue
		}
		model, err := json.Marshal(q.Model)
		require.NoError(t, err)
		from := at.Add(-time.Duration(q.RelativeTimeRange.From) * time.Second)
		to := at.Add(-time.Duration(q.RelativeTimeRange.To) * time.Second)
		resp := plugintest.Query(ctx, t, rr.client, rr.pc, q.RefID, q.QueryType, model, from, to)
		require.NoError(t, resp.Error, "%s %s at %s: %s", r.UID, q.RefID, at, plugintest.String(resp))
		if len(resp.Frames) == 0 || (len(resp.Frames) == 1 && len(resp.Frames[0].Fields) == 0) {
			noData = append(noData, q.RefID)
		}
		queries[q.RefID] = frameSeries(t, resp.Frames)
	}
	nums, err := evaluate(r, exprs, queries)
	require.NoError(t, err)
	return nums, noData
}

// pages is why evaluating rule r at instant at would notify someone, or ""
// when it would not: as Grafana does, a rule is NoData when one of its
// queries returned no data or its condition has no number (then its
// noDataState decides: NoData raises a DatasourceNoData alert with the
// rule's labels, Alerting fires), and every number of its condition other
// than 0 fires.
func (rr ruleRunner) pages(ctx context.Context, r rule, at time.Time) string {
	nums, noData := rr.evalNoData(ctx, r, at)
	if len(noData) == 0 && len(nums[r.Condition]) == 0 {
		noData = []string{r.Condition}
	}
	if len(noData) > 0 {
		if r.NoDataState == "NoData" || r.NoDataState == "Alerting" {
			return fmt.Sprintf("no data from %v, and noDataState %s pages", noData, r.NoDataState)
		}
		return ""
	}
	for _, n := range nums[r.Condition] {
		if n.value == nil && (r.NoDataState == "NoData" || r.NoDataState == "Alerting") {
			return fmt.Sprintf("%v has no value, and noDataState %s pages", n.labels, r.NoDataState)
		}
	}
	if st := firingStores(r, nums); len(st) > 0 {
		return fmt.Sprintf("fires for %v: %s", st, describe(nums, st[0]))
	}
	return ""
}

// frameSeries converts a response's frames to series as Grafana's
// expressions do for time series: one series per numeric field, labelled by
// the field's labels.
func frameSeries(t *testing.T, frames data.Frames) []series {
	t.Helper()
	out := []series{}
	for _, f := range frames {
		hasTime := slices.ContainsFunc(f.Fields, func(fl *data.Field) bool {
			return fl.Type() == data.FieldTypeTime || fl.Type() == data.FieldTypeNullableTime
		})
		require.True(t, hasTime, "frame %q is not a time series", f.Name)
		for _, fl := range f.Fields {
			if !fl.Type().Numeric() {
				continue
			}
			s := series{labels: map[string]string(fl.Labels)}
			for i := range fl.Len() {
				v, err := fl.NullableFloatAt(i)
				require.NoError(t, err)
				s.values = append(s.values, v)
			}
			out = append(out, s)
		}
	}
	return out
}

// firingStores is the stores whose condition fires.
func firingStores(r rule, nums map[string][]number) []string {
	var out []string
	for _, l := range firing(nums[r.Condition]) {
		if !slices.Contains(out, l["store"]) {
			out = append(out, l["store"])
		}
	}
	slices.Sort(out)
	return out
}

// describe prints a store's numbers of every expression, for the test log.
func describe(nums map[string][]number, store string) string {
	var parts []string
	for _, ref := range slices.Sorted(maps.Keys(nums)) {
		for _, n := range nums[ref] {
			if n.labels["store"] != store || len(parts) > 12 {
				continue
			}
			v := "none"
			if n.value != nil {
				v = fmt.Sprintf("%.4g", *n.value)
			}
			var tags []string
			for _, l := range []string{"category", "output"} {
				if v := n.labels[l]; v != "" {
					tags = append(tags, v)
				}
			}
			extra := ""
			if len(tags) > 0 {
				extra = "[" + strings.Join(tags, " ") + "]"
			}
			parts = append(parts, ref+extra+"="+v)
		}
	}
	return strings.Join(parts, " ")
}

func TestRulesAgainstSimulatedIncidents(t *testing.T) {
	if testing.Short() && os.Getenv("CI") == "" {
		t.Skip("-short: loads six weeks of simulated stores into InfluxDB (about a minute)")
	}
	loc, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	srv := influxtest.Start(t)
	cfg := ruleTestConfig(loc)
	res := simload.Into(t, srv, cfg)
	t.Logf("%d events of %d stores over %d days", res.Events, len(cfg.Stores), cfg.Days)

	rules := map[string]rule{}
	for _, r := range allRules(t) {
		rules[r.UID] = r
	}
	rr := ruleRunner{t: t, client: plugintest.ServeAt(t, cfg.Start.AddDate(0, 0, cfg.Days)), pc: plugintest.Context(srv, datasourceUID, "")}
	ctx := context.Background()

	incidents := res.Generator.Incidents()
	require.Len(t, incidents, len(incidentRules()))
	t.Run("each rule fires for its incident's store, only for it", func(t *testing.T) {
		rr.t = t
		for _, in := range incidents {
			want := incidentRules()[in.Kind]
			r, ok := rules[want.uid]
			require.True(t, ok, want.uid)
			at := in.Start.Add(want.after)
			require.True(t, at.Before(in.End) || at.Equal(in.End))
			nums := rr.eval(ctx, r, at)
			t.Logf("%s at %s (%s of %s): %s", r.UID, at.Format("Mon 01-02 15:04"), in.Kind, in.Store, describe(nums, in.Store))
			if got := firingStores(r, nums); !slices.Equal(got, []string{in.Store}) {
				t.Errorf("%s at %s fires for %v, want %s", r.UID, at, got, in.Store)
			}
			for _, l := range firing(nums[r.Condition]) {
				if c, ok := l["category"]; ok && c != in.Category { // a rule per category: only the incident's
					t.Errorf("%s at %s fires for category %s of %s, want %s only", r.UID, at, c, l["store"], in.Category)
				}
			}
		}
	})

	t.Run("no rule fires in a normal week", func(t *testing.T) {
		rr.t = t
		// Every 7 hours, so the instants cycle through the hours of the day.
		weekStart := time.Date(2026, 8, 3, 0, 0, 0, 0, loc)
		n := 0
		for at := weekStart.Add(time.Hour); at.Before(weekStart.AddDate(0, 0, 7)); at = at.Add(7 * time.Hour) {
			for _, uid := range slices.Sorted(maps.Keys(rules)) {
				r := rules[uid]
				nums := rr.eval(ctx, r, at)
				for _, st := range firingStores(r, nums) {
					t.Errorf("%s fires for %s at %s: %s", uid, st, at.Format("Mon 01-02 15:04"), describe(nums, st))
				}
				n++
			}
		}
		t.Logf("%d rule evaluations in the normal week, none firing", n)
	})

	// A fresh stack (docker compose up, then the backfill) has data from
	// the moment its stores start, and nothing a week, or four weeks, before:
	// the rules' baselines are empty. That is no reason to page anyone.
	t.Run("a fresh stack pages no one in its first week", func(t *testing.T) {
		rr.t = t
		for _, after := range []time.Duration{time.Hour, 6 * time.Hour, 24 * time.Hour, 3 * 24 * time.Hour, 6*24*time.Hour + 23*time.Hour} {
			at := cfg.Start.Add(after)
			for _, uid := range slices.Sorted(maps.Keys(rules)) {
				if why := rr.pages(ctx, rules[uid], at); why != "" {
					t.Errorf("%s pages at %s, %s after the first data: %s", uid, at.Format("Mon 01-02 15:04"), after, why)
				}
			}
		}
	})
}

// TestRulesOnAnEmptyDatabase: before the ingest has written anything (the
// first minutes of a fresh stack), every rule is quiet.
func TestRulesOnAnEmptyDatabase(t *testing.T) {
	srv := influxtest.Start(t)
	at := time.Date(2026, 8, 10, 9, 0, 0, 0, time.UTC)
	rr := ruleRunner{t: t, client: plugintest.ServeAt(t, at), pc: plugintest.Context(srv, datasourceUID, "")}
	for _, r := range allRules(t) {
		if why := rr.pages(context.Background(), r, at); why != "" {
			t.Errorf("%s pages on an empty database: %s", r.UID, why)
		}
	}
}
