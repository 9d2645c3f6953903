package parse

import (
	"github.com/storepulse/storepulse/ingest/event"
)

// fieldID names a field of the intermediate event form shared by JSON and CSV.
type fieldID uint8

const (
	fType fieldID = iota
	fID
	fTime
	fStore
	fChannel
	fCategory
	fUser
	fVisitor
	fPageViews
	fDurationS
	fAddedToCart
	fAmount
	fItems
	fCustomer
	fCampaign
	fOrder
	fReason
	fFirstResponseS
	fConverted
	fStatus
	fResolutionS
	fCreative
	fCount
	fSKU
	fCompetitor
	fOwnPrice
	fCompetitorPrice
	numFields
)

var fieldNames = [numFields]string{
	fType: "type", fID: "id", fTime: "time", fStore: "store", fChannel: "channel", fCategory: "category",
	fUser: "user", fVisitor: "visitor", fPageViews: "page_views", fDurationS: "duration_s",
	fAddedToCart: "added_to_cart", fAmount: "amount", fItems: "items", fCustomer: "customer",
	fCampaign: "campaign", fOrder: "order", fReason: "reason", fFirstResponseS: "first_response_s",
	fConverted: "converted", fStatus: "status", fResolutionS: "resolution_s", fCreative: "creative",
	fCount: "count", fSKU: "sku", fCompetitor: "competitor", fOwnPrice: "own_price",
	fCompetitorPrice: "competitor_price",
}

func (f fieldID) String() string { return fieldNames[f] }

// fieldByName maps a JSON key (or CSV mapping name) to its field. The switch
// compiles to a comparison without allocating for string(b) arguments.
func fieldByName(name string) (fieldID, bool) {
	switch name {
	case "type":
		return fType, true
	case "id":
		return fID, true
	case "time":
		return fTime, true
	case "store":
		return fStore, true
	case "channel":
		return fChannel, true
	case "category":
		return fCategory, true
	case "user":
		return fUser, true
	case "visitor":
		return fVisitor, true
	case "page_views":
		return fPageViews, true
	case "duration_s":
		return fDurationS, true
	case "added_to_cart":
		return fAddedToCart, true
	case "amount":
		return fAmount, true
	case "items":
		return fItems, true
	case "customer":
		return fCustomer, true
	case "campaign":
		return fCampaign, true
	case "order":
		return fOrder, true
	case "reason":
		return fReason, true
	case "first_response_s":
		return fFirstResponseS, true
	case "converted":
		return fConverted, true
	case "status":
		return fStatus, true
	case "resolution_s":
		return fResolutionS, true
	case "creative":
		return fCreative, true
	case "count":
		return fCount, true
	case "sku":
		return fSKU, true
	case "competitor":
		return fCompetitor, true
	case "own_price":
		return fOwnPrice, true
	case "competitor_price":
		return fCompetitorPrice, true
	}
	return 0, false
}

type fieldSet uint32

func set(fs ...fieldID) fieldSet {
	var s fieldSet
	for _, f := range fs {
		s |= 1 << f
	}
	return s
}

func (s fieldSet) has(f fieldID) bool { return s&(1<<f) != 0 }

// each calls fn for every member in field order.
func (s fieldSet) each(fn func(fieldID)) {
	for f := fieldID(0); s != 0 && f < numFields; f++ {
		if s.has(f) {
			fn(f)
			s &^= 1 << f
		}
	}
}

// typeSpec says which fields a type requires and which it accepts.
type typeSpec struct {
	required fieldSet
	optional fieldSet
}

func (t typeSpec) allowed() fieldSet { return t.required | t.optional }

var (
	commonRequired = set(fType, fID, fTime, fStore)
	commonOptional = set(fChannel, fCategory)
)

// specFor returns the field rules of t. A function (not a package-level
// table) keeps the package free of mutable state; it is a cheap switch.
func specFor(t event.Type) typeSpec {
	var req, opt fieldSet
	switch t {
	case event.TypeSignup:
		req = set(fUser)
	case event.TypeSession:
		req, opt = set(fVisitor, fPageViews, fDurationS), set(fUser, fAddedToCart)
	case event.TypeOrder:
		req, opt = set(fUser, fAmount, fCustomer), set(fItems, fCampaign)
	case event.TypePayment:
		req, opt = set(fOrder, fAmount), set(fUser, fCampaign)
	case event.TypeRefund:
		req = set(fOrder, fAmount, fReason)
	case event.TypeConsultation:
		req = set(fUser, fFirstResponseS, fConverted)
	case event.TypeTicket:
		// resolution_s is required or forbidden depending on status; checked separately.
		req, opt = set(fStatus), set(fResolutionS, fOrder, fReason)
	case event.TypeImpression, event.TypeClick:
		req, opt = set(fCampaign, fCreative), set(fCount)
	case event.TypeConversion:
		req, opt = set(fCampaign, fCreative), set(fCount, fAmount)
	case event.TypeSpend:
		req, opt = set(fCampaign, fAmount), set(fCreative)
	case event.TypePrice:
		// category or sku: at least one, checked separately.
		req, opt = set(fCompetitor, fOwnPrice, fCompetitorPrice), set(fSKU)
	default:
		return typeSpec{required: commonRequired, optional: commonOptional}
	}
	return typeSpec{required: commonRequired | req, optional: commonOptional | opt}
}

// typeNames lists valid type names for messages.
func typeNames() string {
	s := ""
	for i, t := range event.Types() {
		if i > 0 {
			s += ", "
		}
		s += t.String()
	}
	return s
}

// maxSuggestKey is the longest key compared for a suggestion: a suggestion
// is at most 2 edits away, and the longest field name is 16 bytes, so longer
// keys cannot match and are not compared (bounding the work per key).
const maxSuggestKey = 18

// suggest returns the allowed field name closest to an unknown key, if close.
func suggest(key string, allowed fieldSet) string {
	if len(key) > maxSuggestKey {
		return ""
	}
	best, bestD := "", 3
	allowed.each(func(f fieldID) {
		if diff := len(key) - len(f.String()); diff >= bestD || -diff >= bestD {
			return // the length difference alone is too many edits
		}
		if d := editDistance(key, f.String()); d < bestD {
			best, bestD = f.String(), d
		}
	})
	return best
}

func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
