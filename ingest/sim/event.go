package sim

import (
	"math"
	"strconv"
	"time"
	"unicode/utf8"
)

// Type is an event type of the ingest API.
type Type uint8

// Event types, named as in the ingest API.
const (
	TypeSignup Type = iota
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
	numTypes
)

func (t Type) String() string {
	switch t {
	case TypeSignup:
		return "signup"
	case TypeSession:
		return "session"
	case TypeOrder:
		return "order"
	case TypePayment:
		return "payment"
	case TypeRefund:
		return "refund"
	case TypeConsultation:
		return "consultation"
	case TypeTicket:
		return "ticket"
	case TypeImpression:
		return "impression"
	case TypeClick:
		return "click"
	case TypeConversion:
		return "conversion"
	case TypeSpend:
		return "spend"
	case TypePrice:
		return "price"
	}
	return "type(" + strconv.Itoa(int(t)) + ")"
}

// Customer types of an order.
const (
	CustomerNew       = "new"
	CustomerReturning = "returning"
)

// Ticket states.
const (
	TicketOpened   = "opened"
	TicketResolved = "resolved"
)

// Creatives of marketing events.
const (
	CreativeBanner = "banner"
	CreativePush   = "push"
	CreativeSMS    = "sms"
)

// Event is one generated event. Which fields are meaningful depends on Type;
// AppendJSON writes exactly the fields the API accepts for that type.
type Event struct {
	Type     Type
	ID       string
	Time     time.Time
	Store    string
	Channel  string
	Category string

	User       string
	Visitor    string
	Order      string
	Campaign   string
	Creative   string
	Reason     string
	Competitor string
	SKU        string
	Customer   string // order: new | returning
	Status     string // ticket: opened | resolved

	AddedToCart bool
	Converted   bool
	HasAmount   bool // conversion: amount present

	Amount          float64
	Items           int
	Count           int
	PageViews       int
	DurationS       float64
	FirstResponseS  float64
	ResolutionS     float64
	OwnPrice        float64
	CompetitorPrice float64

	seq uint64 // creation order: the deterministic tie-break for equal times
}

// AppendJSON appends the event as one JSON object (no newline) in the ingest
// API's format; times are written in loc with their offset.
func (e *Event) AppendJSON(dst []byte, loc *time.Location) []byte {
	dst = append(dst, `{"type":"`...)
	dst = append(dst, e.Type.String()...)
	dst = append(dst, '"')
	dst = appendStr(dst, "id", e.ID)
	dst = append(dst, `,"time":"`...)
	dst = e.Time.In(loc).AppendFormat(dst, time.RFC3339)
	dst = append(dst, '"')
	dst = appendStr(dst, "store", e.Store)
	dst = appendOptStr(dst, "channel", e.Channel)
	dst = appendOptStr(dst, "category", e.Category)
	switch e.Type {
	case TypeSignup:
		dst = appendStr(dst, "user", e.User)
	case TypeSession:
		dst = appendStr(dst, "visitor", e.Visitor)
		dst = appendOptStr(dst, "user", e.User)
		dst = appendInt(dst, "page_views", e.PageViews)
		dst = appendSeconds(dst, "duration_s", e.DurationS)
		dst = appendBool(dst, "added_to_cart", e.AddedToCart)
	case TypeOrder:
		dst = appendStr(dst, "user", e.User)
		dst = appendMoney(dst, "amount", e.Amount)
		dst = appendInt(dst, "items", e.Items)
		dst = appendStr(dst, "customer", e.Customer)
		dst = appendOptStr(dst, "campaign", e.Campaign)
	case TypePayment:
		dst = appendStr(dst, "order", e.Order)
		dst = appendMoney(dst, "amount", e.Amount)
		dst = appendOptStr(dst, "user", e.User)
		dst = appendOptStr(dst, "campaign", e.Campaign)
	case TypeRefund:
		dst = appendStr(dst, "order", e.Order)
		dst = appendMoney(dst, "amount", e.Amount)
		dst = appendStr(dst, "reason", e.Reason)
	case TypeConsultation:
		dst = appendStr(dst, "user", e.User)
		dst = appendSeconds(dst, "first_response_s", e.FirstResponseS)
		dst = appendBool(dst, "converted", e.Converted)
	case TypeTicket:
		dst = appendStr(dst, "status", e.Status)
		if e.Status == TicketResolved {
			dst = appendSeconds(dst, "resolution_s", e.ResolutionS)
		}
		dst = appendOptStr(dst, "order", e.Order)
		dst = appendOptStr(dst, "reason", e.Reason)
	case TypeImpression, TypeClick, TypeConversion:
		dst = appendStr(dst, "campaign", e.Campaign)
		dst = appendStr(dst, "creative", e.Creative)
		dst = appendInt(dst, "count", e.Count)
		if e.Type == TypeConversion && e.HasAmount {
			dst = appendMoney(dst, "amount", e.Amount)
		}
	case TypeSpend:
		dst = appendStr(dst, "campaign", e.Campaign)
		dst = appendMoney(dst, "amount", e.Amount)
		dst = appendOptStr(dst, "creative", e.Creative)
	case TypePrice:
		dst = appendOptStr(dst, "sku", e.SKU)
		dst = appendStr(dst, "competitor", e.Competitor)
		dst = appendMoney(dst, "own_price", e.OwnPrice)
		dst = appendMoney(dst, "competitor_price", e.CompetitorPrice)
	}
	return append(dst, '}')
}

func appendKey(dst []byte, key string) []byte {
	dst = append(dst, ',', '"')
	dst = append(dst, key...)
	return append(dst, '"', ':')
}

func appendStr(dst []byte, key, v string) []byte {
	return appendQuoted(appendKey(dst, key), v)
}

func appendOptStr(dst []byte, key, v string) []byte {
	if v == "" {
		return dst
	}
	return appendStr(dst, key, v)
}

func appendInt(dst []byte, key string, v int) []byte {
	return strconv.AppendInt(appendKey(dst, key), int64(v), 10)
}

func appendBool(dst []byte, key string, v bool) []byte {
	return strconv.AppendBool(appendKey(dst, key), v)
}

// appendMoney writes cents precision, the unit prices and amounts come in.
func appendMoney(dst []byte, key string, v float64) []byte {
	return strconv.AppendFloat(appendKey(dst, key), math.Round(v*100)/100, 'f', -1, 64)
}

// appendSeconds writes tenths of a second: enough for response times.
func appendSeconds(dst []byte, key string, v float64) []byte {
	return strconv.AppendFloat(appendKey(dst, key), math.Round(v*10)/10, 'f', -1, 64)
}

// appendQuoted writes s as a JSON string. Generated values are plain ASCII,
// but configured ids may not be, so escape properly.
func appendQuoted(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			switch {
			case c == '"' || c == '\\':
				dst = append(dst, '\\', c)
			case c < 0x20:
				dst = append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xf])
			default:
				dst = append(dst, c)
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, `\ufffd`...)
		} else {
			dst = append(dst, s[i:i+size]...)
		}
		i += size
	}
	return append(dst, '"')
}
