package sim

import (
	"cmp"
	"container/heap"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"time"
)

// Funnel and behaviour parameters of a normal day. Campaign phases and
// incidents multiply them.
const (
	pLoggedIn       = 0.55 // sessions by a known user
	pBuyerPick      = 0.45 // ... of which drawn among past buyers (repeat purchases)
	pCart           = 0.12 // sessions that add to cart
	pOrderFromCart  = 0.42 // carts that become orders
	pAnonSignup     = 0.02 // anonymous sessions that sign up without ordering
	consultPerSess  = 0.035
	pConsultConvert = 0.30
	pPaid           = 0.93 // orders paid; the rest are abandoned at checkout
	pPaidOutage     = 0.04 // ... during a payment outage
	pTicket         = 0.04 // paid orders that open an after-sales ticket
	pTicketResolved = 0.95
	pAttributed     = 0.35 // campaign orders credited to a creative
	trafficDropLeft = 0.12 // share of a channel's traffic left in a traffic drop
	priceErrorRatio = 0.1  // own price multiplier during a price error
	checkoutLeft    = 0.05 // share of checkouts that still complete in a checkout failure
	backlogFactor   = 12.0 // first response time multiplier in a service backlog
	meanChurnDays   = 150
	initialUsers    = 4000 // known users of a size-1 store at the start
	anonPerSize     = 30000
	recentCap       = 512 // paid orders remembered for refund spikes
	bannerImpPerSes = 6.0
	bannerCTR       = 0.012
	bannerCPM       = 25.0
)

func refundReasons() []string {
	return []string{"not_as_described", "damaged", "changed_mind", "late_delivery", "wrong_size"}
}

func refundReasonWeights() []float64 { return []float64{0.25, 0.40, 0.70, 0.85, 1} }

func ticketReasons() []string {
	return []string{"delivery", "quality", "wrong_item", "invoice", "other"}
}

func ticketReasonWeights() []float64 { return []float64{0.40, 0.65, 0.80, 0.90, 1} }

type user struct {
	lastOrder int64 // unix seconds of the latest order, keeps a user's orders in time order
	churnDay  int32 // first day (simulation day index) the user is gone
	orders    uint16
}

type paidOrder struct {
	id, user, channel string
	cat               int
	amount            float64
	paidAt            time.Time
	refunded          bool
}

type storeState struct {
	idx         int
	cfg         StoreConfig
	run         string // base-36 start hour of the generator, part of every event id
	mixCum      []float64
	mixSum      float64
	affinity    []float64
	priceFactor []float64
	catCum      []float64 // today's category demand, cumulative
	users       []user
	usersBefore int // users signed up before the current hour: the only ones who can be active in it
	buyers      []int32
	anonPool    int
	next        [numTypes]uint64
	tickets     uint64
	recent      []paidOrder
	recentPos   int
}

// hourCtx is what every store shares about one simulated hour.
type hourCtx struct {
	idx   int
	start time.Time
	hour  int
	dow   time.Weekday
	day   int
	ph    activePhase
}

// Generator produces the events of a Config hour by hour, in time order.
// It holds only the stores' user bases and the events scheduled for later
// (payments, refunds, ticket resolutions), never the whole output.
type Generator struct {
	cfg       Config
	shape     [24]float64
	weeklyAvg float64
	stages    []stage
	calendar  []Campaign
	phases    []activePhase
	incidents []Incident
	prices    *priceBook
	stores    []*storeState
	catNames  []string
	skus      []string

	hours    int
	next     int // index of the next hour to generate
	day      int
	startDay int
	pending  eventHeap
	seq      uint64
	buf      []Event
}

