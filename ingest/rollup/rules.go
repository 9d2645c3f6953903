package rollup

import (
	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/schema"
)

// This file is THE mapping from business events to stored numbers. Everything
// else in the package is mechanics.

// sumRule says what one event adds to its summed measurement: every listed
// field whose condition holds gets value(e) added. Tags are the event's
// non-empty dimensions allowed for the measurement (schema.Summed).
type sumRule struct {
	meas   string
	fields []fieldRule
}

type fieldRule struct {
	field string
	when  func(e *event.Event) bool // nil: always
	value func(e *event.Event) float64
}

// Values.
func one(*event.Event) float64              { return 1 }
func amount(e *event.Event) float64         { return e.Amount }
func items(e *event.Event) float64          { return e.Items }
func count(e *event.Event) float64          { return e.Count }
func pageViews(e *event.Event) float64      { return e.PageViews }
func durationS(e *event.Event) float64      { return e.DurationS }
func firstResponseS(e *event.Event) float64 { return e.FirstResponseS }
func resolutionS(e *event.Event) float64    { return e.ResolutionS }
func ownPrice(e *event.Event) float64       { return e.OwnPrice }
func competitorPrice(e *event.Event) float64 {
	return e.CompetitorPrice
}

// Conditions.
func addedToCart(e *event.Event) bool { return e.AddedToCart }
func converted(e *event.Event) bool   { return e.Converted }
func newCustomer(e *event.Event) bool { return e.Customer == event.CustomerNew }
func returning(e *event.Event) bool   { return e.Customer == event.CustomerReturning }
func opened(e *event.Event) bool      { return e.TicketStatus == event.TicketOpened }
func resolved(e *event.Event) bool    { return e.TicketStatus == event.TicketResolved }

// sumRules maps every event type to its summed measurement. Besides this,
// every event adds 1 to sp_ingest.events{store, type}.
func sumRules() map[event.Type]sumRule {
	return map[event.Type]sumRule{
		event.TypeSignup: {schema.MeasUsers, []fieldRule{
			{schema.FieldSignups, nil, one},
		}},
		event.TypeSession: {schema.MeasTraffic, []fieldRule{
			{schema.FieldSessions, nil, one},
			{schema.FieldPageViews, nil, pageViews},
			{schema.FieldSessionDurationS, nil, durationS},
			{schema.FieldCartSessions, addedToCart, one},
		}},
		event.TypeOrder: {schema.MeasOrders, []fieldRule{
			{schema.FieldOrders, nil, one},
			{schema.FieldGMV, nil, amount},
			{schema.FieldItems, nil, items},
			{schema.FieldOrdersNew, newCustomer, one},
			{schema.FieldGMVNew, newCustomer, amount},
			{schema.FieldOrdersReturning, returning, one},
			{schema.FieldGMVReturning, returning, amount},
		}},
		event.TypePayment: {schema.MeasPayments, []fieldRule{
			{schema.FieldPaidOrders, nil, one},
			{schema.FieldPaidAmount, nil, amount},
		}},
		event.TypeRefund: {schema.MeasRefunds, []fieldRule{
			{schema.FieldRefunds, nil, one},
			{schema.FieldRefundAmount, nil, amount},
		}},
		event.TypeConsultation: {schema.MeasService, []fieldRule{
			{schema.FieldConsultations, nil, one},
			{schema.FieldConsultationsConverted, converted, one},
			{schema.FieldFirstResponseS, nil, firstResponseS},
		}},
		event.TypeTicket: {schema.MeasTickets, []fieldRule{
			{schema.FieldTicketsOpened, opened, one},
			{schema.FieldTicketsResolved, resolved, one},
			{schema.FieldResolutionS, resolved, resolutionS},
		}},
		event.TypeImpression: {schema.MeasMarketing, []fieldRule{
			{schema.FieldImpressions, nil, count},
		}},
		event.TypeClick: {schema.MeasMarketing, []fieldRule{
			{schema.FieldClicks, nil, count},
		}},
		event.TypeConversion: {schema.MeasMarketing, []fieldRule{
			{schema.FieldConversions, nil, count},
			{schema.FieldConversionValue, nil, amount},
		}},
		event.TypeSpend: {schema.MeasMarketing, []fieldRule{
			{schema.FieldSpend, nil, amount},
		}},
		event.TypePrice: {schema.MeasPrices, []fieldRule{
			{schema.FieldPriceObservations, nil, one},
			{schema.FieldOwnPrice, nil, ownPrice},
			{schema.FieldCompetitorPrice, nil, competitorPrice},
		}},
	}
}

// distinctRule feeds one sketch kind with an id of the event.
type distinctRule struct {
	kind string
	when func(e *event.Event) bool // nil: always
	id   func(e *event.Event) string
}

func user(e *event.Event) string    { return e.User }
func visitor(e *event.Event) string { return e.Visitor }
func orderID(e *event.Event) string { return e.Order }

// distinctRules maps event types to the distinct counts they feed. An empty
// id feeds nothing (e.g. an anonymous session has a visitor but no user).
func distinctRules() map[event.Type][]distinctRule {
	return map[event.Type][]distinctRule{
		event.TypeSignup: {{schema.KindActive, nil, user}},
		event.TypeSession: {
			{schema.KindActive, nil, user},
			{schema.KindVisitor, nil, visitor},
		},
		event.TypeOrder: {
			{schema.KindActive, nil, user},
			{schema.KindBuyer, nil, user},
			{schema.KindBuyerNew, newCustomer, user},
			{schema.KindBuyerReturning, returning, user},
		},
		event.TypePayment: {
			{schema.KindActive, nil, user},
			{schema.KindPayer, nil, user},
			// An order paid in several parts (voucher plus card) is one
			// paid order: counted by its id, once over any range.
			{schema.KindPaidOrder, nil, orderID},
		},
		event.TypeConsultation: {{schema.KindActive, nil, user}},
	}
}

// tagSrc names where a tag's value comes from, resolved once in New so Add
// does not compare tag key strings for every event.
type tagSrc uint8

const (
	srcNone tagSrc = iota
	srcStore
	srcChannel
	srcCategory
	srcCampaign
	srcCreative
	srcReason
	srcCompetitor
	srcType
)

func tagSource(key string) tagSrc {
	switch key {
	case schema.TagStore:
		return srcStore
	case schema.TagChannel:
		return srcChannel
	case schema.TagCategory:
		return srcCategory
	case schema.TagCampaign:
		return srcCampaign
	case schema.TagCreative:
		return srcCreative
	case schema.TagReason:
		return srcReason
	case schema.TagCompetitor:
		return srcCompetitor
	case schema.TagType:
		return srcType
	}
	return srcNone
}

// tagValue is an event's value for a tag ("" if it has none).
func tagValue(e *event.Event, src tagSrc) string {
	switch src {
	case srcStore:
		return e.Store
	case srcChannel:
		return e.Channel
	case srcCategory:
		return e.Category
	case srcCampaign:
		return e.Campaign
	case srcCreative:
		return e.Creative
	case srcReason:
		return e.Reason
	case srcCompetitor:
		return e.Competitor
	case srcType:
		return e.Type.String()
	}
	return ""
}
