package briefing_test

import (
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/engine/influxql"
	"github.com/storepulse/storepulse/digest/briefing"
	"github.com/storepulse/storepulse/digest/internal/digesttest"
	"github.com/storepulse/storepulse/ingest/sim"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/kpi"
	"github.com/storepulse/storepulse/internal/simload"
)

// recallPlan plants one incident of every kind of the simulator, two days
// apart and rotating over the stores, in the fixed data set's range (3
// stores, seed 7, scale 0.5, from 2026-03-16: six clean weeks of history
// before the first). The days between them are ordinary days.
func recallPlan() []sim.Incident {
	sh := digesttest.Shanghai()
	at := func(d, h int) time.Time { return time.Date(2026, 5, d, h, 0, 0, 0, sh) }
	return []sim.Incident{
		{Store: "s002", Kind: sim.IncidentPaymentOutage, Start: at(5, 10), End: at(5, 14)},
		{Store: "s003", Kind: sim.IncidentTrafficDrop, Start: at(7, 9), End: at(7, 17)},
		{Store: "s001", Kind: sim.IncidentRefundSpike, Start: at(9, 10), End: at(9, 18)},
		{Store: "s002", Kind: sim.IncidentStoreSilent, Start: at(11, 12), End: at(11, 18)},
		{Store: "s003", Kind: sim.IncidentPriceError, Start: at(13, 9), End: at(13, 17)},
		{Store: "s001", Kind: sim.IncidentCheckoutFailure, Start: at(15, 9), End: at(15, 21)},
		{Store: "s002", Kind: sim.IncidentServiceBacklog, Start: at(17, 10), End: at(17, 16)},
	}
}

// recallOrdinaryDays have no incident (nor one the day before).
func recallOrdinaryDays() []string { return []string{"2026-05-03", "2026-05-19"} }

// kindKPIs are the KPIs in which an incident of the kind may show under
// "what changed": the simulator's label KPI and the KPIs it moves directly.
func kindKPIs(k sim.IncidentKind) []string {
	switch k {
	case sim.IncidentPaymentOutage:
		return []string{"payment_conversion", "paid_revenue", "paid_orders", "payments", "paying_buyers", "net_revenue", "conversion_rate"}
	case sim.IncidentTrafficDrop:
		return []string{"sessions", "visitors", "page_views", "active_users", "orders", "gmv", "new_users"}
	case sim.IncidentRefundSpike:
		return []string{"refund_rate", "refund_amount", "refunds", "refund_count_rate", "net_revenue"}
	case sim.IncidentPriceError:
		return []string{"aov", "gmv", "paid_revenue", "price_index", "items_sold", "orders", "conversion_rate"}
	case sim.IncidentCheckoutFailure:
		return []string{"order_conversion_rate", "orders", "conversion_rate", "cart_abandonment", "gmv", "paid_revenue"}
	case sim.IncidentServiceBacklog:
		return []string{"first_response_time", "consultation_conversion"}
	}
	return nil // store_silent: any KPI of the silent store
}

// namesStore: the change is the store's own, or its dimension reason names it.
func namesStore(c briefing.Change, store string) bool {
	return c.Store == store || hasReason(c, briefing.ReasonDimension, "store", store) || hasReason(c, briefing.ReasonSilent, "", store)
}

// namesCause: a reason of the change names the incident's cause.
func namesCause(c briefing.Change, in sim.Incident) bool {
	switch in.Kind {
	case sim.IncidentPaymentOutage:
		return hasReason(c, briefing.ReasonFunnel, "", "paid")
	case sim.IncidentTrafficDrop:
		return hasReason(c, briefing.ReasonDimension, "channel", in.Channel) || hasReason(c, briefing.ReasonFunnel, "", "sessions")
	case sim.IncidentRefundSpike:
		return anyReason(c, briefing.ReasonRefunds)
	case sim.IncidentStoreSilent:
		return hasReason(c, briefing.ReasonSilent, "", in.Store)
	case sim.IncidentPriceError:
		return hasReason(c, briefing.ReasonDimension, "category", in.Category) || hasReason(c, briefing.ReasonPrice, "", in.Category)
	case sim.IncidentCheckoutFailure:
		return hasReason(c, briefing.ReasonFunnel, "", "orders")
	case sim.IncidentServiceBacklog:
		return anyReason(c, briefing.ReasonService) || (c.KPI == "first_response_time" && namesStore(c, in.Store))
	}
	return false
}

// recallBuilder is the briefing of the morning after date, on a clock at
// 07:00 that morning. The changes are looked for in the default KPIs (the
// wall screen's headline and the watched ones, k = 3); the glance shows
// only GMV, which keeps the test's time down without changing what is
// checked for changes.
func recallBuilder(t *testing.T, srv *influxtest.Server, pb *briefing.Playbook, date string) *briefing.Builder {
	t.Helper()
	d, err := time.ParseInLocation(time.DateOnly, date, digesttest.Shanghai())
	require.NoError(t, err)
	now := func() time.Time { return d.AddDate(0, 0, 1).Add(7 * time.Hour) }
	src, err := influxql.New(srv.URL, srv.Token, srv.Bucket, nil)
	require.NoError(t, err)
	e := &engine.Engine{Catalog: kpi.Default(), Source: src, Location: digesttest.Shanghai(), SeriesLimit: 500, Now: now}
	b, err := briefing.New(briefing.Options{Engine: e, Location: digesttest.Shanghai(), Now: now, Playbook: pb,
		Headline: []string{"gmv"}, Watch: slices.Concat(briefing.WallKPIs(), briefing.WatchKPIs())})
	require.NoError(t, err)
	return b
}

