package plugin

import (
	"context"
	"testing"

	"github.com/grafana/grafana-plugin-sdk-go/backend"
	"github.com/grafana/grafana-plugin-sdk-go/experimental"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/schema"
)

// campaignFixture adds last year's Double Eleven (tmall and jd, the same
// phases a year earlier) with its peak and after-sales sales, and a week of
// ordinary days before this year's, to the fixture.
func campaignFixture() *fakeSource {
	f := fixture()
	gmv := engine.Term{Measurement: schema.MeasOrders, Field: schema.FieldGMV}
	orders := engine.Term{Measurement: schema.MeasOrders, Field: schema.FieldOrders}
	tmall, jd := map[string]string{"store": "tmall"}, map[string]string{"store": "jd"}
	f.campaigns = append(f.campaigns, calendar.Campaign{ID: "d11-2025", Name: "Double Eleven 2025", Kind: "double11", Stores: []string{"tmall", "jd"},
		Phases: []calendar.Phase{
			{Name: calendar.PhasePreSale, Start: ts("2025-10-31T12:00:00Z"), End: ts("2025-11-10T16:00:00Z")},
			{Name: calendar.PhasePeak, Start: ts("2025-11-10T16:00:00Z"), End: ts("2025-11-11T16:00:00Z")},
			{Name: calendar.PhaseAfterSales, Start: ts("2025-11-11T16:00:00Z"), End: ts("2025-11-19T16:00:00Z")}}})
	for _, p := range []struct {
		at       string
		tags     map[string]string
		v, count float64
	}{
		{"2025-11-10T17:00:00Z", tmall, 800, 8}, {"2025-11-11T17:00:00Z", tmall, 500, 5}, {"2025-11-10T18:00:00Z", jd, 200, 2},
		{"2026-10-25T03:00:00Z", tmall, 100, 1}, {"2026-10-26T03:00:00Z", tmall, 100, 1}, {"2026-10-27T03:00:00Z", tmall, 100, 1},
		{"2026-10-28T03:00:00Z", tmall, 100, 1}, {"2026-10-29T03:00:00Z", tmall, 100, 1}, {"2026-10-30T03:00:00Z", tmall, 100, 1},
		{"2026-10-28T03:00:00Z", jd, 50, 1},
	} {
		f.points = append(f.points, fakePoint{t: ts(p.at), term: gmv, tags: p.tags, v: p.v}, fakePoint{t: ts(p.at), term: orders, tags: p.tags, v: p.count})
	}
	return f
}

// TestGoldenCampaignFrames pins the series of compare campaign (11 and 12
// Nov against last year's 11 and 12 Nov, labels compare=campaign) and the
// uplift table (Double Eleven per store against its week before; the flash
// sale's baseline days all lie in Double Eleven, so it has none).
func TestGoldenCampaignFrames(t *testing.T) {
	d := newTestDatasource(t, campaignFixture())
	for _, tt := range []struct{ name, query string }{
		{"kpi_compare_campaign_by_store", `{"kpi":"gmv","interval":"day","groupBy":["store"],"compare":"campaign","filters":{"campaign":["d11-2026"]}}`},
		{"uplift_by_store", `{"kpi":"gmv","uplift":{"baselineDays":7},"groupBy":["store"]}`},
		{"uplift_ratio", `{"kpi":"aov","uplift":{"baselineDays":7},"filters":{"store":["tmall"]}}`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{dataQuery("A", "kpi", tt.query)}})
			require.NoError(t, err)
			dr := resp.Responses["A"]
			require.NoError(t, dr.Error)
			experimental.CheckGoldenJSONResponse(t, "testdata", tt.name, &dr, *update)
		})
	}
}

func TestCampaignQueryErrors(t *testing.T) {
	d := newTestDatasource(t, campaignFixture())
	tests := []struct{ name, query, msg string }{
		{"compare campaign over two kinds", `{"kpi":"gmv","compare":"campaign"}`, "overlaps campaigns of 2 kinds"},
		{"compare campaign, nothing last year", `{"kpi":"gmv","compare":"campaign","filters":{"campaign":["flash-1112"]}}`, "no flash campaign"},
		{"uplift of a distinct count", `{"kpi":"active_users","uplift":{}}`, "counts distinct users"},
		{"uplift with compare", `{"kpi":"gmv","uplift":{},"compare":"1w"}`, "uplift cannot be combined with compare"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := d.QueryData(context.Background(), &backend.QueryDataRequest{Queries: []backend.DataQuery{dataQuery("A", "", tt.query)}})
			require.NoError(t, err)
			r := resp.Responses["A"]
			require.ErrorContains(t, r.Error, tt.msg)
			require.Equal(t, backend.StatusBadRequest, r.Status)
			require.Equal(t, backend.ErrorSourcePlugin, r.ErrorSource)
		})
	}
}
