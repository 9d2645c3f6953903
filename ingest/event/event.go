// Package event is the ingest service's data model: typed business events and
// generic points (pre-aggregated metrics and line protocol), already validated.
package event

import "fmt"

// Type is a business event type.
type Type uint8

// Event types accepted by POST /v1/events.
const (
	TypeUnknown Type = iota
	TypeSignup
	TypeSession
	TypeOrder
	TypePayment
	TypeRefund
	TypeConsultation
	TypeTicket
	TypeImpression
	TypeClick
	TypeConversion
	TypeSpend
	TypePrice
	typeEnd
)

var typeNames = [...]string{
	TypeUnknown:      "unknown",
	TypeSignup:       "signup",
	TypeSession:      "session",
	TypeOrder:        "order",
	TypePayment:      "payment",
	TypeRefund:       "refund",
	TypeConsultation: "consultation",
	TypeTicket:       "ticket",
	TypeImpression:   "impression",
	TypeClick:        "click",
	TypeConversion:   "conversion",
	TypeSpend:        "spend",
	TypePrice:        "price",
}

func (t Type) String() string {
	if t < typeEnd {
		return typeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint8(t))
}

// ParseType maps a JSON type name to its Type; ok is false for unknown names.
func ParseType(s string) (Type, bool) {
	for t := TypeSignup; t < typeEnd; t++ {
		if typeNames[t] == s {
			return t, true
		}
	}
	return TypeUnknown, false
}

// Types lists every known event type.
func Types() []Type {
	ts := make([]Type, 0, typeEnd-1)
	for t := TypeSignup; t < typeEnd; t++ {
		ts = append(ts, t)
	}
	return ts
}

// Customer is an order's customer type.
type Customer uint8

// Customer types.
const (
	CustomerUnknown Customer = iota
	CustomerNew
	CustomerReturning
)

// TicketStatus is an after-sales ticket's state change.
type TicketStatus uint8

// Ticket states.
const (
	TicketUnknown TicketStatus = iota
	TicketOpened
	TicketResolved
)

// Event is one validated business event. It is flat on purpose: a fixed set of
// fields keeps the spool encoding compact and fast. Which fields a type uses is
// documented in docs/api.md; unused fields are zero.
type Event struct {
	Type Type
	ID   string // unique per (type, store); the de-duplication key
	Time int64  // unix nanoseconds, UTC

	// Bounded dimensions (tags).
	Store      string
	Channel    string
	Category   string
	Campaign   string
	Creative   string // banner | push | sms
	Reason     string
	Competitor string

	// Identifiers (never tags).
	User    string
	Visitor string
	Order   string
	SKU     string

	Customer     Customer
	TicketStatus TicketStatus
	AddedToCart  bool
	Converted    bool

	// Non-negative, finite numbers.
	Amount          float64 // order, payment, refund, spend; conversion value
	Items           float64 // order items
	Count           float64 // impression/click/conversion count (default 1)
	PageViews       float64
	DurationS       float64
	FirstResponseS  float64
	ResolutionS     float64
	OwnPrice        float64
	CompetitorPrice float64
}

// Point is one validated generic point: a pre-aggregated metric (POST
// /v1/metrics) or a line-protocol point (POST /write, /api/v2/write).
type Point struct {
	Measurement string
	Tags        []Tag   // sorted by key, unique keys
	Fields      []Field // sorted by key, unique keys
	Time        int64   // unix nanoseconds, UTC
	// ID is set for /v1/metrics items (de-duplication key); empty for line protocol.
	ID string
	// Rollup is true when the point belongs to a StorePulse summed measurement
	// and is folded into the rollup (written with an ingester tag and segment
	// offset like events). Otherwise the point is passed through unchanged.
	Rollup bool
}

// Tag is a point's tag.
type Tag struct{ Key, Value string }

// FieldKind is the type of a point's field value.
type FieldKind uint8

// Field kinds, as in line protocol.
const (
	FieldFloat FieldKind = iota
	FieldInt
	FieldUint
	FieldString
	FieldBool
)

// Field is a point's field. Exactly one of the value members is meaningful,
// selected by Kind.
type Field struct {
	Key   string
	Kind  FieldKind
	Float float64
	Int   int64
	Uint  uint64
	Str   string
	Bool  bool
}

// Batch is what one accepted request contributes: the unit appended to the
// spool as one record.
type Batch struct {
	Events []Event
	Points []Point
}

// Len is the number of items in the batch.
func (b *Batch) Len() int { return len(b.Events) + len(b.Points) }
