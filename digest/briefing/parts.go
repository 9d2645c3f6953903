package briefing

import (
	"fmt"

	"github.com/storepulse/storepulse/datasource/pkg/engine"
	"github.com/storepulse/storepulse/internal/kpi"
)

// Suffixes of the operand KPIs of partsEngine's catalog.
const (
	numSuffix = ":num"
	denSuffix = ":den"
)

// partsEngine is an engine over the catalog plus, for every ratio KPI, its
// numerator and denominator as KPIs of their own ("refund_rate:den" is
// sum(paid_amount)): the band's noise of a ratio is weighted by its
// denominator, and an impact is the ratio's change times it. They are the
// catalog's own operands, not new definitions.
func partsEngine(e *engine.Engine) (*engine.Engine, error) {
	defs := e.Catalog.All()
	for _, k := range e.Catalog.All() {
		if k.Kind != kpi.KindRatio {
			continue
		}
		for _, p := range []struct {
			suffix string
			op     kpi.Operand
		}{{numSuffix, k.Num}, {denSuffix, *k.Den}} {
			kind := kpi.KindSum
			if p.op.IsDistinct() {
				kind = kpi.KindDistinct
			}
			defs = append(defs, kpi.KPI{ID: k.ID + p.suffix, Name: k.Name + " " + p.suffix[1:], Description: "operand of " + k.ID,
				Area: k.Area, Unit: kpi.UnitCount, Direction: k.Direction, Kind: kind, Num: p.op})
		}
	}
	cat, err := kpi.New(defs)
	if err != nil {
		return nil, fmt.Errorf("briefing: operand catalog: %w", err)
	}
	pe := *e
	pe.Catalog = cat
	return &pe, nil
}

// numeratorUnit is the unit of a KPI's impact: the unit of its numerator
// read as a KPI of the catalog (refund_rate's refund amount is currency,
// payment conversion's paid orders are orders, conversion's buyers are
// people).
func numeratorUnit(cat *kpi.Catalog, k kpi.KPI) string {
	op := k.Num
	if k.Kind == kpi.KindSum || k.Kind == kpi.KindDistinct {
		return unitOf(cat, k.ID, k.Unit, op)
	}
	for _, c := range cat.All() {
		if c.Kind != k.Kind && (c.Kind == kpi.KindSum || c.Kind == kpi.KindDistinct) && sameOperand(c.Num, op) {
			return unitOf(cat, c.ID, c.Unit, op)
		}
	}
	if k.Unit == kpi.UnitSeconds {
		return "seconds"
	}
	return "count"
}

func unitOf(_ *kpi.Catalog, id string, u kpi.Unit, op kpi.Operand) string {
	if u == kpi.UnitCurrency {
		return "currency"
	}
	if op.IsDistinct() {
		return "people"
	}
	switch id {
	case "orders", "paid_orders", "refunds":
		return "orders"
	case "sessions":
		return "sessions"
	case "new_users":
		return "people"
	}
	return "count"
}

func sameOperand(a, b kpi.Operand) bool {
	if a.Distinct != b.Distinct || len(a.Terms) != len(b.Terms) {
		return false
	}
	for i := range a.Terms {
		if a.Terms[i] != b.Terms[i] {
			return false
		}
	}
	return true
}