// New returns a generator for cfg (normalized with Config.Normalize).
func New(cfg Config) (*Generator, error) {
	cfg, err := cfg.Normalize()
	if err != nil {
		return nil, err
	}
	g := &Generator{
		cfg:      cfg,
		shape:    hourShape(),
		stages:   assignStages(cfg.Seed, len(cfg.Categories)),
		calendar: BuildCalendar(cfg.Start, cfg.End, cfg.Location),
		prices:   newPriceBook(cfg.Seed, cfg.Categories),
		hours:    int((cfg.End.Sub(cfg.Start) + time.Hour - 1) / time.Hour),
		day:      -1,
		startDay: civilDay(cfg.Start),
	}
	for _, w := range cfg.Weekly {
		g.weeklyAvg += w / 7
	}
	g.phases = hourlyPhases(g.calendar, cfg.Start, g.hours)
	g.incidents = placeIncidents(&g.cfg)
	for _, c := range cfg.Categories {
		g.catNames = append(g.catNames, c.Name)
		g.skus = append(g.skus, c.Name+"-001")
	}
	for i, sc := range cfg.Stores {
		g.stores = append(g.stores, g.newStore(i, sc))
	}
	return g, nil
}

func (g *Generator) newStore(i int, sc StoreConfig) *storeState {
	rng := newRNG(g.cfg.Seed, saltStoreInit, stream(i))
	st := &storeState{idx: i, cfg: sc, anonPool: max(1000, int(anonPerSize*sc.Size*g.cfg.Scale)),
		run: strconv.FormatInt(g.cfg.Start.Unix()/3600, 36)}
	st.mixCum = cumulative(nil, sc.ChannelMix[:])
	st.mixSum = st.mixCum[len(st.mixCum)-1]
	for range g.cfg.Categories {
		st.affinity = append(st.affinity, 0.5+rng.Float64())
		st.priceFactor = append(st.priceFactor, 0.97+0.06*rng.Float64())
	}
	// The store already has customers: some bought before, some are gone.
	n := max(50, int(initialUsers*sc.Size*g.cfg.Scale))
	st.users = make([]user, n)
	for u := range st.users {
		st.users[u].churnDay = int32(-60 + rng.ExpFloat64()*meanChurnDays)
		if rng.Float64() < 0.35 {
			st.users[u].orders = uint16(1 + rng.Uint32N(5)) //nolint:gosec // at most 5
			st.buyers = append(st.buyers, int32(u))
		}
	}
	return st
}

// Config returns the normalized configuration.
func (g *Generator) Config() Config { return g.cfg }

// Campaigns returns the campaign calendar of the simulated range.
func (g *Generator) Campaigns() []Campaign { return slices.Clone(g.calendar) }

// Incidents returns the ground truth of the injected incidents.
func (g *Generator) Incidents() []Incident { return slices.Clone(g.incidents) }

// Cursor is the start of the next hour Next will generate.
func (g *Generator) Cursor() time.Time { return g.cfg.Start.Add(time.Duration(g.next) * time.Hour) }

// Progress is the share of the simulated range generated so far.
func (g *Generator) Progress() float64 { return float64(g.next) / float64(g.hours) }

// Next returns the events of the next hour, sorted by time, and false when
// the range is exhausted. Events scheduled past the end are never returned.
// The slice is fresh; the caller may keep it.
func (g *Generator) Next() ([]Event, bool) {
	if g.next >= g.hours {
		return nil, false
	}
	hc := g.hourContext(g.next)
	if hc.day != g.day {
		g.newDay(hc.day)
	}
	end := hc.start.Add(time.Hour)
	if end.After(g.cfg.End) {
		end = g.cfg.End
	}
	g.buf = g.buf[:0]
	for _, st := range g.stores {
		g.storeHour(st, &hc)
	}
	out := make([]Event, 0, len(g.buf)+8)
	for i := range g.buf {
		if g.buf[i].Time.Before(end) {
			out = append(out, g.buf[i])
		} else {
			heap.Push(&g.pending, g.buf[i])
		}
	}
	for len(g.pending) > 0 && g.pending[0].Time.Before(end) {
		out = append(out, heap.Pop(&g.pending).(Event))
	}
	slices.SortFunc(out, func(a, b Event) int {
		if c := a.Time.Compare(b.Time); c != 0 {
			return c
		}
		return cmp.Compare(a.seq, b.seq)
	})
	// A silent store sends nothing, whatever was due in the window.
	kept := out[:0]
	for i := range out {
		if !g.silenced(&out[i]) {
			kept = append(kept, out[i])
		}
	}
	g.next++
	return kept, true
}

func (g *Generator) silenced(e *Event) bool {
	for i := range g.incidents {
		in := &g.incidents[i]
		if in.Kind == IncidentStoreSilent && in.Store == e.Store && in.covers(e.Time) {
			return true
		}
	}
	return false
}

