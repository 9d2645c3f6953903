package kpi

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/internal/schema"
)

func TestDefaultCatalogIsValid(t *testing.T) {
	c := Default()
	all := c.All()
	require.GreaterOrEqual(t, len(all), 45)
	// The glossary's KPIs, by id.
	for _, id := range []string{"new_users", "total_users", "active_users", "stickiness", "gmv", "paid_revenue",
		"net_revenue", "orders", "paid_orders", "payments", "buyers", "aov", "arpu", "arppu", "conversion_rate",
		"order_conversion_rate", "new_buyers", "returning_buyers", "repeat_purchase_rate", "sessions", "page_views",
		"pv_per_session", "avg_session_duration", "add_to_cart_rate", "cart_abandonment", "consultations",
		"consultation_conversion", "first_response_time", "after_sales_tickets", "resolution_time", "refund_rate",
		"refund_count_rate", "impressions", "clicks", "ctr", "marketing_conversions", "spend", "roas", "cac",
		"price_index", "campaign_uplift", "lifecycle_stage"} {
		_, ok := c.Get(id)
		require.True(t, ok, id)
	}
	_, ok := c.Get("nope")
	require.False(t, ok)
}

func TestFormulaAndDimensions(t *testing.T) {
	c := Default()
	tests := []struct {
		id      string
		formula string
		dims    []string
		meas    []string
		kinds   []string
	}{
		{"gmv", "sum(gmv)", []string{"store", "channel", "category", "campaign"}, []string{schema.MeasOrders}, nil},
		{"net_revenue", "sum(paid_amount) − sum(refund_amount)", []string{"store", "channel", "category"},
			[]string{schema.MeasPayments, schema.MeasRefunds}, nil},
		{"aov", "sum(gmv) / sum(orders)", []string{"store", "channel", "category", "campaign"}, []string{schema.MeasOrders}, nil},
		{"conversion_rate", "distinct(buyer) / distinct(visitor)", []string{"store", "channel", "category"}, nil,
			[]string{schema.KindBuyer, schema.KindVisitor}},
		{"arpu", "sum(paid_amount) / distinct(active)", []string{"store", "channel", "category"},
			[]string{schema.MeasPayments}, []string{schema.KindActive}},
		{"cart_abandonment", "1 − sum(orders) / sum(cart_sessions)", []string{"store", "channel", "category"},
			[]string{schema.MeasOrders, schema.MeasTraffic}, nil},
		{"price_index", "sum(own_price) / sum(competitor_price)", []string{"store", "category", "competitor"},
			[]string{schema.MeasPrices}, nil},
		{"ctr", "sum(clicks) / sum(impressions)", []string{"store", "channel", "campaign", "creative"},
			[]string{schema.MeasMarketing}, nil},
		// Paid orders count orders, not payment events: distinct order ids.
		{"paid_orders", "distinct(paid_order)", []string{"store", "channel", "category"}, nil, []string{schema.KindPaidOrder}},
		{"payment_conversion", "distinct(paid_order) / sum(orders)", []string{"store", "channel", "category"},
			[]string{schema.MeasOrders}, []string{schema.KindPaidOrder}},
		{"refund_count_rate", "sum(refunds) / distinct(paid_order)", []string{"store", "channel", "category"},
			[]string{schema.MeasRefunds}, []string{schema.KindPaidOrder}},
		{"payments", "sum(paid_orders)", []string{"store", "channel", "category", "campaign"}, []string{schema.MeasPayments}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.id, func(t *testing.T) {
			k, ok := c.Get(tt.id)
			require.True(t, ok)
			require.Equal(t, tt.formula, k.Formula())
			require.Equal(t, tt.dims, k.Dimensions())
			require.Equal(t, tt.meas, k.Measurements())
			require.Equal(t, tt.kinds, k.DistinctKinds())
		})
	}
}