// TestRecall plants one incident of every simulator kind, builds each next
// morning's briefing and checks that "what changed" names the incident's
// store and KPI and "why" its cause; on ordinary days it counts the changes
// that match no incident. The table is printed (go test -v) and kept in
// docs/digest.md.
func TestRecall(t *testing.T) {
	srv := influxtest.Start(t)
	cfg := digesttest.Config()
	cfg.End = time.Date(2026, 5, 20, 7, 0, 0, 0, digesttest.Shanghai())
	cfg.IncidentPlan = recallPlan()
	res := simload.Into(t, srv, cfg)
	planted := res.Generator.Incidents()
	require.Len(t, planted, len(sim.IncidentKinds())+len(sim.OptionalIncidentKinds()), "one incident of every kind")
	pb, err := briefing.LoadPlaybook(kpi.Default(), "")
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	type row struct {
		kind          sim.IncidentKind
		store, detail string
		changed, why  bool
		changes       int
	}
	var rows []row
	for _, in := range planted {
		date := in.Start.Format(time.DateOnly)
		br, err := recallBuilder(t, srv, pb, date).Build(ctx, date, "")
		require.NoError(t, err)
		r := row{kind: in.Kind, store: in.Store, changes: len(br.Changes)}
		kpis := kindKPIs(in.Kind)
		var named []string
		for _, c := range br.Changes {
			at := c.KPI + "@" + c.Store
			if c.Category != "" {
				at += "/" + c.Category
			}
			named = append(named, at)
			if !namesStore(c, in.Store) || (kpis != nil && !slices.Contains(kpis, c.KPI)) {
				continue
			}
			r.changed = true
			if namesCause(c, in) {
				r.why = true
			}
		}
		r.detail = strings.Join(named, ", ")
		rows = append(rows, r)
	}
	var ordinary []int
	for _, date := range recallOrdinaryDays() {
		br, err := recallBuilder(t, srv, pb, date).Build(ctx, date, "")
		require.NoError(t, err)
		ordinary = append(ordinary, len(br.Changes))
		for _, c := range br.Changes {
			t.Logf("ordinary day %s: %s %s store %q score %.1f", date, c.KPI, c.Direction, c.Store, c.Score)
		}
	}

	var b strings.Builder
	fmt.Fprintln(&b, "| incident (store, day) | what changed names store and KPI | why names the cause | changes that day (KPI@store[/category]) |")
	fmt.Fprintln(&b, "|---|---|---|---|")
	changed, why := 0, 0
	for i, r := range rows {
		fmt.Fprintf(&b, "| %s (%s, %s) | %s | %s | %d: %s |\n", r.kind, r.store, planted[i].Start.Format("01-02"), yes(r.changed), yes(r.why), r.changes, r.detail)
		if r.changed {
			changed++
		}
		if r.why {
			why++
		}
	}
	fmt.Fprintf(&b, "\nrecall: what changed %d/%d, why %d/%d; changes on ordinary days %v: %v\n", changed, len(rows), why, len(rows), recallOrdinaryDays(), ordinary)
	t.Log("\n" + b.String())
	// What holds on this data set, per kind (docs/digest.md): found under
	// "what changed" and explained under "why", or not found at day grain
	// (the numbers why are in docs/digest.md). A kind that changes either
	// way fails here until the table and the docs say so.
	want := map[sim.IncidentKind]bool{
		sim.IncidentPaymentOutage:   false, // 4 h at the smallest store: 10 of 14 orders paid, as on ordinary days
		sim.IncidentTrafficDrop:     true,
		sim.IncidentRefundSpike:     true,
		sim.IncidentStoreSilent:     true,
		sim.IncidentPriceError:      true, // the category's price index at the store
		sim.IncidentCheckoutFailure: true,
		sim.IncidentServiceBacklog:  false, // 3 slow answers among 9 consultations of the day
	}
	for _, r := range rows {
		w, ok := want[r.kind]
		require.True(t, ok, "no expectation for %s", r.kind)
		require.Equal(t, w, r.changed, "%s: store and KPI named under what changed: %s", r.kind, r.detail)
		require.Equal(t, w, r.why, "%s: cause named under why: %s", r.kind, r.detail)
	}
	for i, n := range ordinary {
		require.LessOrEqual(t, n, 2, "ordinary day %s: changes that match no incident", recallOrdinaryDays()[i])
	}
	if path := os.Getenv("STOREPULSE_RECALL_OUT"); path != "" {
		require.NoError(t, os.WriteFile(path, []byte(b.String()), 0o600))
	}
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "**no**"
}

func anyReason(c briefing.Change, kind string) bool {
	return slices.ContainsFunc(c.Reasons, func(r briefing.Reason) bool { return r.Kind == kind })
}