func (g *Generator) hourContext(i int) hourCtx {
	start := g.cfg.Start.Add(time.Duration(i) * time.Hour)
	lt := start.In(g.cfg.Location)
	return hourCtx{
		idx:   i,
		start: start,
		hour:  lt.Hour(),
		dow:   lt.Weekday(),
		day:   civilDay(lt) - g.startDay,
		ph:    g.phases[i],
	}
}

// phaseAt is the campaign phase at t (within the simulated range).
func (g *Generator) phaseAt(t time.Time) activePhase {
	i := int(t.Sub(g.cfg.Start) / time.Hour)
	if i < 0 || i >= len(g.phases) {
		return activePhase{eff: noEffect}
	}
	return g.phases[i]
}

func (g *Generator) newDay(day int) {
	g.day = day
	g.prices.advance(g.cfg.Seed, day)
	w := make([]float64, len(g.cfg.Categories))
	for _, st := range g.stores {
		g.categoryWeights(st, day, w)
		st.catCum = cumulative(st.catCum, w)
	}
}

func (g *Generator) categoryWeights(st *storeState, day int, w []float64) {
	for c, cat := range g.cfg.Categories {
		w[c] = cat.Share * st.affinity[c] * g.stages[c].factor(float64(day))
	}
}

// sessionRate is the store's expected sessions in the hour, before
// incidents: size, daily and weekly rhythm, trend and campaign phase.
func (g *Generator) sessionRate(st *storeState, hc *hourCtx) float64 {
	r := BaseSessionsPerDay * st.cfg.Size * g.cfg.Scale * g.shape[hc.hour]
	r *= g.cfg.Weekly[hc.dow] / g.weeklyAvg
	r *= math.Exp(st.cfg.Growth * float64(hc.day) / 365)
	r *= hc.ph.eff.Traffic
	if hc.ph.phase == PhasePeak {
		r *= peakMidnightBoost(hc.hour)
	}
	return r
}

func (g *Generator) incident(kind IncidentKind, store string, t time.Time) *Incident {
	for i := range g.incidents {
		in := &g.incidents[i]
		if in.Kind == kind && in.Store == store && in.covers(t) {
			return in
		}
	}
	return nil
}

// emit records an event created now; Next sorts it into place.
func (g *Generator) emit(e Event) {
	e.seq = g.seq
	g.seq++
	g.buf = append(g.buf, e)
}

// id numbers a store's events of one type. The run tag (the generator's start
// hour) keeps the ids of a live feed apart from those of the backfill before
// it: the ingest service would otherwise drop them as duplicates.
func (st *storeState) id(t Type, prefix string) string {
	st.next[t]++
	return st.cfg.ID + prefix + st.run + "." + strconv.FormatUint(st.next[t], 10)
}

func (st *storeState) userID(u int) string { return st.cfg.ID + "-u" + strconv.Itoa(u) }

// orderCtx carries what an order inherits from where it was placed.
type orderCtx struct {
	user    int
	channel string
	cat     int
	t       time.Time
	aov     float64
}

func (g *Generator) storeHour(st *storeState, hc *hourCtx) {
	// Streams are keyed by absolute hour, so runs starting on different days
	// differ and overlapping runs share their randomness hour by hour.
	rng := newRNG(g.cfg.Seed, saltHour, stream(st.idx)<<32|stream(int(hc.start.Unix()/3600)))
	chans := Channels()
	st.usersBefore = len(st.users)
	rate := g.sessionRate(st, hc)
	priceErrCat := -1
	if in := g.incident(IncidentPriceError, st.cfg.ID, hc.start); in != nil {
		priceErrCat = slices.Index(g.catNames, in.Category)
	}
	var chRate [numChannels]float64
	for ch := range chans {
		chRate[ch] = rate * st.cfg.ChannelMix[ch] / st.mixSum
		if in := g.incident(IncidentTrafficDrop, st.cfg.ID, hc.start); in != nil && in.Channel == chans[ch] {
			chRate[ch] *= trafficDropLeft
		}
	}
	eff := hc.ph.eff
	campaign := ""
	if hc.ph.campaign != nil {
		campaign = hc.ph.campaign.ID
	}
	for ch, lam := range chRate {
		for range poisson(rng, lam) {
			g.session(st, hc, rng, chans[ch], eff, priceErrCat)
		}
	}
	g.consultations(st, hc, rng, rate, eff)
	if g.incident(IncidentRefundSpike, st.cfg.ID, hc.start) != nil {
		g.refundSpike(st, hc, rng)
	}
	if hc.hour%2 == 0 {
		g.priceObservations(st, hc, rng, priceErrCat)
	}
	if campaign != "" {
		g.marketing(st, hc, rng, chRate)
	}
}

