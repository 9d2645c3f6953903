// Package schema is the single definition of what StorePulse stores in InfluxDB:
// measurement names, their tag keys and their fields. The ingest service writes
// exactly this and the datasource reads exactly this; docs/schema.md describes it.
package schema

import (
	"strings"
	"time"
)

// Tag keys. Every tag is a bounded dimension; ids (user, order, session, event)
// are never tags.
const (
	TagStore      = "store"
	TagChannel    = "channel"
	TagCategory   = "category"
	TagCampaign   = "campaign"
	TagCreative   = "creative"
	TagReason     = "reason"
	TagCompetitor = "competitor"
	TagType       = "type"
	// TagIngester names the ingest instance that wrote a rolled-up point, so two
	// instances writing the same store never overwrite each other's points.
	TagIngester = "ingester"
	// TagKind and TagWindow qualify distinct-count sketches.
	TagKind   = "kind"
	TagWindow = "window"
	// TagKPI and TagPeriod qualify targets.
	TagKPI    = "kpi"
	TagPeriod = "period"
)

// Rolled-up measurements. Every field is a float64 sum (a numerator or a
// denominator), never a precomputed rate.
const (
	MeasIngest    = "sp_ingest"
	MeasUsers     = "sp_users"
	MeasTraffic   = "sp_traffic"
	MeasOrders    = "sp_orders"
	MeasPayments  = "sp_payments"
	MeasRefunds   = "sp_refunds"
	MeasService   = "sp_service"
	MeasTickets   = "sp_tickets"
	MeasMarketing = "sp_marketing"
	MeasPrices    = "sp_prices"
	// MeasDistinct holds HyperLogLog sketches: field FieldSketch (base64 of the
	// sketch's binary form) and FieldEstimate (its cardinality estimate).
	MeasDistinct = "sp_distinct"
	// MeasDistinctStore holds the store-level sketches: the same kinds,
	// windows and fields as MeasDistinct, keyed by kind, window, store and
	// ingester only (every channel and category merged). A separate
	// measurement, because a MeasDistinct series without channel and
	// category is the one of events that had none.
	MeasDistinctStore = "sp_distinct_store"
	// MeasCampaign holds the campaign calendar: one point per campaign at its
	// first phase's start, field FieldDefinition (JSON) and FieldDeleted.
	MeasCampaign = "sp_campaign"
	// MeasTarget holds KPI targets: one point per (kpi, store, period) at the
	// period's start, field FieldValue and FieldDeleted.
	MeasTarget = "sp_target"
	// MeasMeta holds facts the ingest service records about the store: field
	// FieldTimeZone is the store time zone (an IANA name) that cuts the local
	// days of daily sketches, one series per ingester (tag TagIngester). The
	// datasource reads it (package storezone).
	MeasMeta      = "sp_meta"
	FieldTimeZone = "timezone"
	// MeasRollup records, per ingester (tag TagIngester), how far its
	// consolidated series reach: FieldHoursUntil (unix ns, an hour boundary)
	// — every hour before it is in the hourly measurements — and
	// FieldDaysUntil (unix ns, a local-day boundary) — every local day before
	// it is in the daily measurements — FieldFineBucket, where its minute
	// series are, and FieldStoreFrom (unix ns, an hour boundary, 0 from the
	// first point): the store totals (SuffixHourStore, SuffixDayStore) hold
	// every hour and every local day that starts at or after it and lies
	// below the watermarks (docs/schema.md, "Consolidated series"), and
	// FieldSketchStoreFrom (unix ns, a local-day boundary, 0 from the first
	// sketch): MeasDistinctStore holds every window that starts at or after
	// it.
	MeasRollup           = "sp_rollup"
	FieldHoursUntil      = "hours_until"
	FieldDaysUntil       = "days_until"
	FieldFineBucket      = "fine_bucket"
	FieldStoreFrom       = "store_from"
	FieldSketchStoreFrom = "sketch_store_from"
	// MeasLate records late data: accepted events that the ingest rolled up
	// after the local day they belong to (in the store time zone) was over
	// (docs/schema.md, "Late data"). One point per ingester, store, affected
	// local day and spool segment, at the day's first instant plus the
	// segment id in nanoseconds (idempotent, like the summed points): fields
	// FieldEvents, FieldGMV, FieldPaidAmount, FieldRefundAmount (what the
	// late events added to the day) and FieldArrived (unix seconds of the
	// roll-up, when the events reached InfluxDB).
	MeasLate     = "sp_late"
	FieldArrived = "arrived"
)

// Suffixes of the consolidated measurements: sp_orders_1h holds one point
// per series (ingester included) and UTC hour, at the hour's start;
// sp_orders_1d one per series and local day of the store time zone, at the
// day's first instant. The store totals sp_orders_1h_store and
// sp_orders_1d_store hold the same windows summed over every tag but store
// and ingester: one point per store, ingester and window, for the many
// readers that filter and group by store only.
const (
	SuffixHour      = "_1h"
	SuffixDay       = "_1d"
	SuffixHourStore = "_1h_store"
	SuffixDayStore  = "_1d_store"
)

// DistinctMeasurement is where sketches are stored: MeasDistinctStore for
// the store-level ones, else MeasDistinct.
func DistinctMeasurement(storeLevel bool) string {
	if storeLevel {
		return MeasDistinctStore
	}
	return MeasDistinct
}

// StoreTotal is the store-totals suffix of a consolidated suffix
// (SuffixHour or SuffixDay), "" for any other.
func StoreTotal(suffix string) string {
	switch suffix {
	case SuffixHour:
		return SuffixHourStore
	case SuffixDay:
		return SuffixDayStore
	}
	return ""
}

