package rollup

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/axiomhq/hyperloglog"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/storepulse/storepulse/ingest/event"
	"github.com/storepulse/storepulse/internal/schema"
)

// memSketches is an in-memory SketchSource that records its calls.
type memSketches struct {
	mu    sync.Mutex
	data  map[SketchKey]*hyperloglog.Sketch
	calls [][]SketchKey
	err   error
}

func (m *memSketches) Load(_ context.Context, keys []SketchKey) (map[SketchKey]*hyperloglog.Sketch, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.calls = append(m.calls, keys)
	if m.err != nil {
		var corrupt *CorruptSketchesError
		if !errors.As(m.err, &corrupt) {
			return nil, m.err
		}
	}
	out := map[SketchKey]*hyperloglog.Sketch{}
	for _, k := range keys {
		if sk, ok := m.data[k]; ok {
			out[k] = sk.Clone()
		}
	}
	return out, m.err
}

func newTestRollup(t *testing.T, src SketchSource) *Rollup {
	t.Helper()
	if src == nil {
		src = &memSketches{}
	}
	r, err := New(Options{Ingester: "i1", Sketches: src})
	require.NoError(t, err)
	return r
}

func ts(s string) int64 {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UnixNano()
}

// t0 is 2026-11-24T10:00:30Z; its window starts at 10:00:00Z.
var (
	t0 = ts("2026-11-24T10:00:30Z")
	w0 = strconv.FormatInt(ts("2026-11-24T10:00:00Z")+7, 10) // + segment 7
)

func lines(t *testing.T, r *Rollup, seg uint64, b event.Batch) []string {
	t.Helper()
	s := r.NewSegment(seg)
	s.Add(&b)
	out, err := r.Lines(context.Background(), s)
	require.NoError(t, err)
	return out
}

// only keeps the lines of the given measurement (prefix up to , or space).
func only(ls []string, meas string) []string {
	var out []string
	for _, l := range ls {
		if strings.HasPrefix(l, meas+",") || strings.HasPrefix(l, meas+" ") {
			out = append(out, l)
		}
	}
	return out
}

func without(ls []string, meas ...string) []string {
	var out []string
	for _, l := range ls {
		if !slices.ContainsFunc(meas, func(m string) bool { return strings.HasPrefix(l, m+",") }) {
			out = append(out, l)
		}
	}
	return out
}

