package realdata_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental/datasourcetest"
	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/plugin/plugintest"
	"github.com/storepulse/storepulse/ingest/parse"
	"github.com/storepulse/storepulse/ingest/rollup"
	"github.com/storepulse/storepulse/internal/influxtest"
)

// The extract's time zone and the layout of its timestamps (local time, no
// offset), as in the Olist files.
const (
	zone   = "America/Sao_Paulo"
	layout = "2006-01-02 15:04:05"
	store  = "olist"
	day    = "2006-01-02"
)

// order and payment are the extract joined the way a shop owner would build
// an export: an order's amount is the sum of its items' prices (freight
// excluded), its buyer the customer_unique_id; a payment is one row of the
// payments file, at the order's approval time.
type order struct {
	id, buyer, purchased, customer string
	cents                          int64
	items                          int
}

type payment struct {
	id, order, buyer, paid string
	cents                  int64
}

// dataDirName is where the extract lives inside the workplace's shared/
// folder (beside the clone: public data is kept there, not in the repo).
const dataDirName = "data/olist-sp-2017"

// checksums are the extract's SHA-256 (docs/real-data.md).
var checksums = map[string]string{
	"olist_customers_dataset.csv":      "a21b98566da2b177e26b8e4ae6d0915bc0a6a02a9b0092251264e5eaaf9134fb",
	"olist_order_items_dataset.csv":    "5116ba78163079e5e04f348c539d16032f2a26f91701bfb7bd21a1ce19a452b1",
	"olist_order_payments_dataset.csv": "1e1e87cdbcf29b20c8643752a019a62bfb898ce2dae716ceb1788f518674dd93",
	"olist_orders_dataset.csv":         "0554c1fe80e4b9cc8b87b8b5b5c8459fa8bc4ac574104e7d468ac90a6676f328",
}

