package engine

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/schema"
)

// camp is a one-phase campaign from start to end (RFC 3339).
func camp(id, kind, start, end string, stores ...string) calendar.Campaign {
	return calendar.Campaign{ID: id, Name: "Campaign " + id, Kind: kind, Stores: stores,
		Phases: []calendar.Phase{{Name: calendar.PhaseActivity, Start: utc(start), End: utc(end)}}}
}

// calendarFixture: Double Eleven (warm-up 15 Oct to 21 Nov, Shanghai) in 2025
// and 2026, 618 only in 2026, weekly member days, and tmall's flash sale
// whose last year's edition ran in jd only.
func calendarFixture() []calendar.Campaign {
	cs := []calendar.Campaign{
		camp("d11-2025", "double11", "2025-10-14T16:00:00Z", "2025-11-20T16:00:00Z"),
		camp("d11-2026", "double11", "2026-10-14T16:00:00Z", "2026-11-20T16:00:00Z"),
		camp("618-2026", "618", "2026-05-24T16:00:00Z", "2026-06-25T16:00:00Z"),
		camp("wk-2025-11-26", "weekly", "2025-11-26T02:00:00Z", "2025-11-26T14:00:00Z"),
		camp("wk-2026-11-25", "weekly", "2026-11-25T02:00:00Z", "2026-11-25T14:00:00Z"),
		camp("flash-2025", "flash", "2025-11-02T02:00:00Z", "2025-11-02T04:00:00Z", "jd"),
		camp("flash-2026", "flash", "2026-11-01T02:00:00Z", "2026-11-01T04:00:00Z", "tmall"),
	}
	SortCampaigns(cs)
	return cs
}