func randIn(rng *rand.Rand, start time.Time, d time.Duration) time.Time {
	return start.Add(time.Duration(rng.Int64N(int64(d/time.Second))) * time.Second)
}

func (g *Generator) session(st *storeState, hc *hourCtx, rng *rand.Rand, ch string, eff effects, priceErrCat int) {
	t := randIn(rng, hc.start, time.Hour)
	cat := pick(rng, st.catCum)
	u, known := -1, false
	if rng.Float64() < pLoggedIn {
		u, known = g.pickUser(st, rng, hc.day)
	}
	pv := 1
	for pv < 40 && rng.Float64() < 0.78 {
		pv++
	}
	dur := math.Min(float64(pv)*lognormal(rng, 35, 0.5), 3600)
	cartP, orderP := pCart*eff.Cart, pOrderFromCart*eff.Conv
	if cat == priceErrCat {
		// A price error is a bargain everyone shares: carts and orders jump.
		cartP, orderP = cartP*2.5, orderP*1.5
	}
	if g.incident(IncidentCheckoutFailure, st.cfg.ID, t) != nil {
		orderP *= checkoutLeft
	}
	e := Event{
		Type: TypeSession, ID: st.id(TypeSession, "-ses-"), Time: t, Store: st.cfg.ID,
		Channel: ch, Category: g.catNames[cat], PageViews: pv, DurationS: dur,
		AddedToCart: rng.Float64() < math.Min(cartP, 0.95),
	}
	if known {
		e.User = st.userID(u)
		e.Visitor = st.cfg.ID + "-v" + strconv.Itoa(u)
	} else {
		e.Visitor = st.cfg.ID + "-a" + strconv.Itoa(rng.IntN(st.anonPool))
	}
	g.emit(e)
	ordered := e.AddedToCart && rng.Float64() < math.Min(orderP, 0.95)
	if !known && (ordered || rng.Float64() < pAnonSignup) {
		// Anonymous visitors sign up on the way to their first order.
		su := t.Add(time.Duration(dur*0.4) * time.Second)
		u = g.signup(st, rng, hc.day, su, ch)
	}
	if ordered {
		tOrder := t.Add(time.Duration(dur*(0.5+0.5*rng.Float64())) * time.Second)
		g.order(st, rng, orderCtx{user: u, channel: ch, cat: cat, t: tOrder, aov: eff.AOV})
	}
}

func (g *Generator) pickUser(st *storeState, rng *rand.Rand, day int) (int, bool) {
	for range 3 {
		var u int
		if len(st.buyers) > 0 && rng.Float64() < pBuyerPick {
			u = int(st.buyers[rng.IntN(len(st.buyers))])
		} else {
			u = rng.IntN(st.usersBefore)
		}
		if u < st.usersBefore && int(st.users[u].churnDay) > day {
			return u, true
		}
	}
	return -1, false
}

func (g *Generator) signup(st *storeState, rng *rand.Rand, day int, t time.Time, ch string) int {
	u := len(st.users)
	st.users = append(st.users, user{churnDay: int32(math.Min(float64(day+1)+rng.ExpFloat64()*meanChurnDays, math.MaxInt32))})
	g.emit(Event{Type: TypeSignup, ID: st.id(TypeSignup, "-sig-"), Time: t, Store: st.cfg.ID, Channel: ch, User: st.userID(u)})
	return u
}

