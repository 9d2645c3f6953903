package systemtest

import (
	"context"
	"encoding/base64"
	"fmt"
	"math"
	"math/rand/v2"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/auth"
	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/localday/localdaytest"
	"github.com/storepulse/storepulse/internal/testclock"
)

const adminToken = "history-admin-token" // #nosec G101 -- a test token

// historyRow is one row of the export as the platform wrote it.
type historyRow struct {
	id, store, buyer string
	wall             time.Time // the wall-clock reading in the export's zone (civil, in UTC)
	cents, qty       int
}

// historyExport is a deterministic order export of three stores in Berlin
// local time without offset: ten days starting a year before the tests'
// now, plus rows in last year's spring gap and autumn overlap.
func historyExport(now time.Time) []historyRow {
	rng := rand.New(rand.NewPCG(7, 11))
	stores := []string{"eu-1", "eu-2", "eu-3"}
	start := now.AddDate(-1, 0, 0).UTC().Truncate(24 * time.Hour)
	var rows []historyRow
	add := func(wall time.Time) {
		rows = append(rows, historyRow{id: fmt.Sprintf("H%06d", len(rows)), store: stores[rng.IntN(3)],
			buyer: fmt.Sprintf("b%d", rng.IntN(500)), wall: wall, cents: 100 + rng.IntN(100000), qty: 1 + rng.IntN(3)})
	}
	for range 2400 {
		add(start.Add(time.Duration(rng.Int64N(int64(10 * 24 * time.Hour)))).Truncate(time.Second))
	}
	y := now.Year() - 1
	for _, m := range []time.Month{time.March, time.October} {
		sunday := time.Date(y, m, 31, 0, 0, 0, 0, time.UTC)
		for sunday.Weekday() != time.Sunday {
			sunday = sunday.AddDate(0, 0, -1)
		}
		for _, hm := range []time.Duration{2*time.Hour + 5*time.Minute, 2*time.Hour + 30*time.Minute, 2*time.Hour + 59*time.Minute} {
			add(sunday.Add(hm)) // March: in the gap; October: in the repeated hour
		}
	}
	return rows
}

func exportCSV(rows []historyRow) []byte {
	var b strings.Builder
	b.WriteString("order_no,created_at,buyer_id,total,qty,shop\n")
	for _, r := range rows {
		fmt.Fprintf(&b, "%s,%s,%s,%d.%02d,%d,%s\n", r.id, r.wall.Format("2006-01-02 15:04:05"), r.buyer, r.cents/100, r.cents%100, r.qty, r.store)
	}
	return []byte(b.String())
}

