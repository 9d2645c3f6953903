package briefing_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/engine/influxql"
	"github.com/storepulse/storepulse/digest/briefing"
	"github.com/storepulse/storepulse/digest/internal/digesttest"
	"github.com/storepulse/storepulse/ingest/app"
	"github.com/storepulse/storepulse/ingest/auth"
	"github.com/storepulse/storepulse/ingest/config"
	iql "github.com/storepulse/storepulse/internal/influxql"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/kpi"
)

// manualClock is a clock the test sets.
type manualClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *manualClock) Now() time.Time  { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *manualClock) Set(t time.Time) { c.mu.Lock(); defer c.mu.Unlock(); c.t = t }

// TestLateData sends events through the real ingest service (in process,
// its HTTP API, spool, rollup and InfluxDB writer, on a clock the test
// sets) into a real InfluxDB 1.8, some of them for days already over, and
// builds the briefing of Tuesday 2026-05-19 at 07:00 the next morning: it
// lists the store and day whose late data arrived from the briefed day's
// start on, with the right counts and amounts, and nothing for days whose
// data came on time, late data that arrived before the window, or the
// briefed day itself.
func TestLateData(t *testing.T) {
	db := influxtest.Start(t)
	sh := digesttest.Shanghai()
	at := func(d, h, m int) time.Time { return time.Date(2026, 5, d, h, m, 0, 0, sh) }
	clk := &manualClock{t: at(18, 10, 0)}

	const token = "late-test-token"
	env := map[string]string{
		"STOREPULSE_LISTEN": "127.0.0.1:0", "STOREPULSE_DATA_DIR": filepath.Join(t.TempDir(), "data"),
		"STOREPULSE_INGESTER": "late", "STOREPULSE_TIMEZONE": "Asia/Shanghai",
		"STOREPULSE_INFLUX_URL": db.URL, "STOREPULSE_INFLUX_TOKEN": db.Token, "STOREPULSE_INFLUX_BUCKET": db.Bucket,
		"STOREPULSE_SPOOL_SEAL_INTERVAL": "100ms", "STOREPULSE_SPOOL_SKETCH_INTERVAL": "200ms",
		"STOREPULSE_LIMITS_LATE_HORIZON": "168h", config.EnvTokens: "test=" + auth.Hash(token),
	}
	for k, v := range env {
		t.Setenv(k, v) // the ingest's configuration reads the environment
	}
	cfg, err := config.Load(pflag.NewFlagSet("x", pflag.ContinueOnError), os.Getenv)
	require.NoError(t, err)
	a, err := app.New(cfg, slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})), clk.Now)
	require.NoError(t, err)
	addr, err := a.Listen()
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- a.Run(runCtx) }()
	defer func() { stop(); require.NoError(t, <-done) }()

	src, err := influxql.New(db.URL, db.Token, db.Bucket, &http.Client{Timeout: 30 * time.Second})
	require.NoError(t, err)
	sent := 0
	// send posts events at the clock's time and waits until InfluxDB holds
	// them (their sp_ingest counts), so that the next clock change is not
	// seen by their roll-up.
	send := func(now time.Time, events ...string) {
		t.Helper()
		clk.Set(now)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr.String()+"/v1/events", strings.NewReader(strings.Join(events, "\n")))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+token)
		req.Header.Set("Content-Type", "application/x-ndjson")
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode, string(body))
		sent += len(events)
		require.Eventually(t, func() bool {
			n := 0.0
			_ = src.Client.Query(ctx, `SELECT sum("events") FROM "sp_ingest" WHERE time >= '2026-01-01T00:00:00Z' AND time < '2027-01-01T00:00:00Z'`, iql.Options{},
				func(_ int, sr *iql.Series) error {
					for _, row := range sr.Values {
						n, _, _ = iql.Float(row[1])
					}
					return nil
				})
			return int(n) == sent
		}, 30*time.Second, 100*time.Millisecond)
	}
	ev := func(typ, id string, when time.Time, store string, amount float64) string {
		extra := `"user":"u-` + id + `","customer":"new"`
		if typ == "refund" {
			extra = `"order":"o-` + id + `","reason":"damaged"`
		}
		return fmt.Sprintf(`{"type":%q,"id":%q,"time":%q,"store":%q,"amount":%v,%s}`,
			typ, id, when.Format(time.RFC3339), store, amount, extra)
	}

	// Monday 10:00: s001's data of Saturday arrives late, before the window.
	send(at(18, 10, 0), ev("order", "a1", at(16, 15, 0), "s001", 70))
	// Tuesday noon: the day's orders arrive on time.
	send(at(19, 12, 0), ev("order", "b1", at(19, 11, 0), "s001", 40), ev("order", "b2", at(19, 11, 30), "s002", 60))
	// Wednesday 06:30: s002's Sunday arrives late (two orders, a refund), and
	// one order of Tuesday itself (in the briefed day's numbers already).
	send(at(20, 6, 30), ev("order", "c1", at(17, 10, 0), "s002", 100), ev("order", "c2", at(17, 20, 0), "s002", 50),
		ev("refund", "c3", at(17, 21, 0), "s002", 20), ev("order", "c4", at(19, 23, 0), "s001", 30))

	clk.Set(at(20, 7, 0))
	e := &engine.Engine{Catalog: kpi.Default(), Source: src, Location: sh, SeriesLimit: 500, Now: clk.Now}
	pb, err := briefing.LoadPlaybook(e.Catalog, "")
	require.NoError(t, err)
	build := func(date, store, lang string) *briefing.Briefing {
		t.Helper()
		b, err := briefing.New(briefing.Options{Engine: e, Location: sh, Now: clk.Now, Playbook: pb, Headline: []string{"gmv"},
			Watch: []string{"orders"}, GrafanaURL: "https://grafana.example.com", Language: lang})
		require.NoError(t, err)
		br, err := b.Build(ctx, date, store)
		require.NoError(t, err)
		require.True(t, br.Quality.LateChecked)
		return br
	}

	br := build("2026-05-19", "", "en")
	require.Len(t, br.Quality.Late, 1, "%+v", br.Quality.Late)
	got := br.Quality.Late[0]
	require.Equal(t, "s002", got.Store)
	require.Len(t, got.Days, 1)
	require.Equal(t, "2026-05-17", got.Days[0].Date)
	// Independently: the events sent for s002 on 05-17, and their amounts.
	require.InDelta(t, 3.0, got.Events, 1e-9)
	require.InDelta(t, 150.0, got.GMV, 1e-9)
	require.InDelta(t, 20.0, got.RefundAmount, 1e-9)
	require.InDelta(t, 0.0, got.PaidAmount, 1e-9)
	require.Equal(t, at(20, 6, 30).UTC(), got.LastArrived)
	require.Contains(t, got.Link, "var-store=s002")
	require.Contains(t, got.Days[0].Link, "from="+fmt.Sprint(at(17, 0, 0).UnixMilli()))
	require.NotContains(t, strings.Join(br.Quality.NotChecked, " "), "late data")

	// s001: its late Saturday arrived on Monday, before the window, and
	// its late Tuesday order is the briefed day's own: none listed.
	s001 := build("2026-05-19", "s001", "zh-CN")
	require.Empty(t, s001.Quality.Late)

	// The briefing of Monday, the morning after (its window holds Monday
	// 10:00): s001's Saturday.
	clk.Set(at(19, 7, 0))
	mon := build("2026-05-18", "", "en")
	require.Len(t, mon.Quality.Late, 1)
	require.Equal(t, "s001", mon.Quality.Late[0].Store)
	require.Equal(t, "2026-05-16", mon.Quality.Late[0].Days[0].Date)
	require.InDelta(t, 1.0, mon.Quality.Late[0].Events, 1e-9)
	require.InDelta(t, 70.0, mon.Quality.Late[0].GMV, 1e-9)
}
