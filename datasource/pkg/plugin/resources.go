package plugin

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/grafana/grafana-plugin-sdk-go/backend"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/datasource/pkg/models"
	"github.com/storepulse/storepulse/internal/kpi"
)

// KPIInfo is one entry of the /kpis resource.
type KPIInfo struct {
	kpi.KPI
	Formula     string   `json:"formula"`
	Dimensions  []string `json:"dimensions"`
	GrafanaUnit string   `json:"grafanaUnit"`
}

func (d *Datasource) routes() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /kpis", d.handleKPIs)
	mux.HandleFunc("GET /dimensions", d.handleDimensions)
	return mux
}

// CallResource serves /kpis and /dimensions.
func (d *Datasource) CallResource(ctx context.Context, req *backend.CallResourceRequest, sender backend.CallResourceResponseSender) error {
	return d.resources.CallResource(ctx, req, sender)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// handleKPIs: GET /kpis — the catalog.
func (d *Datasource) handleKPIs(w http.ResponseWriter, _ *http.Request) {
	all := d.catalog.All()
	out := make([]KPIInfo, len(all))
	for i, k := range all {
		out[i] = KPIInfo{KPI: k, Formula: k.Formula(), Dimensions: k.Dimensions(), GrafanaUnit: GrafanaUnit(k.Unit, d.settings.Currency)}
	}
	writeJSON(w, http.StatusOK, map[string]any{"kpis": out})
}

// handleDimensions: GET /dimensions?dim=store[&from=RFC3339&to=RFC3339][&store=a&store=b...]
// — the values of a dimension (default: the last 30 days), for variables.
func (d *Datasource) handleDimensions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	dim := q.Get("dim")
	if !engine.IsDimension(dim) {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "dim must be one of " + strings.Join(engine.Dimensions(), ", ")})
		return
	}
	to := d.now()
	from := to.Add(-dataLookback)
	for name, t := range map[string]*time.Time{"from": &from, "to": &to} {
		if v := q.Get(name); v != "" {
			p, err := time.Parse(time.RFC3339, v)
			if err != nil {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": name + " must be RFC 3339"})
				return
			}
			*t = p
		}
	}
	filters := map[string][]string{}
	for _, other := range engine.Dimensions() {
		if v := models.ExpandValues(q[other]); len(v) > 0 && other != dim {
			filters[other] = v
		}
	}
	vals, err := d.source.DimensionValues(r.Context(), engine.DimensionSpec{Start: from, Stop: to, Dimension: dim, Filters: filters})
	if err != nil {
		status := http.StatusBadGateway
		if !backend.IsDownstreamError(err) && !errors.Is(err, context.Canceled) {
			status = http.StatusInternalServerError
		}
		d.logger.Warn("dimension values failed", "dim", dim, "error", err)
		writeJSON(w, status, map[string]string{"error": err.Error()})
		return
	}
	if vals == nil {
		vals = []string{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"dimension": dim, "values": vals})
}