// dataDir finds the extract: $STOREPULSE_OLIST_DIR, else shared/<dataDirName>
// in a folder above the module root (CI lays shared/ beside the clone; a
// worktree has it further up). The test is skipped, loudly, when it is not
// there; files that are there must match their checksums.
func dataDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("STOREPULSE_OLIST_DIR"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	require.NoError(t, err)
	root := wd
	for {
		if _, err := os.Stat(filepath.Join(root, "go.mod")); err == nil {
			break
		}
		up := filepath.Dir(root)
		require.NotEqual(t, root, up, "no go.mod above %s", wd)
		root = up
	}
	for d := filepath.Dir(root); ; d = filepath.Dir(d) {
		cand := filepath.Join(d, "shared", filepath.FromSlash(dataDirName))
		if st, err := os.Stat(cand); err == nil && st.IsDir() {
			return cand
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	t.Skipf("the Olist extract is not here: put it in shared/%s beside the clone or set STOREPULSE_OLIST_DIR "+
		"(docs/real-data.md says what it is and how it was made)", dataDirName)
	return ""
}

func checkData(t *testing.T, dir string) {
	t.Helper()
	for name, want := range checksums {
		b, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		require.Equal(t, want, fmt.Sprintf("%x", sha256.Sum256(b)), "%s is not the extract docs/real-data.md describes", name)
	}
}

func readCSV(t *testing.T, dir, name string) []map[string]string {
	t.Helper()
	f, err := os.Open(filepath.Join(dir, name))
	require.NoError(t, err)
	defer f.Close()
	recs, err := csv.NewReader(f).ReadAll()
	require.NoError(t, err, name)
	require.Greater(t, len(recs), 1, name)
	var out []map[string]string
	for _, r := range recs[1:] {
		m := map[string]string{}
		for i, h := range recs[0] {
			m[h] = r[i]
		}
		out = append(out, m)
	}
	return out
}

// cents parses a price with at most two decimals exactly.
func cents(t *testing.T, s string) int64 {
	t.Helper()
	whole, frac, _ := strings.Cut(s, ".")
	require.LessOrEqual(t, len(frac), 2, "price %q", s)
	frac += strings.Repeat("0", 2-len(frac))
	w, err := strconv.ParseInt(whole, 10, 64)
	require.NoError(t, err, "price %q", s)
	f, err := strconv.ParseInt(frac, 10, 64)
	require.NoError(t, err, "price %q", s)
	return w*100 + f
}

func money(c int64) string { return fmt.Sprintf("%d.%02d", c/100, c%100) }

func loadExtract(t *testing.T, dir string) ([]order, []payment) {
	t.Helper()
	buyer := map[string]string{}
	for _, c := range readCSV(t, dir, "olist_customers_dataset.csv") {
		buyer[c["customer_id"]] = c["customer_unique_id"]
	}
	type sum struct {
		cents int64
		items int
	}
	items := map[string]*sum{}
	for _, it := range readCSV(t, dir, "olist_order_items_dataset.csv") {
		s := items[it["order_id"]]
		if s == nil {
			s = &sum{}
			items[it["order_id"]] = s
		}
		s.cents += cents(t, it["price"])
		s.items++
	}
	var orders []order
	approved := map[string]string{}
	byID := map[string]*order{}
	seen := map[string]bool{}
	for _, o := range readCSV(t, dir, "olist_orders_dataset.csv") {
		b, ok := buyer[o["customer_id"]]
		require.True(t, ok, "order %s: customer %s not in the extract", o["order_id"], o["customer_id"])
		s, ok := items[o["order_id"]]
		require.True(t, ok, "order %s has no items", o["order_id"])
		cust := "new"
		if seen[b] {
			cust = "returning"
		}
		seen[b] = true
		orders = append(orders, order{id: o["order_id"], buyer: b, purchased: o["order_purchase_timestamp"],
			customer: cust, cents: s.cents, items: s.items})
		approved[o["order_id"]] = o["order_approved_at"]
	}
	for i := range orders {
		byID[orders[i].id] = &orders[i]
	}
	var pays []payment
	for _, p := range readCSV(t, dir, "olist_order_payments_dataset.csv") {
		o, ok := byID[p["order_id"]]
		require.True(t, ok, "payment of unknown order %s", p["order_id"])
		require.NotEmpty(t, approved[o.id], "order %s has payments but no approval time", o.id)
		pays = append(pays, payment{id: o.id + "-" + p["payment_sequential"], order: o.id, buyer: o.buyer,
			paid: approved[o.id], cents: cents(t, p["payment_value"])})
	}
	return orders, pays
}

// importCSV runs one export through the ingest's CSV import parser (the code
// behind POST /v1/import/csv) with the mapping a user would give, folds it
// into the rollup as segment seg and writes the rolled-up lines.
func importCSV(ctx context.Context, t *testing.T, srv *influxtest.Server, r *rollup.Rollup, seg uint64,
	body string, mapping url.Values, now time.Time,
) {
	t.Helper()
	m, err := parse.ParseCSVMapping(mapping)
	require.NoError(t, err)
	// History: the late-data horizon would refuse 2017 (issue #10 part 3);
	// accept it, as simload does for simulated history.
	lim := parse.Limits{MaxItems: 1 << 20, LateHorizon: 100 * 365 * 24 * time.Hour, Now: func() time.Time { return now }}
	b, err := parse.CSV(strings.NewReader(body), m, lim)
	require.NoError(t, err)
	s := r.NewSegment(seg)
	s.Add(&b)
	lines, err := r.Lines(ctx, s)
	require.NoError(t, err)
	srv.WriteLines(t, lines)
}

// --- the oracle: standard library only ---

// bucketAgg is what the oracle knows about one local day, week or month.
type bucketAgg struct {
	gmvCents, paidCents int64
	orders, items       int64
	buyers, payers      map[string]bool
}

type unit struct {
	interval string
	// key is the local date starting the period holding the local date d
	// (civil arithmetic in UTC, where days have 24 hours).
	key func(d time.Time) time.Time
	// next is the period after the one starting at local date d.
	next func(d time.Time) time.Time
}

var (
	dayUnit = unit{"day",
		func(d time.Time) time.Time { return d },
		func(d time.Time) time.Time { return d.AddDate(0, 0, 1) }}
	weekUnit = unit{"week",
		func(d time.Time) time.Time { return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)) },
		func(d time.Time) time.Time { return d.AddDate(0, 0, 7) }}
	monthUnit = unit{"month",
		func(d time.Time) time.Time { return time.Date(d.Year(), d.Month(), 1, 0, 0, 0, 0, time.UTC) },
		func(d time.Time) time.Time { return d.AddDate(0, 1, 0) }}
)