func (g *Generator) order(st *storeState, rng *rand.Rand, oc orderCtx) {
	usr := &st.users[oc.user]
	if t := oc.t.Unix(); t <= usr.lastOrder {
		// An order generated earlier in the run is already later in time:
		// this one follows it, so new/returning matches the user's history.
		oc.t = time.Unix(usr.lastOrder+60, 0)
	}
	usr.lastOrder = oc.t.Unix()
	ph := g.phaseAt(oc.t)
	campaign := ""
	if ph.campaign != nil {
		campaign = ph.campaign.ID
	}
	items := 1
	for items < 6 && rng.Float64() < 0.35 {
		items++
	}
	unit := g.prices.own[oc.cat] * st.priceFactor[oc.cat]
	if in := g.incident(IncidentPriceError, st.cfg.ID, oc.t); in != nil && in.Category == g.catNames[oc.cat] {
		unit *= priceErrorRatio
	}
	amount := cents(float64(items) * unit * lognormal(rng, 1, 0.3) * oc.aov)
	customer := CustomerNew
	if usr.orders > 0 {
		customer = CustomerReturning
	}
	if usr.orders == 0 {
		st.buyers = append(st.buyers, int32(min(oc.user, math.MaxInt32))) //nolint:gosec // bounded by min
	}
	if usr.orders < math.MaxUint16 {
		usr.orders++
	}
	uid := st.userID(oc.user)
	num := st.next[TypeOrder] + 1
	orderID := st.id(TypeOrder, "-ord-")
	cat := g.catNames[oc.cat]
	g.emit(Event{
		Type: TypeOrder, ID: orderID, Time: oc.t, Store: st.cfg.ID, Channel: oc.channel, Category: cat,
		User: uid, Amount: amount, Items: items, Customer: customer, Campaign: campaign,
	})
	if campaign != "" && rng.Float64() < pAttributed {
		creative := CreativeBanner
		switch r := rng.Float64(); {
		case r < 0.15 && ph.campaign.Kind != KindWeekly:
			creative = CreativeSMS
		case r < 0.4:
			creative = CreativePush
		}
		g.emit(Event{
			Type: TypeConversion, ID: st.id(TypeConversion, "-cnv-"), Time: oc.t.Add(time.Second), Store: st.cfg.ID,
			Channel: oc.channel, Campaign: campaign, Creative: creative, Count: 1, HasAmount: true, Amount: amount,
		})
	}
	paid := pPaid
	if g.incident(IncidentPaymentOutage, st.cfg.ID, oc.t) != nil {
		paid = pPaidOutage
	}
	if rng.Float64() >= paid {
		return
	}
	tPay := oc.t.Add(20*time.Second + time.Duration(rng.ExpFloat64()*90)*time.Second)
	g.emit(Event{
		Type: TypePayment, ID: st.cfg.ID + "-pay-" + st.run + "." + strconv.FormatUint(num, 10), Time: tPay, Store: st.cfg.ID,
		Channel: oc.channel, Category: cat, Order: orderID, Amount: amount, User: uid, Campaign: campaign,
	})
	po := paidOrder{id: orderID, user: uid, channel: oc.channel, cat: oc.cat, amount: amount, paidAt: tPay}
	if rng.Float64() < g.cfg.Categories[oc.cat].RefundRate*ph.eff.Refund {
		delay := clampDur(lognormal(rng, 3*24*3600, 0.6), 2*time.Hour, 25*24*time.Hour)
		g.refund(st, rng, &po, tPay.Add(delay))
	}
	if rng.Float64() < pTicket*ph.eff.Refund {
		g.ticket(st, rng, &po)
	}
	if len(st.recent) < recentCap {
		st.recent = append(st.recent, po)
	} else {
		st.recent[st.recentPos] = po
		st.recentPos = (st.recentPos + 1) % recentCap
	}
}

func clampDur(seconds float64, lo, hi time.Duration) time.Duration {
	d := time.Duration(seconds) * time.Second
	return min(max(d, lo), hi)
}

func (g *Generator) refund(st *storeState, rng *rand.Rand, po *paidOrder, t time.Time) {
	po.refunded = true
	amount := po.amount
	if rng.Float64() < 0.25 {
		amount = cents(amount * (0.2 + 0.6*rng.Float64()))
	}
	g.emit(Event{
		Type: TypeRefund, ID: st.id(TypeRefund, "-ref-"), Time: t, Store: st.cfg.ID, Channel: po.channel,
		Category: g.catNames[po.cat], Order: po.id, Amount: amount,
		Reason: refundReasons()[pick(rng, refundReasonWeights())],
	})
}

