package briefing

import (
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Dashboard uids and the drill-down's variables (dashboards/build.go).
const (
	uidDrilldown = "storepulse-drilldown"
	uidCampaigns = "storepulse-campaigns"
)

// link is the Grafana URL of a dashboard path with query parameters and the
// time range in epoch milliseconds (Grafana's from/to).
func (b *Builder) link(path string, params url.Values, from, to time.Time) string {
	if params == nil {
		params = url.Values{}
	}
	params.Set("from", strconv.FormatInt(from.UnixMilli(), 10))
	params.Set("to", strconv.FormatInt(to.UnixMilli(), 10))
	params.Set("timezone", b.o.Location.String())
	return strings.TrimSuffix(b.o.GrafanaURL, "/") + path + "?" + params.Encode()
}

// drill links to the drill-down of a KPI against the week before, filtered
// to a store and one more dimension value when given.
func (b *Builder) drill(kpiID, store, dim, value string, from, to time.Time) string {
	p := url.Values{"var-kpi": {kpiID}, "var-compare": {"1w"}}
	if store != "" {
		p.Set("var-store", store)
	}
	if dim != "" && value != "" {
		p.Set("var-"+dim, value)
	}
	return b.link("/d/"+uidDrilldown, p, from, to)
}

// campaignLink opens the campaign rhythm dashboard on a campaign.
func (b *Builder) campaignLink(id string, from, to time.Time) string {
	return b.link("/d/"+uidCampaigns, url.Values{"var-campaign": {id}}, from, to)
}