// civil is the local date of the timestamp s as written in the file, as a
// UTC midnight for calendar arithmetic. The test also checks that s exists
// in loc (not in a DST gap) and that instant's local date is that date.
func civil(t *testing.T, s string, loc *time.Location) time.Time {
	t.Helper()
	at, err := time.ParseInLocation(layout, s, loc)
	require.NoError(t, err)
	require.Equal(t, s, at.In(loc).Format(layout), "%s does not exist in %s", s, loc)
	d, err := time.Parse(day, s[:len(day)])
	require.NoError(t, err)
	require.Equal(t, d.Format(day), at.In(loc).Format(day))
	return d
}

// firstInstant is the first instant whose local date in loc is the civil
// date d, found by bisection over Unix seconds (every zone's offset is within
// ±15 hours): independent of time.Date's choice for a midnight that does not
// exist.
func firstInstant(d time.Time, loc *time.Location) time.Time {
	want := d.Format(day)
	lo, hi := d.Add(-15*time.Hour).Unix(), d.Add(15*time.Hour).Unix() // date(lo) < want <= date(hi)
	for hi-lo > 1 {
		mid := lo + (hi-lo)/2
		if time.Unix(mid, 0).In(loc).Format(day) >= want {
			hi = mid
		} else {
			lo = mid
		}
	}
	return time.Unix(hi, 0)
}

type oracle struct {
	loc     *time.Location
	buckets map[string]map[time.Time]*bucketAgg // interval -> period start date -> values
}

func newOracle(t *testing.T, loc *time.Location, orders []order, pays []payment) *oracle {
	o := &oracle{loc: loc, buckets: map[string]map[time.Time]*bucketAgg{}}
	get := func(u unit, d time.Time) *bucketAgg {
		m := o.buckets[u.interval]
		if m == nil {
			m = map[time.Time]*bucketAgg{}
			o.buckets[u.interval] = m
		}
		k := u.key(d)
		if m[k] == nil {
			m[k] = &bucketAgg{buyers: map[string]bool{}, payers: map[string]bool{}}
		}
		return m[k]
	}
	for _, u := range []unit{dayUnit, weekUnit, monthUnit} {
		for _, od := range orders {
			a := get(u, civil(t, od.purchased, loc))
			a.gmvCents += od.cents
			a.orders++
			a.items += int64(od.items)
			a.buyers[od.buyer] = true
		}
		for _, p := range pays {
			a := get(u, civil(t, p.paid, loc))
			a.paidCents += p.cents
			a.payers[p.buyer] = true
		}
	}
	return o
}

// value is a KPI of one bucket; ok is false where the KPI has no value (AOV
// without orders).
func (a *bucketAgg) value(kpi string) (v float64, ok bool) {
	if a == nil {
		a = &bucketAgg{}
	}
	switch kpi {
	case "gmv":
		return float64(a.gmvCents) / 100, true
	case "orders":
		return float64(a.orders), true
	case "items_sold":
		return float64(a.items), true
	case "buyers":
		return float64(len(a.buyers)), true
	case "aov":
		if a.orders == 0 {
			return 0, false
		}
		return float64(a.gmvCents) / 100 / float64(a.orders), true
	case "paid_revenue":
		return float64(a.paidCents) / 100, true
	case "paying_buyers":
		return float64(len(a.payers)), true
	}
	panic("oracle: unknown KPI " + kpi)
}

type point struct {
	start time.Time
	v     float64
	ok    bool
}

// expect is the oracle's series for [from, to) (local dates) in unit u.
func (o *oracle) expect(u unit, kpi string, from, to time.Time) []point {
	var out []point
	for d := u.key(from); d.Before(to); d = u.next(d) {
		v, ok := o.buckets[u.interval][d].value(kpi)
		out = append(out, point{start: firstInstant(d, o.loc), v: v, ok: ok})
	}
	return out
}

// --- the test ---