func TestSummedMapping(t *testing.T) {
	base := event.Event{Time: t0, Store: "s1", Channel: "app"}
	ev := func(typ event.Type, f func(e *event.Event)) event.Event {
		e := base
		e.Type = typ
		e.ID = typ.String()
		f(&e)
		return e
	}
	ingest := func(typ string, n int) string {
		return "sp_ingest,ingester=i1,store=s1,type=" + typ + " events=" + strconv.Itoa(n) + " " + w0
	}
	tests := []struct {
		name   string
		events []event.Event
		want   []string // every line except sketches, in output order
	}{
		{
			name: "signup",
			events: []event.Event{ev(event.TypeSignup, func(e *event.Event) {
				e.User = "u1"
				e.Category = "ignored: sp_users has no category"
			})},
			want: []string{ingest("signup", 1), "sp_users,channel=app,ingester=i1,store=s1 signups=1 " + w0},
		},
		{
			name: "two sessions, one with cart",
			events: []event.Event{
				ev(event.TypeSession, func(e *event.Event) { e.Visitor = "v1"; e.PageViews = 5; e.DurationS = 30.5; e.AddedToCart = true }),
				ev(event.TypeSession, func(e *event.Event) { e.Visitor = "v2"; e.PageViews = 2; e.DurationS = 10 }),
			},
			want: []string{ingest("session", 2),
				"sp_traffic,channel=app,ingester=i1,store=s1 cart_sessions=1,page_views=7,session_duration_s=40.5,sessions=2 " + w0},
		},
		{
			name: "orders new and returning",
			events: []event.Event{
				ev(event.TypeOrder, func(e *event.Event) {
					e.Category = "shoes"
					e.Campaign = "618"
					e.User = "u1"
					e.Customer = event.CustomerNew
					e.Amount = 100
					e.Items = 2
				}),
				ev(event.TypeOrder, func(e *event.Event) {
					e.Category = "shoes"
					e.Campaign = "618"
					e.User = "u2"
					e.Customer = event.CustomerReturning
					e.Amount = 50.25
					e.Items = 1
				}),
				ev(event.TypeOrder, func(e *event.Event) { e.Category = "shoes"; e.Campaign = "618"; e.Amount = 10; e.Items = 1 }),
			},
			want: []string{ingest("order", 3),
				"sp_orders,campaign=618,category=shoes,channel=app,ingester=i1,store=s1 " +
					"gmv=160.25,gmv_new=100,gmv_returning=50.25,items=4,orders=3,orders_new=1,orders_returning=1 " + w0},
		},
		{
			name:   "payment",
			events: []event.Event{ev(event.TypePayment, func(e *event.Event) { e.User = "u1"; e.Amount = 99.5 })},
			want:   []string{ingest("payment", 1), "sp_payments,channel=app,ingester=i1,store=s1 paid_amount=99.5,paid_orders=1 " + w0},
		},
		{
			name: "refunds by reason",
			events: []event.Event{
				ev(event.TypeRefund, func(e *event.Event) { e.Reason = "damaged"; e.Amount = 20 }),
				ev(event.TypeRefund, func(e *event.Event) { e.Reason = "late"; e.Amount = 5 }),
				ev(event.TypeRefund, func(e *event.Event) { e.Reason = "damaged"; e.Amount = 1 }),
			},
			want: []string{ingest("refund", 3),
				"sp_refunds,channel=app,ingester=i1,reason=damaged,store=s1 refund_amount=21,refunds=2 " + w0,
				"sp_refunds,channel=app,ingester=i1,reason=late,store=s1 refund_amount=5,refunds=1 " + w0},
		},
		{
			name: "consultations",
			events: []event.Event{
				ev(event.TypeConsultation, func(e *event.Event) { e.Converted = true; e.FirstResponseS = 12 }),
				ev(event.TypeConsultation, func(e *event.Event) { e.FirstResponseS = 3 }),
			},
			want: []string{ingest("consultation", 2),
				"sp_service,channel=app,ingester=i1,store=s1 consultations=2,consultations_converted=1,first_response_s=15 " + w0},
		},
		{
			name: "tickets opened and resolved",
			events: []event.Event{
				ev(event.TypeTicket, func(e *event.Event) { e.Reason = "size"; e.TicketStatus = event.TicketOpened }),
				ev(event.TypeTicket, func(e *event.Event) { e.Reason = "size"; e.TicketStatus = event.TicketResolved; e.ResolutionS = 3600 }),
				ev(event.TypeTicket, func(e *event.Event) { e.Reason = "size"; e.TicketStatus = event.TicketOpened; e.ResolutionS = 99 }),
			},
			want: []string{ingest("ticket", 3),
				"sp_tickets,channel=app,ingester=i1,reason=size,store=s1 resolution_s=3600,tickets_opened=2,tickets_resolved=1 " + w0},
		},
		{
			name:   "a ticket without status only counts as ingested",
			events: []event.Event{ev(event.TypeTicket, func(e *event.Event) { e.Reason = "size" })},
			want:   []string{ingest("ticket", 1)},
		},
		{
			name: "marketing funnel",
			events: []event.Event{
				ev(event.TypeImpression, func(e *event.Event) { e.Campaign = "c1"; e.Creative = "banner"; e.Count = 1000 }),
				ev(event.TypeClick, func(e *event.Event) { e.Campaign = "c1"; e.Creative = "banner"; e.Count = 30 }),
				ev(event.TypeConversion, func(e *event.Event) { e.Campaign = "c1"; e.Creative = "banner"; e.Count = 2; e.Amount = 300 }),
				ev(event.TypeSpend, func(e *event.Event) { e.Campaign = "c1"; e.Creative = "banner"; e.Amount = 80 }),
				ev(event.TypeClick, func(e *event.Event) { e.Campaign = "c1"; e.Creative = "sms"; e.Count = 1 }),
			},
			want: []string{ingest("click", 2), ingest("conversion", 1), ingest("impression", 1), ingest("spend", 1),
				"sp_marketing,campaign=c1,channel=app,creative=banner,ingester=i1,store=s1 " +
					"clicks=30,conversion_value=300,conversions=2,impressions=1000,spend=80 " + w0,
				"sp_marketing,campaign=c1,channel=app,creative=sms,ingester=i1,store=s1 clicks=1 " + w0},
		},
		{
			name: "prices per category and competitor",
			events: []event.Event{
				ev(event.TypePrice, func(e *event.Event) {
					e.Category = "tv"
					e.Competitor = "jd"
					e.OwnPrice = 1999
					e.CompetitorPrice = 1899
				}),
				ev(event.TypePrice, func(e *event.Event) {
					e.Category = "tv"
					e.Competitor = "jd"
					e.OwnPrice = 1001
					e.CompetitorPrice = 1101
				}),
			},
			want: []string{ingest("price", 2),
				"sp_prices,category=tv,competitor=jd,ingester=i1,store=s1 competitor_price=3000,own_price=3000,price_observations=2 " + w0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRollup(t, nil)
			got := without(lines(t, r, 7, event.Batch{Events: tt.events}), schema.MeasDistinct, schema.MeasDistinctStore)
			require.Equal(t, tt.want, got)
		})
	}
}

