package server

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/testclock"
)

// TestLineProtocolDatabases: with lineprotocol.databases set, a write naming
// another database or bucket gets InfluxDB's 404 and nothing is stored; with
// it empty, any name is accepted.
func TestLineProtocolDatabases(t *testing.T) {
	line := fmt.Sprintf("cpu,host=a v=1 %d\n", testclock.Now().UnixNano())
	for _, tc := range []struct {
		name      string
		databases []string
		path      string
		status    int
		body      string // substring of the answer
		header    string // X-Influxdb-Error
	}{
		{"v1 listed", []string{"telegraf", "ops"}, "/write?db=ops", http.StatusNoContent, "", ""},
		{"v1 unknown", []string{"telegraf"}, "/write?db=nope", http.StatusNotFound,
			`"error":"database not found: \"nope\""`, `database not found: "nope"`},
		{"v1 unknown, rp ignored", []string{"telegraf"}, "/write?db=nope&rp=autogen", http.StatusNotFound,
			`database not found`, `database not found: "nope"`},
		{"v1 any name when empty", nil, "/write?db=whatever", http.StatusNoContent, "", ""},
		{"v2 listed", []string{"telegraf"}, "/api/v2/write?bucket=telegraf&org=o", http.StatusNoContent, "", ""},
		{"v2 db/rp listed", []string{"telegraf"}, "/api/v2/write?bucket=telegraf/autogen", http.StatusNoContent, "", ""},
		{"v2 unknown", []string{"telegraf"}, "/api/v2/write?bucket=nope", http.StatusNotFound,
			`"code":"not found","message":"bucket \"nope\" not found"`, `bucket "nope" not found`},
		{"v2 any name when empty", nil, "/api/v2/write?bucket=whatever", http.StatusNoContent, "", ""},
		{"v1 missing db still 400", []string{"telegraf"}, "/write", http.StatusBadRequest, "database is required", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := testOptions()
			opts.Databases = tc.databases
			ts := newTestServer(t, opts, nil)
			rec := ts.do(t, "POST", tc.path, testToken, []byte(line), nil)
			require.Equal(t, tc.status, rec.Code, rec.Body.String())
			require.Contains(t, rec.Body.String(), tc.body)
			require.Equal(t, tc.header, rec.Header().Get("X-Influxdb-Error"))
			want := 0
			if tc.status == http.StatusNoContent {
				want = 1
			}
			ts.acc.mu.Lock()
			defer ts.acc.mu.Unlock()
			require.Equal(t, want, ts.acc.accepted, "points stored")
		})
	}
}
