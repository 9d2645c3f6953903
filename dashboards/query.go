package dashboards

import (
	"encoding/json"
	"fmt"
	"reflect"

	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"

	"github.com/storepulse/storepulse/datasource/pkg/models"
)

// Fixed names of the contract: the provisioned datasource and its plugin.
const (
	DatasourceUID  = "storepulse-kpi"
	DatasourceType = "storepulse-kpi-datasource"
)

// Datasource is the reference every panel, query, variable and annotation
// carries: the provisioned StorePulse datasource by its fixed uid.
func Datasource() common.DataSourceRef {
	t, u := DatasourceType, DatasourceUID
	return common.DataSourceRef{Type: &t, Uid: &u}
}

// Target is one query of a panel, variable or annotation as Grafana stores it:
// the DataQuery envelope (refId, datasource, queryType, hide) around the
// plugin's own query model, models.Query. Building queries from the Go type
// the backend parses keeps the dashboards from drifting away from the parser:
// a renamed or retyped field breaks the build, not a panel in production.
type Target struct {
	RefID     string
	QueryType string
	Hide      bool
	Model     models.Query
	// Alias is the frontend's legend template ({{store}}, {{output}}, …);
	// the backend ignores it.
	Alias string
}

// MarshalJSON writes the model's fields next to the envelope's, as the
// frontend sends a KpiQuery.
func (t Target) MarshalJSON() ([]byte, error) {
	m := t.Model
	if m.Version == 0 {
		m.Version = models.QueryVersion
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("dashboards: query %s: %w", t.RefID, err)
	}
	out := map[string]any{}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("dashboards: query %s: %w", t.RefID, err)
	}
	out["refId"] = t.RefID
	out["datasource"] = Datasource()
	if t.QueryType != "" {
		out["queryType"] = t.QueryType
	}
	if t.Hide {
		out["hide"] = true
	}
	if t.Alias != "" {
		out["alias"] = t.Alias
	}
	return json.Marshal(out)
}

// ImplementsDataqueryVariant makes Target a query of the foundation SDK.
func (t Target) ImplementsDataqueryVariant() {}

// DataqueryType is the plugin id.
func (t Target) DataqueryType() string { return DatasourceType }

// Validate checks what the SDK cannot: a refId is required.
func (t Target) Validate() error {
	if t.RefID == "" {
		return fmt.Errorf("dashboards: a query needs a refId (kpi %q)", t.Model.KPI)
	}
	return nil
}

// Equals compares two queries.
func (t Target) Equals(other variants.Dataquery) bool {
	o, ok := other.(Target)
	return ok && reflect.DeepEqual(t, o)
}

// Build lets a Target be passed where the SDK expects a query builder.
func (t Target) Build() (variants.Dataquery, error) { return t, t.Validate() }