// Every daily, weekly and monthly value of seven KPIs, from a real InfluxDB
// through the plugin over gRPC, against the oracle: sums and counts to 1e-6,
// AOV to 1e-9 relative, distinct counts exactly (see docs/real-data.md: at these
// cardinalities the HyperLogLog sketches are in their sparse, 2^25-register
// form and count exactly).
func TestOlistOrdersSaoPaulo(t *testing.T) {
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	dir := dataDir(t)
	checkData(t, dir)
	orders, pays := loadExtract(t, dir)
	require.Len(t, orders, 426)
	require.Len(t, pays, 454)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	srv := influxtest.Start(t)
	// The data ends on 2018-04-03; the plugin's "now" is a month later.
	now := time.Date(2018, 5, 1, 12, 0, 0, 0, loc)

	// Import: the ingest configured for America/Sao_Paulo, two exports.
	client := influxdb2.NewClient(srv.URL, srv.Token)
	defer client.Close()
	r, err := rollup.New(rollup.Options{Ingester: "realdata", Location: loc, CacheSize: 1 << 16,
		Sketches: rollup.NewInfluxSketches(client.QueryAPI(srv.Org), srv.Bucket, "realdata")})
	require.NoError(t, err)

	var ob bytes.Buffer
	ob.WriteString("order_id,purchased_at,buyer,amount,items,customer\n")
	for _, o := range orders {
		fmt.Fprintf(&ob, "%s,%s,%s,%s,%d,%s\n", o.id, o.purchased, o.buyer, money(o.cents), o.items, o.customer)
	}
	importCSV(ctx, t, srv, r, 1, ob.String(), url.Values{
		"type": {"order"}, "col.id": {"order_id"}, "col.time": {"purchased_at"}, "col.user": {"buyer"},
		"col.amount": {"amount"}, "col.items": {"items"}, "col.customer": {"customer"}, "set.store": {store},
		"time_layout": {layout}, "tz": {zone},
	}, now)
	var pb bytes.Buffer
	pb.WriteString("payment_id,paid_at,order_id,buyer,amount\n")
	for _, p := range pays {
		fmt.Fprintf(&pb, "%s,%s,%s,%s,%s\n", p.id, p.paid, p.order, p.buyer, money(p.cents))
	}
	importCSV(ctx, t, srv, r, 2, pb.String(), url.Values{
		"type": {"payment"}, "col.id": {"payment_id"}, "col.time": {"paid_at"}, "col.order": {"order_id"},
		"col.user": {"buyer"}, "col.amount": {"amount"}, "set.store": {store},
		"time_layout": {layout}, "tz": {zone},
	}, now)

	orc := newOracle(t, loc, orders, pays)
	c := plugintest.ServeAt(t, now)
	pc := plugintest.Context(srv, "olist", zone)

	date := func(s string) time.Time {
		d, err := time.Parse(day, s)
		require.NoError(t, err)
		return d
	}
	ranges := []struct {
		u        unit
		from, to string
	}{
		// Every day of the extract (orders from 2017-09-03, approvals until 2018-04-03).
		{dayUnit, "2017-09-01", "2018-04-05"},
		// Overlapping ranges: the same day must give the same number whatever the range's start.
		{dayUnit, "2017-10-01", "2017-12-01"}, // the 61 days
		{dayUnit, "2017-11-10", "2017-12-01"},
		{dayUnit, "2017-11-24", "2017-11-25"}, // Black Friday alone
		{dayUnit, "2017-10-14", "2017-10-17"}, // DST starts: 2017-10-15 has no midnight
		{dayUnit, "2018-02-10", "2018-02-25"}, // DST ends: 2018-02-17 has 25 hours
		{weekUnit, "2017-08-28", "2018-04-09"},
		{weekUnit, "2017-10-16", "2017-12-04"},
		{monthUnit, "2017-09-01", "2018-05-01"},
		{monthUnit, "2017-11-01", "2018-03-01"},
	}
	kpis := []string{"gmv", "orders", "items_sold", "buyers", "aov", "paid_revenue", "paying_buyers"}
	type seenVal struct {
		v     float64
		ok    bool
		where string
	}
	seen := map[string]seenVal{}
	for _, rg := range ranges {
		for _, kpi := range kpis {
			name := fmt.Sprintf("%s by %s from %s to %s", kpi, rg.u.interval, rg.from, rg.to)
			t.Run(name, func(t *testing.T) {
				from, to := date(rg.from), date(rg.to)
				want := orc.expect(rg.u, kpi, from, to)
				got := query(ctx, t, c, pc, kpi, rg.u.interval, firstInstant(from, loc), firstInstant(to, loc))
				// The same bucket from several ranges must agree; a bucket is
				// named by the local date of its middle (the next bucket's
				// start or, for the last, 12 hours later).
				var diff []string
				for i, p := range got {
					end := p.start.Add(12 * time.Hour)
					if i+1 < len(got) {
						end = got[i+1].start
					}
					mid := p.start.Add(end.Sub(p.start) / 2).In(loc).Format(day)
					k := kpi + "/" + rg.u.interval + "/" + mid
					if prev, ok := seen[k]; ok && (prev.ok != p.ok || math.Abs(prev.v-p.v) > 1e-9) {
						diff = append(diff, fmt.Sprintf("%s %s: %v here, %v in %s", rg.u.interval, mid, p.v, prev.v, prev.where))
					}
					seen[k] = seenVal{p.v, p.ok, rg.from + ".." + rg.to}
				}
				report(t, kpi+" differs between ranges", diff)
				report(t, kpi+" against the oracle", seriesProblems(loc, kpi, want, got))
			})
		}
	}
}

