package engine

import (
	"time"

	"github.com/storepulse/storepulse/internal/calendar"
	"github.com/storepulse/storepulse/internal/kpi"
)

// What the external tests (package engine_test: those reading a real
// InfluxDB through the Flux source, which imports engine) use of the
// package's unexported code and test helpers.

// Terms are the summed fields of an operand (terms).
func Terms(o kpi.Operand) []Term { return terms(o) }

// InCampaign is inCampaign.
func InCampaign(camps []calendar.Campaign, filters map[string][]string, start, end time.Time) bool {
	return inCampaign(camps, filters, start, end)
}

// NabSection is nabSection.
func NabSection() string { return nabSection() }

// Frac is frac.
func Frac(a, b int) string { return frac(a, b) }

// StoreSumsSource is a memSource holding camps and the sums rows, each
// grouped by store, or by store and category.
func StoreSumsSource(camps []calendar.Campaign, rows []SumRow) Source {
	m := &memSource{camps: camps}
	for _, r := range rows {
		tags := map[string]string{"store": r.Groups[0]}
		if len(r.Groups) > 1 {
			tags["category"] = r.Groups[1]
		}
		m.points = append(m.points, memPoint{t: r.Time, meas: r.Term.Measurement, field: r.Term.Field, tags: tags, v: r.Value})
	}
	return m
}