func TestEveryEventTypeHasARule(t *testing.T) {
	rules := sumRules()
	for _, typ := range event.Types() {
		_, ok := rules[typ]
		require.True(t, ok, "no rule for %s", typ)
	}
}

func TestPoints(t *testing.T) {
	tests := []struct {
		name   string
		events []event.Event
		points []event.Point
		want   []string
	}{
		{
			name:   "rolled-up metric adds to the event's key",
			events: []event.Event{{Type: event.TypeOrder, Time: t0, Store: "s1", Channel: "app", Amount: 10, Items: 1}},
			points: []event.Point{{
				Measurement: schema.MeasOrders, Rollup: true, Time: t0 + int64(20*time.Second),
				Tags:   []event.Tag{{Key: "channel", Value: "app"}, {Key: "store", Value: "s1"}},
				Fields: []event.Field{{Key: "gmv", Float: 90}, {Key: "orders", Kind: event.FieldInt, Int: 4}},
			}},
			want: []string{
				"sp_ingest,ingester=i1,store=s1,type=order events=1 " + w0,
				"sp_orders,channel=app,ingester=i1,store=s1 gmv=100,items=1,orders=5 " + w0,
			},
		},
		{
			name: "unknown tags and fields of a rolled-up point are dropped",
			points: []event.Point{{
				Measurement: schema.MeasPayments, Rollup: true, Time: t0,
				Tags:   []event.Tag{{Key: "host", Value: "x"}, {Key: "store", Value: "s1"}},
				Fields: []event.Field{{Key: "paid_amount", Float: 5}, {Key: "tip", Float: 1}, {Key: "paid_orders", Kind: event.FieldString, Str: "1"}},
			}},
			want: []string{"sp_payments,ingester=i1,store=s1 paid_amount=5 " + w0},
		},
		{
			name: "a rolled-up point with no usable field writes nothing",
			points: []event.Point{{
				Measurement: schema.MeasPayments, Rollup: true, Time: t0,
				Tags: []event.Tag{{Key: "store", Value: "s1"}}, Fields: []event.Field{{Key: "tip", Float: 1}},
			}},
			want: nil,
		},
		{
			name: "rolled-up sp_ingest points are refused",
			points: []event.Point{{
				Measurement: schema.MeasIngest, Rollup: true, Time: t0,
				Tags: []event.Tag{{Key: "store", Value: "s1"}}, Fields: []event.Field{{Key: "events", Float: 1e6}},
			}},
			want: nil,
		},
		{
			name: "pass-through keeps time, tags and field kinds",
			points: []event.Point{{
				Measurement: "cpu", Time: t0 + 5,
				Tags: []event.Tag{{Key: "host", Value: "a b"}},
				Fields: []event.Field{
					{Key: "b", Kind: event.FieldBool, Bool: true},
					{Key: "f", Float: 1.5},
					{Key: "i", Kind: event.FieldInt, Int: -3},
					{Key: "s", Kind: event.FieldString, Str: `say "hi"`},
					{Key: "u", Kind: event.FieldUint, Uint: 7},
				},
			}},
			want: []string{`cpu,host=a\ b b=true,f=1.5,i=-3i,s="say \"hi\"",u=7u ` + strconv.FormatInt(t0+5, 10)},
		},
		{
			name: "a point not valid for line protocol is left out, others stay",
			points: []event.Point{
				{Measurement: "bad", Time: t0, Tags: []event.Tag{{Key: "k", Value: "a\nb"}}, Fields: []event.Field{{Key: "f", Float: 1}}},
				{Measurement: "nan", Time: t0, Fields: []event.Field{{Key: "f", Float: math.NaN()}}},
				{Measurement: "good", Time: t0, Fields: []event.Field{{Key: "f", Float: 1}}},
			},
			want: []string{"good f=1 " + strconv.FormatInt(t0, 10)},
		},
		{
			name: "a value that would make a sum infinite is refused; the rest of the sum is written",
			points: []event.Point{
				{Measurement: schema.MeasMarketing, Rollup: true, Time: t0, Tags: []event.Tag{{Key: "store", Value: "s1"}}, Fields: []event.Field{{Key: "spend", Float: math.MaxFloat64}}},
				{Measurement: schema.MeasMarketing, Rollup: true, Time: t0, Tags: []event.Tag{{Key: "store", Value: "s1"}}, Fields: []event.Field{{Key: "spend", Float: math.MaxFloat64}}},
				{Measurement: schema.MeasMarketing, Rollup: true, Time: t0, Tags: []event.Tag{{Key: "store", Value: "s2"}}, Fields: []event.Field{{Key: "spend", Float: 3}}},
			},
			want: []string{
				"sp_marketing,ingester=i1,store=s1 spend=1.7976931348623157e+308 " + w0,
				"sp_marketing,ingester=i1,store=s2 spend=3 " + w0,
			},
		},
		{
			// Issue #11 item 3: 10, 1e308, 1e308 in one minute used to drop the
			// whole line, the ordinary order included.
			name: "orders summing past float64 keep their line",
			events: []event.Event{
				{Type: event.TypeOrder, Time: t0, Store: "s1", Amount: 10, Items: 1},
				{Type: event.TypeOrder, Time: t0, Store: "s1", Amount: 1e308, Items: 1},
				{Type: event.TypeOrder, Time: t0, Store: "s1", Amount: 1e308, Items: 1},
			},
			want: []string{
				"sp_ingest,ingester=i1,store=s1,type=order events=3 " + w0,
				"sp_orders,ingester=i1,store=s1 gmv=1e+308,items=3,orders=3 " + w0,
			},
		},
		{
			// Issue #11 item 4: InfluxDB keeps raw control characters in a
			// string field and unescapes only \" and \\.
			name: "string fields keep raw tab, newline and CR; only quote and backslash are escaped",
			points: []event.Point{{
				Measurement: "log", Time: t0,
				Fields: []event.Field{{Key: "msg", Kind: event.FieldString, Str: "a\tb\nc\rd \"q\" back\\ \\n"}},
			}},
			want: []string{"log msg=\"a\tb\nc\rd \\\"q\\\" back\\\\ \\\\n\" " + strconv.FormatInt(t0, 10)},
		},
		{
			name: "a tag value ending in a backslash is left out, others stay",
			points: []event.Point{
				{Measurement: "bad", Time: t0, Tags: []event.Tag{{Key: "k", Value: `app\`}}, Fields: []event.Field{{Key: "f", Float: 1}}},
				{Measurement: "good", Time: t0, Tags: []event.Tag{{Key: "k", Value: `a\b`}}, Fields: []event.Field{{Key: "f", Float: 1}}},
			},
			want: []string{`good,k=a\b f=1 ` + strconv.FormatInt(t0, 10)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := newTestRollup(t, nil)
			got := without(lines(t, r, 7, event.Batch{Events: tt.events, Points: tt.points}), schema.MeasDistinct, schema.MeasDistinctStore)
			require.Equal(t, tt.want, got)
		})
	}
}

// TestRefusedValuesAreCounted: a value refused to keep a sum finite is
// counted once per segment (not once per flush attempt) and logged at ERROR.
func TestRefusedValuesAreCounted(t *testing.T) {
	reg := prometheus.NewRegistry()
	var logs bytes.Buffer
	r, err := New(Options{Ingester: "i1", Sketches: &memSketches{}, Metrics: reg,
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	require.NoError(t, err)
	s := r.NewSegment(7)
	s.Add(&event.Batch{Events: []event.Event{
		{Type: event.TypeOrder, Time: t0, Store: "s1", Amount: math.MaxFloat64, Items: 1},
		{Type: event.TypeOrder, Time: t0, Store: "s1", Amount: math.MaxFloat64, Items: 1},
	}})
	for range 2 { // a retried flush
		_, err := r.SumLines(s)
		require.NoError(t, err)
	}
	mfs, err := reg.Gather()
	require.NoError(t, err)
	require.Len(t, mfs, 1)
	require.Equal(t, "storepulse_ingest_rollup_refused_values_total", mfs[0].GetName())
	require.InDelta(t, 1, mfs[0].GetMetric()[0].GetCounter().GetValue(), 0)
	require.Equal(t, 1, strings.Count(logs.String(), "level=ERROR"), logs.String())
	require.Contains(t, logs.String(), "would make a sum infinite")
}
