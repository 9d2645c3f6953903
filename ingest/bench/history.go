package bench

import (
	"context"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/localday"
)

// HistoryOptions size the history-import benchmark: Stores stores' order
// exports over Days days ending yesterday, OrdersPerDay orders per store and
// day on average, imported store by store through
// POST /v1/import/csv?history=true (an admin token), RowsPerRequest rows per
// request, Clients requests at once.
type HistoryOptions struct {
	IngestBinary   string
	Stores, Days   int
	OrdersPerDay   int
	RowsPerRequest int
	Clients        int
	SegmentBytes   int64 // spool.segment_max_bytes of the ingest (0: default)
	Out            io.Writer
}

// historyZone is the stores' zone: the export's times are wall-clock times
// in it without offset (tz=), and the ingest's timezone.
const historyZone = "Asia/Shanghai"

// exportTotals is what the generated export holds, computed from its rows.
type exportTotals struct {
	rows        int
	gmvCents    int64
	buyerDays   int // (store, local day, channel, category) with an order: daily buyer sketches
	first, last time.Time
}

// exportBody is one request: rows of one store's export.
type exportBody struct {
	store string
	csv   []byte
}

// historyExports generates each store's export as CSV request bodies, in
// time order as a platform exports them, and their totals.
func historyExports(o HistoryOptions, end time.Time, loc *time.Location) ([]exportBody, exportTotals) {
	channels := []string{"app", "web", "miniprogram"}
	cats := []string{"shoes", "bags", "toys", "home", "beauty"}
	var bodies []exportBody
	var tot exportTotals
	keys := map[string]bool{}
	y, m, d := end.In(loc).Date()
	first := time.Date(y, m, d-o.Days, 0, 0, 0, 0, time.UTC) // a civil date
	header := "order_no,created_at,buyer_id,total,qty,channel,category,buyer_type\n"
	for s := range o.Stores {
		rng := rand.New(rand.NewPCG(uint64(s)+1, 2024)) // #nosec G404 -- seeded test data, not secrets
		store := fmt.Sprintf("store-%03d", s)
		var b strings.Builder
		n := 0
		flush := func() {
			if n > 0 {
				bodies = append(bodies, exportBody{store, []byte(b.String())})
			}
			b.Reset()
			b.WriteString(header)
			n = 0
		}
		flush()
		for day := range o.Days {
			date := first.AddDate(0, 0, day)
			orders := o.OrdersPerDay/2 + rng.IntN(o.OrdersPerDay+1)
			secs := make([]int, orders)
			for i := range secs {
				secs[i] = 8*3600 + rng.IntN(15*3600) // 08:00 to 23:00
			}
			slices.Sort(secs)
			for i, sec := range secs {
				wall := date.Add(time.Duration(sec) * time.Second)
				ch, cat := channels[rng.IntN(len(channels))], cats[rng.IntN(len(cats))]
				cents := 500 + rng.Int64N(60000)
				fmt.Fprintf(&b, "%s-%s-%04d,%s,u%d,%d.%02d,%d,%s,%s,%s\n", store, date.Format("20060102"), i,
					wall.Format("2006-01-02 15:04:05"), rng.IntN(20000), cents/100, cents%100, 1+rng.IntN(3), ch, cat,
					[]string{"new", "returning"}[rng.IntN(2)])
				tot.rows++
				tot.gmvCents += cents
				keys[store+date.Format(time.DateOnly)+ch+cat] = true
				at := localday.InstantOf(wall, loc)
				if tot.first.IsZero() || at.Before(tot.first) {
					tot.first = at
				}
				if at.After(tot.last) {
					tot.last = at
				}
				if n++; n == o.RowsPerRequest {
					flush()
				}
			}
		}
		if n > 0 {
			bodies = append(bodies, exportBody{store, []byte(b.String())})
		}
	}
	tot.buyerDays = len(keys)
	return bodies, tot
}