func (g *Generator) ticket(st *storeState, rng *rand.Rand, po *paidOrder) {
	st.tickets++
	base := st.cfg.ID + "-tkt-" + st.run + "." + strconv.FormatUint(st.tickets, 10)
	opened := po.paidAt.Add(clampDur(lognormal(rng, 1.5*24*3600, 0.7), 30*time.Minute, 20*24*time.Hour))
	reason := ticketReasons()[pick(rng, ticketReasonWeights())]
	e := Event{
		Type: TypeTicket, ID: base + "-o", Time: opened, Store: st.cfg.ID, Channel: po.channel,
		Category: g.catNames[po.cat], Status: TicketOpened, Order: po.id, Reason: reason,
	}
	g.emit(e)
	if rng.Float64() < pTicketResolved {
		res := clampDur(lognormal(rng, 5*3600, 0.9), 5*time.Minute, 10*24*time.Hour)
		e.ID, e.Status, e.Time, e.ResolutionS = base+"-r", TicketResolved, opened.Add(res), res.Seconds()
		g.emit(e)
	}
}

func (g *Generator) consultations(st *storeState, hc *hourCtx, rng *rand.Rand, rate float64, eff effects) {
	n := poisson(rng, rate*consultPerSess)
	chans := Channels()
	for range n {
		u, ok := g.pickUser(st, rng, hc.day)
		if !ok {
			continue
		}
		t := randIn(rng, hc.start, time.Hour)
		ch := chans[pick(rng, st.mixCum)]
		cat := pick(rng, st.catCum)
		median := 25.0
		if hc.hour < 9 || hc.hour >= 23 {
			median = 240 // night shift: one agent, slow answers
		}
		if hc.ph.phase == PhasePeak {
			median *= 3 // overloaded on the big day
		}
		if g.incident(IncidentServiceBacklog, st.cfg.ID, t) != nil {
			median *= backlogFactor
		}
		convert := math.Min(pConsultConvert*eff.Conv, 0.9)
		if g.incident(IncidentCheckoutFailure, st.cfg.ID, t) != nil {
			convert *= checkoutLeft // the order would go through the same broken checkout
		}
		frt := math.Min(lognormal(rng, median, 0.7), 3600)
		converted := rng.Float64() < convert
		g.emit(Event{
			Type: TypeConsultation, ID: st.id(TypeConsultation, "-con-"), Time: t, Store: st.cfg.ID,
			Channel: ch, Category: g.catNames[cat], User: st.userID(u), FirstResponseS: frt, Converted: converted,
		})
		if converted {
			tOrder := t.Add(time.Duration(frt)*time.Second + time.Duration(120+rng.IntN(1680))*time.Second)
			g.order(st, rng, orderCtx{user: u, channel: ch, cat: cat, t: tOrder, aov: g.phaseAt(tOrder).eff.AOV})
		}
	}
}

// refundSpike refunds a burst of recently paid orders on top of the normal
// refunds.
func (g *Generator) refundSpike(st *storeState, hc *hourCtx, rng *rand.Rand) {
	n := poisson(rng, math.Max(3, 0.5*st.cfg.Size*g.cfg.Scale*hc.ph.eff.Traffic))
	for range n {
		t := randIn(rng, hc.start, time.Hour)
		for range 5 {
			if len(st.recent) == 0 {
				return
			}
			po := &st.recent[rng.IntN(len(st.recent))]
			if !po.refunded && po.paidAt.Before(t) {
				g.refund(st, rng, po, t)
				break
			}
		}
	}
}

// priceObservations emits competitor price observations every other hour, one
// competitor per category in turn.
func (g *Generator) priceObservations(st *storeState, hc *hourCtx, rng *rand.Rand, priceErrCat int) {
	comps := competitors()
	for c := range g.catNames {
		k := (hc.idx/2 + c) % numCompetitors
		own := cents(g.prices.own[c] * st.priceFactor[c])
		if c == priceErrCat {
			own = cents(own * priceErrorRatio)
		}
		g.emit(Event{
			Type: TypePrice, ID: st.id(TypePrice, "-prc-"), Time: randIn(rng, hc.start, time.Hour), Store: st.cfg.ID,
			Category: g.catNames[c], SKU: g.skus[c], Competitor: comps[k],
			OwnPrice: own, CompetitorPrice: g.prices.comp[c][k],
		})
	}
}