func TestMatchCampaign(t *testing.T) {
	sh := loc(t, "Asia/Shanghai")
	year := 365 * 24 * time.Hour
	tests := []struct {
		name      string
		cal       map[string][]string
		from, to  string
		cur, prev string
		offset    time.Duration
		err       string
	}{
		{"inside Double Eleven", nil, "2026-11-10T16:00:00Z", "2026-11-11T16:00:00Z", "d11-2026", "d11-2025", year, ""},
		{"two kinds overlap", nil, "2026-11-15T16:00:00Z", "2026-11-26T16:00:00Z", "", "", 0,
			"overlaps campaigns of 2 kinds — Campaign d11-2026 (d11-2026, kind double11); Campaign wk-2026-11-25 (wk-2026-11-25, kind weekly): name one with the campaign filter"},
		{"named by the campaign filter", map[string][]string{"campaign": {"d11-2026"}}, "2026-11-15T16:00:00Z", "2026-11-26T16:00:00Z", "d11-2026", "d11-2025", year, ""},
		{"the weekly one named", map[string][]string{"campaign": {"wk-2026-11-25"}}, "2026-11-15T16:00:00Z", "2026-11-26T16:00:00Z",
			"wk-2026-11-25", "wk-2025-11-26", year - 24*time.Hour, ""},
		{"named, outside the range", map[string][]string{"campaign": {"d11-2026"}}, "2026-08-01T16:00:00Z", "2026-08-02T16:00:00Z", "d11-2026", "d11-2025", year, ""},
		{"no campaign in the range", nil, "2026-08-01T16:00:00Z", "2026-08-02T16:00:00Z", "", "", 0, "overlaps no campaign of the calendar"},
		{"an unknown campaign named", map[string][]string{"campaign": {"nope"}}, "2026-11-10T16:00:00Z", "2026-11-11T16:00:00Z", "", "", 0, "no campaign nope in the calendar"},
		{"nothing of the kind last year", nil, "2026-06-17T16:00:00Z", "2026-06-18T16:00:00Z", "", "", 0,
			"no 618 campaign (kind 618) starting within 90 days of 2025-05-25"},
		{"two of a kind: the one the range holds most of", map[string][]string{"campaign": {"d11-2025", "d11-2026"}}, "2025-11-01T16:00:00Z", "2026-10-20T16:00:00Z", "", "", 0,
			"no double11 campaign (kind double11) starting within 90 days of 2024-10-15"},
		{"two of a kind, equally held: the latest", nil, "2025-10-01T00:00:00Z", "2026-12-01T00:00:00Z", "", "", 0, "overlaps campaigns of 4 kinds"},
		{"two of a kind, named both: the latest", map[string][]string{"campaign": {"d11-2025", "d11-2026"}}, "2025-10-01T00:00:00Z", "2026-12-01T00:00:00Z",
			"d11-2026", "d11-2025", year, ""},
		{"the store filter applies to last year's too", map[string][]string{"store": {"tmall"}, "campaign": {"flash-2026"}}, "2026-11-01T01:00:00Z", "2026-11-01T05:00:00Z",
			"", "", 0, "no flash campaign"},
		{"a store's own campaigns count too", map[string][]string{"store": {"jd"}}, "2025-11-02T01:00:00Z", "2025-11-02T05:00:00Z",
			"", "", 0, "overlaps campaigns of 2 kinds"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := MatchCampaign(calendarFixture(), tt.cal, utc(tt.from), utc(tt.to), sh)
			if tt.err != "" {
				requirePluginError(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Equal(t, tt.cur, m.Current.ID)
			require.Equal(t, tt.prev, m.Previous.ID)
			require.Equal(t, tt.offset, m.Offset)
		})
	}
}

// TestCompareCampaign: GMV of the Double Eleven peak day against last
// year's, the range moved back by the campaigns' start difference (365
// days, not the 364 of 1y); the campaign filter names the calendar campaign
// and does not filter the orders by their campaign tag.
func TestCompareCampaign(t *testing.T) {
	var pts []memPoint
	for _, p := range []struct {
		ts   string
		gmv  float64
		camp string
	}{
		{"2026-11-10T17:00:00Z", 900, "d11-2026"}, {"2026-11-11T17:00:00Z", 300, ""}, // 11 and 12 Nov 2026
		{"2025-11-10T17:00:00Z", 600, "d11-2025"}, {"2025-11-11T17:00:00Z", 400, ""}, // 11 and 12 Nov 2025
		{"2025-11-09T17:00:00Z", 9999, ""}, // 10 Nov 2025: what 1y (364 days) would compare with
	} {
		for _, m := range order(p.ts, "tmall", "app", "tv", p.gmv) {
			m.tags[schema.TagCampaign] = p.camp
			pts = append(pts, m)
		}
	}
	src := &memSource{points: pts, camps: calendarFixture()}
	e := newEngine(t, src, "Asia/Shanghai", 100)
	from, to := utc("2026-11-10T16:00:00Z"), utc("2026-11-12T16:00:00Z")
	for _, js := range []string{
		`{"kpi":"gmv","interval":"day","compare":"campaign"}`,
		`{"kpi":"gmv","interval":"day","compare":"campaign","filters":{"campaign":["d11-2026"]}}`,
	} {
		q, err := models.ParseQuery([]byte(js))
		require.NoError(t, err)
		res, err := e.Run(context.Background(), Request{Query: q, From: from, To: to})
		require.NoError(t, err, js)
		require.Equal(t, "d11-2025", res.CompareCampaign.Previous.ID)
		require.Len(t, res.Series, 4)
		require.Equal(t, []any{900.0, 300.0}, vals(res.Series[0]), js)
		require.Equal(t, RoleCompare, res.Series[1].Role)
		require.Equal(t, []any{600.0, 400.0}, vals(res.Series[1]), js)
		require.Equal(t, []any{300.0, -100.0}, vals(res.Series[2]), js)
		require.Equal(t, []any{0.5, -0.25}, vals(res.Series[3]), js)
	}

	// Contribution takes the same comparison period.
	q, err := models.ParseQuery([]byte(`{"kpi":"gmv","compare":"campaign","contribution":{"dimension":"store"}}`))
	require.NoError(t, err)
	cr, err := e.Contribution(context.Background(), Request{Query: q, From: from, To: to})
	require.NoError(t, err)
	require.InDelta(t, 1000.0, *cr.Previous, 0)

	// Errors are the query's.
	q, err = models.ParseQuery([]byte(`{"kpi":"gmv","interval":"day","compare":"campaign"}`))
	require.NoError(t, err)
	_, err = e.Run(context.Background(), Request{Query: q, From: utc("2026-08-01T16:00:00Z"), To: utc("2026-08-02T16:00:00Z")})
	requirePluginError(t, err, "overlaps no campaign")
}
