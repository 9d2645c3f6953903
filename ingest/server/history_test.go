package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/localday/localdaytest"
	"github.com/storepulse/storepulse/internal/testclock"
)

// TestHistoryAndTZ: history=true is for admin tokens only (403 naming why,
// before anything is read or stored), lets a year-old export in, and
// without it the late-data error names the setting and the way; tz= on
// every JSON and CSV write reads times without offset by the DST rule, and
// a bad zone is a 400 naming the parameter.
func TestHistoryAndTZ(t *testing.T) {
	now := testclock.Now()
	yearAgo := now.AddDate(-1, 0, 0).UTC()
	event := func(id string, at string) string {
		return fmt.Sprintf(`{"type":"order","id":%q,"time":%s,"store":"s1","user":"u1","amount":10,"customer":"new"}`, id, at)
	}
	metric := func(id string, at string) string {
		return fmt.Sprintf(`{"id":%q,"measurement":"sp_orders","time":%s,"tags":{"store":"s1"},"fields":{"orders":1}}`, id, at)
	}
	csvQuery := url.Values{"type": {"order"}, "col.id": {"no"}, "col.time": {"at"}, "col.user": {"buyer"},
		"col.amount": {"total"}, "set.store": {"s1"}, "set.customer": {"new"}}
	csvPath := func(extra string) string { return "/v1/import/csv?" + csvQuery.Encode() + extra }
	csvBody := func(at string) string { return "no,at,buyer,total\nc1," + at + ",u1,10\n" }
	old := `"` + yearAgo.Format(time.RFC3339) + `"`

	// A wall-clock reading in Berlin's spring gap, in the current year's
	// March (inside the late-data window when the suite runs at that time,
	// else imported as history).
	berlin, err := time.LoadLocation("Europe/Berlin")
	require.NoError(t, err)
	gapYear := yearAgo.Year()
	lastSunday := time.Date(gapYear, 3, 31, 0, 0, 0, 0, time.UTC)
	for lastSunday.Weekday() != time.Sunday {
		lastSunday = lastSunday.AddDate(0, 0, -1)
	}
	gapWall := lastSunday.Add(2*time.Hour + 30*time.Minute)
	gapText := gapWall.Format("2006-01-02T15:04:05")
	gapWant := localdaytest.WallInstant(gapWall, berlin).UnixNano()
	require.Equal(t, gapWall.Add(-time.Hour).UnixNano(), gapWant, "02:30 in the gap is 03:30 CEST = 01:30Z")

	tests := []struct {
		name, path, token, body string
		status                  int
		want                    []string // in the answer
		times                   []int64  // accepted times (nil: not checked)
	}{
		{"events history, feed token", "/v1/events?history=true", testToken, event("e1", old), http.StatusForbidden,
			[]string{`token \"test\" may not import history: history=true needs an admin token (auth.tokens[].admin: true, or the token in STOREPULSE_AUTH_ADMIN_TOKENS)`, `"kind":"forbidden"`}, nil},
		{"metrics history, store token", "/v1/metrics?history=true", shopToken, metric("m1", old), http.StatusForbidden,
			[]string{`token \"shop\" may not import history`}, nil},
		{"csv history, feed token", csvPath("&history=true"), testToken, csvBody(yearAgo.Format(time.RFC3339)), http.StatusForbidden,
			[]string{`may not import history`}, nil},
		{"events year old, no history", "/v1/events", adminToken, event("e1", old), http.StatusBadRequest,
			[]string{`older than the late-data horizon (limits.late_horizon: 168h0m0s before now); import older data as history`, `history=true and an admin token`}, nil},
		{"csv year old, no history", csvPath(""), adminToken, csvBody(yearAgo.Format(time.RFC3339)), http.StatusBadRequest,
			[]string{`row 0 (line 2): field \"time\": column \"at\": time ` + yearAgo.Format(time.RFC3339) + ` is older than the late-data horizon (limits.late_horizon`}, nil},
		{"events history, admin", "/v1/events?history=true", adminToken, event("e1", old), http.StatusAccepted,
			[]string{`"accepted":1`}, []int64{yearAgo.UnixNano()}},
		{"metrics history, admin", "/v1/metrics?history=1", adminToken, metric("m1", old), http.StatusAccepted,
			[]string{`"accepted":1`}, []int64{yearAgo.UnixNano()}},
		{"csv history, admin", csvPath("&history=true"), adminToken, csvBody(yearAgo.Format(time.RFC3339)), http.StatusAccepted,
			[]string{`"accepted":1`}, []int64{yearAgo.UnixNano()}},
		{"events local time in a DST gap", "/v1/events?history=true&tz=Europe/Berlin", adminToken, event("e2", `"`+gapText+`"`), http.StatusAccepted,
			nil, []int64{gapWant}},
		{"metrics local time in a DST gap", "/v1/metrics?history=true&tz=Europe/Berlin", adminToken, metric("m2", `"`+gapText+`"`), http.StatusAccepted,
			nil, []int64{gapWant}},
		{"csv local time in a DST gap", csvPath("&history=true&tz=Europe/Berlin"), adminToken, csvBody(gapText), http.StatusAccepted,
			nil, []int64{gapWant}},
		{"local time without tz", "/v1/events?history=true", adminToken, event("e2", `"`+gapText+`"`), http.StatusBadRequest,
			[]string{`has no UTC offset`, `query parameter tz`}, nil},
		{"bad zone on events", "/v1/events?tz=Europe/Atlantis", testToken, event("e3", `"`+now.Format(time.RFC3339)+`"`), http.StatusBadRequest,
			[]string{`"kind":"invalid_request"`, `parameter \"tz\": unknown time zone \"Europe/Atlantis\" (want an IANA name such as Asia/Shanghai or America/Sao_Paulo)`}, nil},
		{"bad zone on metrics", "/v1/metrics?tz=Local", testToken, metric("m3", `"`+now.Format(time.RFC3339)+`"`), http.StatusBadRequest,
			[]string{`parameter \"tz\": unknown time zone \"Local\"`}, nil},
		{"bad zone on csv", csvPath("&tz=CET%2B1"), testToken, csvBody(now.Format(time.RFC3339)), http.StatusBadRequest,
			[]string{`parameter \"tz\": unknown time zone \"CET+1\"`}, nil},
		{"bad history value", "/v1/events?history=maybe", adminToken, event("e4", old), http.StatusBadRequest,
			[]string{`parameter \"history\": must be true or false, got \"maybe\"`}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ts := newTestServer(t, testOptions(), nil)
			rec := ts.do(t, http.MethodPost, tc.path, tc.token, []byte(tc.body), nil)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			for _, w := range tc.want {
				require.Contains(t, rec.Body.String(), w)
			}
			if tc.status != http.StatusAccepted {
				require.Zero(t, ts.acc.accepted, "nothing stored")
				var body map[string]any
				require.NoError(t, json.Unmarshal(rec.Body.Bytes(), &body))
				return
			}
			if tc.times != nil {
				require.Equal(t, tc.times, ts.acc.times)
			}
			if strings.Contains(tc.path, "history=") {
				require.Contains(t, ts.logs.String(), "history import accepted")
				require.Contains(t, ts.logs.String(), "principal=ops")
			}
		})
	}
}