func TestNewRejectsInvalid(t *testing.T) {
	ok := KPI{ID: "x", Name: "X", Description: "d", Area: "a", Unit: UnitCount, Direction: HigherIsBetter,
		Kind: KindSum, Num: sum(schema.MeasOrders, schema.FieldGMV)}
	tests := []struct {
		name   string
		mutate func(k *KPI)
		err    string
	}{
		{"valid", func(*KPI) {}, ""},
		{"missing name", func(k *KPI) { k.Name = "" }, "required"},
		{"unknown field", func(k *KPI) { k.Num = sum(schema.MeasOrders, "nope") }, "no field"},
		{"field of another measurement", func(k *KPI) { k.Num = sum(schema.MeasTraffic, schema.FieldGMV) }, "no field"},
		{"bad sign", func(k *KPI) { k.Num.Terms[0].Sign = 2 }, "sign"},
		{"ratio without denominator", func(k *KPI) { k.Kind = KindRatio }, "denominator"},
		{"sum with denominator", func(k *KPI) { k.Den = ptr(sum(schema.MeasOrders, schema.FieldOrders)) }, "without denominator"},
		{"unknown sketch kind", func(k *KPI) { k.Kind, k.Num = KindDistinct, distinct("nope") }, "sketch kind"},
		{"distinct over sum", func(k *KPI) { k.Kind = KindDistinct }, "distinct count"},
		{"transform without note", func(k *KPI) { k.Kind = KindTransform }, "note"},
		{"unknown kind", func(k *KPI) { k.Kind = "avg" }, "unknown kind"},
		{"share of a sum", func(k *KPI) { k.Share = true }, "a share is a ratio"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			k := ok
			k.Num = sum(schema.MeasOrders, schema.FieldGMV)
			tt.mutate(&k)
			_, err := New([]KPI{k})
			if tt.err == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorContains(t, err, tt.err)
		})
	}
	_, err := New([]KPI{ok, ok})
	require.ErrorContains(t, err, "duplicate")
}

// Every KPI has its Simplified Chinese name (the briefing's zh-CN).
func TestNamesZH(t *testing.T) {
	for _, k := range Default().All() {
		require.NotEmpty(t, k.NameZH, k.ID)
	}
}

func TestCatalogJSON(t *testing.T) {
	k, _ := Default().Get("net_revenue")
	b, err := json.Marshal(k)
	require.NoError(t, err)
	require.JSONEq(t, `{"id":"net_revenue","name":"Net revenue","nameZh":"净收入","description":"Amount paid minus amount refunded.",
	  "area":"revenue","unit":"currency","direction":"higher","kind":"sum",
	  "numerator":{"terms":[{"measurement":"sp_payments","field":"paid_amount","sign":1},
	                        {"measurement":"sp_refunds","field":"refund_amount","sign":-1}]}}`, string(b))
}

// TestDocsUpToDate fails when docs/kpis.md was not regenerated after a
// catalog change: run `go generate ./internal/kpi`.
func TestDocsUpToDate(t *testing.T) {
	got, err := os.ReadFile(filepath.Join("..", "..", "docs", "kpis.md"))
	require.NoError(t, err, "run go generate ./internal/kpi")
	require.Equal(t, string(Markdown(Default())), string(got), "docs/kpis.md is stale: run go generate ./internal/kpi")
}

// TestRatioZeroRule pins the catalog's rule for zero sums (docs/kpis.md): a
// zero denominator gives no value whatever the numerator (refunds without
// payments), a zero numerator over a denominator gives 0.
func TestRatioZeroRule(t *testing.T) {
	c := Default()
	refundK, ok := c.Get("refund_rate")
	refund := &refundK
	require.True(t, ok)
	abandonK, ok := c.Get("cart_abandonment")
	abandon := &abandonK
	require.True(t, ok)
	for _, tc := range []struct {
		name     string
		k        *KPI
		num, den float64
		want     float64
		ok       bool
	}{
		{"refunds, no payments: null", refund, 120, 0, 0, false},
		{"nothing at all: null", refund, 0, 0, 0, false},
		{"payments, no refunds: 0", refund, 0, 500, 0, true},
		{"sum over sum", refund, 50, 200, 0.25, true},
		{"complement", abandon, 3, 4, 0.25, true},
		{"complement without carts: null", abandon, 3, 0, 0, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			v, ok := tc.k.Ratio(tc.num, tc.den)
			require.Equal(t, tc.ok, ok)
			require.InDelta(t, tc.want, v, 1e-12)
			require.False(t, math.IsInf(v, 0) || math.IsNaN(v))
		})
	}
}