// Hourly is the hourly consolidated measurement of summed measurement m.
func Hourly(m string) string { return m + SuffixHour }

// Daily is the daily consolidated measurement of summed measurement m.
func Daily(m string) string { return m + SuffixDay }

// IsFineLine reports whether a line-protocol line is a point of a summed
// measurement's minute series (its measurement name, up to the first
// unescaped comma or space, is a summed measurement's).
func IsFineLine(line string) bool {
	if !strings.HasPrefix(line, "sp_") {
		return false
	}
	end := strings.IndexAny(line, ", ")
	if end < 0 {
		return false
	}
	_, ok := Lookup(line[:end])
	return ok
}

// Fields of the rolled-up measurements.
const (
	FieldEvents = "events" // sp_ingest: accepted events per store and type

	FieldSignups = "signups"

	FieldSessions         = "sessions"
	FieldPageViews        = "page_views"
	FieldSessionDurationS = "session_duration_s"
	FieldCartSessions     = "cart_sessions"

	FieldOrders          = "orders"
	FieldGMV             = "gmv"
	FieldItems           = "items"
	FieldOrdersNew       = "orders_new"
	FieldOrdersReturning = "orders_returning"
	FieldGMVNew          = "gmv_new"
	FieldGMVReturning    = "gmv_returning"

	FieldPaidOrders = "paid_orders"
	FieldPaidAmount = "paid_amount"

	FieldRefunds      = "refunds"
	FieldRefundAmount = "refund_amount"

	FieldConsultations          = "consultations"
	FieldConsultationsConverted = "consultations_converted"
	FieldFirstResponseS         = "first_response_s"

	FieldTicketsOpened   = "tickets_opened"
	FieldTicketsResolved = "tickets_resolved"
	FieldResolutionS     = "resolution_s"

	FieldImpressions     = "impressions"
	FieldClicks          = "clicks"
	FieldConversions     = "conversions"
	FieldConversionValue = "conversion_value"
	FieldSpend           = "spend"

	FieldPriceObservations = "price_observations"
	FieldOwnPrice          = "own_price"
	FieldCompetitorPrice   = "competitor_price"

	FieldSketch     = "sketch"
	FieldEstimate   = "estimate"
	FieldDefinition = "definition"
	FieldDeleted    = "deleted"
	FieldValue      = "value"
)

// Distinct-count kinds (values of TagKind in MeasDistinct).
const (
	KindActive         = "active"          // users with any activity
	KindVisitor        = "visitor"         // session visitors
	KindBuyer          = "buyer"           // users who placed an order
	KindBuyerNew       = "buyer_new"       // ... whose order was a new customer's
	KindBuyerReturning = "buyer_returning" // ... whose order was a returning customer's
	KindPayer          = "payer"           // users who paid
	KindPaidOrder      = "paid_order"      // orders with a payment (by order id: a split payment counts once)
)

// Sketch windows (values of TagWindow in MeasDistinct). Hourly sketches serve
// partial days and any whole-hour time zone; daily ones (in the configured store
// time zone) serve long ranges cheaply.
const (
	WindowHour = "1h"
	WindowDay  = "1d"
)

// RollupWindow is the time grain of the summed measurements. A point of window
// w is written at w's start plus a small per-segment offset (see docs/schema.md).
const RollupWindow = time.Minute

// Limits on tag values.
const MaxTagValueLen = 128

// Measurement describes one rolled-up summed measurement.
type Measurement struct {
	Name   string
	Tags   []string // allowed tag keys, besides TagIngester
	Fields []string // float64 sum fields
}

var dims = []string{TagStore, TagChannel, TagCategory}

// Summed lists every summed measurement with its tags and fields.
func Summed() []Measurement {
	return []Measurement{
		{MeasIngest, []string{TagStore, TagType}, []string{FieldEvents}},
		{MeasUsers, []string{TagStore, TagChannel}, []string{FieldSignups}},
		{MeasTraffic, dims, []string{FieldSessions, FieldPageViews, FieldSessionDurationS, FieldCartSessions}},
		{MeasOrders, append(dims[:3:3], TagCampaign), []string{FieldOrders, FieldGMV, FieldItems, FieldOrdersNew, FieldOrdersReturning, FieldGMVNew, FieldGMVReturning}},
		{MeasPayments, append(dims[:3:3], TagCampaign), []string{FieldPaidOrders, FieldPaidAmount}},
		{MeasRefunds, append(dims[:3:3], TagReason), []string{FieldRefunds, FieldRefundAmount}},
		{MeasService, dims, []string{FieldConsultations, FieldConsultationsConverted, FieldFirstResponseS}},
		{MeasTickets, append(dims[:3:3], TagReason), []string{FieldTicketsOpened, FieldTicketsResolved, FieldResolutionS}},
		{MeasMarketing, []string{TagStore, TagChannel, TagCampaign, TagCreative}, []string{FieldImpressions, FieldClicks, FieldConversions, FieldConversionValue, FieldSpend}},
		{MeasPrices, []string{TagStore, TagCategory, TagCompetitor}, []string{FieldPriceObservations, FieldOwnPrice, FieldCompetitorPrice}},
	}
}

// Lookup returns the summed measurement called name.
func Lookup(name string) (Measurement, bool) {
	for _, m := range Summed() {
		if m.Name == name {
			return m, true
		}
	}
	return Measurement{}, false
}

// DistinctKinds lists the sketch kinds.
func DistinctKinds() []string {
	return []string{KindActive, KindVisitor, KindBuyer, KindBuyerNew, KindBuyerReturning, KindPayer, KindPaidOrder}
}
