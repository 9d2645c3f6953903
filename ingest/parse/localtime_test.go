package parse

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/localday/localdaytest"
)

// historyLimits accept every case below in a history import (history=true):
// a 20-year horizon, "now" fixed after the latest case.
func historyLimits() Limits {
	now := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
	return Limits{Now: func() time.Time { return now }, HistoryHorizon: 20 * 365 * 24 * time.Hour}
}

// TestLocalTimesEverywhere posts the same wall-clock readings (ordinary
// hours, DST gaps and overlaps, a 30-minute change, a skipped date) without
// offset, with tz=, as JSON events, as metrics, and as CSV rows in the
// default layout and in a Go layout; every way must give the instant the
// scanning oracle of localdaytest computes from the rule (gap: the offset
// before the change, i.e. forward by the gap; overlap: the earlier offset).
func TestLocalTimesEverywhere(t *testing.T) {
	cases := []struct{ zone, wall string }{
		{"America/Sao_Paulo", "2017-10-15T00:30:00"},    // gap at midnight
		{"America/Sao_Paulo", "2017-10-15T00:00:00"},    // the missing midnight
		{"America/Sao_Paulo", "2018-02-17T23:30:00"},    // overlap
		{"America/Sao_Paulo", "2017-11-24T14:00:00"},    // Black Friday, ordinary
		{"Europe/Berlin", "2024-03-31T02:30:00"},        // spring gap
		{"Europe/Berlin", "2024-10-27T02:30:00"},        // autumn overlap
		{"Europe/Berlin", "2024-10-27T02:59:59.999"},    // end of the overlap
		{"America/New_York", "2026-03-08T02:15:00"},     // gap
		{"America/New_York", "2026-11-01T01:30:00"},     // overlap
		{"America/Santiago", "2024-09-08T00:30:00"},     // gap at midnight
		{"Australia/Lord_Howe", "2024-10-06T02:15:00"},  // 30-minute gap
		{"Australia/Lord_Howe", "2024-04-07T01:45:00"},  // 30-minute overlap
		{"Asia/Tehran", "2020-03-21T00:30:00"},          // gap, half-hour offsets
		{"Pacific/Apia", "2011-12-30T12:00:00"},         // a date the zone skipped
		{"Asia/Kolkata", "2024-03-31T02:30:00"},         // no DST, +05:30
		{"Asia/Shanghai", "2026-11-11T00:01:23.123456"}, // Double Eleven
	}
	for _, tc := range cases {
		t.Run(tc.zone+" "+tc.wall, func(t *testing.T) {
			loc, err := time.LoadLocation(tc.zone)
			require.NoError(t, err)
			wall, err := time.Parse("2006-01-02T15:04:05", tc.wall)
			require.NoError(t, err)
			want := localdaytest.WallInstant(wall, loc).UnixNano()
			opts, err := ParseWriteOptions(url.Values{"tz": {tc.zone}, "history": {"true"}})
			require.NoError(t, err)
			lim := opts.Apply(historyLimits())

			b, err := Events(strings.NewReader(ev(map[string]string{"time": `"` + tc.wall + `"`})), lim)
			require.NoError(t, err)
			require.Equal(t, want, b.Events[0].Time, "events")

			m := fmt.Sprintf(`{"id":"m","measurement":"sp_orders","time":%q,"tags":{"store":"s1"},"fields":{"orders":1}}`, tc.wall)
			b, err = Metrics(strings.NewReader(m), lim)
			require.NoError(t, err)
			require.Equal(t, want, b.Points[0].Time, "metrics")

			for _, layout := range []string{"", "2006-01-02 15:04:05"} {
				q := url.Values{"tz": {tc.zone}, "history": {"true"}}
				for k, v := range orderMapping {
					q[k] = v
				}
				cell := tc.wall
				if layout != "" {
					q.Set("time_layout", layout)
					cell = strings.Replace(tc.wall, "T", " ", 1)
				}
				mapping, err := ParseCSVMapping(q)
				require.NoError(t, err)
				b, err = CSV(strings.NewReader(orderCSV("o1,"+cell+",u1,10,new")), mapping, historyLimits())
				require.NoError(t, err)
				require.Equal(t, want, b.Events[0].Time, "csv, layout %q", layout)
			}
		})
	}
}

// TestTimesWithOffsetIgnoreTZ: a time with an offset, or in unix ms, means
// that instant whatever tz says.
func TestTimesWithOffsetIgnoreTZ(t *testing.T) {
	opts, err := ParseWriteOptions(url.Values{"tz": {"America/Sao_Paulo"}, "history": {"1"}})
	require.NoError(t, err)
	lim := opts.Apply(historyLimits())
	b, err := Events(strings.NewReader(ev(map[string]string{"time": `"2024-06-18T09:30:00+08:00"`})+"\n"+
		ev(map[string]string{"id": `"o-2"`, "time": `1718674200000`})), lim)
	require.NoError(t, err)
	want := time.Date(2024, 6, 18, 1, 30, 0, 0, time.UTC).UnixNano()
	require.Equal(t, want, b.Events[0].Time)
	require.Equal(t, want, b.Events[1].Time)
}