func query(ctx context.Context, t *testing.T, c *datasourcetest.TestPluginClient, pc backend.PluginContext, kpi, interval string, from, to time.Time) []point {
	t.Helper()
	model, err := json.Marshal(map[string]any{"kpi": kpi, "interval": interval})
	require.NoError(t, err)
	res := plugintest.Query(ctx, t, c, pc, "A", "", model, from, to)
	require.NoError(t, res.Error, plugintest.String(res))
	require.Len(t, res.Frames, 1)
	f := res.Frames[0]
	require.Len(t, f.Fields, 2)
	var out []point
	for i := range f.Rows() {
		at, ok := f.Fields[0].ConcreteAt(i)
		require.True(t, ok)
		p := point{start: at.(time.Time)}
		if v, ok := f.Fields[1].ConcreteAt(i); ok {
			p.v, p.ok = v.(float64), true
		}
		out = append(out, p)
	}
	return out
}

// seriesProblems compares the buckets (their starts: the first instant of
// each local day, week or month) and every value, and lists every mismatch.
func seriesProblems(loc *time.Location, kpi string, want, got []point) []string {
	fmtP := func(p point) string {
		v := "no value"
		if p.ok {
			v = strconv.FormatFloat(p.v, 'f', -1, 64)
		}
		return p.start.In(loc).Format("2006-01-02T15:04-07") + " = " + v
	}
	var bad []string
	if len(want) != len(got) {
		bad = append(bad, fmt.Sprintf("%d buckets, want %d", len(got), len(want)))
	}
	for i := 0; i < len(want) && i < len(got); i++ {
		w, g := want[i], got[i]
		switch {
		case !g.start.Equal(w.start):
			bad = append(bad, fmt.Sprintf("bucket %d: %s, want %s", i, fmtP(g), fmtP(w)))
		case !w.ok && !g.ok:
		case w.ok != g.ok,
			kpi == "aov" && math.Abs(g.v-w.v) > 1e-9*math.Max(1, math.Abs(w.v)),
			kpi != "aov" && math.Abs(g.v-w.v) > 1e-6:
			bad = append(bad, fmt.Sprintf("bucket %d: %s, want %s", i, fmtP(g), fmtP(w)))
		}
	}
	return bad
}

// report fails the test with at most 20 of the problems listed.
func report(t *testing.T, what string, bad []string) {
	t.Helper()
	if len(bad) == 0 {
		return
	}
	n, more := len(bad), ""
	if n > 20 {
		more = fmt.Sprintf("\n  … and %d more", len(bad)-20)
		bad = bad[:20]
	}
	t.Errorf("%s: %d mismatches:\n  %s%s", what, n, strings.Join(bad, "\n  "), more)
}

// The oracle's own day boundaries, for the days the test is about.
func TestOracleFirstInstant(t *testing.T) {
	loc, err := time.LoadLocation(zone)
	require.NoError(t, err)
	for _, c := range []struct{ date, want string }{
		{"2017-10-14", "2017-10-14T00:00:00-03:00"},
		{"2017-10-15", "2017-10-15T01:00:00-02:00"}, // no midnight
		{"2017-10-16", "2017-10-16T00:00:00-02:00"},
		{"2018-02-17", "2018-02-17T00:00:00-02:00"}, // 25 hours
		{"2018-02-18", "2018-02-18T00:00:00-03:00"},
	} {
		d, err := time.Parse(day, c.date)
		require.NoError(t, err)
		require.Equal(t, c.want, firstInstant(d, loc).In(loc).Format(time.RFC3339), c.date)
	}
	d, err := time.Parse(day, "2017-10-15")
	require.NoError(t, err)
	require.Equal(t, "2017-10-09", weekUnit.key(d).Format(day), "weeks start on Monday")
	require.Equal(t, "2017-10-01", monthUnit.key(d).Format(day))
}