// TestHistoryImport imports a year-old platform export (Berlin local times,
// DST gap and overlap rows included) through the history path with an admin
// token, and checks InfluxDB through InfluxQL against sums computed from the
// raw rows: per store, per store and local day (the store zone,
// Asia/Shanghai, with each row's instant from the scanning oracle), and the
// daily distinct buyers. A feed token is refused with 403, the same file
// without history=true with a 400 naming the setting, and a re-import is
// all duplicates.
func TestHistoryImport(t *testing.T) {
	db := influxtest.Start(t)
	in := startIngest(t, db, ingestOpts{ExtraTokens: fmt.Sprintf("    - name: ops\n      sha256: %q\n      admin: true", auth.Hash(adminToken))})
	now := testclock.Now()
	rows := historyExport(now)
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	shanghai, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)

	q := url.Values{"type": {"order"}, "col.id": {"order_no"}, "col.time": {"created_at"}, "col.user": {"buyer_id"},
		"col.amount": {"total"}, "col.items": {"qty"}, "col.store": {"shop"}, "set.customer": {"new"},
		"time_layout": {"2006-01-02 15:04:05"}, "tz": {"Europe/Berlin"}}
	plain := "/v1/import/csv?" + q.Encode()
	q.Set("history", "true")
	history := "/v1/import/csv?" + q.Encode()
	admin := map[string]string{"Authorization": "Bearer " + adminToken}
	first, second := exportCSV(rows[:1500]), exportCSV(rows[1500:])

	resp, err := in.Do("POST", history, "text/csv", first, nil) // the feed token
	require.NoError(t, err)
	require.Equal(t, 403, resp.Status, resp.Body)
	require.Contains(t, resp.Body, `token \"test\" may not import history: history=true needs an admin token`)
	resp, err = in.Do("POST", plain, "text/csv", first, admin)
	require.NoError(t, err)
	require.Equal(t, 400, resp.Status)
	require.Contains(t, resp.Body, `is older than the late-data horizon (limits.late_horizon: 168h0m0s before now); import older data as history`)
	require.Contains(t, resp.Body, `history=true and an admin token (accepted back to limits.history_horizon: 26280h0m0s`)

	for _, body := range [][]byte{first, second} {
		resp, err = in.Do("POST", history, "text/csv", body, admin)
		require.NoError(t, err)
		require.Equal(t, 202, resp.Status, resp.Body)
	}
	resp, err = in.Do("POST", history, "text/csv", second, admin)
	require.NoError(t, err)
	require.JSONEq(t, fmt.Sprintf(`{"accepted":0,"duplicates":%d}`, len(rows)-1500), resp.Body, "a re-import counts nothing twice")
	in.WaitDrained(60 * time.Second)
	require.Contains(t, in.Log(), "history import accepted")

	// The independent computation from the raw rows.
	type key struct{ store, day string }
	wantStore := map[string]map[string]float64{}
	wantDay := map[key]float64{}
	buyers := map[key]map[string]bool{}
	from, to := now, now
	for _, r := range rows {
		at := localdaytest.WallInstant(r.wall, berlin)
		from, to = minTime(from, at), maxTime(to, at)
		if wantStore[r.store] == nil {
			wantStore[r.store] = map[string]float64{}
		}
		wantStore[r.store]["orders"]++
		wantStore[r.store]["gmv"] += float64(r.cents) / 100
		wantStore[r.store]["items"] += float64(r.qty)
		k := key{r.store, at.In(shanghai).Format(time.DateOnly)}
		wantDay[k] += float64(r.cents) / 100
		if buyers[k] == nil {
			buyers[k] = map[string]bool{}
		}
		buyers[k][r.buyer] = true
	}

	c := &influxql.Client{URL: db.URL, Database: influxtest.Database, Timeout: 30 * time.Second}
	where := fmt.Sprintf("time >= %s AND time <= %s", influxql.Time(from.Add(-48*time.Hour)), influxql.Time(to.Add(48*time.Hour)))
	gotStore := map[string]map[string]float64{}
	query(t, c, `SELECT sum("orders") AS "orders", sum("gmv") AS "gmv", sum("items") AS "items" FROM "sp_orders" WHERE `+where+` GROUP BY "store"`,
		func(s *influxql.Series) {
			for _, row := range s.Values {
				gotStore[s.Tags["store"]] = map[string]float64{}
				for _, f := range []string{"orders", "gmv", "items"} {
					v, _, err := influxql.Float(row[s.Column(f)])
					require.NoError(t, err)
					gotStore[s.Tags["store"]][f] = v
				}
			}
		})
	requireSums(t, wantStore, gotStore)

	gotDay := map[key]float64{}
	query(t, c, `SELECT sum("gmv") FROM "sp_orders" WHERE `+where+` GROUP BY time(1d), "store" fill(none) tz('Asia/Shanghai')`,
		func(s *influxql.Series) {
			for _, row := range s.Values {
				at, err := influxql.TimeOf(row[0])
				require.NoError(t, err)
				v, _, err := influxql.Float(row[1])
				require.NoError(t, err)
				gotDay[key{s.Tags["store"], at.In(shanghai).Format(time.DateOnly)}] = v
			}
		})
	require.Len(t, gotDay, len(wantDay), "store-days with orders")
	for k, w := range wantDay {
		require.InDelta(t, w, gotDay[k], 1e-6*math.Max(1, w), "%v", k)
	}

	// Daily distinct buyers from the stored sketches of those old days.
	merged := map[key]*hyperloglog.Sketch{}
	query(t, c, `SELECT "sketch" FROM "sp_distinct" WHERE `+where+` AND "kind" = 'buyer' AND "window" = '1d' GROUP BY *`,
		func(s *influxql.Series) {
			for _, row := range s.Values {
				at, err := influxql.TimeOf(row[0])
				require.NoError(t, err)
				raw, err := base64.StdEncoding.DecodeString(row[s.Column("sketch")].(string))
				require.NoError(t, err)
				sk := hyperloglog.New14()
				require.NoError(t, sk.UnmarshalBinary(raw))
				k := key{s.Tags["store"], at.In(shanghai).Format(time.DateOnly)}
				if merged[k] == nil {
					merged[k] = hyperloglog.New14()
				}
				require.NoError(t, merged[k].Merge(sk))
			}
		})
	require.Len(t, merged, len(buyers), "store-days with a buyers sketch")
	for k, set := range buyers {
		require.NotNil(t, merged[k], "%v", k)
		require.InDelta(t, float64(len(set)), float64(merged[k].Estimate()), 0.02*float64(len(set))+1, "%v distinct buyers", k)
	}
}

func query(t *testing.T, c *influxql.Client, q string, fn func(*influxql.Series)) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	require.NoError(t, c.Query(ctx, q, influxql.Options{}, func(_ int, s *influxql.Series) error { fn(s); return nil }), q)
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
