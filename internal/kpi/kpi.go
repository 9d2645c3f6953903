// Package kpi is THE catalog of StorePulse KPIs: every KPI of the product
// glossary, declared once with its unit, direction and computation over the
// storage schema (docs/schema.md). The datasource computes from it, serves it
// (resource /kpis) and docs/kpis.md is generated from it (go generate).
package kpi

//go:generate go run ./gen -out ../../docs/kpis.md

import (
	"fmt"
	"slices"

	"github.com/storepulse/storepulse/internal/schema"
)

// Unit of a KPI's values.
type Unit string

// Units.
const (
	UnitCurrency Unit = "currency" // in the store currency
	UnitPercent  Unit = "percent"  // a fraction 0..1 (shown as percent)
	UnitCount    Unit = "count"
	UnitSeconds  Unit = "seconds"
	UnitRatio    Unit = "ratio" // a plain quotient, e.g. page views per session
)

// Direction says which way is good.
type Direction string

// Directions.
const (
	HigherIsBetter Direction = "higher"
	LowerIsBetter  Direction = "lower"
)

// Kind is how a KPI is computed.
type Kind string

// Kinds of computation.
const (
	// KindSum: the sum of Num's terms over the bucket and filter.
	KindSum Kind = "sum"
	// KindRatio: Num / Den per bucket (sums or distinct counts); a zero
	// denominator gives null. With Complement, 1 - Num/Den.
	KindRatio Kind = "ratio"
	// KindDistinct: the distinct count of Num.Distinct over the bucket and
	// filter (merged sketches).
	KindDistinct Kind = "distinct"
	// KindCumulative: the sum of Num from the beginning of the data up to the
	// end of each bucket.
	KindCumulative Kind = "cumulative"
	// KindStickiness: the mean of the daily distinct counts of Num.Distinct
	// within the bucket divided by the distinct count over the whole bucket.
	KindStickiness Kind = "stickiness"
	// KindTransform: a KPI derived by a query transform rather than from
	// stored numbers alone (campaign uplift, life-cycle stage). Not computable
	// as a plain series; see Note.
	KindTransform Kind = "transform"
)

// Term is one stored field, added (Sign +1) or subtracted (Sign -1).
type Term struct {
	Measurement string  `json:"measurement"`
	Field       string  `json:"field"`
	Sign        float64 `json:"sign"`
}

// Operand is either a sum of Terms or (Distinct != "") the distinct count of
// a sketch kind (schema.Kind*).
type Operand struct {
	Terms    []Term `json:"terms,omitempty"`
	Distinct string `json:"distinct,omitempty"`
}

// IsDistinct reports whether the operand is a distinct count.
func (o Operand) IsDistinct() bool { return o.Distinct != "" }

// String is the operand in the notation of docs/kpis.md.
func (o Operand) String() string {
	if o.IsDistinct() {
		return "distinct(" + o.Distinct + ")"
	}
	s := ""
	for i, t := range o.Terms {
		switch {
		case t.Sign < 0:
			s += " − "
		case i > 0:
			s += " + "
		}
		s += "sum(" + t.Field + ")"
	}
	return s
}

// KPI is one catalog entry.
type KPI struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// NameZH is the name in Simplified Chinese (the briefing's zh-CN).
	NameZH      string    `json:"nameZh,omitempty"`
	Description string    `json:"description"`
	Area        string    `json:"area"`
	Unit        Unit      `json:"unit"`
	Direction   Direction `json:"direction"`
	Kind        Kind      `json:"kind"`
	Num         Operand   `json:"numerator"`
	Den         *Operand  `json:"denominator,omitempty"`
	// Complement makes a ratio 1 - Num/Den.
	Complement bool `json:"complement,omitempty"`
	// Share marks a ratio of counts whose numerator's items are each one of
	// the denominator's (paid orders among the orders, clicks among the
	// impressions): a bucket's value is a binomial share, which says how
	// much evidence one bucket holds (docs/query.md#anomaly).
	Share bool `json:"share,omitempty"`
	// EitherWay marks a KPI whose move far from its usual level is an
	// incident in either direction, campaign days included: a price index
	// far below its usual level is a price error losing margin on every
	// order, although lower is better (docs/query.md#anomaly).
	EitherWay bool `json:"eitherWay,omitempty"`
	// Note explains a transform KPI or a limitation.
	Note string `json:"note,omitempty"`
}

// PlannedDirection is the direction in which a campaign or a holiday may
// move the KPI without an anomaly (docs/query.md#anomaly): +1 up when higher
// is better, −1 down when lower is better, 0 for a KPI judged either way.
func (k KPI) PlannedDirection() int {
	switch {
	case k.EitherWay:
		return 0
	case k.Direction == LowerIsBetter:
		return -1
	}
	return 1
}

// Formula is the computation in the notation of docs/kpis.md.
func (k KPI) Formula() string {
	switch k.Kind {
	case KindRatio:
		f := k.Num.String() + " / " + k.Den.String()
		if len(k.Num.Terms) > 1 {
			f = "(" + k.Num.String() + ") / " + k.Den.String()
		}
		if k.Complement {
			return "1 − " + f
		}
		return f
	case KindCumulative:
		return k.Num.String() + " from the beginning of the data to the end of each bucket"
	case KindStickiness:
		return "mean of daily " + k.Num.String() + " / " + k.Num.String() + " over the bucket"
	case KindTransform:
		return "transform: " + k.Note
	}
	return k.Num.String()
}