// RunHistory measures a history import: acknowledged rows/s, and the time
// until all of it is queryable through InfluxQL (sums of orders and GMV
// equal the export's, every daily buyer sketch present).
func RunHistory(ctx context.Context, o HistoryOptions) error {
	loc, err := time.LoadLocation(historyZone)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "storepulse-bench-history-")
	if err != nil {
		return err
	}
	defer func() { _ = os.RemoveAll(tmp) }()
	bodies, tot := historyExports(o, time.Now(), loc)
	fmt.Fprintf(o.Out, "generated %d order rows (%d stores x %d days, %d requests of up to %d rows)\n",
		tot.rows, o.Stores, o.Days, len(bodies), o.RowsPerRequest)

	db, err := influxtest.StartDir(filepath.Join(tmp, "influx"))
	if err != nil {
		return err
	}
	defer db.Stop()
	ing, err := startIngest(ctx, o.IngestBinary, filepath.Join(tmp, "ingest"), db, o.SegmentBytes)
	if err != nil {
		return err
	}
	defer ing.stop()

	q := url.Values{"type": {"order"}, "col.id": {"order_no"}, "col.time": {"created_at"}, "col.user": {"buyer_id"},
		"col.amount": {"total"}, "col.items": {"qty"}, "col.channel": {"channel"}, "col.category": {"category"},
		"col.customer": {"buyer_type"}, "time_layout": {"2006-01-02 15:04:05"}, "tz": {historyZone}, "history": {"true"}}
	start := time.Now()
	// A body is one store's rows: set.store names it.
	urls, csvs := make([]string, len(bodies)), make([][]byte, len(bodies))
	for i, b := range bodies {
		q.Set("set.store", b.store)
		urls[i], csvs[i] = ing.url+"/v1/import/csv?"+q.Encode(), b.csv
	}
	acked, err := postEach(ctx, urls, "text/csv", csvs, o.Clients)
	if err != nil {
		return fmt.Errorf("history import: %w", err)
	}
	if _, err := ing.waitDrained(ctx); err != nil {
		return err
	}
	drainedAt := time.Since(start)
	visible, polls, err := waitVisible(ctx, db, tot)
	if err != nil {
		return err
	}
	visibleAt := time.Since(start)
	rss, err := peakRSS(ing.cmd.Process.Pid)
	if err != nil {
		return err
	}
	lines, err := ing.metric("storepulse_ingest_rollup_lines_total")
	if err != nil {
		return err
	}
	fmt.Fprintf(o.Out, "\n%d order rows of %d stores over %d days (%s to %s), CSV via /v1/import/csv?history=true, %d rows a request, %d concurrent clients; spool.segment_max_bytes %d; ingest peak RSS %.0f MB\n\n",
		tot.rows, o.Stores, o.Days, tot.first.In(loc).Format(time.DateOnly), tot.last.In(loc).Format(time.DateOnly),
		o.RowsPerRequest, o.Clients, o.SegmentBytes, float64(rss)/(1<<20))
	fmt.Fprintln(o.Out, "| rows | acknowledged after | acknowledged rows/s | spool drained after | all visible through InfluxQL after | end-to-end rows/s | lines written per row |")
	fmt.Fprintln(o.Out, "|---:|---:|---:|---:|---:|---:|---:|")
	fmt.Fprintf(o.Out, "| %d | %s | %.0f | %s | %s | %.0f | %.2f |\n", tot.rows, acked.Round(10*time.Millisecond),
		float64(tot.rows)/acked.Seconds(), drainedAt.Round(10*time.Millisecond), visibleAt.Round(10*time.Millisecond),
		float64(tot.rows)/visibleAt.Seconds(), lines/float64(tot.rows))
	fmt.Fprintf(o.Out, "\nvisible: sum(orders) = %d, sum(gmv) = %.2f, %d daily buyer sketches, as in the export (%d InfluxQL checks, the last took %s)\n",
		tot.rows, float64(tot.gmvCents)/100, tot.buyerDays, polls, visible.Round(time.Millisecond))
	return nil
}

// postEach posts bodies[i] to urls[i] with n concurrent clients and returns
// when all were acknowledged.
func postEach(ctx context.Context, urls []string, contentType string, bodies [][]byte, n int) (time.Duration, error) {
	type job struct {
		url  string
		body []byte
	}
	jobs := make(chan job)
	errs := make(chan error, n)
	start := time.Now()
	client := &http.Client{Timeout: 120 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: n}}
	for range n {
		go func() {
			var failed error
			for j := range jobs {
				if failed == nil {
					failed = send(ctx, client, j.url, contentType, j.body)
				}
			}
			errs <- failed
		}()
	}
	for i := range bodies {
		jobs <- job{urls[i], bodies[i]}
	}
	close(jobs)
	var first error
	for range n {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return time.Since(start), first
}

// waitVisible polls InfluxQL until the stored orders, GMV and daily buyer
// sketches equal the export's; it returns how long the last check took.
func waitVisible(ctx context.Context, db *influxtest.Server, tot exportTotals) (time.Duration, int, error) {
	c := &influxql.Client{URL: db.URL, Database: influxtest.Database, Timeout: 5 * time.Minute}
	where := fmt.Sprintf("time >= %s AND time <= %s", influxql.Time(tot.first.Add(-48*time.Hour)), influxql.Time(tot.last.Add(48*time.Hour)))
	sums := `SELECT sum("orders"), sum("gmv") FROM "sp_orders" WHERE ` + where
	sketches := `SELECT count("sketch") FROM "sp_distinct" WHERE ` + where + ` AND "kind" = 'buyer' AND "window" = '1d'`
	for polls := 1; ; polls++ {
		t0 := time.Now()
		var orders, gmv, days float64
		err := c.Query(ctx, sums+"; "+sketches, influxql.Options{}, func(stmt int, s *influxql.Series) error {
			for _, row := range s.Values {
				if stmt == 0 {
					orders, _, _ = influxql.Float(row[1])
					gmv, _, _ = influxql.Float(row[2])
				} else {
					days, _, _ = influxql.Float(row[1])
				}
			}
			return nil
		})
		took := time.Since(t0)
		if err != nil {
			return 0, polls, err
		}
		want := float64(tot.gmvCents) / 100
		if int(orders) == tot.rows && math.Abs(gmv-want) <= 1e-9*want && int(days) == tot.buyerDays {
			return took, polls, nil
		}
		if int(orders) > tot.rows || int(days) > tot.buyerDays {
			return 0, polls, fmt.Errorf("InfluxDB holds more than was imported: %v orders of %d, %v daily buyer sketches of %d", orders, tot.rows, days, tot.buyerDays)
		}
		select {
		case <-ctx.Done():
			return 0, polls, ctx.Err()
		case <-time.After(time.Second):
		}
	}
}
