// Package dashboards generates StorePulse's provisioned Grafana dashboards
// (director wall screen, manager drill-down, campaign rhythm, service and
// after-sales, market and products) with the Grafana Foundation SDK. Every
// panel query is the plugin's own query model (datasource/pkg/models.Query),
// and KPI lists, names and colour directions come from the catalog
// (internal/kpi), so the dashboards cannot drift from the datasource.
//
// `go generate ./dashboards` writes the JSON files next to this package;
// they are committed and provisioned from /var/lib/grafana/dashboards/storepulse
// (provisioning/dashboards/storepulse.yaml). A test fails when they are stale.
package dashboards

//go:generate go run ./gen -dir .