// marketing emits the creatives of the active campaign: banners every hour
// (impressions and clicks aggregated per hour and channel with count), push
// blasts at 10:00 and 20:00, SMS at 11:00 before and on the big days, and the
// spend they cost.
func (g *Generator) marketing(st *storeState, hc *hourCtx, rng *rand.Rand, chRate [numChannels]float64) {
	c := hc.ph.campaign
	chans := Channels()
	var totalImp int
	for ch, lam := range chRate {
		imp := poisson(rng, lam*bannerImpPerSes)
		if imp == 0 {
			continue
		}
		totalImp += imp
		t := randIn(rng, hc.start, 59*time.Minute)
		g.emit(Event{Type: TypeImpression, ID: st.id(TypeImpression, "-imp-"), Time: t, Store: st.cfg.ID,
			Channel: chans[ch], Campaign: c.ID, Creative: CreativeBanner, Count: imp})
		if clicks := poisson(rng, float64(imp)*bannerCTR*hc.ph.eff.Conv); clicks > 0 {
			g.emit(Event{Type: TypeClick, ID: st.id(TypeClick, "-clk-"), Time: t.Add(30 * time.Second), Store: st.cfg.ID,
				Channel: chans[ch], Campaign: c.ID, Creative: CreativeBanner, Count: clicks})
		}
	}
	if totalImp > 0 {
		g.emit(Event{Type: TypeSpend, ID: st.id(TypeSpend, "-spd-"), Time: hc.start.Add(59*time.Minute + 59*time.Second),
			Store: st.cfg.ID, Campaign: c.ID, Creative: CreativeBanner, Amount: float64(totalImp) / 1000 * bannerCPM})
	}
	audience := float64(len(st.users)) * 0.5
	blast := func(creative, ch string, reach, ctr, cost float64) {
		t := hc.start.Add(time.Duration(rng.IntN(10)) * time.Minute)
		count := max(1, int(audience*reach))
		g.emit(Event{Type: TypeImpression, ID: st.id(TypeImpression, "-imp-"), Time: t, Store: st.cfg.ID,
			Channel: ch, Campaign: c.ID, Creative: creative, Count: count})
		if clicks := poisson(rng, float64(count)*ctr); clicks > 0 {
			g.emit(Event{Type: TypeClick, ID: st.id(TypeClick, "-clk-"), Time: t.Add(15 * time.Minute), Store: st.cfg.ID,
				Channel: ch, Campaign: c.ID, Creative: creative, Count: clicks})
		}
		g.emit(Event{Type: TypeSpend, ID: st.id(TypeSpend, "-spd-"), Time: t, Store: st.cfg.ID,
			Campaign: c.ID, Creative: creative, Amount: float64(count) * cost})
	}
	big := c.Kind != KindWeekly
	switch {
	case hc.hour == 10 || (hc.hour == 20 && big):
		blast(CreativePush, ChannelApp, 0.6, 0.03, 0.01)
	case hc.hour == 11 && big && hc.ph.phase != PhaseAfterSales:
		blast(CreativeSMS, ChannelWeb, 0.3, 0.008, 0.045)
	}
}

// civilDay numbers local calendar days.
func civilDay(t time.Time) int {
	y, m, d := t.Date()
	return int(time.Date(y, m, d, 0, 0, 0, 0, time.UTC).Unix() / 86400)
}

// eventHeap orders scheduled events by time, then creation.
type eventHeap []Event

func (h eventHeap) Len() int { return len(h) }
func (h eventHeap) Less(i, j int) bool {
	if c := h[i].Time.Compare(h[j].Time); c != 0 {
		return c < 0
	}
	return h[i].seq < h[j].seq
}
func (h eventHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *eventHeap) Push(x any)   { *h = append(*h, x.(Event)) }
func (h *eventHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	*h = old[:len(old)-1]
	return e
}