// Measurements are the summed measurements the KPI reads, sorted.
func (k KPI) Measurements() []string {
	var out []string
	for _, o := range k.operands() {
		for _, t := range o.Terms {
			out = append(out, t.Measurement)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// DistinctKinds are the sketch kinds the KPI reads, sorted.
func (k KPI) DistinctKinds() []string {
	var out []string
	for _, o := range k.operands() {
		if o.IsDistinct() {
			out = append(out, o.Distinct)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func (k KPI) operands() []Operand {
	if k.Den != nil {
		return []Operand{k.Num, *k.Den}
	}
	return []Operand{k.Num}
}

// Dimensions are the tags the KPI can be filtered and grouped by: those
// every measurement it reads has (sketches: store, channel, category).
func (k KPI) Dimensions() []string {
	var sets [][]string
	for _, m := range k.Measurements() {
		meas, _ := schema.Lookup(m)
		sets = append(sets, meas.Tags)
	}
	if len(k.DistinctKinds()) > 0 {
		sets = append(sets, []string{schema.TagStore, schema.TagChannel, schema.TagCategory})
	}
	if len(sets) == 0 {
		return nil
	}
	var out []string
	for _, d := range sets[0] {
		all := true
		for _, s := range sets[1:] {
			all = all && slices.Contains(s, d)
		}
		if all {
			out = append(out, d)
		}
	}
	return out
}

// Catalog is the validated, immutable list of KPIs with lookup by id.
type Catalog struct {
	list []KPI
	byID map[string]int
}

// New validates kpis against the schema and builds a Catalog.
func New(kpis []KPI) (*Catalog, error) {
	c := &Catalog{list: kpis, byID: make(map[string]int, len(kpis))}
	kinds := schema.DistinctKinds()
	checkOperand := func(k KPI, o Operand) error {
		if o.IsDistinct() {
			if len(o.Terms) > 0 {
				return fmt.Errorf("kpi %s: an operand is either distinct or a sum", k.ID)
			}
			if !slices.Contains(kinds, o.Distinct) {
				return fmt.Errorf("kpi %s: unknown sketch kind %q", k.ID, o.Distinct)
			}
			return nil
		}
		if len(o.Terms) == 0 {
			return fmt.Errorf("kpi %s: empty operand", k.ID)
		}
		for _, t := range o.Terms {
			m, ok := schema.Lookup(t.Measurement)
			if !ok || !slices.Contains(m.Fields, t.Field) {
				return fmt.Errorf("kpi %s: no field %s.%s in the schema", k.ID, t.Measurement, t.Field)
			}
			if t.Sign != 1 && t.Sign != -1 {
				return fmt.Errorf("kpi %s: sign of %s must be 1 or -1", k.ID, t.Field)
			}
		}
		return nil
	}
	for i, k := range kpis {
		if k.ID == "" || k.Name == "" || k.Description == "" || k.Area == "" || k.Unit == "" || k.Direction == "" {
			return nil, fmt.Errorf("kpi %d (%s): id, name, description, area, unit and direction are required", i, k.ID)
		}
		if _, dup := c.byID[k.ID]; dup {
			return nil, fmt.Errorf("kpi %s: duplicate id", k.ID)
		}
		c.byID[k.ID] = i
		if k.Share && (k.Kind != KindRatio || k.Unit != UnitPercent) {
			return nil, fmt.Errorf("kpi %s: a share is a ratio in percent", k.ID)
		}
		if k.Kind == KindTransform {
			if k.Note == "" {
				return nil, fmt.Errorf("kpi %s: a transform needs a note", k.ID)
			}
			continue
		}
		if err := checkOperand(k, k.Num); err != nil {
			return nil, err
		}
		switch k.Kind {
		case KindRatio:
			if k.Den == nil {
				return nil, fmt.Errorf("kpi %s: a ratio needs a denominator", k.ID)
			}
			if err := checkOperand(k, *k.Den); err != nil {
				return nil, err
			}
		case KindSum, KindCumulative:
			if k.Den != nil || k.Num.IsDistinct() {
				return nil, fmt.Errorf("kpi %s: a %s is a sum without denominator", k.ID, k.Kind)
			}
		case KindDistinct, KindStickiness:
			if k.Den != nil || !k.Num.IsDistinct() {
				return nil, fmt.Errorf("kpi %s: a %s is a distinct count without denominator", k.ID, k.Kind)
			}
		default:
			return nil, fmt.Errorf("kpi %s: unknown kind %q", k.ID, k.Kind)
		}
	}
	return c, nil
}

// Default is the StorePulse catalog (Definitions).
func Default() *Catalog {
	c, err := New(Definitions())
	if err != nil {
		// Definitions are static and covered by tests.
		panic(err)
	}
	return c
}

// All lists every KPI in catalog order (a copy).
func (c *Catalog) All() []KPI { return slices.Clone(c.list) }

// Get returns the KPI with id.
func (c *Catalog) Get(id string) (KPI, bool) {
	i, ok := c.byID[id]
	if !ok {
		return KPI{}, false
	}
	return c.list[i], true
}

// Ratio is a ratio KPI's value from its numerator and denominator sums over
// a bucket and filter: num/den (1 − num/den with Complement). ok is false,
// no value (null), when den is 0 — whatever the numerator. A refund rate on
// a day with refunds but no payments is the case in point: those refunds are
// of earlier payments, so 0 would hide them and +Inf says nothing a panel,
// a threshold or a JSON frame can use; the refund amount and count show
// them. A zero numerator over a denominator is a true 0 (payments and no
// refunds: a refund rate of 0). The one definition of this rule
// (docs/kpis.md).
func (k *KPI) Ratio(num, den float64) (v float64, ok bool) {
	if den == 0 {
		return 0, false
	}
	r := num / den
	if k.Complement {
		r = 1 - r
	}
	return r, true
}