func TestWriteOptionsErrors(t *testing.T) {
	for _, tc := range []struct {
		q    url.Values
		msg  string
		item ItemError
	}{
		{url.Values{"tz": {"Mars/Olympus"}}, `parameter "tz": unknown time zone "Mars/Olympus" (want an IANA name such as Asia/Shanghai or America/Sao_Paulo)`, ItemError{Field: "tz"}},
		{url.Values{"tz": {"Local"}}, `parameter "tz": unknown time zone "Local"`, ItemError{Field: "tz"}},
		{url.Values{"tz": {""}}, `parameter "tz": unknown time zone ""`, ItemError{Field: "tz"}},
		{url.Values{"tz": {"../../etc/passwd"}}, `parameter "tz": unknown time zone "../../etc/passwd"`, ItemError{Field: "tz"}},
		{url.Values{"tz": {"UTC", "Asia/Shanghai"}}, `parameter "tz": given 2 times; give it once`, ItemError{Field: "tz"}},
		{url.Values{"history": {"yes please"}}, `parameter "history": must be true or false, got "yes please"`, ItemError{Field: "history"}},
	} {
		t.Run(tc.msg, func(t *testing.T) {
			_, err := ParseWriteOptions(tc.q)
			var pe *Error
			require.ErrorAs(t, err, &pe)
			require.Equal(t, KindInvalidRequest, pe.Kind)
			require.Contains(t, pe.Error(), tc.msg)
			require.Equal(t, tc.item.Field, pe.Items[0].Field)

			// The CSV import reads the same parameters the same way.
			q := url.Values{}
			for k, v := range orderMapping {
				q[k] = v
			}
			for k, v := range tc.q {
				q[k] = v
			}
			_, err = ParseCSVMapping(q)
			require.ErrorAs(t, err, &pe)
			require.Contains(t, pe.Error(), tc.msg)
		})
	}
	o, err := ParseWriteOptions(url.Values{"history": {"true"}, "tz": {"Europe/Berlin"}, "p": {"secret"}})
	require.NoError(t, err)
	require.True(t, o.History)
	require.Equal(t, "Europe/Berlin", o.Location.String())
}

// TestLocalTimeWithoutTZ: without tz, a time without offset is refused
// with a reason that names the way.
func TestLocalTimeWithoutTZ(t *testing.T) {
	_, err := Events(strings.NewReader(ev(map[string]string{"time": `"2024-06-18T09:30:00"`})), historyLimits())
	require.ErrorContains(t, err, `item 0 (line 1): field "time": has no UTC offset, got "2024-06-18T09:30:00": add one (e.g. 2024-06-18T09:30:00+08:00) or give the zone of such times with the query parameter tz (e.g. tz=Asia/Shanghai)`)
	lim := WriteOptions{Location: time.UTC, History: true}.Apply(historyLimits())
	_, err = Events(strings.NewReader(ev(map[string]string{"time": `"2024-06-18 09:30"`})), lim)
	require.ErrorContains(t, err, `or without offset (e.g. 2024-06-18T09:30:00) in the tz zone UTC, got "2024-06-18 09:30"`)
}

// TestHistoryHorizon: a year-old time is refused by the late-data horizon
// with a reason naming the setting and the way, accepted as history, and a
// time beyond the history horizon is refused naming that setting.
func TestHistoryHorizon(t *testing.T) {
	now := time.Date(2026, 6, 10, 6, 0, 0, 0, time.UTC)
	live := Limits{Now: func() time.Time { return now }, LateHorizon: 168 * time.Hour, HistoryHorizon: 3 * 365 * 24 * time.Hour}
	history := live
	history.History = true
	yearOld := ev(map[string]string{"time": `"2025-06-10T06:00:00Z"`})
	_, err := Events(strings.NewReader(yearOld), live)
	require.ErrorContains(t, err, `field "time": time 2025-06-10T06:00:00Z is older than the late-data horizon (limits.late_horizon: 168h0m0s before now); `+
		`import older data as history: POST it to /v1/import/csv, /v1/events or /v1/metrics with the query parameter history=true and an admin token `+
		`(accepted back to limits.history_horizon: 26280h0m0s; see docs/import-csv.md)`)
	b, err := Events(strings.NewReader(yearOld), history)
	require.NoError(t, err)
	require.Equal(t, time.Date(2025, 6, 10, 6, 0, 0, 0, time.UTC).UnixNano(), b.Events[0].Time)

	tooOld := ev(map[string]string{"time": `"2023-06-01T00:00:00Z"`})
	_, err = Events(strings.NewReader(tooOld), history)
	require.ErrorContains(t, err, `time 2023-06-01T00:00:00Z is older than the history horizon (limits.history_horizon: 26280h0m0s before now)`)
	// The future stays refused in a history import.
	_, err = Events(strings.NewReader(ev(map[string]string{"time": `"2026-06-10T07:00:00Z"`})), history)
	require.ErrorContains(t, err, "is in the future")
	// CSV: history=true in the mapping.
	q := url.Values{"history": {"true"}, "tz": {"Asia/Shanghai"}}
	for k, v := range orderMapping {
		q[k] = v
	}
	m, err := ParseCSVMapping(q)
	require.NoError(t, err)
	require.True(t, m.History)
	b, err = CSV(strings.NewReader(orderCSV("o1,2025-06-10T14:00:00,u1,10,new")), m, live)
	require.NoError(t, err)
	require.Equal(t, time.Date(2025, 6, 10, 6, 0, 0, 0, time.UTC).UnixNano(), b.Events[0].Time)
	q.Del("history")
	m, err = ParseCSVMapping(q)
	require.NoError(t, err)
	_, err = CSV(strings.NewReader(orderCSV("o1,2025-06-10T14:00:00,u1,10,new")), m, live)
	require.ErrorContains(t, err, `row 0 (line 2): field "time": column "at": time 2025-06-10T06:00:00Z is older than the late-data horizon (limits.late_horizon: 168h0m0s before now)`)
}
