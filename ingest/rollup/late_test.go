package rollup

import (
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"
	"time"

	influxdb2 "github.com/influxdata/influxdb-client-go/v2"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/influxtest"
	"github.com/storepulse/storepulse/internal/schema"
)

// lateLines are the sp_late lines of out, with the arrived field cut out
// (it is the roll-up time) and returned apart.
func lateLines(out []string) (lines []string, arrived []string) {
	for _, l := range out {
		if !strings.HasPrefix(l, schema.MeasLate+",") {
			continue
		}
		i := strings.Index(l, " arrived=")
		j := strings.Index(l[i+1:], ",")
		arrived = append(arrived, strings.TrimSuffix(l[i+len(" arrived="):i+1+j], "i"))
		lines = append(lines, l[:i+1]+l[i+2+j:])
	}
	return lines, arrived
}

// TestLateData: events of local days (Shanghai) already over when their
// segment is rolled up are recorded per store and day in sp_late, with the
// GMV, paid and refund amounts they added; replaying the segment later
// rewrites the same points (same series and timestamps), so nothing is
// counted twice; events within the grace after midnight are not late.
func TestLateData(t *testing.T) {
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	at := func(d, hh, mm int) int64 { return time.Date(2026, 5, d, hh, mm, 0, 0, sh).UnixNano() }
	batch := event.Batch{Events: []event.Event{
		{Type: event.TypeOrder, Time: at(20, 5, 0), Store: "s001", ID: "o-now", Order: "o-now", User: "u1", Amount: 50},     // today: on time
		{Type: event.TypeOrder, Time: at(17, 10, 0), Store: "s002", ID: "o1", Order: "o1", User: "u2", Amount: 100},         // late, 05-17
		{Type: event.TypePayment, Time: at(17, 10, 5), Store: "s002", ID: "p1", Order: "o1", User: "u2", Amount: 80},        // late, 05-17
		{Type: event.TypeSignup, Time: at(17, 23, 59), Store: "s002", ID: "u3", User: "u3"},                                 // late, 05-17
		{Type: event.TypeRefund, Time: at(18, 9, 0), Store: "s001", ID: "r1", Order: "o0", User: "u4", Amount: 30.5},        // late, 05-18
		{Type: event.TypeSession, Time: at(19, 23, 58), Store: "s001", ID: "v1", Visitor: "v1", PageViews: 3, DurationS: 9}, // late, 05-19
	}}
	dayNs := func(d int) string { return strconv.FormatInt(at(d, 0, 0)+7, 10) } // + segment 7

	tests := []struct {
		name   string
		now    time.Time
		replay time.Duration // when the segment is rolled up again
		want   []string
	}{
		{"morning after", time.Date(2026, 5, 20, 6, 0, 0, 0, sh), time.Hour, []string{
			"sp_late,ingester=i1,store=s002 events=3,gmv=100,paid_amount=80,refund_amount=0 " + dayNs(17),
			"sp_late,ingester=i1,store=s001 events=1,gmv=0,paid_amount=0,refund_amount=30.5 " + dayNs(18),
			"sp_late,ingester=i1,store=s001 events=1,gmv=0,paid_amount=0,refund_amount=0 " + dayNs(19),
		}},
		// 5 minutes after midnight: 05-19 is within the grace.
		{"within the grace", time.Date(2026, 5, 20, 0, 5, 0, 0, sh), time.Minute, []string{
			"sp_late,ingester=i1,store=s002 events=3,gmv=100,paid_amount=80,refund_amount=0 " + dayNs(17),
			"sp_late,ingester=i1,store=s001 events=1,gmv=0,paid_amount=0,refund_amount=30.5 " + dayNs(18),
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := tt.now
			r, err := New(Options{Ingester: "i1", Sketches: &memSketches{}, Location: sh, Now: func() time.Time { return now }})
			require.NoError(t, err)
			got, arrived := lateLines(lines(t, r, 7, batch))
			require.Equal(t, tt.want, got)
			for _, a := range arrived {
				require.Equal(t, strconv.FormatInt(now.Unix(), 10), a)
			}
			// A replay of the segment later (a crash before it left the
			// spool) writes the same points again: same series, same
			// timestamps, the same counts; only arrived moves.
			now = now.Add(tt.replay)
			again, arrived := lateLines(lines(t, r, 7, batch))
			require.Equal(t, got, again)
			require.Equal(t, strconv.FormatInt(now.Unix(), 10), arrived[0])
		})
	}

	t.Run("no clock, no record", func(t *testing.T) {
		r, err := New(Options{Ingester: "i1", Sketches: &memSketches{}, Location: sh})
		require.NoError(t, err)
		got, _ := lateLines(lines(t, r, 7, batch))
		require.Empty(t, got)
	})
	t.Run("negative grace", func(t *testing.T) {
		_, err := New(Options{Ingester: "i1", Sketches: &memSketches{}, LateGrace: -time.Second})
		require.ErrorContains(t, err, "late grace")
	})
}

// TestLateDataInflux writes the late-data records of two segments of
// random events to a real InfluxDB 1.8, the first segment twice (a replay
// an hour later): the stored events and GMV per store and local day equal
// an independent count of the late events, not doubled.
func TestLateDataInflux(t *testing.T) {
	srv := influxtest.Start(t)
	sh, err := time.LoadLocation("Asia/Shanghai")
	require.NoError(t, err)
	now := time.Date(2026, 5, 20, 6, 0, 0, 0, sh)
	r, err := New(Options{Ingester: "i1", Sketches: &memSketches{}, Location: sh, Now: func() time.Time { return now }})
	require.NoError(t, err)
	rng := rand.New(rand.NewPCG(5, 6))
	// 48 h from 05-18 12:00: late (before 05-20 00:00) and on time.
	events := genEvents(rng, 3000, time.Date(2026, 5, 18, 12, 0, 0, 0, sh).UnixNano(), 50)
	want := map[string]float64{}
	midnight := time.Date(2026, 5, 20, 0, 0, 0, 0, sh).UnixNano()
	for _, e := range events {
		if e.Time >= midnight {
			continue
		}
		day := time.Unix(0, e.Time).In(sh).Format(time.DateOnly)
		want[e.Store+"/"+day+"/events"]++
		if e.Type == event.TypeOrder {
			want[e.Store+"/"+day+"/gmv"] += e.Amount
		}
	}
	half := len(events) / 2
	first, second := event.Batch{Events: events[:half]}, event.Batch{Events: events[half:]}
	srv.WriteLines(t, lines(t, r, 7, first))
	now = now.Add(time.Hour)
	srv.WriteLines(t, lines(t, r, 7, first)) // the replay
	srv.WriteLines(t, lines(t, r, 8, second))

	client := influxdb2.NewClient(srv.URL, srv.Token)
	defer client.Close()
	got := map[string]float64{}
	fluxRows(t, client.QueryAPI(srv.Org), fmt.Sprintf(`from(bucket: %q)
  |> range(start: 2026-05-01T00:00:00Z, stop: 2026-06-01T00:00:00Z)
  |> filter(fn: (r) => r._measurement == "sp_late" and (r._field == "events" or r._field == "gmv"))`, influxtest.Bucket),
		func(rec map[string]any) {
			day := rec["_time"].(time.Time).In(sh).Format(time.DateOnly) // the day's first instant + the segment id
			got[fmt.Sprintf("%s/%s/%s", rec["store"], day, rec["_field"])] += rec["_value"].(float64)
		})
	require.Len(t, got, len(want))
	for k, v := range want {
		require.InDelta(t, v, got[k], 1e-6, k)
	}
}
